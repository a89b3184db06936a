"""Pretrains trendcast's shipped Chronos-2 (``trendcast-chronos2-small``) from random weights.

Corpus:
- simulated sample-shop catalogues (``--shops``, varied size, length, daily or weekly, seeded),
  with their prices, promotions, events (known in advance) and behaviour/stock (past only);
- M5 store x department daily sales (``../shared/data/m5/store_dept_daily_sales.parquet``, 70
  series) up to d_1885 only, with event and SNAP flags; days missing from that file (stores
  closed at Christmas) count as 0;
- UCI Online Retail weekly product demand (the weekly preparation of
  ``online_retail_engine.py``) before its last 8 complete weeks.
The M5 subset's test days (d_1886..) and Online Retail's test weeks are never read.

Run (2 CPU cores, about an hour at ~1 step/s): ``.venv/bin/python benchmarks/pretrain_chronos.py``.
The shipped weights: ``--steps 6000 --batch-size 256`` on one GPU (bf16 and TF32 are used on
a recent GPU; an H200 did 18.5 steps/s, 324 s). ``--export-real FILE`` writes the real series
to a parquet file and ``--real FILE`` reads them from one (for a machine without
``../shared``). Writes the weights, ``training.json`` and ``MODEL_CARD.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
M5_TEST_START = pd.Timestamp("2016-03-28")  # d_1886


def m5_store_departments(path: Path) -> pd.DataFrame:
    raw = pd.read_parquet(path, columns=["store_id", "dept_id", "sales", "date", "event_name_1"])
    raw = raw[raw["date"] < M5_TEST_START]
    calendar = pd.read_parquet(path.parent / "calendar.parquet")
    calendar["date"] = pd.to_datetime(calendar["date"])
    frames = []
    for (store, dept), rows in raw.groupby(["store_id", "dept_id"], observed=True):
        days = pd.date_range(rows["date"].min(), M5_TEST_START - pd.Timedelta(days=1))
        sales = rows.set_index("date")["sales"].reindex(days, fill_value=0)
        cal = calendar.set_index("date").reindex(days)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"M5_{store}_{dept}",
                    "ds": days,
                    "y": sales.to_numpy(float),
                    "event": cal["event_name_1"].notna().to_numpy(float),
                    "snap": cal[f"snap_{store[:2]}"].to_numpy(float),
                    "source": "M5 store x department",
                    "freq": "D",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def online_retail_weekly(path: Path) -> pd.DataFrame:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from online_retail_engine import FREQ, prepare

    train, _, _ = prepare(path)
    return train.assign(source="Online Retail weekly", freq=FREQ, event=np.nan, snap=np.nan)


def real_parts(real: pd.DataFrame):
    from trendcast.data.arrays import Covariates, SeriesArrays
    from trendcast.models.pretrain import CorpusPart

    parts = []
    for (source, freq), rows in real.groupby(["source", "freq"], sort=False):
        rows = rows.sort_values(["unique_id", "ds"]).reset_index(drop=True)
        dynamic = rows[["unique_id", "ds", "event", "snap"]].dropna(axis=1, how="all")
        covariates = Covariates(dynamic=dynamic if dynamic.shape[1] > 2 else None)
        parts.append(CorpusPart(source, SeriesArrays.from_frame(rows, freq), covariates))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=48)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", type=Path, help="real series from a parquet file")
    parser.add_argument("--export-real", type=Path, help="write the real series here and stop")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "trendcast/models/weights/trendcast-chronos2-small"
    )
    args = parser.parse_args()
    from trendcast.models.pretrain import pretrain, simulated_corpus

    if args.real:
        real = pd.read_parquet(args.real)
    else:
        real = pd.concat(
            [
                m5_store_departments(DATA / "m5" / "store_dept_daily_sales.parquet"),
                online_retail_weekly(DATA / "online_retail" / "online_retail_full_541909.parquet"),
            ],
            ignore_index=True,
        )
    if args.export_real:
        real.to_parquet(args.export_real)
        print(f"wrote {len(real):,} rows of {real['unique_id'].nunique():,} series")
        return
    parts = simulated_corpus(args.shops, seed=args.seed) + real_parts(real)
    settings = dict(size=args.size, batch_size=args.batch_size, seed=args.seed)
    summary = pretrain(parts, args.out, steps=args.steps, **settings)
    print({k: v for k, v in summary.items() if k != "loss"})
    for row in summary["loss"]:
        print(row)


if __name__ == "__main__":
    main()
