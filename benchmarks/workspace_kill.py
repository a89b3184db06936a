"""Kills writers of a workspace at random moments, and runs two writers at once.

Kill trials: a child process appends rows, stores runs (a shop and its results in one
transaction) and saves model versions in a loop; it is killed with SIGKILL after a random
0.2-2 s. Then the parent checks: the workspace opens; every row appended before is there
exactly once per completed append; every run lists tables that exist and carry its run id;
every listed model version loads (its folder is complete); and after the next write no
temporary file or folder is left.

Concurrency trials: two processes append 10 rows each to one workspace at the same time; every
row must land, and neither may fail.

    .venv/bin/python benchmarks/workspace_kill.py [--trials 40] [--pairs 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd

from trendcast.data.store import Workspace

CHILD = textwrap.dedent(
    """
    import sys, pandas as pd
    from trendcast.data.contract import ShopData
    from trendcast.data.store import Workspace
    ws = Workspace(sys.argv[1])
    step = int(sys.argv[2])
    def files(folder):
        for part in range(8):
            (folder / f"part{part}.txt").write_text(str(step) * 20000)
    while True:
        step += 1
        ws.append("log", pd.DataFrame({"step": [step]}))
        sales = pd.DataFrame({"unique_id": ["a"], "ds": pd.to_datetime(["2024-01-01"]), "y": [step]})
        shop = ShopData(sales=sales, freq="D")
        ws.write_run("forecast", meta={"step": step}, shop=("input", shop),
                     results={"forecasts": pd.DataFrame({"step": [step] * 1000})})
        ws.models.save("m", files, kind="demo", meta={"step": step})
        print(step, flush=True)
    """
)


def check(ws: Workspace) -> list[str]:
    """What is wrong with the workspace after a kill (nothing: an empty list)."""
    wrong = []
    log = ws.read("log")["step"].tolist() if "log" in set(ws.catalog()["name"]) else []
    if len(log) != len(set(log)) or log != sorted(log):
        wrong.append(f"log rows repeated or out of order: {log[-5:]}")
    runs = ws.runs()
    if len(runs):  # the latest run: all its tables there, under its id, and consistent
        latest = runs.sort_values(runs.columns[-1]).iloc[-1]
        for table in json.loads(latest.tables):
            if (ws.history(table)["run_id"] != latest.run_id).all():
                wrong.append(f"run {latest.run_id} lists {table}, which has no such version")
        if json.loads(latest.meta)["step"] != ws.read("forecasts")["step"].iloc[0]:
            wrong.append("the forecasts are not those of the latest run")
        if ws.read("input_sales")["y"].iloc[0] != ws.read("forecasts")["step"].iloc[0]:
            wrong.append("the stored input is not the one of the forecasts")
    for version in ws.models.list().itertuples():
        folder = ws.models.path(f"{version.name}@{version.version}")
        parts = {p.read_text() for p in folder.glob("part*.txt")}
        if len(parts) != 1 or len(list(folder.glob("part*.txt"))) != 8:
            wrong.append(f"model {version.name}@{version.version} is incomplete")
    return wrong


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*") if p.name.endswith(".tmp") or "-new-" in p.name
            or "-old-" in p.name or "-ready-" in p.name]  # fmt: skip


def kill_trials(trials: int, rng: random.Random) -> dict:
    failures, steps, completed = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "shop.duckdb")
        for trial in range(trials):
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(ws.path), str(steps)],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(rng.uniform(1.5, 3.5))  # the interpreter starts in about 1.5 s
            child.send_signal(signal.SIGKILL)
            out, _ = child.communicate()
            done = [int(s) for s in out.split()]
            completed += len(done)
            steps = max([steps, *done]) + 1000  # a killed step's number is never reused
            try:
                wrong = check(ws)
                ws.write("probe", pd.DataFrame({"trial": [trial]}))  # the next write cleans
                left = leftovers(Path(tmp))
                if left:
                    wrong.append(f"left behind: {left}")
            except Exception as error:  # measured, not raised
                wrong = [f"{type(error).__name__}: {error}"]
            failures += [f"trial {trial}: {w}" for w in wrong]
    return {"trials": trials, "steps_completed": completed, "failed_checks": len(failures),
            "examples": failures[:5]}  # fmt: skip


WRITER = textwrap.dedent(
    """
    import sys, pandas as pd
    from trendcast.data.store import Workspace
    ws = Workspace(sys.argv[1])
    for i in range(10):
        ws.append("log", pd.DataFrame({"writer": [sys.argv[2]], "i": [i]}))
    """
)


def pair_trials(pairs: int) -> dict:
    lost, failed = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(pairs):
            path = Path(tmp) / f"shop{trial}.duckdb"
            writers = [
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, str(path), name],
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                for name in ("a", "b")
            ]
            for writer in writers:
                _, err = writer.communicate()
                if writer.returncode:
                    failed.append(err.strip().splitlines()[-1])
            rows = len(Workspace(path).read("log")) if path.exists() else 0
            lost += 20 - rows
    return {"pairs": pairs, "writes": 20 * pairs, "lost": lost, "failed": failed[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    print("kill -9:", kill_trials(args.trials, random.Random(args.seed)))
    print("two writers:", pair_trials(args.pairs))
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
