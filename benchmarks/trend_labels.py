"""Trend labels against the sample shop's true life-cycle phase: precision and recall per label.

Data: ``simulate_shop(n_items=300, n_stores=3, n_periods=730, seed=s)`` for the reported seeds
1, 2, 3 (the thresholds, ``min_z=3`` and ``min_change=0.25``, were chosen on seeds 101 to 103,
which ``--seeds`` can rerun). Each shop is cut at four report dates (days 420, 510, 600 and 729
of the two years, so that summer and winter peaks, Black Friday and Christmas all fall in some
window) and `trend_table` runs on the sales up to that day, with ``dynamic`` (in-stock days),
``window=28`` days, at two levels: item-store series (``unique_id``) and items (``item_id``,
stores summed).

True phase at the report date: the life-cycle x trend factor of the truth,
``exp(trend_per_year * years) * life_cycle(day)`` (the simulator's ``trend * life_cycle``:
the ramp after ``launch_ds``, the linear fade before ``end_ds``; no season, weekday, event,
price or promotion), averaged over the 28 days up to the report date and over the comparison
window the label rests on: the same 28 days 364 days earlier when the item was on sale through
all of them, otherwise the 28 days before. ``rising`` when the ratio is above 1.10,
``declining`` when below 1 / 1.10, ``stable`` otherwise. (The factor is per item, so every
store of an item shares its phase.)

Measures per level and label: ``predicted`` (entities given the label), ``true`` (entities in
the phase), ``hits``, ``precision = hits / predicted``, ``recall = hits / true``; summed over the
seeds and report dates. Target: precision >= 0.8 for rising and declining.

Run: ``.venv/bin/python benchmarks/trend_labels.py`` (under a minute on 2 cores). Writes
benchmarks/results/trend_labels.csv and prints the table.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast.data.simulate import simulate_shop
from trendcast.decisions.trends import trend_table

RESULTS = Path(__file__).parent / "results"
WINDOW = 28
SEASON = 364
TRUE_CHANGE = 0.10
REPORT_DAYS = (420, 510, 600, 729)
LABELS = ("rising", "declining", "stable")


def true_phase(truth: pd.DataFrame, start: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per series: the true phase at ``as_of`` (see the module docstring) and its ratio."""
    day_now = (as_of - start).days
    recent = np.arange(day_now - WINDOW + 1, day_now + 1, dtype=float)
    launch = ((truth["launch_ds"] - start).dt.days).fillna(0).to_numpy(dtype=float)
    end = ((truth["end_ds"] - start).dt.days).fillna(np.inf).to_numpy(dtype=float)
    has_last_year = launch <= day_now - SEASON - WINDOW + 1
    earlier = np.where(has_last_year[:, None], recent - SEASON, recent - WINDOW)

    def factor(days: np.ndarray) -> np.ndarray:
        slope = truth["trend_per_year"].to_numpy()[:, None]
        ramp = truth["ramp_days"].to_numpy()[:, None]
        fade = truth["fade_days"].to_numpy()[:, None]
        grown = np.exp(slope * days / 365.25)
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp_up = np.where(
                ramp > 0, 1 - np.exp(-np.clip((days - launch[:, None] + 1) / ramp, 0, 50)), 1.0
            )
            fading = np.where(fade > 0, np.clip((end[:, None] - days) / fade, 0, 1), 1.0)
        on_sale = (days >= launch[:, None]) & (days < end[:, None])
        return grown * ramp_up * fading * on_sale

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = factor(recent).mean(axis=1) / factor(earlier).mean(axis=1)
    phase = np.select(
        [ratio > 1 + TRUE_CHANGE, ratio < 1 / (1 + TRUE_CHANGE), np.isfinite(ratio)],
        ["rising", "declining", "stable"],
        "delisted",  # no demand in either window
    )
    return pd.DataFrame(
        {
            "unique_id": truth["unique_id"].astype(object),
            "item_id": truth["item_id"],
            "phase": phase,
            "ratio": ratio,
        }
    )


def evaluate(seed: int, *, min_z: float, min_change: float) -> pd.DataFrame:
    """Labels and true phases of every entity, per level and report date, for one shop."""
    shop = simulate_shop(n_items=300, n_stores=3, n_periods=730, seed=seed, reviews=False)
    sales, dynamic, static = shop.data.sales, shop.data.dynamic, shop.data.static
    start = sales["ds"].min()
    frames = []
    for day in REPORT_DAYS:
        as_of = start + pd.Timedelta(days=day)
        launched = shop.truth.series["launch_ds"].fillna(start) <= as_of
        truth = true_phase(shop.truth.series[launched], start, as_of)
        cut = sales["ds"] <= as_of
        for level in ("unique_id", "item_id"):
            table = trend_table(
                sales[cut],
                static=static,
                dynamic=dynamic[dynamic["ds"] <= as_of],
                level=level,
                window=WINDOW,
                min_z=min_z,
                min_change=min_change,
            )
            phases = truth.drop_duplicates(level)[[level, "phase"]]
            merged = table[[level, "trend"]].merge(phases, on=level, how="left", validate="1:1")
            frames.append(
                merged.assign(level=level, seed=seed, as_of=as_of)[
                    ["seed", "as_of", "level", "trend", "phase"]
                ]
            )
    return pd.concat(frames, ignore_index=True)


def scores(labelled: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for level, part in labelled.groupby("level", sort=False):
        for label in LABELS:
            predicted = part["trend"] == label
            true = part["phase"] == label
            hits = int((predicted & true).sum())
            rows.append(
                {
                    "level": level,
                    "label": label,
                    "predicted": int(predicted.sum()),
                    "true": int(true.sum()),
                    "hits": hits,
                    "precision": hits / predicted.sum() if predicted.any() else np.nan,
                    "recall": hits / true.sum() if true.any() else np.nan,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--min-z", type=float, default=3.0)
    parser.add_argument("--min-change", type=float, default=0.25)
    parser.add_argument("--no-write", action="store_true", help="print only (threshold search)")
    args = parser.parse_args()
    began = time.perf_counter()
    labelled = pd.concat(
        [evaluate(s, min_z=args.min_z, min_change=args.min_change) for s in args.seeds],
        ignore_index=True,
    )
    table = scores(labelled)
    table["seeds"] = " ".join(map(str, args.seeds))
    table["min_z"] = args.min_z
    table["min_change"] = args.min_change
    table["date"] = time.strftime("%Y-%m-%d")
    table["machine"] = f"{platform.machine()} {platform.python_version()}"
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(table.drop(columns=["date", "machine"]).to_string(index=False))
    print(f"{time.perf_counter() - began:.0f} s")
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        table.to_csv(RESULTS / "trend_labels.csv", index=False)


if __name__ == "__main__":
    main()
