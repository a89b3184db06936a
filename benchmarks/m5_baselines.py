"""Baselines on the real M5 subset: trendcast's models next to statsforecast's, one split.

Data: ../shared/data/m5/tiny_m5_280series.parquet (28 items x 10 stores, d_1..d_1913).
Split: train d_1..d_1885, test d_1886..d_1913 (28 days), as in the M5 accuracy competition.
Scores: bottom-level WRMSSE with M5 dollar weights (d_1858..d_1885), MASE (mean over series,
seasonality 1), pooled WAPE, M5 weighted scaled pinball loss (WSPL) over the 9 M5 quantiles and
the coverage of the 95% interval (0.025..0.975). Forecasts are clipped at 0.

Each method runs in its own process, so its wall time (fit + forecast, data loading excluded) and
peak memory (max RSS; ``data_mb`` is the peak after loading the data, before fitting) are its own.

Run: ``make bench-m5`` or ``.venv/bin/python benchmarks/m5_baselines.py [--data DIR]``.
Writes benchmarks/results/m5_baselines.csv and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "m5"
RESULTS = ROOT / "benchmarks" / "results"
M5_QUANTILES = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)
HORIZON = 28
TEST_START = pd.Timestamp("2016-03-28")  # d_1886

METHODS = {
    # name: (library, model)
    "trendcast.Naive": ("trendcast", "naive"),
    "trendcast.SeasonalNaive": ("trendcast", "seasonal_naive"),
    "trendcast.MovingAverage": ("trendcast", "moving_average"),
    "trendcast.ETS": ("trendcast", "ets"),
    "trendcast.Croston": ("trendcast", "croston"),
    "trendcast.TSB": ("trendcast", "tsb"),
    "trendcast.ADIDA": ("trendcast", "adida"),
    "trendcast.IMAPA": ("trendcast", "imapa"),
    "statsforecast.Naive": ("statsforecast", "Naive"),
    "statsforecast.SeasonalNaive": ("statsforecast", "SeasonalNaive"),
    "statsforecast.WindowAverage": ("statsforecast", "WindowAverage"),
    "statsforecast.AutoETS": ("statsforecast", "AutoETS"),
    "statsforecast.CrostonClassic": ("statsforecast", "CrostonClassic"),
    "statsforecast.TSB": ("statsforecast", "TSB"),
    "statsforecast.ADIDA": ("statsforecast", "ADIDA"),
    "statsforecast.IMAPA": ("statsforecast", "IMAPA"),
}


def load(data_dir: Path):
    from trendcast.data.adapters import from_m5_long

    shop = from_m5_long(pd.read_parquet(data_dir / "tiny_m5_280series.parquet"))
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    prices = shop.dynamic[["unique_id", "ds", "price"]]
    train = sales[sales["ds"] < TEST_START]
    test = sales[sales["ds"] >= TEST_START]
    return train, test, prices


def run_method(name: str, data_dir: Path, out: Path) -> None:
    """Fits and forecasts one method; writes its forecasts and timing next to ``out``."""
    library, model = METHODS[name]
    train, _, _ = load(data_dir)
    loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if library == "trendcast":
        from trendcast.forecaster import Forecaster, models_by_name

        forecaster = Forecaster(models_by_name([model], "D"), quantiles=M5_QUANTILES)
        forecasts = forecaster.fit(train).predict(HORIZON)
        alias = forecaster.models_[0].alias
    else:
        forecasts, alias = _statsforecast(model, train)
    seconds = time.perf_counter() - started
    renamed = {c: c.replace(alias, "model", 1) for c in forecasts.columns if c.startswith(alias)}
    forecasts.rename(columns=renamed).to_parquet(out)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.with_suffix(".json").write_text(
        json.dumps({"seconds": seconds, "peak_mb": peak_mb, "data_mb": loaded_mb})
    )


def _statsforecast(model: str, train: pd.DataFrame):
    from statsforecast import StatsForecast
    from statsforecast import models as sf
    from statsforecast.utils import ConformalIntervals

    from trendcast.data.contract import quantile_column

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
    levels = sorted({round(abs(1 - 2 * q) * 100, 6) for q in M5_QUANTILES if q != 0.5})
    levels = [int(lv) if float(lv).is_integer() else lv for lv in levels]
    # No fallback model: a failing fit must show, not be replaced by Naive.
    engine = StatsForecast([built], freq="D", n_jobs=1)
    out = engine.forecast(df=train, h=HORIZON, level=levels)
    alias = str(built)
    for q in M5_QUANTILES:
        level = round(abs(1 - 2 * q) * 100, 6)
        level = int(level) if float(level).is_integer() else level
        source = alias if q == 0.5 else f"{alias}-{'lo' if q < 0.5 else 'hi'}-{level}"
        out[quantile_column(alias, q)] = out[source]
    keep = ["unique_id", "ds", alias] + [quantile_column(alias, q) for q in M5_QUANTILES]
    out = out[keep].copy()
    out[keep[2:]] = np.maximum(out[keep[2:]], 0.0)  # demand is never negative
    return out, alias


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the M5 files")
    parser.add_argument("--method", help=argparse.SUPPRESS)  # child-process mode
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        run_method(args.method, args.data, args.out)
        return
    if not (args.data / "tiny_m5_280series.parquet").exists():
        sys.exit(f"M5 subset not found in {args.data}: pass --data pointing to shared/data/m5.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    train, test, prices = load(args.data)
    rows = []
    for name in METHODS:
        out = RESULTS / f".m5_{name}.parquet"
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--method",
                name,
                "--data",
                str(args.data),
                "--out",
                str(out),
            ],
            check=True,
        )
        timing = json.loads(out.with_suffix(".json").read_text())
        rows.append({"method": name, **score(pd.read_parquet(out), train, test, prices), **timing})
        out.unlink()
        out.with_suffix(".json").unlink()
        print(f"{name:<30} WRMSSE {rows[-1]['WRMSSE']:.3f}  {timing['seconds']:.1f} s", flush=True)
    table = pd.DataFrame(rows)
    table["date"] = pd.Timestamp.now().strftime("%Y-%m-%d")
    table["machine"] = f"{platform.machine()} {platform.python_version()}, {_cores()} cores"
    table.to_csv(RESULTS / "m5_baselines.csv", index=False)
    print(table.drop(columns=["date", "machine"]).round(3).to_string(index=False))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
