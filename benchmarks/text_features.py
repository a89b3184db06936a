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

Online Retail (``--dataset retail``): weekly demand per product (the product is its
Description, which is also its text) from ``online_retail_engine.weekly_demand``: the engine's
preparation (cancellations removed, partial first and last weeks dropped) without its filter
on product age, so that products launched shortly before a cut are fitted and scored too. The
test weeks are the engine's, the last 8 complete weeks (2011-10-10 .. 2011-11-28). Three
windows of 8 weeks: two to validate on, inside the training part (cut 16 and 8 weeks before the
test start; the latter is ``online_retail_validation.py``'s window), and the test window, scored
once. LightGBM is fitted on every product with at least one week of history before the window
(no dynamic frame: the observed prices are not known in advance) and forecasts its 8 weeks.
Scores of the mean forecast: pooled WAPE and mean MASE (seasonality 1, scale from each
product's history; products without a scale, such as those with one week of history, count in
WAPE only), over the products with 12 or more weeks of history at the cut (``all``, as in the
validation script) and over those with 1 to 25 weeks (``young``). Variants as for the shop
without ``review score`` (no reviews): PCs of the MiniLM Description embeddings, and the kNN
level over the products with 8 or more weeks of sales (the shop's 56 days). The seeds are
LightGBM's (``LightGBM(seed=s)``; bagging and feature sampling vary with it), to gauge noise.

Run: ``.venv/bin/python benchmarks/text_features.py [--seeds 0,1,2] [--out CSV] [--cache DB]``;
for Online Retail: ``HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python
benchmarks/text_features.py --dataset retail --out benchmarks/results/text_features_retail.csv
--cache /tmp/tf_cache.duckdb``. ``--cache`` is the DuckDB file that keeps the embeddings
(default: a temporary one), so that reruns encode nothing.
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
# Online Retail, in weeks.
RETAIL_HORIZON = 8
RETAIL_WINDOWS = {"valid -16": 16, "valid -8": 8, "test": 0}  # weeks before the test start
RETAIL_ESTABLISHED = 12  # history at the cut of the products scored as "all"
RETAIL_YOUNG = 26  # "young": less history than this at the cut
RETAIL_KNN_HISTORY = 8  # `min_history` of the kNN level's neighbours


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


def retail_window(sales, start, encoder, seeds) -> list[dict]:
    """Fits on the weeks before ``start`` and scores the 8 weeks from it, one fit per seed."""
    from trendcast import Forecaster
    from trendcast.evaluation import metrics
    from trendcast.models import LightGBM
    from trendcast.text.features import text_features

    history = sales[sales["ds"] < start]
    weeks = history.groupby("unique_id").size()
    end = start + pd.Timedelta(weeks=RETAIL_HORIZON)
    actual = sales[sales["ds"].between(start, end, "left") & sales["unique_id"].isin(weeks.index)]
    subsets = {
        "all": weeks.index[weeks >= RETAIL_ESTABLISHED],
        "young": weeks.index[weeks < RETAIL_YOUNG],
    }
    static = pd.DataFrame({"unique_id": weeks.index, "title": weeks.index})  # text = the id
    sides = {}
    for name, params in VARIANTS.items():
        if params is None:
            sides[name] = static
        elif params != "reviews":  # Online Retail has no reviews
            sides[name] = text_features(
                static,
                encoder=encoder,
                sales=history,
                min_history=RETAIL_KNN_HISTORY,
                text_cols=("title",),
                **params,
            )
    rows = []
    for seed in seeds:
        for name, side in sides.items():
            started = time.perf_counter()
            model = LightGBM(seed=seed)
            pred = Forecaster([model]).fit(history, static=side).predict(RETAIL_HORIZON)
            seconds = time.perf_counter() - started
            merged = actual.merge(pred, on=["unique_id", "ds"], how="left")
            if merged[model.alias].isna().any():
                raise RuntimeError(f"{name}: forecasts missing for some products and weeks")
            for subset, ids in subsets.items():
                part = merged[merged["unique_id"].isin(ids)]
                wape = metrics.wape(part, [model.alias], pooled=True).iloc[0][model.alias]
                mase = metrics.mase(part, [model.alias], 1, history)[model.alias]
                rows.append(
                    {
                        "seed": seed,
                        "variant": name,
                        "series": subset,
                        "n_series": part["unique_id"].nunique(),
                        "n_mase": int(mase.notna().sum()),
                        "seconds": round(seconds, 1),
                        "wape": float(wape),
                        "mase": float(mase.mean()),
                    }
                )
                show(rows[-1])
    return rows


def run_shop(seeds, encoder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of the sample shops and its summary: each score averaged over seeds and
    cutoffs, the series counted over all of them."""
    from trendcast.data.simulate import simulate_shop

    results = []
    for seed in seeds:
        shop = simulate_shop(n_items=150, n_stores=2, n_periods=730, future_periods=28, seed=seed)
        for day in CUTOFFS:
            for row in one_cutoff(shop, day, encoder):
                results.append({"seed": seed, **row})
                show(results[-1])
    table = pd.DataFrame(results)
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
    return table, summary


def run_retail(seeds, encoder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of the Online Retail windows and its summary: mean and standard deviation
    over the seeds of each window, variant and subset."""
    from online_retail_engine import DEFAULT_DATA, FILE, weekly_demand  # benchmarks/ on sys.path

    data, _, _, _, complete = weekly_demand(pd.read_parquet(DEFAULT_DATA / FILE))
    sales = data.sales[data.sales["ds"].between(complete[0], complete[-1])]
    sales = sales.assign(y=sales["y"].astype(float)).reset_index(drop=True)
    test_start = complete[-RETAIL_HORIZON]
    results = []
    for window, back in RETAIL_WINDOWS.items():
        start = test_start - pd.Timedelta(weeks=back)
        print(f"{window}: forecasts {start:%Y-%m-%d} .. +{RETAIL_HORIZON} weeks", flush=True)
        for row in retail_window(sales, start, encoder, seeds):
            results.append({"window": window, "first_week": f"{start:%Y-%m-%d}", **row})
    table = pd.DataFrame(results)
    summary = (
        table.groupby(["series", "first_week", "window", "variant"])
        .agg(
            wape=("wape", "mean"),
            wape_sd=("wape", "std"),
            mase=("mase", "mean"),
            mase_sd=("mase", "std"),
            n_series=("n_series", "first"),
            n_mase=("n_mase", "first"),
            seconds=("seconds", "mean"),
        )
        .round(4)
    )
    return table, summary


def show(row: dict) -> None:
    print(
        "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("shop", "retail"), default="shop")
    parser.add_argument(
        "--seeds", default="0,1,2", help="the shops' simulation seeds; LightGBM's for retail"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--cache", type=Path, default=None, help="DuckDB file of the embeddings (default: temp)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from trendcast.text import TextEncoder

    cache = args.cache or Path(tempfile.mkdtemp()) / "text.duckdb"
    encoder = TextEncoder(workspace=cache).fit()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.dataset == "shop":
        table, summary = run_shop(seeds, encoder)
        heading = "mean over seeds and cutoffs"
    else:
        table, summary = run_retail(seeds, encoder)
        heading = "mean and standard deviation over seeds"
    print(f"\n{heading}:\n" + summary.to_string())
    if args.out:
        table.round(4).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
