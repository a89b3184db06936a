"""A real shop from its own order log to decisions, with the CLI alone, and the orders replayed.

Data: all 541,909 lines of the UCI Online Retail log (../shared/data/online_retail/), a UK gift
wholesaler's year, no unit costs and no stock in the file.

1. ``trendcast import LOG --workspace ws.duckdb`` (weekly demand, cancellations netted,
   non-products kept out), then ``plan``, ``price --margin 0.4`` and ``trends --html`` on it,
   each timed as its own process, with the buyer's sanity checks on what they wrote:
   no order above ``--cap`` x the product's busiest recent weeks without a flag, no price change
   on a positive or uncertain elasticity, no non-product line ordered or priced.
2. Replay: for each of the last ``--cutoffs`` complete weeks, the log up to that Monday is
   imported and ``trendcast plan --lead-time 1w --review-period 1w`` orders for the next two
   weeks from nothing on hand, so each order-up-to level is a two-week newsvendor quantity at the
   95% cycle service. It is compared with the demand that followed (the full log's netted
   weekly demand): the share of products whose demand stayed within it (should be near 95%),
   the pooled fill rate and the units left over. Beside it, the rule a buyer would use, order
   ``k`` x the last 4 weeks' mean over the two weeks, with the smallest ``k`` (0.25 steps,
   picked in hindsight, which favours the rule) whose fill rate reaches trendcast's.

Run: ``.venv/bin/python benchmarks/online_retail_shop.py [--cutoffs 4]``; writes
benchmarks/results/online_retail_shop.csv (the replay) and prints every figure. ``--prices``
only compares the elasticities from the week's median line price (what the import stores) and
from the quantity-weighted mean price paid.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast.data.adapters.transactions import NON_PRODUCTS
from trendcast.data.store import Workspace

LOG = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
LOG = LOG / "online_retail_full_541909.parquet"
RESULTS = Path(__file__).parent / "results" / "online_retail_shop.csv"
CAP = 2.0
WEEK = pd.Timedelta(weeks=1)


def _cli(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "trendcast.cli", *args], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"trendcast {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started, done.stdout


def _non_products(ids: pd.Series) -> int:
    pattern = re.compile(NON_PRODUCTS, re.IGNORECASE)
    return int(ids.astype(str).map(lambda v: bool(pattern.fullmatch(v.strip()))).sum())


def whole_log(tmp: Path) -> pd.DataFrame:
    """Step 1: import, plan, price, trends on the whole log, timed and checked."""
    ws = str(tmp / "shop.duckdb")
    seconds, out = _cli("import", str(LOG), "--workspace", ws)
    print(f"import: {seconds:.1f} s\n{out}")
    orders_csv, prices_csv, elasticities_csv = (tmp / f"{n}.csv" for n in ("o", "p", "e"))
    seconds, out = _cli("plan", "--workspace", ws, "--out", str(orders_csv), "--cap", str(CAP))
    print(f"plan: {seconds:.1f} s\n{out}")
    seconds, out = _cli(
        "price", "--workspace", ws, "--margin", "0.4", "--out", str(prices_csv),
        "--elasticities", str(elasticities_csv),
    )  # fmt: skip
    print(f"price --margin 0.4: {seconds:.1f} s\n{out}")
    seconds, out = _cli("trends", "--workspace", ws, "--html", str(tmp / "trends.html"))
    print(f"trends: {seconds:.1f} s\n{out}")

    orders = pd.read_csv(orders_csv, dtype={"unique_id": str})
    prices = pd.read_csv(prices_csv, dtype={"item_id": str})
    estimates = pd.read_csv(elasticities_csv, dtype={"item_id": str}).set_index("item_id")
    periods = 2  # the default lead time and review period: a week each
    over = orders["order_qty"] > CAP * orders["recent_max"] * periods
    changed = prices[prices["action"] == "change"]
    upper = estimates["upper"].reindex(changed["item_id"]).to_numpy()
    print(
        "sanity checks:\n"
        f"  orders above {CAP:g} x the busiest of the last 13 weeks x {periods} weeks: "
        f"{int(over.sum()):,}, of them unflagged: {int((over & orders['check'].isna()).sum())}\n"
        f"  flagged orders: {int(orders['check'].notna().sum()):,} of "
        f"{int((orders['order_qty'] > 0).sum()):,}\n"
        f"  price changes: {len(changed):,} of {len(prices):,} items "
        f"({len(changed) / len(prices):.1%}); on a positive or uncertain elasticity "
        f"(90% upper bound >= 0): {int((upper >= 0).sum())}; raises {int((changed['change'] > 0).sum()):,}, "
        f"cuts {int((changed['change'] < 0).sum()):,}\n"
        f"  kept prices by reason: {prices.loc[prices['action'] == 'keep', 'reason'].value_counts().to_dict()}\n"
        f"  non-product ids ordered: {_non_products(orders['unique_id'])}, priced: "
        f"{_non_products(prices['item_id'])}"
    )  # fmt: skip
    return Workspace(ws).read_shop("input").sales


def price_signals(tmp: Path) -> None:
    """The elasticities from the week's median line price (what the import stores) and from
    the quantity-weighted mean price paid, on the same weeks."""
    from trendcast.decisions.elasticity import estimate_elasticities

    ws = str(tmp / "prices.duckdb")
    _cli("import", str(LOG), "--workspace", ws)
    shop = Workspace(ws).read_shop("input")
    log = pd.read_parquet(LOG)
    log = log[(log["Quantity"] > 0) & (log["UnitPrice"] > 0) & log["Description"].notna()]
    week = log["InvoiceDate"].dt.to_period("W-SUN").dt.start_time  # weeks from Monday
    paid = (log["Quantity"] * log["UnitPrice"]).groupby([log["Description"], week]).sum()
    weighted = (paid / log.groupby([log["Description"], week])["Quantity"].sum()).rename("mean")
    weighted.index.names = ["unique_id", "ds"]
    dynamic = shop.dynamic.merge(weighted.reset_index(), on=["unique_id", "ds"], how="left")
    dynamic["mean"] = dynamic.groupby("unique_id")["mean"].ffill()
    for name, column in (("median line price", "price"), ("quantity-weighted mean", "mean")):
        found = estimate_elasticities(
            shop.sales, dynamic.assign(price=dynamic[column]), shop.static
        )
        sure = (found["upper"] < 0).mean()
        print(f"{name}: median elasticity {found['elasticity'].median():.2f}, surely negative "
              f"{sure:.1%}, positive {(found['elasticity'] > 0).mean():.1%}")  # fmt: skip


def replay(tmp: Path, demand: pd.DataFrame, n_cutoffs: int) -> pd.DataFrame:
    """Step 2: orders from the log up to each cutoff against the two weeks that followed."""
    log = pd.read_parquet(LOG)
    last_full = demand["ds"].max() - WEEK  # the log's last week is partial (Dec 5-9)
    rows = []
    for k in range(n_cutoffs, 0, -1):
        cutoff = last_full - k * WEEK
        part, ws = tmp / f"log_{k}.parquet", str(tmp / f"cut_{k}.duckdb")
        log[log["InvoiceDate"] < cutoff].to_parquet(part)
        _cli("import", str(part), "--workspace", ws)
        orders_csv = tmp / f"orders_{k}.csv"
        seconds, _ = _cli(
            "plan", "--workspace", ws, "--lead-time", "1w", "--review-period", "1w",
            "--out", str(orders_csv),
        )  # fmt: skip
        orders = pd.read_csv(orders_csv, dtype={"unique_id": str}).set_index("unique_id")
        after = demand[(demand["ds"] >= cutoff) & (demand["ds"] < cutoff + 2 * WEEK)]
        before = demand[(demand["ds"] < cutoff) & (demand["ds"] >= cutoff - 4 * WEEK)]
        followed = after.groupby("unique_id")["y"].sum().reindex(orders.index, fill_value=0)
        recent = before.groupby("unique_id")["y"].mean().reindex(orders.index, fill_value=0)
        level = orders["order_up_to"]
        rows.append(
            {"cutoff": cutoff.date(), "policy": "trendcast plan", "setting": "cycle 0.95",
             "seconds": seconds, **_score(level, followed, orders["check"].notna())}
        )  # fmt: skip
        fill = rows[-1]["fill_rate"]
        for cover in np.arange(0.25, 20.01, 0.25):
            rule = cover * 2 * recent
            scores = _score(rule, followed, None)
            if scores["fill_rate"] >= fill:
                break
        rows.append(
            {"cutoff": cutoff.date(), "policy": "k x last 4 weeks' mean", "setting": f"k={cover:g}",
             **scores}
        )  # fmt: skip
        print(pd.DataFrame(rows[-2:]).to_string(index=False))
    return pd.DataFrame(rows)


def _score(level: pd.Series, demand: pd.Series, flagged: pd.Series | None) -> dict:
    served = np.minimum(level, demand)
    out = {
        "products": len(level),
        "demand": float(demand.sum()),
        "ordered": float(level.sum()),
        "within": float((demand <= level).mean()),
        "fill_rate": float(served.sum() / demand.sum()),
        "left_over": float((level - served).sum()),
    }
    if flagged is not None:
        out["flagged"] = int(flagged.sum())
        out["flagged_within"] = float((demand <= level)[flagged].mean())
        out["flagged_ordered"] = float(level[flagged].sum())
        out["flagged_demand"] = float(demand[flagged].sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", type=int, default=4)
    parser.add_argument(
        "--prices", action="store_true", help="only compare the two weekly price signals"
    )
    args = parser.parse_args()
    if not LOG.exists():
        raise SystemExit(f"the Online Retail log is not at {LOG}")
    if args.prices:
        with tempfile.TemporaryDirectory() as tmp:
            price_signals(Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        demand = whole_log(Path(tmp))
        table = replay(Path(tmp), demand, args.cutoffs)
    RESULTS.parent.mkdir(exist_ok=True)
    table.to_csv(RESULTS, index=False)
    totals = table.groupby("policy", sort=False)[["demand", "ordered", "left_over"]].sum()
    totals["fill_rate"] = (
        table.assign(served=table["demand"] * table["fill_rate"])
        .groupby("policy", sort=False)["served"]
        .sum()
        / totals["demand"]
    )
    print(f"\nover the {args.cutoffs} replays:\n{totals.to_string()}")


if __name__ == "__main__":
    main()
