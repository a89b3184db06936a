"""The shop's data: the demo, the sample shop, validation."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trendcast.cli._common import add_data_arguments, console, load_shop, print_scores, store


def register(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="run the whole pipeline on the built-in sample shop",
        description="Simulates a shop with known structure, backtests the baseline and classical "
        "models, forecasts the next weeks and writes a workspace, Parquet/CSV files and an HTML "
        "report with plots.",
    )
    demo.add_argument(
        "--out", default="trendcast-demo", help="output folder (default: %(default)s)"
    )
    demo.add_argument(
        "--items", type=int, default=60, help="items in the shop (default: %(default)s)"
    )
    demo.add_argument("--stores", type=int, default=3, help="stores (default: %(default)s)")
    demo.add_argument(
        "--days", type=int, default=3 * 365, help="days of history (default: %(default)s)"
    )
    demo.add_argument(
        "--horizon", type=int, default=28, help="days to forecast (default: %(default)s)"
    )
    demo.add_argument(
        "--windows", type=int, default=3, help="backtest windows (default: %(default)s)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.set_defaults(command="demo", run=_demo)

    simulate = commands.add_parser(
        "simulate",
        help="write a sample shop (sales, static, dynamic, reviews) as files",
        description="Writes sales.csv, static.csv, dynamic.csv (with the plan of the next days), "
        "reviews.csv, stock.csv (on hand and unit cost; or .parquet) and the ground truth of a "
        "simulated shop to a folder.",
    )
    simulate.add_argument("--out", required=True, help="output folder")
    simulate.add_argument("--items", type=int, default=50, help="items (default: %(default)s)")
    simulate.add_argument("--stores", type=int, default=2, help="stores (default: %(default)s)")
    simulate.add_argument("--days", type=int, default=730, help="days (default: %(default)s)")
    simulate.add_argument("--freq", default="D", help="D or weekly such as W-SUN (default: D)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    simulate.add_argument(
        "--plan-days",
        type=int,
        default=28,
        help="days past the sales whose planned prices, promotions and events go into the "
        "dynamic file, as a shop knows them in advance (default: %(default)s)",
    )
    simulate.add_argument("--format", choices=("csv", "parquet"), default="csv")
    simulate.set_defaults(command="simulate", run=_simulate)

    validate = commands.add_parser(
        "validate",
        help="check sales (and side files) against the data contract",
        description="Checks columns, types, dates, duplicates, negative values, frequency and "
        "gaps, and prints a summary. Exits with code 2 and the fix when something is wrong.",
    )
    add_data_arguments(validate)
    validate.set_defaults(command="validate", run=_validate)


def _demo(args: argparse.Namespace) -> int:
    from trendcast.demo import run_demo

    started = time.perf_counter()
    console().print(
        f"Simulating a shop of {args.items} items x {args.stores} stores over {args.days} days, "
        f"backtesting {args.windows} windows of {args.horizon} days..."
    )
    result = run_demo(
        args.out,
        n_items=args.items,
        n_stores=args.stores,
        n_periods=args.days,
        horizon=args.horizon,
        n_windows=args.windows,
        seed=args.seed,
    )
    print_scores(result.scores, result.best_model)
    screen = console()
    screen.print(f"Best model by WAPE: [bold]{result.best_model}[/bold]")
    screen.print(f"Done in {time.perf_counter() - started:.0f} s. Outputs:")
    for name, path in result.files.items():
        screen.print(f"  {name:<10} {path}")
    screen.print(
        f"Saved model {result.model}: forecast from it with `trendcast forecast --workspace "
        f"{result.files['workspace']} --model sample`."
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from trendcast.data.io import write_frame
    from trendcast.data.simulate import sample_stock, simulate_shop

    shop = simulate_shop(
        n_items=args.items,
        n_stores=args.stores,
        n_periods=args.days,
        freq=args.freq,
        seed=args.seed,
        future_periods=args.plan_days,
    )
    out = Path(args.out)
    frames = {
        "sales": shop.data.sales,
        "static": shop.data.static,
        "dynamic": shop.data.dynamic,
        "reviews": shop.data.reviews,
        "stock": sample_stock(shop.data, seed=args.seed),
        "truth_series": shop.truth.series,
        "truth_demand": shop.truth.demand,
    }
    for name, frame in frames.items():
        if frame is not None:
            path = write_frame(frame, out / f"{name}.{args.format}")
            console().print(f"  {name:<13} {len(frame):>10,} rows  {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from rich.table import Table

    data = load_shop(args, notes=False)
    sales, cols = data.sales, data.columns
    lengths = sales.groupby(cols.id_col, observed=True).size()
    table = Table(title=f"{args.sales}: valid", show_header=False)
    rows = {
        "series": f"{len(lengths):,}",
        "rows": f"{len(sales):,}",
        "frequency": data.freq,
        "dates": f"{sales[cols.time_col].min():%Y-%m-%d} .. {sales[cols.time_col].max():%Y-%m-%d}",
        "periods per series": f"{lengths.min():,} .. {lengths.max():,} (median {lengths.median():,.0f})",
        "zero share": f"{(sales[cols.target_col] == 0).mean():.1%}",
    }
    for name in ("static", "dynamic", "reviews"):
        frame = getattr(data, name)
        if frame is not None:
            rows[name] = f"{len(frame):,} rows; columns {', '.join(map(str, frame.columns))}"
    rows["changes"] = "; ".join(data.report) or "none"
    for key, value in rows.items():
        table.add_row(key, value)
    console().print(table)
    store(args, data=data)
    return 0
