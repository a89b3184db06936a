"""Does product text help the global LightGBM? With and without `text_features` columns.

Sample shops ``simulate_shop(n_items=150, n_stores=2, n_periods=730, future_periods=28,
seed=s)``; the shop launches products during its first 85% of days, so the forecasts start at
cutoffs inside that span (days 420, 510 and 600): LightGBM is fitted on the sales before the
cutoff (static rows and price/promotion plan of the series on sale by then) and forecasts the
next 28 days, scored against the simulator's ``expected_demand`` (the mean the sales are drawn
from) and ``latent_demand`` (the realised demand before stock-outs): WAPE and MAE over all
series, and over the launches younger than 8 weeks at the cutoff, where there is little
history and text should matter most.

Variants: ``no text`` (hierarchy ids and the rest as LightGBM takes them), ``text PCs`` (8
principal components of the MiniLM title and description embeddings), ``text PCs + kNN level``
(also the mean log demand of the 10 established products with the closest text), and
``review score``: no text columns, but a dynamic covariate, the trailing 90-day mean of the
review scores (a ridge on MiniLM embeddings of the review texts, fitted to the ratings of the
reviews before the cutoff; only reviews before the cutoff count) and their number.

Run: ``.venv/bin/python benchmarks/text_features.py [--seeds 0,1,2] [--out CSV]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HORIZON = 28
YOUNG_DAYS = 56
CUTOFFS = (420, 510, 600)
VARIANTS = {
    "no text": None,
    "text PCs": {"n_components": 8},
    "text PCs + kNN level": {"n_components": 8, "k": 10},
    "review score": "reviews",
}


def one_cutoff(shop, day: int, encoder) -> list[dict]:
    from trendcast import Forecaster
    from trendcast.models import LightGBM
    from trendcast.text.features import text_features

    data = shop.data
    days = pd.DatetimeIndex(np.sort(data.sales["ds"].unique()))
    cutoff = days[0] + pd.Timedelta(days=day)
    end = cutoff + pd.Timedelta(days=HORIZON)
    sales = data.sales[data.sales["ds"] < cutoff]
    ids = sales["unique_id"].unique()
    static = data.static[data.static["unique_id"].isin(ids)].reset_index(drop=True)
    dynamic = data.dynamic[
        data.dynamic["unique_id"].isin(ids) & (data.dynamic["ds"] < end)
    ].reset_index(drop=True)
    truth = shop.truth.demand
    truth = truth[truth["unique_id"].isin(ids) & truth["ds"].between(cutoff, end, "left")]
    first = sales.groupby("unique_id", observed=True)["ds"].min()
    young = first.index[first > cutoff - pd.Timedelta(days=YOUNG_DAYS)]
    rows = []
    for name, params in VARIANTS.items():
        side, dyn = static, dynamic
        if params == "reviews":
            dyn = with_review_score(data.reviews, dynamic, cutoff, encoder)
        elif params is not None:
            side = text_features(static, encoder=encoder, sales=sales, **params)
        start = time.perf_counter()
        fc = Forecaster([LightGBM()]).fit(sales, static=side, dynamic=dyn)
        pred = fc.predict(HORIZON)
        seconds = time.perf_counter() - start
        merged = truth.merge(pred, on=["unique_id", "ds"], how="left")
        if merged["LightGBM"].isna().any():
            raise RuntimeError(f"{name}: forecasts missing for some series and days")
        for subset, mask in (
            ("all", np.ones(len(merged), bool)),
            ("young", merged["unique_id"].isin(young).to_numpy()),
        ):
            part = merged[mask]
            row = {
                "cutoff_day": day,
                "variant": name,
                "series": subset,
                "n_series": part["unique_id"].nunique(),
                "seconds": round(seconds, 1),
            }
            for target in ("expected_demand", "latent_demand"):
                err = np.abs(part["LightGBM"] - part[target])
                short = target.split("_")[0]
                row[f"wape_{short}"] = float(err.sum() / max(part[target].sum(), 1e-9))
                row[f"mae_{short}"] = float(err.mean()) if len(part) else np.nan
            rows.append(row)
    return rows


def with_review_score(reviews, dynamic, cutoff, encoder):
    """``dynamic`` with the trailing mean review score, from the reviews before ``cutoff``."""
    from trendcast.text.reviews import ReviewScorer, review_covariate

    known = reviews[reviews["ds"] < cutoff]
    scored = known.assign(review_score=ReviewScorer(encoder=encoder).fit(known).score(known))
    return review_covariate(scored, dynamic, window=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from trendcast.data.simulate import simulate_shop
    from trendcast.text import TextEncoder

    encoder = TextEncoder(workspace=Path(tempfile.mkdtemp()) / "text.duckdb").fit()
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        shop = simulate_shop(n_items=150, n_stores=2, n_periods=730, future_periods=28, seed=seed)
        for day in CUTOFFS:
            for row in one_cutoff(shop, day, encoder):
                results.append({"seed": seed, **row})
                print(
                    "  ".join(
                        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in results[-1].items()
                    ),
                    flush=True,
                )
    table = pd.DataFrame(results)
    # Each score averaged over seeds and cutoffs; the series counted over all of them.
    summary = (
        table.groupby(["series", "variant"], sort=False)[
            ["wape_expected", "mae_expected", "wape_latent", "mae_latent", "n_series"]
        ]
        .agg(
            {
                "wape_expected": "mean",
                "mae_expected": "mean",
                "wape_latent": "mean",
                "mae_latent": "mean",
                "n_series": "sum",
            }
        )
        .round(4)
    )
    print("\nmean over seeds and cutoffs:\n" + summary.to_string())
    if args.out:
        table.round(4).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
