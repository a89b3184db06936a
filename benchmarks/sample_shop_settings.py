"""LightGBM settings on the sample shop, scored against its true expected demand.

Data: ``simulate_shop(n_items=N, n_stores=3, n_periods=1941, seed=0, reviews=False,
future_periods=28)`` (``--n-items 1016``: 3,048 series, a tenth of the M5-size shop). Each
candidate is ``LightGBM(max_train_periods=365, ...)`` fitted with the static and dynamic frames
and forecast 28 days with the 0.1 and 0.9 quantiles. Scores: WAPE and RMSE of the mean forecast
against ``expected_demand`` (the simulator's true mean), share of ``latent_demand`` inside the
80% interval, the boosting rounds chosen, and seconds for fit + forecast.

Run: ``OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/sample_shop_settings.py [--n-items N]
[candidate ...]``; prints one line per candidate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from m5_validation import GOSS  # benchmarks/ is on sys.path

CANDIDATES = {
    "bagging": {},
    "goss": {"lgb_params": GOSS},
    "bagging_seed1": {"seed": 1},
    "goss_seed1": {"lgb_params": GOSS, "seed": 1},
}


def main() -> None:
    from trendcast import Forecaster, simulate_shop
    from trendcast.models import LightGBM

    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=1016)
    parser.add_argument("candidates", nargs="*", help=f"some of {', '.join(CANDIDATES)}")
    args = parser.parse_args()
    if unknown := set(args.candidates) - set(CANDIDATES):
        parser.error(f"unknown candidates {sorted(unknown)}; choose from {list(CANDIDATES)}")
    shop = simulate_shop(
        n_items=args.n_items, n_stores=3, n_periods=1941, seed=0, reviews=False, future_periods=28
    )
    data = shop.data
    truth = shop.truth.demand[shop.truth.demand["ds"] > data.sales["ds"].max()]
    for name in args.candidates or list(CANDIDATES):
        started = time.perf_counter()
        model = LightGBM(max_train_periods=365, **CANDIDATES[name])
        fc = Forecaster([model], quantiles=(0.1, 0.9))
        forecasts = fc.fit(data.sales, static=data.static, dynamic=data.dynamic).predict(28)
        seconds = time.perf_counter() - started
        df = truth.merge(forecasts, on=["unique_id", "ds"])
        error = df["LightGBM"] - df["expected_demand"]
        inside = df["latent_demand"].between(df["LightGBM-q-0.1"], df["LightGBM-q-0.9"])
        print(
            f"{name:<14} WAPE {error.abs().sum() / df['expected_demand'].sum():.4f}  "
            f"RMSE {np.sqrt((error**2).mean()):.3f}  80% coverage {inside.mean():.3f}  "
            f"rounds {sum(fc.models_[0].rounds_.values())}  {seconds:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
