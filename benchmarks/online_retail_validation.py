"""Online Retail: candidate models on the 8 weeks before the test weeks (a validation window).

Same preparation as ``online_retail_engine.py``; the training part of its split is cut 8 weeks
early (train to 2011-08-08, validate 2011-08-15..2011-10-03), products with 12+ weeks of history
at the cut are scored. The test weeks are never read.

Run: ``.venv-bench/bin/python benchmarks/online_retail_validation.py``; prints WAPE and MASE.
"""

from __future__ import annotations

import time

import pandas as pd
from online_retail_engine import DEFAULT_DATA, FILE, prepare  # benchmarks/ is on sys.path


def candidates() -> dict:
    from trendcast.models import ETS, IMAPA, LightGBM, MovingAverage

    return {
        "LightGBM (tweedie, default)": LightGBM(),
        "LightGBM (L1 objective)": LightGBM(objective="regression_l1"),
        "MovingAverage(8)": MovingAverage(window=8),
        "IMAPA": IMAPA(),
        "ETS (ZNN)": ETS(season_length=1, model="ZNN"),
    }


def main() -> None:
    from trendcast import Forecaster
    from trendcast.evaluation import metrics

    train, _, _ = prepare(DEFAULT_DATA / FILE)
    cut = train["ds"].max() - pd.Timedelta(weeks=8)
    history, valid = train[train["ds"] <= cut], train[train["ds"] > cut]
    weeks = history.groupby("unique_id").size()
    history = history[history["unique_id"].isin(weeks[weeks >= 12].index)]
    valid = valid[valid["unique_id"].isin(history["unique_id"].unique())]
    print(
        f"{history['unique_id'].nunique()} products, validation {valid['ds'].min():%Y-%m-%d}"
        f"..{valid['ds'].max():%Y-%m-%d}"
    )
    for name, model in candidates().items():
        started = time.perf_counter()
        forecasts = Forecaster([model]).fit(history).predict(8)
        df = valid.merge(forecasts, on=["unique_id", "ds"])
        alias = [model.alias]
        wape = metrics.wape(df, alias, pooled=True).iloc[0][model.alias]
        mase = metrics.mase(df, alias, 1, history)[model.alias].mean()
        print(f"{name:<28} WAPE {wape:.3f}  MASE {mase:.3f}  {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
