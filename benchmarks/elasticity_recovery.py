"""How well `estimate_elasticities` recovers the sample shop's true price elasticities.

Data: ``simulate_shop(n_items=100, n_stores=3, n_periods=730, seed=s, reviews=False,
future_periods=28)`` (300 series, two years of daily sales, plus the price and promotion plan of
the next 28 days) for the selection seed 11 (used to choose the default estimator and its
settings) and the test seeds 0 and 1 (reported). The truth is
``shop.truth.series["elasticity"]``, one value per item, shared by its stores.

Estimators (`trendcast.decisions.elasticity.estimate_elasticities`, same controls for all: series
levels, promotion flag, day of week, events, a piecewise-linear time curve with a knot every 28
days; out-of-stock days left out):

- ``poisson``: Poisson regression per item, sandwich standard errors;
- ``negbin``: the same, reweighted as a negative binomial in a second pass;
- ``loglog``: least squares of ``log(1 + y)``;

each with ``shrink=True`` (empirical Bayes toward the category) and ``shrink=False``; and

- ``lightgbm_what_if``: the forecaster's own price response. ``Forecaster([LightGBM()])`` is
  fitted on the shop with its plan, `what_if` forecasts the 28 days with every planned price cut
  by 10%, and an item's implied elasticity is ``log(units after / units before) / log(0.9)``
  over its stores and days (no interval).

Measures per estimator and seed: ``spearman`` (rank correlation of the estimates with the
truth), ``median_abs_error`` and ``mean_abs_error``, ``coverage_90`` (share of items whose 90%
interval holds the truth), the median error on slow movers only (``sparse_median_abs_error``,
items with ``intermittent`` in the truth), ``seconds`` (the estimate alone; for LightGBM the fit
and both forecasts) and ``load`` (the 1-minute load average after it: the machine may be
shared). Targets: Spearman >= 0.8 and median absolute error <= 0.25.

Run: ``.venv/bin/python benchmarks/elasticity_recovery.py`` (a few minutes, most of it
LightGBM). Writes benchmarks/results/elasticity_recovery.csv and prints the table.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from trendcast import Forecaster, simulate_shop
from trendcast.decisions.elasticity import estimate_elasticities
from trendcast.decisions.what_if import what_if
from trendcast.models import LightGBM

SELECTION_SEED = 11
TEST_SEEDS = (0, 1)
METHODS = ("poisson", "negbin", "loglog")
HORIZON = 28
PRICE_CUT = 0.9
RESULTS = Path(__file__).parent / "results" / "elasticity_recovery.csv"


def regression(shop, method: str, shrink: bool) -> tuple[pd.DataFrame, float]:
    data = shop.data
    start = time.perf_counter()
    est = estimate_elasticities(
        data.sales, data.dynamic, data.static, method=method, shrink=shrink, interval=0.9
    )
    return est, time.perf_counter() - start


def lightgbm_what_if(shop) -> tuple[pd.DataFrame, float]:
    data = shop.data
    start = time.perf_counter()
    fc = Forecaster([LightGBM()]).fit(data.sales, static=data.static, dynamic=data.dynamic)
    future = data.dynamic[data.dynamic["ds"] > data.sales["ds"].max()]
    plan = future[["unique_id", "ds"]].assign(price=future["price"] * PRICE_CUT)
    out = what_if(fc, HORIZON, plan)
    seconds = time.perf_counter() - start
    items = data.static.set_index("unique_id")["item_id"]
    totals = out.groupby(out["unique_id"].map(items))[["baseline", "what_if"]].sum()
    implied = np.log(totals["what_if"] / totals["baseline"]) / np.log(PRICE_CUT)
    est = pd.DataFrame(
        {"item_id": totals.index, "elasticity": implied.to_numpy(), "source": "item"}
    ).assign(lower=np.nan, upper=np.nan)
    return est, seconds


def score(shop, est: pd.DataFrame, seconds: float, **labels) -> dict:
    truth = shop.truth.series.drop_duplicates("item_id").set_index("item_id").loc[est["item_id"]]
    true = truth["elasticity"].to_numpy()
    error = np.abs(est["elasticity"].to_numpy() - true)
    sparse = truth["intermittent"].to_numpy(bool)
    covered = (est["lower"] <= true) & (true <= est["upper"])
    return {
        **labels,
        "n_items": len(est),
        "spearman": spearmanr(est["elasticity"], true, nan_policy="omit").statistic,
        "median_abs_error": np.nanmedian(error),
        "mean_abs_error": np.nanmean(error),
        "coverage_90": covered.mean() if est["lower"].notna().any() else np.nan,
        "sparse_median_abs_error": np.nanmedian(error[sparse]),
        "n_category_fallback": int((est["source"] == "category").sum()),
        "seconds": seconds,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    rows = []
    for seed in (SELECTION_SEED, *TEST_SEEDS):
        shop = simulate_shop(
            n_items=100, n_stores=3, n_periods=730, seed=seed, reviews=False,
            future_periods=HORIZON,
        )  # fmt: skip
        role = "selection" if seed == SELECTION_SEED else "test"
        for method in METHODS:
            for shrink in (True, False):
                est, seconds = regression(shop, method, shrink)
                rows.append(score(shop, est, seconds, seed=seed, role=role, method=method,
                                  shrink=shrink))  # fmt: skip
        est, seconds = lightgbm_what_if(shop)
        rows.append(score(shop, est, seconds, seed=seed, role=role, method="lightgbm_what_if",
                          shrink=False))  # fmt: skip
        print(pd.DataFrame(rows[-7:]).round(3).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(RESULTS, index=False)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print("\nAll runs")
        print(table.round(3).to_string(index=False))
        test = table[table["role"] == "test"]
        summary = test.groupby(["method", "shrink"])[
            ["spearman", "median_abs_error", "coverage_90", "seconds"]
        ].mean()
        print("\nMean over the test seeds", TEST_SEEDS)
        print(summary.round(3).to_string())
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
