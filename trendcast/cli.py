"""The ``trendcast`` command line: the demo, data, forecasting and decision subcommands.

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
  trendcast finetune shop/sales.csv --dynamic shop/dynamic.csv --workspace ws.duckdb --name mine
  trendcast plan shop/sales.csv --static shop/static.csv --dynamic shop/dynamic.csv \
      --stock shop/stock.csv --lead-time 7 --service-level 0.95 --out orders.csv
  trendcast price shop/sales.csv --static shop/static.csv --dynamic shop/dynamic.csv \
      --stock shop/stock.csv --out prices.csv --promotions promotions.csv
  trendcast trends shop/sales.csv --static shop/static.csv --level item_id --html trends.html
  trendcast search shop/static.csv "warm winter clothes" --k 5
  trendcast similar shop/static.csv FOODS_1_001 --k 5
  trendcast coldstart shop/sales.csv --static shop/static.csv --new new_products.csv --periods 8
  trendcast reviews shop/sales.csv --dynamic shop/dynamic.csv --reviews shop/reviews.csv \
      --out shop/dynamic_reviews.csv

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

    finetune = commands.add_parser(
        "finetune",
        help="fine-tune the pretrained Chronos-2 on your data and save it by name",
        description="Fine-tunes Chronos-2 (LoRA adapters or all weights) on the sales and their "
        "dynamic covariates, keeping the weights that forecast the held-out last --horizon "
        "periods best, and saves them in the workspace. Use them with "
        "`trendcast forecast --models chronos2 --chronos NAME --workspace WS`.",
    )
    _add_data_arguments(finetune)
    finetune.add_argument("--name", required=True, help="name to save the fine-tuned model as")
    finetune.add_argument(
        "--mode",
        choices=["lora", "full"],
        default="lora",
        help="lora: low-rank adapters, a small file (default); full: all weights",
    )
    finetune.add_argument("--steps", type=int, default=300, help="(default: %(default)s)")
    finetune.add_argument(
        "--horizon", type=int, help="periods to tune for (default: 28 days, 8 weeks)"
    )
    finetune.add_argument(
        "--segment",
        help="tune on one segment only, as COLUMN=VALUE of the static file (e.g. cat_id=FOODS)",
    )
    finetune.add_argument(
        "--base",
        default="trendcast-chronos2-small",
        help="weights to start from (default: %(default)s)",
    )
    finetune.set_defaults(command="finetune", run=_finetune)

    plan = commands.add_parser(
        "plan",
        help="what to order now: safety stock, reorder point, order quantity per series",
        description="Forecasts demand with LightGBM, draws demand paths over lead time plus "
        "review period and sets each series' order-up-to level at the service level; the order "
        "is what lifts stock on hand plus on order to it, in whole packs and at least the "
        "minimum order. The stock file may carry per-series pack_size and min_order_qty.",
    )
    _add_data_arguments(plan)
    plan.add_argument("--stock", required=True, help="stock file: series id and on_hand")
    plan.add_argument("--on-order", help="stock ordered but not arrived: series id and quantity")
    plan.add_argument(
        "--lead-time", type=int, default=7, help="periods from order to arrival (default: 7)"
    )
    plan.add_argument(
        "--review-period", type=int, default=7, help="periods between orders (default: 7)"
    )
    plan.add_argument(
        "--service-level", type=float, default=0.95, help="target in (0, 1) (default: 0.95)"
    )
    plan.add_argument(
        "--fill-rate",
        action="store_true",
        help="the service level is a fill rate (share of demand served), not a cycle service",
    )
    plan.add_argument(
        "--samples", type=int, default=1000, help="demand paths per series (default: 1000)"
    )
    plan.add_argument("--out", help="write the order list (.csv or .parquet)")
    plan.set_defaults(command="plan", run=_plan)

    trends = commands.add_parser(
        "trends",
        help="what is rising, declining, hot, slow or dead, with the reasons",
        description="Compares each series (or item, category, store) with the previous window "
        "and the same window last year, labels it only when the evidence clears the stated "
        "thresholds, and lists what is trending. With --horizon the LightGBM forecast of the "
        "next periods joins the table; with --stock, weeks of cover flag slow movers and dead "
        "stock.",
    )
    _add_data_arguments(trends)
    trends.add_argument("--stock", help="stock file: series id and on_hand (units)")
    trends.add_argument(
        "--level",
        help="item_id, store_id, dept_id, cat_id or another static column (default: the series)",
    )
    trends.add_argument(
        "--window", type=int, default=28, help="periods per comparison window (default: 28)"
    )
    trends.add_argument("--horizon", type=int, help="also forecast this many periods with LightGBM")
    trends.add_argument(
        "--direction",
        choices=("rising", "declining"),
        default="rising",
        help="what the ranked list shows (default: rising)",
    )
    trends.add_argument("--category", help="list only this cat_id")
    trends.add_argument("--store", help="list only this store_id")
    trends.add_argument(
        "--min-volume", type=float, default=0.0, help="minimum units sold in the recent window"
    )
    trends.add_argument("--top", type=int, default=20, help="length of the list (default: 20)")
    trends.add_argument(
        "--launch-peers",
        choices=("category", "text"),
        default="category",
        help="hold launches to their category's products (default) or to the --k-peers "
        "products whose titles and descriptions read most alike",
    )
    trends.add_argument(
        "--k-peers", type=int, default=10, help="peers per launch for --launch-peers text"
    )
    _add_text_model_argument(trends)
    trends.add_argument("--out", help="write the whole trend table (.csv or .parquet)")
    trends.add_argument("--html", help="write the trend report with sparklines (.html)")
    trends.add_argument("--json", help="write the trend table as JSON")
    trends.set_defaults(command="trends", run=_trends)

    price = commands.add_parser(
        "price",
        help="price elasticities, the best price per item, promotion candidates",
        description="Estimates each item's price elasticity from the history (controlling for "
        "promotions, events, seasons and trend; sparse items borrow from their category), "
        "forecasts the next periods with LightGBM and recommends the profit- (or revenue-) "
        "maximising price within bounds; --promotions also lists items to promote, to push and "
        "not to promote.",
    )
    _add_data_arguments(price)
    price.add_argument("--stock", required=True, help="stock file: series id, on_hand, unit_cost")
    price.add_argument(
        "--horizon", type=int, default=28, help="periods the price holds (default: 28)"
    )
    price.add_argument(
        "--bounds",
        default="0.8,1.2",
        help="lowest,highest price as multiples of the current one (default: %(default)s)",
    )
    price.add_argument("--objective", choices=("profit", "revenue"), default="profit")
    price.add_argument(
        "--limit-to-stock", action="store_true", help="no more sales than the stock on hand"
    )
    price.add_argument("--discount", type=float, default=0.15, help="promotion price cut")
    price.add_argument("--out", help="write the price recommendations (.csv or .parquet)")
    price.add_argument("--elasticities", help="write the elasticities (.csv or .parquet)")
    price.add_argument("--promotions", help="write the promotion candidates (.csv or .parquet)")
    price.set_defaults(command="price", run=_price)

    for name, target, text in (
        ("similar", "item", "id of the product to start from"),
        ("search", "query", 'what to look for, e.g. "winter kitchen items"'),
    ):
        command = commands.add_parser(
            name,
            help="products like this one"
            if name == "similar"
            else "search the catalogue by meaning",
            description="Reads the products' titles and descriptions with a pretrained language "
            "model (all-MiniLM-L6-v2, offline; a hashing TF-IDF without the text extra) and "
            + (
                "lists the products whose text is closest to the given one's."
                if name == "similar"
                else "lists the products whose text best matches the query."
            ),
        )
        command.add_argument("static", help="catalogue file: product id, title, description")
        command.add_argument(target, help=text)
        command.add_argument("--k", type=int, default=10, help="products listed (default: 10)")
        command.add_argument(
            "--id-col", help="product id column (default: item_id, else unique_id)"
        )
        command.add_argument("--workspace", help="cache the text vectors in this DuckDB file")
        _add_text_model_argument(command)
        command.add_argument("--out", help="write the list (.csv or .parquet)")
        command.set_defaults(command=name, run=_text_search)

    reviews = commands.add_parser(
        "reviews",
        help="score reviews from their text and write the review-score covariate",
        description="Learns the star rating from the review text (ridge regression on text "
        "embeddings), reports its error on a held-out fifth of the reviews, and writes the "
        "dynamic file (or the sales rows without one) with review_score, the mean score of each "
        "series' reviews of the last --window days, and review_score_count: pass it as "
        "--dynamic to forecast or backtest.",
    )
    _add_data_arguments(reviews)
    reviews.add_argument(
        "--window", type=int, default=90, help="days of reviews averaged (default: 90)"
    )
    _add_text_model_argument(reviews)
    reviews.add_argument(
        "--out", required=True, help="write the frame with the review columns (.csv or .parquet)"
    )
    reviews.set_defaults(command="reviews", run=_reviews)

    coldstart = commands.add_parser(
        "coldstart",
        help="forecast new products' first periods from their text, category and price",
        description="Learns the early life of the products launched in the sales (their first "
        "periods) from their titles, descriptions, categories and prices, then forecasts "
        "products with no sales yet from the same attributes.",
    )
    _add_data_arguments(coldstart)
    coldstart.add_argument(
        "--new", required=True, help="new products: id, title, description, cat_id, price ..."
    )
    coldstart.add_argument(
        "--periods", type=int, default=8, help="periods of early life (default: 8)"
    )
    coldstart.add_argument(
        "--method",
        choices=("ridge", "knn", "finetuned", "category_mean", "global_mean"),
        default="ridge",
        help="ridge on text embeddings, category and price (default), nearest neighbours, "
        "the text model fine-tuned on the launches' demand, or a baseline",
    )
    _add_text_model_argument(coldstart)
    coldstart.add_argument(
        "--mode",
        choices=("lora", "full"),
        help="for --method finetuned: low-rank adapters (the default) or all weights",
    )
    coldstart.add_argument(
        "--device",
        help="for --method finetuned: cpu (the default), cuda or auto (a GPU when there is one)",
    )
    coldstart.add_argument("--out", help="write the forecasts (.csv or .parquet)")
    coldstart.set_defaults(command="coldstart", run=_coldstart)
    return parser


def _add_text_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--text-model",
        help="sentence-transformers model name or folder (default: all-MiniLM-L6-v2, offline; "
        "for other languages a multilingual one, e.g. intfloat/multilingual-e5-small)",
    )
    parser.add_argument(
        "--text-prefix",
        default="",
        help='put before every text, as some models expect (e5 models: "passage: ")',
    )


def _text_encoder(args: argparse.Namespace, workspace=None):
    """The encoder of ``--text-model``, else the default (MiniLM, or TF-IDF without the extra)."""
    from trendcast.text import TextEncoder, default_encoder

    if args.text_model:
        return TextEncoder(model=args.text_model, workspace=workspace, prefix=args.text_prefix)
    return default_encoder(workspace)


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
    parser.add_argument(
        "--chronos",
        help="weights of chronos2: a name saved by `trendcast finetune` in --workspace, a "
        "folder, or a hub name (default: the shipped trendcast-chronos2-small)",
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
    models = (
        models_by_name(
            [n.strip() for n in names],
            data.freq,
            chronos=args.chronos,
            workspace=args.workspace,
        )
        if names
        else None
    )
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


def _finetune(args: argparse.Namespace) -> int:
    from trendcast.data.arrays import Covariates, SeriesArrays
    from trendcast.models.chronos import Chronos2

    if not args.workspace:
        raise ValueError("finetune saves the model in a workspace: pass --workspace FILE.duckdb.")
    data = _load(args)
    if args.segment:
        data = _segment(data, args.segment)
    model = Chronos2(
        args.base,
        finetune=args.mode,
        steps=args.steps,
        horizon=args.horizon,
        workspace=args.workspace,
    )
    model.fit(
        SeriesArrays.from_frame(data.sales, data.freq, data.columns),
        Covariates(data.static, data.dynamic, data.columns),
    )
    path = model.save_to(args.workspace, args.name)
    losses = [row["eval_loss"] for row in model.history_ if "eval_loss" in row]
    _console().print(
        f"Validation loss {losses[0]:.4f} -> best {min(losses):.4f} over {args.steps} steps. "
        f"Saved as '{args.name}' in {path}."
    )
    return 0


def _segment(data, segment: str):
    """The shop's rows of the series whose static ``COLUMN`` equals ``VALUE``."""
    from dataclasses import replace

    column, _, value = segment.partition("=")
    if data.static is None or column not in data.static.columns or not value:
        known = (
            "no static file: pass --static" if data.static is None else list(data.static.columns)
        )
        raise ValueError(
            f"--segment must be COLUMN=VALUE with a column of the static file ({known}), got "
            f"'{segment}'."
        )
    id_col = data.columns.id_col
    ids = data.static.loc[data.static[column].astype(str) == value, id_col]
    if ids.empty:
        values = sorted(data.static[column].astype(str).unique())[:10]
        raise ValueError(f"no series has {column}={value}; values include {values}.")
    return replace(
        data,
        **{
            name: frame[frame[id_col].isin(ids)].reset_index(drop=True)
            for name in ("sales", "static", "dynamic")
            if (frame := getattr(data, name)) is not None
        },
    )


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


