"""trendcast's settings chosen on the M5 subset's validation month, never its test.

Train d_1..d_1857, score d_1858..d_1885 (the 28 days before the test month d_1886..d_1913),
with the same scores as the test benchmark. Each candidate is a model (or combination).

Run: ``.venv-bench/bin/python benchmarks/m5_validation.py [candidate ...]``; writes
``benchmarks/results/m5_validation.csv`` (appending one row per candidate run).
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "m5" / "tiny_m5_280series.parquet"
RESULTS = ROOT / "benchmarks" / "results" / "m5_validation.csv"
# Gradient-based one-side sampling in place of bagging: fewer rows per tree.
GOSS = {"data_sample_strategy": "goss", "bagging_fraction": 1.0, "bagging_freq": 0}
M5_QUANTILES = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)
VALID_START = pd.Timestamp("2016-02-29")  # d_1858
TEST_START = pd.Timestamp("2016-03-28")  # d_1886: never read here


def _candidates() -> dict:
    from trendcast.models import ETS, LightGBM, MovingAverage
    from trendcast.models.ensemble import Ensemble

    return {
        "default": lambda: LightGBM(),
        "relative_price": lambda: LightGBM(relative_price=True),
        "direct": lambda: LightGBM(strategy="direct"),
        "mix": lambda: LightGBM(strategy="mix"),
        "feature_fraction05": lambda: LightGBM(feature_fraction=0.5),
        "min_leaf100": lambda: LightGBM(min_data_in_leaf=100),
        "bagging05": lambda: LightGBM(bagging_fraction=0.5),
        "windows_long": lambda: LightGBM(windows=(7, 14, 28, 56, 91, 182, 364)),
        "lags_weekly": lambda: LightGBM(lags=(*range(1, 8), 14, 21, 28, 35, 42, 49, 56, 364)),
        "max_bin63": lambda: LightGBM(lgb_params={"max_bin": 63}),
        "goss": lambda: LightGBM(lgb_params=GOSS),
        **{
            f"{name}_seed{k}": partial(LightGBM, seed=k, lgb_params=extra)
            for name, extra in (("default", None), ("max_bin63", {"max_bin": 63}), ("goss", GOSS))
            for k in (1, 2)
        },
        "lr05_leaves63": lambda: LightGBM(learning_rate=0.05, num_leaves=63),
        "last730": lambda: LightGBM(max_train_periods=730),
        "poisson": lambda: LightGBM(objective="poisson"),
        "tweedie1.3": lambda: LightGBM(tweedie_variance_power=1.3),
        "ensemble_gbm_ets_ma": lambda: Ensemble([LightGBM(), ETS(), MovingAverage()]),
        "l1": lambda: LightGBM(objective="regression_l1"),
        "bagged3": lambda: Ensemble([LightGBM(seed=k, alias=f"LightGBM{k}") for k in range(3)]),
        "leaves127_lr05": lambda: LightGBM(
            num_leaves=127, learning_rate=0.05, min_data_in_leaf=100
        ),
    }


def _tuned(train, static, dynamic):
    from trendcast.tuning import tune_lightgbm

    result = tune_lightgbm(
        train, h=28, n_windows=1, static=static, dynamic=dynamic, time_budget=600, metric="rmse"
    )
    print(result.trials.to_string(), flush=True)
    return result.model()


def main(names: list[str]) -> None:
    from trendcast import Forecaster
    from trendcast.data.adapters import from_m5_long
    from trendcast.evaluation import metrics

    shop = from_m5_long(pd.read_parquet(DATA))
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    sales = sales[sales["ds"] < TEST_START]
    dynamic = shop.dynamic[shop.dynamic["ds"] < TEST_START]
    train, valid = sales[sales["ds"] < VALID_START], sales[sales["ds"] >= VALID_START]
    weights = metrics.m5_dollar_weights(train.merge(dynamic[["unique_id", "ds", "price"]]))
    rows = []
    candidates = _candidates()
    # Tuned: the search sees only the training part (windows ending at d_1857).
    candidates["tuned"] = lambda: _tuned(train, shop.static, dynamic)
    for name in names or list(candidates):
        started = time.perf_counter()
        model = candidates[name]()
        forecaster = Forecaster([model], quantiles=M5_QUANTILES)
        forecaster.fit(train, static=shop.static, dynamic=dynamic)
        df = valid.merge(forecaster.predict(28), on=["unique_id", "ds"])
        df = df.rename(columns={c: c.replace(model.alias, "model") for c in df.columns})
        seconds = time.perf_counter() - started
        rows.append(
            {
                "candidate": name,
                "WRMSSE": metrics.wrmsse(df, ["model"], train, weights).iloc[0]["model"],
                "WSPL": metrics.wspl(df, ["model"], list(M5_QUANTILES), train, weights).iloc[0][
                    "model"
                ],
                "WAPE": metrics.wape(df, ["model"], pooled=True).iloc[0]["model"],
                "coverage95": metrics.coverage(df, ["model"], interval=(0.025, 0.975))[
                    "model"
                ].mean(),
                "seconds": seconds,
                "date": pd.Timestamp.now().strftime("%Y-%m-%d"),
            }
        )
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
