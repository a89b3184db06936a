"""What the command groups share: the data and model options, reading the shop once, the
console and the score table."""

from __future__ import annotations

import argparse


def add_text_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--text-model",
        help="sentence-transformers model name or folder (default: all-MiniLM-L6-v2, offline; "
        "for other languages a multilingual one, e.g. intfloat/multilingual-e5-small), or "
        "'hashing': TF-IDF of hashed words and word pairs, no model, no download",
    )
    parser.add_argument(
        "--text-prefix",
        default="",
        help='put before every text, as some models expect (e5 models: "passage: ")',
    )


def text_encoder(args: argparse.Namespace, workspace=None):
    """The encoder of ``--text-model``, else the default (MiniLM, or TF-IDF without the extra)."""
    from trendcast.text import HashingTfidf, TextEncoder, default_encoder

    if args.text_model == "hashing":
        return HashingTfidf()
    if args.text_model:
        return TextEncoder(
            model=args.text_model, workspace=workspace, prefix=args.text_prefix, progress=True
        )
    return default_encoder(workspace, progress=True)


def add_data_arguments(parser: argparse.ArgumentParser, *, sales_optional: bool = False) -> None:
    if sales_optional:
        parser.add_argument("sales", nargs="?", help="sales file in long format (.csv or .parquet)")
    else:
        parser.add_argument("sales", help="sales file in long format (.csv or .parquet)")
    parser.add_argument("--static", help="static attributes file, one row per series")
    parser.add_argument(
        "--dynamic",
        action="append",
        help="dynamic covariates file, one row per series and period; repeat it for files at "
        "other grains, joined onto the series: per store (store_id, ds, ...) or per date",
    )
    parser.add_argument("--reviews", help="reviews file: id, date, rating, text")
    parser.add_argument(
        "--id-col", default="unique_id", help="series id column (default: %(default)s)"
    )
    parser.add_argument("--time-col", default="ds", help="date column (default: %(default)s)")
    parser.add_argument("--target-col", default="y", help="target column (default: %(default)s)")
    parser.add_argument("--freq", help="D, W-SUN (any weekday) or MS; inferred when omitted")
    parser.add_argument("--fill-gaps", action="store_true", help="fill missing periods with 0")
    parser.add_argument("--clip-negative", action="store_true", help="set negative targets to 0")
    add_reading_arguments(parser)
    parser.add_argument(
        "--tz",
        choices=("local", "UTC"),
        default="local",
        help="dates with a time zone: their local wall-clock date (default) or UTC's",
    )
    parser.add_argument("--workspace", help="also store data and results in this DuckDB file")


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """How CSV files and text dates are read: separator, encoding, date layout."""
    parser.add_argument("--sep", help="CSV field separator (default: detected from , ; tab |)")
    parser.add_argument(
        "--encoding", help="text encoding of CSV files (default: UTF-8, else Windows-1252)"
    )
    parser.add_argument(
        "--time-format",
        help="layout of text dates, e.g. %%d/%%m/%%Y (default: ISO 8601, or the one common "
        "layout that reads every date)",
    )


def add_saved_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="decide from this saved model (`trendcast train`), no refit: NAME (in production) "
        "or NAME@VERSION, with --workspace; --dynamic is then the plan of the coming periods",
    )


def add_model_arguments(parser: argparse.ArgumentParser, *, horizon_required: bool = True) -> None:
    from trendcast.forecaster import DEFAULT_NAMES, MODEL_NAMES

    parser.add_argument(
        "--horizon",
        required=horizon_required,
        help="how far ahead: periods, or a span such as 28d, 8w, 3m",
    )
    parser.add_argument(
        "--models",
        help=f"comma-separated, from {', '.join(MODEL_NAMES)} (default: all but "
        f"{', '.join(n for n in MODEL_NAMES if n not in DEFAULT_NAMES)})",
    )
    parser.add_argument(
        "--quantiles",
        help="comma-separated quantile levels (default: 0.1,0.5,0.9)",
    )
    parser.add_argument(
        "--chronos",
        help="weights of chronos2: a name saved by `trendcast finetune` in --workspace, a "
        "folder, or a hub name (default: the shipped trendcast-chronos2-small)",
    )
    parser.add_argument(
        "--known-future",
        help="comma-separated dynamic columns known in advance (plans, calendars); default: "
        "columns named price*, promo*, event*, snap*, holiday*, discount*",
    )
    parser.add_argument(
        "--categorical",
        help="comma-separated static columns that are categories whatever their type",
    )
    parser.add_argument(
        "--groups",
        help="comma-separated static columns whose groups share movement (store, department)",
    )