def _trends(args: argparse.Namespace) -> int:
    from trendcast.data.io import atomic_write, read_frame, write_frame
    from trendcast.decisions.plan import fit_forecaster
    from trendcast.decisions.trends import trend_table, trending
    from trendcast.report.trends import trend_json, write_trend_report

    data = _load(args)
    cols = data.columns
    forecasts = None
    if args.horizon:
        forecasts = fit_forecaster(data, progress=True).predict(args.horizon)
    table = trend_table(
        data.sales,
        static=data.static,
        dynamic=data.dynamic,
        forecasts=forecasts,
        on_hand=read_frame(args.stock) if args.stock else None,
        level=args.level,
        window=args.window,
        horizon=args.horizon,
        launch_peers=args.launch_peers,
        k_peers=args.k_peers,
        encoder=_text_encoder(args, args.workspace) if args.launch_peers == "text" else None,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
    )
    ranked = trending(
        table,
        direction=args.direction,
        category=args.category,
        store=args.store,
        min_volume=args.min_volume,
        top=args.top,
    )
    counts = table["trend"].value_counts().to_dict()
    _console().print(
        f"{len(table):,} entities as of {table['as_of'].iloc[0]:%Y-%m-%d}: "
        + ", ".join(f"{counts.get(label, 0):,} {label}" for label in counts)
    )
    _console().print(f"Top {args.direction} ({len(ranked)}):")
    for row in ranked.itertuples(index=False):
        _console().print(f"  {row.rank:>3}. {getattr(row, table.columns[0])}: {row.reason}")
    if args.out:
        _console().print(f"trend table: {write_frame(table, args.out)}")
    if args.html:
        path = write_trend_report(
            args.html,
            table,
            history=data.sales,
            static=data.static,
            id_col=cols.id_col,
            time_col=cols.time_col,
            target_col=cols.target_col,
        )
        _console().print(f"trend report: {path}")
    if args.json:
        text = trend_json(table)
        path = atomic_write(args.json, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        _console().print(f"trend table (JSON): {path}")
    _store(args, data=data, results={"trends": table})
    return 0


def _plan(args: argparse.Namespace) -> int:
    from trendcast.data.io import read_frame, write_frame
    from trendcast.decisions.plan import fit_forecaster, order_list

    data = _load(args)
    forecaster = fit_forecaster(data, progress=True)
    orders = order_list(
        forecaster,
        read_frame(args.stock),
        lead_time=args.lead_time,
        review_period=args.review_period,
        service_level=args.service_level,
        service_kind="fill_rate" if args.fill_rate else "cycle",
        on_order=read_frame(args.on_order) if args.on_order else None,
        n_samples=args.samples,
    )
    id_col = data.columns.id_col
    ordering = orders[orders["order_qty"] > 0].sort_values("order_qty", ascending=False)
    console = _console()
    console.print(
        f"{len(ordering):,} of {len(orders):,} series to order, {ordering['order_qty'].sum():,.0f} "
        f"units in all (lead time {args.lead_time}, review every {args.review_period} periods, "
        f"service level {args.service_level:.0%}). Largest orders:"
    )
    for row in ordering.head(10).itertuples(index=False):
        console.print(
            f"  {getattr(row, id_col)}: order {row.order_qty:,.0f} (position "
            f"{row.inventory_position:,.0f}, order-up-to {row.order_up_to:,.0f}, stock-out "
            f"risk {row.stockout_probability:.0%})"
        )
    if args.out:
        console.print(f"orders: {write_frame(orders, args.out)}")
    _store(args, data=data, results={"orders": orders})
    return 0


def _price(args: argparse.Namespace) -> int:
    from trendcast.data.io import read_frame, write_frame
    from trendcast.decisions.plan import fit_forecaster, price_list, promotion_list

    bounds = _numbers(args.bounds, "--bounds", count=2)
    data = _load(args)
    stock = read_frame(args.stock)
    forecasts = fit_forecaster(data, progress=True).predict(args.horizon)
    prices = price_list(
        data,
        forecasts,
        stock,
        bounds=bounds,
        objective=args.objective,
        limit_to_stock=args.limit_to_stock,
    )
    best = prices.best
    console = _console()
    moves = best[best["change"].abs() > 0.005].sort_values("gain", ascending=False)
    console.print(
        f"{len(best):,} items; {len(moves):,} with a better price. Largest expected "
        f"{args.objective} gains over {args.horizon} periods:"
    )
    for row in moves.head(10).itertuples(index=False):
        console.print(
            f"  {row.item_id}: {row.price:.2f} -> {row.best_price:.2f} ({row.change:+.0%}), "
            f"gain {row.gain:,.0f} (90%: {row.gain_lower:,.0f} to {row.gain_upper:,.0f})"
        )
    results = {"elasticities": prices.elasticities, "prices": best}
    if args.promotions:
        results["promotions"] = promotion_list(
            data, forecasts, stock, prices.elasticities, discount=args.discount
        )
    for name, path in (
        ("prices", args.out),
        ("elasticities", args.elasticities),
        ("promotions", args.promotions),
    ):
        if path:
            console.print(f"{name}: {write_frame(results[name], path)}")
    _store(args, data=data, results=results)
    return 0


def _text_search(args: argparse.Namespace) -> int:
    from trendcast.data.io import read_frame, write_frame
    from trendcast.data.store import Workspace
    from trendcast.text import search_catalogue, similar_products

    catalogue = read_frame(args.static)
    encoder = _text_encoder(args, Workspace(args.workspace) if args.workspace else None)
    options = {"k": args.k, "encoder": encoder, "id_col": args.id_col}
    if args.command == "similar":
        found = similar_products(catalogue, args.item, **options)
    else:
        found = search_catalogue(catalogue, args.query, **options)
    shown = [found.columns[0], *(c for c in ("title", "score") if c in found.columns)]
    _console().print(found[shown].to_string(index=False))
    if args.out:
        _console().print(f"{args.command}: {write_frame(found, args.out)}")
    return 0


def _reviews(args: argparse.Namespace) -> int:
    import numpy as np

    from trendcast.data.io import write_frame
    from trendcast.text.reviews import ReviewScorer, review_covariate

    data = _load(args)
    cols = data.columns
    if data.reviews is None:
        raise ValueError("reviews learns from rated reviews: pass --reviews FILE.")
    encoder = _text_encoder(args, args.workspace)
    reviews = data.reviews.reset_index(drop=True)
    written = reviews[reviews["text"].str.strip() != ""]
    if len(written) < 5:
        raise ValueError("reviews learns the rating from review text: give at least 5 with text.")
    held_out = np.random.default_rng(0).permutation(written.index)[: len(written) // 5]
    learn = written.drop(index=held_out)
    check = ReviewScorer(encoder=encoder).fit(learn).score(written.loc[held_out])
    truth = written.loc[held_out, "rating"].to_numpy()
    mae = np.abs(check - truth).mean()
    mean_only = np.abs(learn["rating"].mean() - truth).mean()
    # A review without text keeps its rating as its score.
    score = reviews["rating"].to_numpy(dtype=float)
    score[written.index] = ReviewScorer(encoder=encoder).fit(written).score(written)
    scored = reviews.assign(review_score=score)
    index = data.dynamic if data.dynamic is not None else data.sales[[cols.id_col, cols.time_col]]
    out = review_covariate(
        scored, index, window=args.window, id_col=cols.id_col, time_col=cols.time_col
    )
    _console().print(
        f"Scored {len(reviews):,} reviews from their text: held-out error {mae:.2f} stars "
        f"(the mean rating alone: {mean_only:.2f}); {int(out['review_score'].notna().sum()):,} "
        f"of {len(out):,} rows have reviews in the last {args.window} days."
    )
    _console().print(f"covariates: {write_frame(out, args.out)}")
    return 0


def _coldstart(args: argparse.Namespace) -> int:
    from trendcast.data.io import read_frame, write_frame
    from trendcast.models.coldstart import ColdStart

    data = _load(args)
    cols = data.columns
    if data.static is None:
        raise ValueError("coldstart learns from the launched products' attributes: pass --static.")
    finetune = None
    if args.method == "finetuned":
        from trendcast.text.finetune import FineTunedTextRegressor

        settings = {"mode": args.mode, "device": args.device, "model": args.text_model}
        finetune = FineTunedTextRegressor(**{k: v for k, v in settings.items() if v})
    elif args.mode or args.device:
        raise ValueError(
            "--mode and --device set the fine-tuning: use them with --method finetuned."
        )
    model = ColdStart(
        method=args.method,
        encoder=_text_encoder(args),
        finetune=finetune,
        alias="ColdStart",
        # A launch price is used where the product files carry one.
        price_col="price" if "price" in data.static.columns else None,
        n_periods=args.periods,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
    ).fit(data.sales, data.static)
    forecasts = model.predict(read_frame(args.new))
    totals = forecasts.groupby(cols.id_col, sort=False)["ColdStart"].sum()
    _console().print(f"Expected units over the first {args.periods} periods:")
    for product, total in totals.items():
        _console().print(f"  {product}: {total:,.1f}")
    if args.out:
        _console().print(f"forecasts: {write_frame(forecasts, args.out)}")
    return 0


def _numbers(text: str, option: str, *, count: int) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise ValueError(f"{option} takes {count} numbers separated by a comma, got '{text}'.")
    return values


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
