"""The ``trendcast`` command line: the demo, data, forecasting, model, decision and workspace
commands.

One module per command group parses its options and calls the app layer (`trendcast.app`)
or the library functions a Python user would; bad input ends with a clear message and a
non-zero exit code, never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trendcast.cli import data, decisions, forecasting, models, serve, text, update, workspace

EXIT_BAD_INPUT = 2
EXIT_BUSY = 3  # another process writes to the workspace: try again later
# Commands that compute before they store: a busy workspace stops them before the work.
_COMPUTES = frozenset(
    {
        "backtest",
        "coldstart",
        "finetune",
        "forecast",
        "import",
        "plan",
        "price",
        "reviews",
        "train",
        "trends",
        "update",
        "validate",
    }
)

_EXAMPLES = """\
examples:
  trendcast demo                                  # sample shop -> backtest, forecast, report
  trendcast simulate --out shop/ --items 50       # write a sample shop as CSV files
  trendcast validate shop/sales.csv               # check a sales file against the contract
  trendcast validate sales.csv --target-col units --fill-gaps
  trendcast import orders.csv --workspace ws.duckdb --freq W   # an order log -> weekly demand
  trendcast plan --workspace ws.duckdb --lead-time 2w --out orders.csv
  trendcast price --workspace ws.duckdb --margin 0.4 --out prices.csv
  trendcast backtest shop/sales.csv --horizon 28 --windows 3 --out backtest.parquet
  trendcast forecast shop/sales.csv --horizon 28 --models seasonal_naive,ets --out fc.csv
  trendcast train shop/sales.csv --dynamic shop/dynamic.csv --workspace ws.duckdb --name shop
  trendcast forecast --workspace ws.duckdb --model shop --dynamic new_plan.csv --out fc.csv
  trendcast update --workspace ws.duckdb --sales today.csv --refit-every 7d  # a day's sales
  trendcast models list --workspace ws.duckdb
  trendcast models rollback shop --workspace ws.duckdb
  trendcast finetune shop/sales.csv --dynamic shop/dynamic.csv --workspace ws.duckdb --name mine
  trendcast plan shop/sales.csv --static shop/static.csv --dynamic shop/dynamic.csv \
      --stock shop/stock.csv --lead-time 7 --service-level 0.95 --out orders.csv
  trendcast price shop/sales.csv --static shop/static.csv --dynamic shop/dynamic.csv \
      --stock shop/stock.csv --out prices.csv --promotions promotions.csv
  trendcast trends shop/sales.csv --static shop/static.csv --level item_id --html trends.html
  trendcast search shop/static.csv "warm winter clothes" --k 5
  trendcast similar shop/static.csv FOODS_1_001 --k 5
  trendcast coldstart shop/sales.csv --static shop/static.csv --new new_products.csv --horizon 8
  trendcast reviews shop/sales.csv --dynamic shop/dynamic.csv --reviews shop/reviews.csv \
      --out shop/dynamic_reviews.csv
  trendcast show --workspace ws.duckdb            # its tables and latest runs
  trendcast show orders --workspace ws.duckdb --rows 10 --columns unique_id,order_qty
  trendcast runs --workspace ws.duckdb --table orders   # the runs that wrote orders
  trendcast show orders --workspace ws.duckdb --run 20261203T071502-3f9a1c
  trendcast export forecasts --workspace ws.duckdb --out forecasts.xlsx
  trendcast runs --workspace ws.duckdb --keep 5   # keep 5 runs' versions of each table
  trendcast report --workspace ws.duckdb --out report.html
  trendcast keys create erp --workspace ws.duckdb  # an API key for writes, shown once
  trendcast serve --workspace ws.duckdb --port 8000   # the API (/v1, /docs) and the dashboard

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
    from trendcast.errors import WorkspaceBusyError, cli_message

    try:
        if args.command in _COMPUTES and getattr(args, "workspace", None):
            from trendcast.data.store import Workspace

            Workspace(args.workspace).wait_until_free()
        return args.run(args)
    except WorkspaceBusyError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUSY
    except (DataValidationError, ValueError, KeyError, FileNotFoundError, TypeError) as error:
        if args.debug:
            raise
        print(f"error: {cli_message(error)}", file=sys.stderr)
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

    data.register(commands)
    forecasting.register(commands)
    models.register(commands)
    update.register(commands)
    decisions.register(commands)
    text.register(commands)
    workspace.register(commands)
    serve.register(commands)
    _debug_anywhere(parser)
    return parser


def _debug_anywhere(parser: argparse.ArgumentParser) -> None:
    """``--debug`` before or after any (sub)command; unset on a subcommand, it leaves the
    value the parser above set."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "--debug",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS,
                )
                _debug_anywhere(sub)
