"""What the M5-subset benchmarks share: data and split, scores, and one process per method.

Data: ../shared/data/m5/tiny_m5_280series.parquet (28 items x 10 stores, d_1..d_1913), read with
``trendcast.data.adapters.from_m5_long``. Split: train d_1..d_1885, test d_1886..d_1913.

A benchmark script runs itself once per method with ``--method NAME --out FILE``: the child loads
the data, then `record` times the method's fit + forecast and writes its forecasts (columns
``model``, ``model-q-{q}``) and ``{seconds, peak_mb, data_mb}`` next to ``FILE``. The parent
(`run_all`) scores each child's forecasts and `write_results` saves the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "m5"
RESULTS = ROOT / "benchmarks" / "results"
M5_QUANTILES = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)
HORIZON = 28
TEST_START = pd.Timestamp("2016-03-28")  # d_1886


class Unavailable(Exception):
    """Raised by a method that cannot run here (e.g. a model not in this version); a table note."""


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def load_shop(data_dir: Path):
    """The subset as trendcast's ShopData: sales, static hierarchy, dynamic covariates (all days)."""
    from trendcast.data.adapters import from_m5_long

    return from_m5_long(pd.read_parquet(data_dir / "tiny_m5_280series.parquet"))


def split(shop):
    """``(train, test, prices)``: float sales before / from TEST_START, and daily sell prices."""
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    prices = shop.dynamic[["unique_id", "ds", "price"]]
    train = sales[sales["ds"] < TEST_START]
    test = sales[sales["ds"] >= TEST_START]
    return train, test, prices


def load(data_dir: Path):
    return split(load_shop(data_dir))


# ----------------------------------------------------------------------------------------------
# Forecast frames
# ----------------------------------------------------------------------------------------------
def interval_levels() -> list[int | float]:
    """Interval levels whose bounds are the M5 quantiles: 50, 67, 95, 99."""
    return sorted({_level(q) for q in M5_QUANTILES if q != 0.5})


def _level(q: float) -> int | float:
    level = round(abs(1 - 2 * q) * 100, 6)
    return int(level) if float(level).is_integer() else level


def intervals_to_quantiles(out: pd.DataFrame, alias: str) -> pd.DataFrame:
    """Nixtla-style ``{alias}-lo/hi-{level}`` columns as ``{alias}-q-{q}``, clipped at 0.

    The median is the point forecast (symmetric intervals around it).
    """
    from trendcast.data.contract import quantile_column

    for q in M5_QUANTILES:
        side = "lo" if q < 0.5 else "hi"
        source = alias if q == 0.5 else f"{alias}-{side}-{_level(q)}"
        out[quantile_column(alias, q)] = out[source]
    keep = ["unique_id", "ds", alias] + [quantile_column(alias, q) for q in M5_QUANTILES]
    out = out[keep].copy()
    out[keep[2:]] = np.maximum(out[keep[2:]], 0.0)  # demand is never negative
    return out


def statsforecast_forecast(model: str, train: pd.DataFrame):
    """One statsforecast model's forecasts with M5 quantiles; ``(frame, alias)``."""
    from statsforecast import StatsForecast
    from statsforecast import models as sf
    from statsforecast.utils import ConformalIntervals

    intervals = ConformalIntervals(h=HORIZON, n_windows=10)  # as trendcast's default
    built = {
        "Naive": lambda: sf.Naive(),
        "SeasonalNaive": lambda: sf.SeasonalNaive(season_length=7),
        "WindowAverage": lambda: sf.WindowAverage(window_size=28, prediction_intervals=intervals),
        "AutoETS": lambda: sf.AutoETS(season_length=7, model="ZNA"),
        "CrostonClassic": lambda: sf.CrostonClassic(prediction_intervals=intervals),
        "TSB": lambda: sf.TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=intervals),
        "ADIDA": lambda: sf.ADIDA(prediction_intervals=intervals),
        "IMAPA": lambda: sf.IMAPA(prediction_intervals=intervals),
    }[model]()
    # No fallback model: a failing fit must show, not be replaced by Naive.
    engine = StatsForecast([built], freq="D", n_jobs=1)
    out = engine.forecast(df=train, h=HORIZON, level=interval_levels())
    alias = str(built)
    return intervals_to_quantiles(out, alias), alias