def names(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None stays None."""
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def declarations(args: argparse.Namespace) -> dict:
    """The covariate declarations of the options, as `Forecaster.fit` takes them."""
    return {
        "known_future": names(args.known_future),
        "categorical": names(args.categorical),
        "groups": names(args.groups),
    }


def quantiles(args: argparse.Namespace) -> list[float] | None:
    if args.quantiles is None:
        return None
    try:
        return [float(q) for q in names(args.quantiles)]
    except ValueError:
        raise ValueError(
            f"--quantiles must be numbers between 0 and 1 separated by commas, got "
            f"'{args.quantiles}'."
        ) from None


def load_shop(args: argparse.Namespace, *, notes: bool = True):
    """The shop of the data options, read and validated once; ``notes`` prints what the
    validation changed or joined, as it was asked to."""
    from trendcast.app import read_shop, workspace_shop

    if not args.sales:
        if not args.workspace:
            raise ValueError(
                "pass the sales file, or --workspace with a shop imported into it "
                "(`trendcast import`), or a saved --model."
            )
        given = [f"--{n}" for n in ("static", "dynamic", "reviews") if getattr(args, n, None)]
        if given and not getattr(args, "model", None):
            raise ValueError(
                f"{', '.join(given)} go with a sales file: the workspace's shop keeps its own "
                "side data. To decide under another plan, train a model and pass --model."
            )
        data = workspace_shop(args.workspace)
        args.shop_from_workspace = True
        console().print(f"shop: workspace {args.workspace} ({data.freq})")
        return data
    data = read_shop(
        args.sales,
        **{name: getattr(args, name) for name in ("static", "dynamic", "reviews")},
        id_col=args.id_col,
        time_col=args.time_col,
        target_col=args.target_col,
        freq=args.freq,
        fill_gaps=args.fill_gaps,
        clip_negative=args.clip_negative,
        sep=args.sep,
        encoding=args.encoding,
        time_format=args.time_format,
        tz=args.tz,
    )
    for line in data.report if notes else ():
        console().print(f"note: {line}")
    return data


def line_up(args: argparse.Namespace, data) -> list | None:
    """The models of ``--models`` set for the data's frequency; None: the default line-up."""
    from trendcast.forecaster import models_by_name

    chosen = names(args.models)
    if not chosen:
        return None
    return models_by_name(chosen, data.freq, chronos=args.chronos, workspace=args.workspace)


def forecaster_from(args: argparse.Namespace, data):
    from trendcast.forecaster import DEFAULT_QUANTILES, Forecaster

    return Forecaster(
        line_up(args, data),
        freq=data.freq,
        quantiles=quantiles(args) or DEFAULT_QUANTILES,
        id_col=data.columns.id_col,
        time_col=data.columns.time_col,
        target_col=data.columns.target_col,
        progress=True,
    )


def numbers(text: str, option: str, *, count: int) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise ValueError(f"{option} takes {count} numbers separated by a comma, got '{text}'.")
    return values


def store(
    args: argparse.Namespace, *, data, results: dict | None = None, model: str | None = None
) -> None:
    """With ``--workspace``, stores the input and the results as one run; results made from
    a saved ``model`` (``NAME@VERSION``) are marked with it, and its input is not stored again."""
    if not args.workspace:
        return
    from trendcast.data.store import Workspace

    workspace = Workspace(args.workspace)
    if model:
        meta, shop = {"model": model}, None
    elif getattr(args, "shop_from_workspace", False):
        meta, shop = {"source": "workspace"}, None
    else:
        meta, shop = {"source": str(args.sales)}, ("input", data)
    run_id = workspace.write_run(args.command, meta=meta, shop=shop, results=results)
    console().print(f"stored in workspace {workspace.path} (run {run_id})")


def print_report(report) -> None:
    """How the forecaster uses each side-frame column, so a renamed column never changes
    its use unseen."""
    from rich.table import Table

    if report.empty:
        return
    table = Table(title="How each covariate is used")
    for column in ("frame", "column", "use", "decided_by"):
        table.add_column(column.replace("_", " "))
    for row in report.itertuples(index=False):
        table.add_row(*map(str, row))
    console().print(table)


def print_scores(scores, best: str) -> None:
    from rich.table import Table

    table = Table(title="Backtest scores (lower is better; coverage should match its level)")
    table.add_column("model", no_wrap=True)
    for column in scores.columns:
        table.add_column(str(column), justify="right")
    for model, row in scores.iterrows():
        style = "bold green" if model == best else None
        table.add_row(str(model), *(f"{v:.3f}" for v in row.to_numpy(float)), style=style)
    console().print(table)


def console():
    from rich.console import Console

    screen = Console()
    # Pipes and CI logs report 80 columns; score tables need more to stay readable.
    return screen if screen.is_terminal else Console(width=120)
