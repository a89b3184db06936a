"""Chronos-2's point forecast against its own quantiles, on Online Retail weekly demand.

The point forecast of `trendcast.models.Chronos2` is the mean of the model's quantile grid
(each level carrying the probability half-way to its neighbours). On lumpy wholesale demand the
top levels run far out, so the mean can lie above the 90% quantile. This measures how often, and
what two alternatives would do: the mean of the grid winsorised at its 5% and 95% levels, and the
mean of the levels between them only.

Data: all of ../shared/data/online_retail (imported as `trendcast import` does, weekly), the last
8 complete weeks held out, products first sold 20+ weeks before them (as
benchmarks/online_retail_engine.py); the shipped Chronos-2, zero-shot, no covariates.

Run: ``.venv/bin/python benchmarks/chronos_point.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast import Forecaster
from trendcast.app import import_orders
from trendcast.models.chronos import Chronos2

LOG = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
LOG = LOG / "online_retail_full_541909.parquet"
HORIZON = 8


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sales = import_orders(LOG, Path(tmp) / "ws.duckdb").data.sales
    last = sales["ds"].max() - pd.Timedelta(weeks=1)  # the log's last week is partial
    start = last - pd.Timedelta(weeks=HORIZON - 1)
    first = sales[sales["y"] > 0].groupby("unique_id")["ds"].min()
    kept = first[first <= start - pd.Timedelta(weeks=20)].index
    sales = sales[sales["unique_id"].isin(kept)]
    train, test = sales[sales["ds"] < start], sales[(sales["ds"] >= start) & (sales["ds"] <= last)]

    forecaster = Forecaster([Chronos2(use_covariates=False)], freq="W-MON").fit(train)
    own = [float(q) for q in forecaster.models_[0].pipeline_.quantiles]
    joined = forecaster.predict(HORIZON, quantiles=own).merge(test, on=["unique_id", "ds"])
    grid = joined[[f"Chronos2-q-{q:g}" for q in own]].to_numpy()
    edges = np.concatenate([[0.0], own, [1.0]])
    mass = (edges[2:] - edges[:-2]) / 2
    mass /= mass.sum()
    lo, hi = own.index(0.05), own.index(0.95)
    winsorised = np.clip(grid, grid[:, [lo]], grid[:, [hi]]) @ mass
    inner = grid[:, lo : hi + 1] @ (mass[lo : hi + 1] / mass[lo : hi + 1].sum())
    q90, y = joined["Chronos2-q-0.9"].to_numpy(), joined["y"].to_numpy()
    print(f"{joined['unique_id'].nunique():,} products x {HORIZON} weeks; levels {own}")
    print(f"top level / 95% level, median and 90th percentile over rows: "
          f"{np.median(grid[:, -1] / np.maximum(grid[:, hi], 1e-9)):.2f}, "
          f"{np.quantile(grid[:, -1] / np.maximum(grid[:, hi], 1e-9), 0.9):.2f}")  # fmt: skip
    print(f"{'point':<34} {'above q0.9':>10} {'WAPE':>6} {'sum / sold':>10}")
    for name, point in (
        ("mean of the grid (the model's)", joined["Chronos2"].to_numpy()),
        ("median", joined["Chronos2-q-0.5"].to_numpy()),
        ("mean winsorised at 5% and 95%", winsorised),
        ("mean of the 5%..95% levels", inner),
    ):
        wape = np.abs(point - y).sum() / y.sum()
        print(
            f"{name:<34} {np.mean(point > q90):>10.1%} {wape:>6.3f} {point.sum() / y.sum():>10.2f}"
        )


if __name__ == "__main__":
    main()
