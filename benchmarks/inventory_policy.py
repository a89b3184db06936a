"""Ordering policies replayed on held-out demand: trendcast's forecast policy against simple rules.

Data: ``--dataset sample`` (``simulate_shop(n_items=100, n_stores=3, n_periods=730, seed=0)``;
demand to serve is the truth's ``latent_demand``, history is the recorded sales, censored by the
shop's own stock-outs; series launched inside the held-out days are left out and counted) or
``--dataset m5`` (../shared/data/m5/tiny_m5_280series.parquet, 280 series, sales are the demand).
The last ``--holdout`` days are replayed; all series, lost sales, weekly reviews
(``--review-period``), each lead time of ``--lead-time``.

Policies, all started from the same stock (last 28 days' mean daily demand times ``L + R``) and
scored after a warm-up of ``L + R`` days (until orders placed by the policy itself arrive):

* ``trendcast``: order-up-to from LightGBM sample paths (200 paths; default settings, trained
  on all the history: ``--max-train-periods 730`` trains on the last two years, 3x faster),
  refitted on the history up to every review; its settings
  (cycle service levels, fill-rate targets, and the cycle service level that balances the costs
  below, ``cu / (cu + co)``) are fixed in advance, not tuned on the held-out days;
* ``moving_average``: last 28 days' mean x weeks of cover, swept;
* ``fixed_cover``: last year's mean before the held-out days x weeks of cover, swept;
* ``seasonal_naive_normal``: seasonal naive over ``L + R`` plus ``z * sigma * sqrt(L + R)``,
  z swept from 0 to 7 (the parameter column shows its service level, ``Phi(z)``).

Matched comparison: for each trendcast setting and each rule, the rule's setting with the least
average inventory among those whose fill rate is at least trendcast's. ``inventory_saving`` is
``1 - trendcast / rule``; a rule that never reaches the fill rate gets no saving (NaN).
Costs: unit cost 70% of the last price, holding 25% of unit cost a year, a lost unit costs its
margin (30% of price). ``cost_saving`` compares trendcast with the cheapest setting of each rule
(picked with hindsight on the held-out days, which favours the rules); trendcast's cost-balancing
setting is the fair one to read it on.

Run: ``.venv/bin/python benchmarks/inventory_policy.py --dataset m5 --holdout 56 --lead-time 3 7``.
Writes benchmarks/results/inventory_policy_<dataset>.csv (matched comparison) and
inventory_policy_<dataset>_curves.csv (every policy setting).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from m5_common import DEFAULT_DATA, RESULTS, write_results  # noqa: E402

from trendcast import Forecaster, simulate_shop  # noqa: E402
from trendcast.decisions.inventory import critical_ratio  # noqa: E402
from trendcast.decisions.simulation import (  # noqa: E402
    FixedCoverPolicy,
    ForecastPolicy,
    MovingAverageCoverPolicy,
    SeasonalNaiveNormalPolicy,
    compare_policies,
)
from trendcast.models import LightGBM  # noqa: E402

TRENDCAST_SETTINGS = [("cycle", level) for level in (0.8, 0.9, 0.95, 0.98)] + [
    ("fill_rate", level) for level in (0.95, 0.98, 0.99)
]
WEEKS_OF_COVER = np.round(np.arange(0.2, 12.01, 0.05), 2)
# Swept by z = 0..7: a normal safety stock keeps paying off well beyond "99.95%" on counts.
SERVICE_LEVELS = norm.cdf(np.round(np.arange(0.0, 7.01, 0.1), 1))
UNIT_COST_SHARE = 0.7  # of the price
HOLDING_RATE = 0.25  # of the unit cost, per year
PLAN_DAYS = 21  # known-in-advance covariates needed past the data's end (L + R at most)


def load_sample(holdout: int):
    shop = simulate_shop(
        n_items=100, n_stores=3, n_periods=730, seed=0, reviews=False, future_periods=PLAN_DAYS
    )
    sales = shop.data.sales.assign(unique_id=lambda d: d["unique_id"].astype(str))
    truth = shop.truth.demand.assign(unique_id=lambda d: d["unique_id"].astype(str))
    first_day = sales["ds"].max() - pd.Timedelta(days=holdout - 1)
    history = sales[sales["ds"] < first_day]
    demand = truth.loc[truth["ds"] >= first_day, ["unique_id", "ds", "latent_demand"]]
    demand = demand[demand["ds"] <= sales["ds"].max()].rename(columns={"latent_demand": "y"})
    launched = np.setdiff1d(demand["unique_id"].unique(), history["unique_id"].unique())
    demand = demand[~demand["unique_id"].isin(launched)]
    static = shop.data.static.assign(unique_id=lambda d: d["unique_id"].astype(str))
    dynamic = shop.data.dynamic.assign(unique_id=lambda d: d["unique_id"].astype(str))
    note = f"{len(launched)} series launched in the held-out days left out"
    return history, demand, static, dynamic, note


def load_m5(holdout: int, data_dir: Path):
    from trendcast.data.adapters import from_m5_long

    shop = from_m5_long(pd.read_parquet(data_dir / "tiny_m5_280series.parquet"))
    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    first_day = sales["ds"].max() - pd.Timedelta(days=holdout - 1)
    history, demand = sales[sales["ds"] < first_day], sales[sales["ds"] >= first_day]
    dynamic = extend_m5_plan(shop.dynamic, shop.static, data_dir)
    return history, demand, shop.static, dynamic, "sales as demand"


def extend_m5_plan(dynamic: pd.DataFrame, static: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """The M5 plan for PLAN_DAYS past the data: official calendar events and SNAP days, each
    series' last price carried forward (M5 prices are weekly and rarely change)."""
    calendar = pd.read_parquet(data_dir / "calendar.parquet")
    calendar["date"] = pd.to_datetime(calendar["date"])
    end = dynamic["ds"].max()
    days = calendar[
        (calendar["date"] > end) & (calendar["date"] <= end + pd.Timedelta(days=PLAN_DAYS))
    ]
    last = dynamic.sort_values("ds").groupby("unique_id", observed=True).tail(1)
    rows = last[["unique_id", "price"]].merge(static[["unique_id", "state_id"]], on="unique_id")
    future = rows.merge(days, how="cross")
    states = ("CA", "TX", "WI")
    future["snap"] = np.select(
        [future["state_id"] == state for state in states],
        [future[f"snap_{state}"] for state in states],
        0,
    )
    future = future.rename(columns={"date": "ds"})
    events = ["event_name_1", "event_type_1", "event_name_2", "event_type_2"]
    for column in events:
        future[column] = future[column].where(future[column].notna() & (future[column] != "None"))
    future = future[list(dynamic.columns)].astype({"snap": dynamic["snap"].dtype})
    both = pd.concat([dynamic.astype({c: object for c in events}), future], ignore_index=True)
    return both.astype({c: "category" for c in events}).sort_values(["unique_id", "ds"])


