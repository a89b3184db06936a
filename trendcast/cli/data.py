"""The shop's data: the demo, the sample shop, importing an order log, validation."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trendcast.cli._common import (
    add_data_arguments,
    add_reading_arguments,
    console,
    load_shop,
    print_scores,
    store,
)


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

    orders = commands.add_parser(
        "import",
        help="a shop's order log (one row per order line) into the workspace as demand",
        description="Reads an order log (CSV or Parquet), recognises its columns by their usual "
        "names (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, "
        "or the options), nets cancellations against the orders they reverse, keeps returns "
        "apart and non-product lines (postage, fees, adjustments) out, flags outsized lines, and "
        "stores demand per product and period as the workspace's shop: then plan, price, "
        "trends, train and backtest read it from --workspace alone.",
    )
    orders.add_argument("orders", help="order log (.csv or .parquet), one row per order line")
    orders.add_argument("--workspace", required=True, help="DuckDB file to store the shop in")
    orders.add_argument(
        "--freq",
        default="W",
        help="D (days), W (weeks from Monday), W-SUN .. (weeks from that day) or MS (months); "
        "default: W",
    )
    for role, what in (
        ("time", "timestamp of the line"),
        ("item", "product id (default: StockCode, SKU, ...; else the description)"),
        ("quantity", "units on the line, negative for returns"),
        ("price", "unit price"),
        ("customer", "customer id (matches cancellations to their orders)"),
        ("invoice", "invoice or order id (cancellations start with --cancel-prefix)"),
        ("text", "product description or title"),
        ("category", "product category"),
        ("store", "store or channel: series become product x store"),
    ):
        orders.add_argument(f"--{role}-col", help=f"column of the {what}")
    add_reading_arguments(orders)
    orders.add_argument(
        "--decimal",
        choices=(".", ","),
        help="decimal separator of quantities and prices (default: the one the values show)",
    )
    orders.add_argument(
        "--cancel-prefix", default="C", help="invoices starting with it are cancellations"
    )
    orders.add_argument(
        "--cancel-window",
        default="30D",
        help="how far back a cancellation looks for its order, e.g. 30D; 'none': no netting",
    )
    orders.add_argument(
        "--non-products",
        help="regular expression of the ids and descriptions that are not products "
        "(default: postage, carriage, fees, discounts, manual, samples, adjustments); "
        "'none' keeps every line",
    )
    orders.add_argument(
        "--outlier-factor",
        type=float,
        default=50.0,
        help="flag lines above this multiple of their product's usual line (default: 50)",
    )
    orders.set_defaults(command="import", run=_import)

    validate = commands.add_parser(
        "validate",
        help="check sales (and side files) against the data contract",
        description="Checks columns, types, dates, duplicates, negative values, frequency and "
        "gaps, and prints a summary. Exits with code 2 and the fix when something is wrong.",
    )
    add_data_arguments(validate)
    validate.set_defaults(command="validate", run=_validate)


def _import(args: argparse.Namespace) -> int:
    from trendcast.app.imports import import_orders
    from trendcast.data.adapters.transactions import NON_PRODUCTS

    def unless_none(text: str | None, default):
        return None if text is not None and text.lower() == "none" else text or default

    roles = (
        "time",
        "item",
        "quantity",
        "price",
        "customer",
        "invoice",
        "text",
        "category",
        "store",
    )
    columns = {
        ("product_col" if role == "item" else f"{role}_col"): getattr(args, f"{role}_col")
        for role in roles
    }
    imported = import_orders(
        args.orders,
        args.workspace,
        freq=args.freq,
        columns=columns,
        time_format=args.time_format,
        decimal=args.decimal,
        sep=args.sep,
        encoding=args.encoding,
        cancel_prefix=args.cancel_prefix or None,
        cancel_window=unless_none(args.cancel_window, None),
        non_products=unless_none(args.non_products, NON_PRODUCTS),
        outlier_factor=args.outlier_factor,
    )
    screen = console()
    screen.print(
        "columns: " + ", ".join(f"{role[:-4]}={col}" for role, col in imported.columns.items())
    )
    screen.print(str(imported.report), markup=False, highlight=False)  # with any warning
    for line in imported.data.report:
        screen.print(f"note: {line}", markup=False)
    screen.print(
        f"stored in workspace {args.workspace} as the shop (run {imported.run_id}); next: "
        f"trendcast plan --workspace {args.workspace} --out orders.csv"
    )
    return 0


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
