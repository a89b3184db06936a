"""Combining the sequence models with LightGBM on the M5 subset, chosen on the validation month.

Members: trendcast ``LightGBM()`` (the engine), ``Chronos2(finetune="lora", steps=300)`` and
``LSTM()``. Each member is fitted twice: on d_1..d_1857 to forecast the validation month
d_1858..d_1885, and on d_1..d_1885 to forecast the test month d_1886..d_1913 (prices, events and
SNAP of the forecast days known, as in M5). Combinations are equal-weight averages of the
members' means and of their quantiles (quantile averaging keeps them ordered); every single
member and every pair and triple is scored on both months with ``m5_common.score``. The
combination with the lowest WSPL on the validation month is the one chosen; its test scores are
the result, and the test rows of the others are shown but never used to choose.

Run: ``.venv/bin/python benchmarks/sequence_ensemble.py`` (about 30 minutes on 2 CPU cores).
Members' forecasts are kept in ``benchmarks/results/.sequence_ensemble_*.parquet`` so a rerun
only scores; ``--refit`` fits again. Writes ``benchmarks/results/sequence_ensemble.csv``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import pandas as pd
from m5_common import DEFAULT_DATA, HORIZON, M5_QUANTILES, RESULTS, load_shop, score, write_results

VALID_START = pd.Timestamp("2016-02-29")  # d_1858
TEST_START = pd.Timestamp("2016-03-28")  # d_1886


def members() -> dict:
    from trendcast.models import LSTM, Chronos2, LightGBM

    return {
        "LightGBM": lambda: LightGBM(),
        "Chronos2-LoRA": lambda: Chronos2(finetune="lora", steps=300),
        "LSTM": lambda: LSTM(),
    }


def forecasts(shop, start: pd.Timestamp, name: str, refit: bool) -> pd.DataFrame:
    """One member's forecasts of the 28 days from ``start`` (cached), columns model, model-q-*."""
    from trendcast import Forecaster

    cache = RESULTS / f".sequence_ensemble_{name}_{start:%Y%m%d}.parquet"
    if cache.exists() and not refit:
        return pd.read_parquet(cache)
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    model = members()[name]()
    started = time.perf_counter()
    forecaster = Forecaster([model], quantiles=M5_QUANTILES)
    forecaster.fit(sales[sales["ds"] < start], static=shop.static, dynamic=shop.dynamic)
    out = forecaster.predict(HORIZON)
    print(f"{name} from {start:%Y-%m-%d}: {time.perf_counter() - started:.0f} s", flush=True)
    out = out.rename(columns=lambda c: c.replace(model.alias, "model", 1))
    out.to_parquet(cache)
    return out


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    columns = ["model"] + [f"model-q-{q:g}" for q in M5_QUANTILES]
    out = frames[0][["unique_id", "ds"]].copy()
    for column in columns:
        out[column] = sum(f[column].to_numpy() for f in frames) / len(frames)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--refit", action="store_true")
    args = parser.parse_args()
    shop = load_shop(args.data)
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    prices = shop.dynamic[["unique_id", "ds", "price"]]
    months = {"validation": VALID_START, "test": TEST_START}
    member_forecasts = {
        (month, name): forecasts(shop, start, name, args.refit)
        for month, start in months.items()
        for name in members()
    }
    rows = []
    names = list(members())
    for size in range(1, len(names) + 1):
        for combination in itertools.combinations(names, size):
            row = {"combination": " + ".join(combination)}
            for month, start in months.items():
                train = sales[sales["ds"] < start]
                actual = sales[
                    (sales["ds"] >= start) & (sales["ds"] < start + pd.Timedelta(days=HORIZON))
                ]
                combined = combine([member_forecasts[(month, n)] for n in combination])
                scores = score(combined, train, actual, prices)
                row.update({f"{month} {k}": v for k, v in scores.items()})
            rows.append(row)
    table = pd.DataFrame(rows)
    chosen = table["validation WSPL"].idxmin()
    table["chosen"] = table.index == chosen
    write_results(table, "sequence_ensemble.csv")
    engine = table.set_index("combination").loc["LightGBM"]
    pick = table.loc[chosen]
    print(
        f"chosen on validation: {pick['combination']}; test WSPL {pick['test WSPL']:.3f} vs "
        f"LightGBM {engine['test WSPL']:.3f} ({pick['test WSPL'] / engine['test WSPL'] - 1:+.1%})"
    )


if __name__ == "__main__":
    sys.exit(main())