# ----------------------------------------------------------------------------------------------
# Scores
# ----------------------------------------------------------------------------------------------
def score(forecasts: pd.DataFrame, train, test, prices) -> dict[str, float]:
    from trendcast.evaluation import metrics

    df = test.merge(forecasts, on=["unique_id", "ds"], how="left")
    weights = metrics.m5_dollar_weights(train.merge(prices, on=["unique_id", "ds"]), last_n=28)
    quantiles = list(M5_QUANTILES)
    return {
        "WRMSSE": float(metrics.wrmsse(df, ["model"], train, weights).iloc[0]["model"]),
        "MASE": float(metrics.mase(df, ["model"], 1, train)["model"].mean()),
        "WAPE": float(metrics.wape(df, ["model"], pooled=True).iloc[0]["model"]),
        "WSPL": float(metrics.wspl(df, ["model"], quantiles, train, weights).iloc[0]["model"]),
        "coverage95": float(
            metrics.coverage(df, ["model"], interval=(0.025, 0.975))["model"].mean()
        ),
    }


# ----------------------------------------------------------------------------------------------
# One process per method
# ----------------------------------------------------------------------------------------------
def parse_args(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the M5 files")
    parser.add_argument("--method", help=argparse.SUPPRESS)  # child-process mode
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def peak_mb() -> float:
    """This process's peak resident memory in MiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child started from this (data-holding) parent
    reports at least the parent's peak. ``VmHWM`` starts afresh with the child's program.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(out: Path, fit_predict: Callable[[], tuple[pd.DataFrame, str]]) -> None:
    """Times ``fit_predict`` (data already loaded) and writes its forecasts and timing at ``out``.

    ``fit_predict`` returns ``(forecasts, alias)``; the alias' columns are saved as ``model``.
    """
    loaded_mb = peak_mb()
    started = time.perf_counter()
    try:
        forecasts, alias = fit_predict()
    except Unavailable as why:
        out.with_suffix(".json").write_text(json.dumps({"note": str(why)}))
        return
    seconds = time.perf_counter() - started
    renamed = {c: c.replace(alias, "model", 1) for c in forecasts.columns if c.startswith(alias)}
    forecasts.rename(columns=renamed).to_parquet(out)
    out.with_suffix(".json").write_text(
        json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "data_mb": loaded_mb})
    )


def run_all(
    script: str, names: Iterable[str], data_dir: Path, *, keep_going: bool = False
) -> pd.DataFrame:
    """Runs ``script --method NAME`` per method, each in a fresh process, and scores it.

    A method that raises `Unavailable` gets a row with its note and no scores. With
    ``keep_going``, a method whose process fails does too (its traceback shows above the table);
    otherwise the run stops there.
    """
    if not (data_dir / "tiny_m5_280series.parquet").exists():
        sys.exit(f"M5 subset not found in {data_dir}: pass --data pointing to shared/data/m5.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    train, test, prices = load(data_dir)
    rows = []
    for name in names:
        out = RESULTS / f".m5_{name}.parquet"
        command = [sys.executable, script, "--method", name, "--data", str(data_dir)]
        done = subprocess.run([*command, "--out", str(out)], check=not keep_going)
        if done.returncode:
            rows.append({"method": name, "note": f"failed (exit {done.returncode})"})
        else:
            timing = json.loads(out.with_suffix(".json").read_text())
            if out.exists():
                rows.append({"method": name, **score(pd.read_parquet(out), train, test, prices)})
                rows[-1].update(timing)
                out.unlink()
            else:
                rows.append({"method": name, **timing})
            out.with_suffix(".json").unlink()
        row = rows[-1]
        if "note" in row:
            print(f"{name:<30} {row['note']}", flush=True)
        else:
            print(f"{name:<30} WRMSSE {row['WRMSSE']:.3f}  {row['seconds']:.1f} s", flush=True)
    return pd.DataFrame(rows)


def write_results(table: pd.DataFrame, filename: str) -> None:
    """Stamps date and machine on ``table``, saves it in benchmarks/results and prints it."""
    table["date"] = pd.Timestamp.now().strftime("%Y-%m-%d")
    cores = len(os.sched_getaffinity(0))
    table["machine"] = f"{platform.machine()} {platform.python_version()}, {cores} cores"
    table.to_csv(RESULTS / filename, index=False)
    print(table.drop(columns=["date", "machine"]).round(3).to_string(index=False))
