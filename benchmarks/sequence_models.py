"""trendcast's sequence models (Chronos-2 zero-shot, fine-tuned, from scratch; LSTM) next to its
LightGBM engine, on the M5 subset and on UCI Online Retail weekly demand.

Data and split, as in the engine benchmarks:

- m5: ../shared/data/m5/tiny_m5_280series.parquet (28 items x 10 stores, d_1..d_1913), see
  benchmarks/m5_common.py. Train d_1..d_1885, test d_1886..d_1913 (28 days). As in M5, the test
  days' sell prices, events and SNAP flags are known in advance: every method is fitted with the
  static hierarchy and the dynamic covariates (``shop.static``, ``shop.dynamic``).
- online_retail: ../shared/data/online_retail/online_retail_full_541909.parquet, prepared by
  ``online_retail_engine.prepare`` (weekly demand per product, W-MON, cancellations removed,
  52 complete weeks, the last 8 are the test, products with 20+ weeks of history). Target only:
  no covariates.

Scores (forecasts clipped at 0):

- m5: ``m5_common.score``: bottom-level WRMSSE with M5 dollar weights, MASE (mean over series,
  seasonality 1), pooled WAPE, WSPL (M5 weighted scaled pinball loss over the 9 M5 quantiles)
  and the coverage of the 95% interval (0.025..0.975).
- online_retail: ``online_retail_engine.score``: pooled WAPE, MASE, scaled pinball loss (SPL)
  over its 7 quantiles and the coverage of the 90% interval (0.05..0.95).

Methods (each through ``Forecaster([model], quantiles=...)``):

- chronos.zero_shot: ``Chronos2()``, the shipped pretrained ``trendcast-chronos2-small``.
- chronos.lora: ``Chronos2(finetune="lora", steps=300)``.
- chronos.full: ``Chronos2(finetune="full", steps=300)``.
- chronos.scratch: the same architecture with random weights
  (``pretrain.new_pipeline("small", seed=0)``), trained on this dataset only:
  ``Chronos2(model=<that folder>, finetune="full", steps=SCRATCH_STEPS, learning_rate=1e-3)``
  (``--scratch-steps``, default 1000).
- lstm: ``LSTM(num_threads=THREADS)`` (defaults otherwise).
- lightgbm: ``LightGBM()``, the engine alone (the reference).
- ensemble: ``Ensemble([LightGBM(), Chronos2(finetune="lora", steps=300)])``, members weighted per
  demand class on a held-out window inside the training data; scored on its "Ensemble" column.

Each method runs in its own process: ``seconds`` is the wall time of fit + forecast (data
loading excluded), ``predict_seconds`` the forecast alone, ``peak_mb`` the process's peak
resident memory and ``data_mb`` that peak after loading the data, before fitting. Children get
``--threads`` CPU threads (default: the usable cores) as OMP_NUM_THREADS, torch threads and the
LSTM's ``num_threads``; on a machine busy with other work, 1 thread avoids OpenMP threads waiting
on each other (Chronos fine-tuning steps on 2 busy cores took 1.3 to 11 s each). The ``config``
column says how many each row had. A failing method gets a row with a note (its
traceback shows above the table) and the run goes on. The table is rewritten after each method,
so an interrupted run keeps what finished; rows of methods not run this time stay in the file.

Run: ``.venv/bin/python benchmarks/sequence_models.py [--datasets m5 online_retail]
[--methods NAME ...] [--data-root DIR] [--scratch-steps N] [--threads N]``. Writes
benchmarks/results/sequence_models_<dataset>.csv and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from m5_common import M5_QUANTILES, peak_mb  # benchmarks/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
DATASETS = ("m5", "online_retail")
SCRATCH_STEPS = 1000

METHODS = {
    # name: configuration (a table column); the slowest run last
    "lightgbm": "LightGBM()",
    "chronos.zero_shot": "Chronos2() shipped trendcast-chronos2-small",
    "chronos.lora": 'Chronos2(finetune="lora", steps=300)',
    "chronos.full": 'Chronos2(finetune="full", steps=300)',
    "lstm": "LSTM(num_threads={threads})",
    "ensemble": 'Ensemble([LightGBM(), Chronos2(finetune="lora", steps=300)])',
    "chronos.scratch": 'new_pipeline("small", seed=0) -> Chronos2(finetune="full", '
    "steps={scratch}, learning_rate=1e-3)",
}


# ---------------------------------------------------------------------------------- models


def build(name: str, scratch_dir: Path, scratch_steps: int, threads: int = 2):
    """The unfitted trendcast model of method ``name``."""
    from trendcast.models import LSTM, Chronos2, LightGBM
    from trendcast.models.ensemble import Ensemble

    if name == "chronos.zero_shot":
        return Chronos2()
    if name == "chronos.lora":
        return Chronos2(finetune="lora", steps=300)
    if name == "chronos.full":
        return Chronos2(finetune="full", steps=300)
    if name == "chronos.scratch":
        from trendcast.models.pretrain import new_pipeline

        new_pipeline("small", seed=0).save_pretrained(scratch_dir)
        return Chronos2(
            model=str(scratch_dir), finetune="full", steps=scratch_steps, learning_rate=1e-3
        )
    if name == "lstm":
        return LSTM(num_threads=threads)
    if name == "lightgbm":
        return LightGBM()
    if name == "ensemble":
        return Ensemble([LightGBM(), Chronos2(finetune="lora", steps=300)])
    raise ValueError(f"unknown method {name!r}; one of {list(METHODS)}")


# ---------------------------------------------------------------------------------- datasets


def m5_data(data_root: Path):
    """``(train, fit_kwargs, quantiles, horizon)`` of the M5 subset."""
    from m5_common import load_shop, split

    shop = load_shop(data_root / "m5")
    train, _, _ = split(shop)
    return train, {"static": shop.static, "dynamic": shop.dynamic}, M5_QUANTILES, 28


def online_retail_data(train_path: Path):
    from online_retail_engine import HORIZON, QUANTILES

    return pd.read_parquet(train_path), {}, QUANTILES, HORIZON


# ---------------------------------------------------------------------------------- child


def run_method(args) -> None:
    """Fits and forecasts one method; writes its forecasts (as ``model`` columns) and timing."""
    if args.dataset == "m5":
        train, fit_kwargs, quantiles, horizon = m5_data(args.data_root)
    else:
        train, fit_kwargs, quantiles, horizon = online_retail_data(args.train)
    import torch

    from trendcast.forecaster import Forecaster

    torch.set_num_threads(args.threads)
    data_mb = peak_mb()
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        model = build(args.method, Path(scratch), args.scratch_steps, args.threads)
        forecaster = Forecaster([model], quantiles=quantiles)
        forecaster.fit(train, **fit_kwargs)
        fitted = time.perf_counter()
        forecasts = forecaster.predict(horizon)
        done = time.perf_counter()
    alias = forecaster.models_[0].alias
    columns = [c for c in forecasts.columns if c == alias or c.startswith(f"{alias}-q-")]
    forecasts = forecasts[["unique_id", "ds", *columns]].copy()
    forecasts[columns] = forecasts[columns].clip(lower=0.0)  # the Model clips too
    forecasts = forecasts.rename(columns={c: c.replace(alias, "model", 1) for c in columns})
    forecasts.to_parquet(args.out)
    figures = {
        "seconds": done - started,
        "fit_seconds": fitted - started,
        "predict_seconds": done - fitted,
        "peak_mb": peak_mb(),
        "data_mb": data_mb,
        "alias": alias,
    }
    args.out.with_suffix(".json").write_text(json.dumps(figures))


# ---------------------------------------------------------------------------------- parent


def run_dataset(dataset: str, methods: list[str], args) -> pd.DataFrame:
    RESULTS.mkdir(parents=True, exist_ok=True)
    extra: list[str] = []
    if dataset == "m5":
        from m5_common import load, score

        if not (args.data_root / "m5" / "tiny_m5_280series.parquet").exists():
            sys.exit(f"M5 subset not found in {args.data_root / 'm5'}: pass --data-root.")
        train, test, prices = load(args.data_root / "m5")

        def scores(forecasts):
            return score(forecasts, train, test, prices)
    else:
        from online_retail_engine import FILE, prepare
        from online_retail_engine import score as or_score

        path = args.data_root / "online_retail" / FILE
        if not path.exists():
            sys.exit(f"{FILE} not found in {path.parent}: pass --data-root.")
        train, test, facts = prepare(path)
        print(
            f"online_retail: {facts['products_kept']} products, train {facts['train_weeks']}, "
            f"test {facts['test_weeks']}",
            flush=True,
        )
        train_path = RESULTS / ".seq_online_retail_train.parquet"
        train.to_parquet(train_path)
        extra = ["--train", str(train_path)]

        def scores(forecasts):
            return or_score(forecasts, "model", train, test)

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    for name in methods:
        out = RESULTS / f".seq_{dataset}_{name}.parquet"
        info = out.with_suffix(".json")
        command = [
            sys.executable, __file__, "--method", name, "--dataset", dataset,
            "--data-root", str(args.data_root), "--scratch-steps", str(args.scratch_steps),
            "--threads", str(args.threads), "--out", str(out), *extra,
        ]  # fmt: skip
        print(f"--- {dataset}: {name} ({time.strftime('%H:%M:%S')})", flush=True)
        done = subprocess.run(command, env=env)
        config = METHODS[name].format(scratch=args.scratch_steps, threads=args.threads)
        config += f"; {args.threads} thread(s)"
        if done.returncode or not info.exists():
            rows.append({"method": name, "note": f"failed (exit {done.returncode})"})
            print(f"{name:<20} failed (exit {done.returncode})", flush=True)
        else:
            figures = json.loads(info.read_text())
            figures.pop("alias", None)
            rows.append({"method": name, **scores(pd.read_parquet(out)), **figures, "note": ""})
            metric = "WRMSSE" if dataset == "m5" else "WAPE"
            print(
                f"{name:<20} {metric} {rows[-1][metric]:.3f}  {figures['seconds']:.1f} s "
                f"(predict {figures['predict_seconds']:.1f} s)",
                flush=True,
            )
        rows[-1]["config"] = config
        for path in (out, info):
            path.unlink(missing_ok=True)
        _save(pd.DataFrame(rows), dataset)  # after each method: an interrupted run keeps it
    if extra:
        Path(extra[1]).unlink(missing_ok=True)
    table = _save(pd.DataFrame(rows), dataset)
    print(f"\n{dataset}:")
    shown = table.drop(columns=["config", "date", "machine"]).fillna({"note": ""})
    print(shown.round(3).to_string(index=False))
    return table


def _save(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Writes ``table`` (stamped with date and machine) to the dataset's CSV; rows of methods
    not in ``table`` that an earlier run left there are kept (with their own date)."""
    table = table.copy()
    table["date"] = pd.Timestamp.now().strftime("%Y-%m-%d")
    table["machine"] = f"{platform.machine()} {platform.python_version()}, {_cores()} cores"
    path = RESULTS / f"sequence_models_{dataset}.csv"
    if path.exists():
        earlier = pd.read_csv(path)
        earlier = earlier[~earlier["method"].isin(table["method"])]
        table = pd.concat([earlier, table], ignore_index=True)
        order = {name: k for k, name in enumerate(METHODS)}
        table = table.sort_values("method", key=lambda m: m.map(order), kind="stable")
    table = table.reset_index(drop=True)
    table.to_csv(path, index=False)
    return table


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT,
                        help="folder holding m5/ and online_retail/")  # fmt: skip
    parser.add_argument("--scratch-steps", type=int, default=SCRATCH_STEPS,
                        help="training steps of chronos.scratch")  # fmt: skip
    parser.add_argument("--threads", type=int, default=_cores(),
                        help="CPU threads of each method (OpenMP, torch, LSTM num_threads); "
                        "default: the usable cores")  # fmt: skip
    parser.add_argument("--method", help=argparse.SUPPRESS)  # child-process mode
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        run_method(args)
        return
    for dataset in args.datasets:
        run_dataset(dataset, args.methods, args)


if __name__ == "__main__":
    main()
