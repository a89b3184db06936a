"""The ``trendcast`` command line: demo, simulate, validate, backtest, forecast.

Every subcommand calls the same library functions a Python user would; bad input ends with a
clear message and a non-zero exit code, never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

EXIT_BAD_INPUT = 2

_EXAMPLES = """\
examples:
  trendcast demo                                  # sample shop -> backtest, forecast, report
  trendcast simulate --out shop/ --items 50       # write a sample shop as CSV files
  trendcast validate shop/sales.csv               # check a sales file against the contract
  trendcast validate sales.csv --target-col units --fill-gaps
  trendcast backtest shop/sales.csv --horizon 28 --windows 3 --out backtest.parquet
  trendcast forecast shop/sales.csv --horizon 28 --models seasonal_naive,ets --out fc.csv

Sales files are long: one row per series and period, with an id, a date and a target column
(default names unique_id, ds, y). Daily, weekly (e.g. W-SUN) and month-start data are supported.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from trendcast.data.validate import DataValidationError

    try:
        return args.run(args)
    except (DataValidationError, ValueError, KeyError, FileNotFoundError, TypeError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        if args.debug:
            raise
        print(
            f"internal error: {type(error).__name__}: {error}\n"
            "Run again with --debug for the traceback, and please report it.",
            file=sys.stderr,
        )
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trendcast",
        description="Forecast product demand and sales trends for shops and marketplaces.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

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
        description="Writes sales.csv, static.csv, dynamic.csv, reviews.csv (or .parquet) and "
        "the ground truth of a simulated shop to a folder.",
    )
    simulate.add_argument("--out", required=True, help="output folder")
    simulate.add_argument("--items", type=int, default=50, help="items (default: %(default)s)")
    simulate.add_argument("--stores", type=int, default=2, help="stores (default: %(default)s)")
    simulate.add_argument("--days", type=int, default=730, help="days (default: %(default)s)")
    simulate.add_argument("--freq", default="D", help="D or weekly such as W-SUN (default: D)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    simulate.add_argument("--format", choices=("csv", "parquet"), default="csv")
    simulate.set_defaults(command="simulate", run=_simulate)

    validate = commands.add_parser(
        "validate",
        help="check sales (and side files) against the data contract",
        description="Checks columns, types, dates, duplicates, negative values, frequency and "
        "gaps, and prints a summary. Exits with code 2 and the fix when something is wrong.",
    )
    _add_data_arguments(validate)
    validate.set_defaults(command="validate", run=_validate)

    backtest = commands.add_parser(
        "backtest",
        help="rolling-origin backtest of models, with scores",
        description="Cuts the history at several origins, forecasts the following periods with "
        "each model and scores them against what really happened.",
    )
    _add_data_arguments(backtest)
    _add_model_arguments(backtest)
    backtest.add_argument("--windows", type=int, default=3, help="origins (default: %(default)s)")
    backtest.add_argument("--step", type=int, help="periods between origins (default: horizon)")
    backtest.add_argument("--out", help="write the backtest forecasts (.csv or .parquet)")
    backtest.add_argument("--scores", help="write the score table (.csv or .parquet)")
    backtest.set_defaults(command="backtest", run=_backtest)

    forecast = commands.add_parser(
        "forecast",
        help="forecast the next periods with quantiles",
        description="Fits the models on the whole history and forecasts the next periods.",
    )
    _add_data_arguments(forecast)
    _add_model_arguments(forecast)
    forecast.add_argument("--out", help="write the forecasts (.csv or .parquet)")
    forecast.add_argument(
        "--explain",
        help="write why the first model forecasts what it does (.csv or .parquet): "
        "contributions per forecast, grouped into trend, calendar, price, promotion, ...",
    )
    forecast.set_defaults(command="forecast", run=_forecast)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sales", help="sales file in long format (.csv or .parquet)")
    parser.add_argument("--static", help="static attributes file, one row per series")
    parser.add_argument("--dynamic", help="dynamic covariates file, one row per series and period")
    parser.add_argument("--reviews", help="reviews file: id, date, rating, text")
    parser.add_argument(
        "--id-col", default="unique_id", help="series id column (default: %(default)s)"
    )
    parser.add_argument("--time-col", default="ds", help="date column (default: %(default)s)")
    parser.add_argument("--target-col", default="y", help="target column (default: %(default)s)")
    parser.add_argument("--freq", help="D, W-SUN (any weekday) or MS; inferred when omitted")
    parser.add_argument("--fill-gaps", action="store_true", help="fill missing periods with 0")
    parser.add_argument("--clip-negative", action="store_true", help="set negative targets to 0")
    parser.add_argument("--workspace", help="also store data and results in this DuckDB file")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from trendcast.forecaster import MODEL_NAMES

    parser.add_argument("--horizon", type=int, required=True, help="periods to forecast")
    parser.add_argument(
        "--models",
        help=f"comma-separated, from {', '.join(MODEL_NAMES)} (default: all)",
    )
    parser.add_argument(
        "--quantiles",
        default="0.1,0.5,0.9",
        help="comma-separated quantile levels (default: %(default)s)",
    )


def _load(args: argparse.Namespace):
    from trendcast.data.io import read_frame
    from trendcast.data.validate import validate

    side = {name: getattr(args, name) for name in ("static", "dynamic", "reviews")}
    return validate(
        read_frame(args.sales),
        **{name: read_frame(path) for name, path in side.items() if path},
        id_col=args.id_col,
        time_col=args.time_col,
        target_col=args.target_col,
        freq=args.freq,
        fill_gaps=args.fill_gaps,
        clip_negative=args.clip_negative,
    )


def _forecaster(args: argparse.Namespace, data):
    from trendcast.forecaster import Forecaster, models_by_name

    names = args.models.split(",") if args.models else None
    models = models_by_name([n.strip() for n in names], data.freq) if names else None
    try:
        quantiles = [float(q) for q in args.quantiles.split(",") if q.strip()]
    except ValueError:
        raise ValueError(
            f"--quantiles must be numbers between 0 and 1 separated by commas, got "
            f"'{args.quantiles}'."
        ) from None
    return Forecaster(
        models,
        freq=data.freq,
        quantiles=quantiles,
        id_col=args.id_col,
        time_col=args.time_col,
        target_col=args.target_col,
        progress=True,
    )


def _demo(args: argparse.Namespace) -> int:
    from trendcast.demo import run_demo

    started = time.perf_counter()
    _console().print(
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
    _print_scores(result.scores, result.best_model)
    console = _console()
    console.print(f"Best model by WAPE: [bold]{result.best_model}[/bold]")
    console.print(f"Done in {time.perf_counter() - started:.0f} s. Outputs:")
    for name, path in result.files.items():
        console.print(f"  {name:<10} {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from trendcast.data.io import write_frame
    from trendcast.data.simulate import simulate_shop

    shop = simulate_shop(
        n_items=args.items,
        n_stores=args.stores,
        n_periods=args.days,
        freq=args.freq,
        seed=args.seed,
    )
    out = Path(args.out)
    frames = {
        "sales": shop.data.sales,
        "static": shop.data.static,
        "dynamic": shop.data.dynamic,
        "reviews": shop.data.reviews,
        "truth_series": shop.truth.series,
        "truth_demand": shop.truth.demand,
    }
    for name, frame in frames.items():
        if frame is not None:
            path = write_frame(frame, out / f"{name}.{args.format}")
            _console().print(f"  {name:<13} {len(frame):>10,} rows  {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from rich.table import Table

    data = _load(args)
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
    _console().print(table)
    _store(args, data=data)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from trendcast.data.io import write_frame
    from trendcast.evaluation.backtest import score_backtest
    from trendcast.forecaster import season_length

    data = _load(args)
    forecaster = _forecaster(args, data)
    frame = forecaster.backtest(
        data.sales,
        h=args.horizon,
        n_windows=args.windows,
        step=args.step,
        static=data.static,
        dynamic=data.dynamic,
    )
    result = forecaster.backtest_
    scores = score_backtest(
        result,
        data.sales,
        seasonality=season_length(data.freq),
        columns=data.columns,
    )
    _print_scores(scores, str(scores["WAPE"].idxmin()))
    left_out = {f"{c:%Y-%m-%d}": n for c, n in result.excluded.items() if n}
    if left_out:
        _console().print(f"Series left out for short history, per cutoff: {left_out}")
    if args.out:
        _console().print(f"backtest forecasts: {write_frame(frame, args.out)}")
    if args.scores:
        _console().print(f"scores: {write_frame(scores.reset_index(), args.scores)}")
    _store(args, data=data, results={"backtest": frame, "scores": scores.reset_index()})
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from trendcast.data.io import write_frame

    data = _load(args)
    forecaster = _forecaster(args, data).fit(data.sales, static=data.static, dynamic=data.dynamic)
    frame = forecaster.predict(args.horizon)
    _console().print(frame.head(10).to_string(index=False))
    _console().print(
        f"{len(frame):,} rows: {frame[data.columns.id_col].nunique():,} series x "
        f"{args.horizon} periods"
    )
    if args.out:
        _console().print(f"forecasts: {write_frame(frame, args.out)}")
    results = {"forecasts": frame}
    if args.explain:
        results["explanations"] = forecaster.explain(args.horizon)
        _console().print(f"explanations: {write_frame(results['explanations'], args.explain)}")
    _store(args, data=data, results=results)
    return 0


def _store(args: argparse.Namespace, *, data, results: dict | None = None) -> None:
    if not args.workspace:
        return
    from trendcast.data.store import Workspace

    workspace = Workspace(args.workspace)
    workspace.write_shop("input", data)
    if results:
        workspace.write_many(results, kind="result", meta={"source": str(args.sales)})
    _console().print(f"stored in workspace {workspace.path}")


def _print_scores(scores, best: str) -> None:
    from rich.table import Table

    table = Table(title="Backtest scores (lower is better; coverage should match its level)")
    table.add_column("model", no_wrap=True)
    for column in scores.columns:
        table.add_column(str(column), justify="right")
    for model, row in scores.iterrows():
        style = "bold green" if model == best else None
        table.add_row(str(model), *(f"{v:.3f}" for v in row.to_numpy(float)), style=style)
    _console().print(table)


def _console():
    from rich.console import Console

    console = Console()
    # Pipes and CI logs report 80 columns; score tables need more to stay readable.
    return console if console.is_terminal else Console(width=120)


if __name__ == "__main__":
    sys.exit(main())
