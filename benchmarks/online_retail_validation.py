"""Online Retail: candidate models on the 8 weeks before the test weeks (a validation window).

Same preparation as ``online_retail_engine.py``; the training part of its split is cut 8 weeks
early (train to 2011-08-08, validate 2011-08-15..2011-10-03), products with 12+ weeks of history
at the cut are scored. The test weeks are never read. Each candidate is scored twice: with its
mean forecast and with its median (the 0.5 quantile), which absolute errors (WAPE, MASE) favour.

Run: ``.venv-bench/bin/python benchmarks/online_retail_validation.py [candidate ...]``; prints
WAPE and MASE. The Chronos-2 candidates need the neural extra: run them with ``.venv/bin/python``.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from online_retail_engine import DEFAULT_DATA, FILE, prepare  # benchmarks/ is on sys.path


def candidates() -> dict:
    from trendcast.models import ETS, IMAPA, Chronos2, LightGBM, MovingAverage
    from trendcast.models.ensemble import Ensemble

    def chronos():
        return Chronos2(num_threads=1)

    return {
        "lightgbm": lambda: LightGBM(),
        "lightgbm_direct": lambda: LightGBM(strategy="direct"),
        "lightgbm_mix": lambda: LightGBM(strategy="mix"),
        "lightgbm_l1": lambda: LightGBM(objective="regression_l1"),
        "moving_average8": lambda: MovingAverage(window=8),
        "imapa": lambda: IMAPA(),
        "ets": lambda: ETS(season_length=1, model="ZNN"),
        "chronos2": chronos,
        "ensemble_chronos2_imapa": lambda: Ensemble([chronos(), IMAPA()]),
        "ensemble_lightgbm_chronos2": lambda: Ensemble([LightGBM(), chronos()]),
    }


def main(names: list[str]) -> None:
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
    built = candidates()
    for name in names or list(built):
        started = time.perf_counter()
        model = built[name]()
        forecasts = Forecaster([model], quantiles=(0.5,)).fit(history).predict(8)
        seconds = time.perf_counter() - started
        df = valid.merge(forecasts, on=["unique_id", "ds"])
        scores = []
        for point, column in (("mean", model.alias), ("median", f"{model.alias}-q-0.5")):
            wape = metrics.wape(df, [column], pooled=True).iloc[0][column]
            mase = metrics.mase(df, [column], 1, history)[column].mean()
            scores.append(f"{point} WAPE {wape:.3f} MASE {mase:.3f}")
        print(f"{name:<28} {'   '.join(scores)}   {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