def costs(history: pd.DataFrame, dynamic: pd.DataFrame, ids: np.ndarray):
    """Holding cost per unit-day and shortage cost per lost unit, from each series' last price."""
    known = dynamic[(dynamic["ds"] <= history["ds"].max()) & dynamic["price"].notna()]
    price = known.sort_values("ds").groupby("unique_id", observed=True)["price"].last()
    price = price.reindex(ids).fillna(price.median()).to_numpy()
    unit_cost = UNIT_COST_SHARE * price
    return HOLDING_RATE * unit_cost / 365, price - unit_cost


def run(args) -> tuple[pd.DataFrame, pd.DataFrame]:
    if args.dataset == "sample":
        history, demand, static, dynamic, note = load_sample(args.holdout)
    else:
        if not (args.data / "tiny_m5_280series.parquet").exists():
            sys.exit(f"M5 subset not found in {args.data}: pass --data pointing to shared/data/m5.")
        history, demand, static, dynamic, note = load_m5(args.holdout, args.data)
    ids = np.sort(demand["unique_id"].unique())
    history = history[history["unique_id"].isin(ids)]
    recent = history[history["ds"] > history["ds"].max() - pd.Timedelta(days=28)]
    daily_mean = recent.groupby("unique_id")["y"].sum().reindex(ids).fillna(0).to_numpy() / 28
    holding, shortage = costs(history, dynamic, ids)
    print(f"{args.dataset}: {len(ids)} series, {args.holdout} held-out days; {note}", flush=True)

    forecast = ForecastPolicy(
        Forecaster([LightGBM(max_train_periods=args.max_train_periods, seed=args.seed)]),
        n_samples=args.n_samples,
        refit_every=args.refit_every,
        horizon=args.refit_every * args.review_period + max(args.lead_time),
        static=static,
        dynamic=dynamic,
        seed=args.seed,
    )
    tables = []
    for lead in args.lead_time:
        review = args.review_period
        common = dict(
            lead_time=lead,
            review_period=review,
            start_on_hand=np.round(daily_mean * (lead + review)),
            holding_cost=holding,
            shortage_cost=shortage,
            warmup=lead + review,
        )
        # The cost-balancing cycle service level, the same for every series (costs scale with
        # price): trendcast's setting chosen before seeing any held-out day.
        balanced = critical_ratio(
            price=1.0,
            unit_cost=UNIT_COST_SHARE,
            holding_cost=HOLDING_RATE * UNIT_COST_SHARE / 365,
            review_period=review,
        )
        settings = [*TRENDCAST_SETTINGS, ("cycle", round(float(balanced), 4))]
        ours = {
            f"trendcast_{kind} {level}": forecast.at_service_level(level, kind)
            for kind, level in settings
        }
        started = time.perf_counter()
        tables.append(compare_policies(history, demand, ours, **common).assign(lead_time=lead))
        print(tables[-1][["policy", "fill_rate", "avg_on_hand", "total_cost"]].round(4))
        print(f"L={lead}: trendcast policies {time.perf_counter() - started:.0f} s", flush=True)
        rules = {}
        for weeks in WEEKS_OF_COVER:
            rules[f"moving_average {weeks}"] = MovingAverageCoverPolicy(weeks_of_cover=weeks)
            rules[f"fixed_cover {weeks}"] = FixedCoverPolicy(weeks_of_cover=weeks)
        for level in SERVICE_LEVELS:
            rules[f"seasonal_naive_normal {level}"] = SeasonalNaiveNormalPolicy(service_level=level)
        started = time.perf_counter()
        tables.append(compare_policies(history, demand, rules, **common).assign(lead_time=lead))
        print(f"L={lead}: {len(rules)} rule settings {time.perf_counter() - started:.0f} s")
    curves = pd.concat(tables, ignore_index=True)
    names = curves["policy"].str.rsplit(" ", n=1, expand=True)
    curves["policy"], curves["parameter"] = names[0], names[1].astype(float)
    return curves, matched(curves)


