"""Launch expectations from category peers or from text peers, against the sample shop's truth.

`trend_table` labels a launch above or below expectation by comparing its recent rate with
``launch_expected``: the median regular-price rate of established peers, either its category's
products (``launch_peers="category"``, the default) or the ``k_peers`` (10 or 30) products
whose text reads most alike (``launch_peers="text"``, with the hashing TF-IDF or
all-MiniLM-L6-v2).
A good expectation is close to what the launch truly sells; this measures how close.

Data: ``simulate_shop(n_items=300, n_stores=3, n_periods=730, seed=s)``, seeds 1, 2, 3, cut
at days 420, 510, 600 and 729 (as ``trend_labels.py``), item-store series, ``window=28``.
Truth: the launch's mean ``baseline_demand`` (expected demand at its reference price, without
promotion) over the 28 days up to the report date. Scores over the launches labelled at each
date: the median of ``|log(expected / truth)|`` and the share of expectations within 25% of
the truth, and how many launches each setting calls above or below expectation.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/launch_peers.py`` (about a minute on 2
cores); prints the table and writes benchmarks/results/launch_peers.csv.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from trend_labels import REPORT_DAYS, WINDOW  # benchmarks/ is on sys.path

SEEDS = (1, 2, 3)  # trend_labels.py's reported seeds
OUT = Path(__file__).resolve().parent / "results" / "launch_peers.csv"


def launches(seed: int, settings: dict) -> pd.DataFrame:
    """Every launch's expectation, label and true rate, per setting and report date."""
    from trendcast.data.simulate import simulate_shop
    from trendcast.decisions.trends import trend_table

    shop = simulate_shop(n_items=300, n_stores=3, n_periods=730, seed=seed, reviews=False)
    sales, dynamic, static = shop.data.sales, shop.data.dynamic, shop.data.static
    demand = shop.truth.demand
    start = sales["ds"].min()
    frames = []
    for day in REPORT_DAYS:
        as_of = start + pd.Timedelta(days=day)
        recent = demand[demand["ds"].between(as_of - pd.Timedelta(days=WINDOW - 1), as_of)]
        truth = recent.groupby("unique_id", observed=True)["baseline_demand"].mean()
        truth.index = truth.index.astype(str)
        for name, options in settings.items():
            table = trend_table(
                sales[sales["ds"] <= as_of],
                static=static,
                dynamic=dynamic[dynamic["ds"] <= as_of],
                window=WINDOW,
                **options,
            )
            found = table[table["launch"] != ""]
            frames.append(
                pd.DataFrame(
                    {
                        "seed": seed,
                        "day": day,
                        "peers": name,
                        "unique_id": found["unique_id"].astype(str).to_numpy(),
                        "launch": found["launch"].to_numpy(),
                        "expected": found["launch_expected"].to_numpy(),
                        "truth": truth.reindex(found["unique_id"].astype(str)).to_numpy(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from trendcast.text import HashingTfidf, TextEncoder

    minilm = TextEncoder().fit()
    settings = {"category": {}}
    for k in (10, 30):
        for name, encoder in (("TF-IDF", HashingTfidf()), ("MiniLM", minilm)):
            settings[f"text, {name}, k={k}"] = {
                "launch_peers": "text",
                "encoder": encoder,
                "k_peers": k,
            }
    rows = pd.concat([launches(seed, settings) for seed in SEEDS], ignore_index=True)
    rows["log_error"] = np.abs(np.log(rows["expected"] / rows["truth"]))
    table = rows.groupby("peers", sort=False).agg(
        launches=("log_error", "size"),
        median_abs_log_error=("log_error", "median"),
        within_25pct=("log_error", lambda e: float((e <= np.log(1.25)).mean())),
        above=("launch", lambda s: int((s == "above expectation").sum())),
        below=("launch", lambda s: int((s == "below expectation").sum())),
    )
    print(table.round(3).to_string())
    OUT.parent.mkdir(exist_ok=True)
    table.round(4).to_csv(OUT)


if __name__ == "__main__":
    main()