def matched(curves: pd.DataFrame) -> pd.DataFrame:
    """Each trendcast setting against each rule's cheapest setting that serves as well."""
    out = []
    for (lead, name, parameter), ours in curves[
        curves["policy"].str.startswith("trendcast")
    ].groupby(["lead_time", "policy", "parameter"], sort=False):
        ours = ours.iloc[0]
        for rule in ("moving_average", "fixed_cover", "seasonal_naive_normal"):
            theirs = curves[(curves["lead_time"] == lead) & (curves["policy"] == rule)]
            serving = theirs[theirs["fill_rate"] >= ours["fill_rate"]]
            best = serving.loc[serving["avg_on_hand"].idxmin()] if len(serving) else None
            cheapest = theirs.loc[theirs["total_cost"].idxmin()]
            out.append(
                {
                    "lead_time": lead,
                    "trendcast": f"{name.removeprefix('trendcast_')} {parameter:g}",
                    "fill_rate": ours["fill_rate"],
                    "avg_on_hand": ours["avg_on_hand"],
                    "total_cost": ours["total_cost"],
                    "rule": rule,
                    "rule_parameter": np.nan if best is None else best["parameter"],
                    "rule_fill_rate": np.nan if best is None else best["fill_rate"],
                    "rule_avg_on_hand": np.nan if best is None else best["avg_on_hand"],
                    "inventory_saving": (
                        np.nan if best is None else 1 - ours["avg_on_hand"] / best["avg_on_hand"]
                    ),
                    "rule_min_cost": cheapest["total_cost"],
                    "cost_saving": 1 - ours["total_cost"] / cheapest["total_cost"],
                }
            )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("sample", "m5"), default="sample")
    parser.add_argument("--holdout", type=int, default=56, help="held-out days replayed")
    parser.add_argument("--lead-time", type=int, nargs="+", default=[3, 7])
    parser.add_argument("--review-period", type=int, default=7)
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--refit-every", type=int, default=1, help="reviews per LightGBM fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-train-periods",
        type=int,
        default=0,
        help="LightGBM's training span in days (0: all history, the model's default)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the M5 files")
    args = parser.parse_args()
    started = time.perf_counter()
    curves, comparison = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    curves.to_csv(RESULTS / f"inventory_policy_{args.dataset}_curves.csv", index=False)
    comparison["holdout"] = args.holdout
    write_results(comparison, f"inventory_policy_{args.dataset}.csv")
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
