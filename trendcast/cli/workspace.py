"""Reading a workspace back: its tables and runs, a table's first rows, exports, the report."""

from __future__ import annotations

import argparse

from trendcast.cli._common import console, names

_CELL_WIDTH = 40  # longer texts are cut, so one description does not hide the other columns


def register(commands) -> None:
    from trendcast.data.store import KEEP_RUNS

    show = commands.add_parser(
        "show",
        help="the tables and runs of a workspace, or the first rows of one table",
        description="Without NAME, lists the workspace's tables (kind, rows, the run that wrote "
        "each and when) and its latest runs. With NAME, prints the table's first rows; the "
        "columns that do not fit the screen are named below it (pick them with --columns, or "
        "see them all with --transpose).",
    )
    show.add_argument("name", nargs="?", help="table to print (default: list the tables)")
    _add_workspace_argument(show)
    show.add_argument("--rows", type=int, default=20, help="rows to print (default: 20)")
    _add_run_argument(show)
    show.add_argument("--columns", help="comma-separated columns to print (default: all that fit)")
    show.add_argument(
        "--transpose",
        action="store_true",
        help="one line per column, the rows side by side: every column of a wide table",
    )
    show.set_defaults(command="show", run=_show)

    runs = commands.add_parser(
        "runs",
        help="the runs a workspace keeps: command, tables, time; how many it keeps",
        description="Lists the runs, newest first, with the command, what it was made from and "
        "the tables it wrote. Each table keeps the versions of its last runs (readable with "
        f"`trendcast show NAME --run RUN_ID`), {KEEP_RUNS} unless --keep says otherwise; a run that replaces one drops the oldest beyond "
        "that, and a run leaves the list once none of its tables is kept. --keep sets how many "
        "for this workspace, and drops the older versions now.",
    )
    _add_workspace_argument(runs)
    runs.add_argument("--table", help="only the runs that wrote this table")
    runs.add_argument("--last", type=int, help="only the latest runs, this many")
    runs.add_argument(
        "--keep", type=int, help="keep the versions of this many runs per table from now on"
    )
    runs.set_defaults(command="runs", run=_runs)

    export = commands.add_parser(
        "export",
        help="write a workspace table to a CSV, Parquet or Excel file",
        description="Writes a table of the workspace, its current version or an earlier run's "
        "(--run), to a .csv, .parquet or .xlsx file, atomically.",
    )
    export.add_argument("name", help="table to write (`trendcast show` lists them)")
    _add_workspace_argument(export)
    export.add_argument("--out", required=True, help="output file: .csv, .parquet or .xlsx")
    _add_run_argument(export)
    export.set_defaults(command="export", run=_export)

    report = commands.add_parser(
        "report",
        help="the HTML report of the shop's own data in a workspace",
        description="Writes the demo's report for the workspace: the stored shop's history "
        "with the latest forecasts, the backtest scores and plots, what to order, prices and "
        "promotions, each where its tables exist; the page names the run behind each table and "
        "says which parts are left out and why.",
    )
    _add_workspace_argument(report)
    report.add_argument("--out", required=True, help="output file (.html)")
    report.add_argument(
        "--shop", help="stored shop whose sales are plotted (default: input, else the latest)"
    )
    report.add_argument("--title", help="heading of the page (default: trendcast: FILE)")
    report.add_argument(
        "--series", type=int, default=6, help="best-selling series to plot (default: 6)"
    )
    report.set_defaults(command="report", run=_report)


def _add_workspace_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, help="the workspace's DuckDB file")


def _add_run_argument(parser: argparse.ArgumentParser) -> None:
    # dest run_id: `run` is the command's function
    parser.add_argument(
        "--run",
        dest="run_id",
        metavar="RUN_ID",
        help="the version an earlier run wrote (`trendcast runs` lists them)",
    )


def _show(args: argparse.Namespace) -> int:
    if args.name is None:
        if args.run_id or args.columns or args.transpose:
            raise ValueError(
                "--run, --columns and --transpose go with a table NAME: trendcast show NAME ..."
            )
        return _show_workspace(args)
    from trendcast.app.workspace import read_table

    if args.rows < 1:
        raise ValueError(f"--rows must be 1 or more, got {args.rows}.")
    table = read_table(args.workspace, args.name, run=args.run_id, limit=args.rows)
    frame = table.frame
    origin = f"run {table.run_id} ({table.command})" if table.run_id else "outside a run"
    screen = console()
    screen.print(
        f"{table.name}: {table.rows:,} rows x {len(frame.columns)} columns, {table.kind}, "
        f"written {_when(table.written)} by {origin}"
        + ("" if table.current else "; an earlier run's version"),
        markup=False,
        highlight=False,
    )
    if frame.empty:
        screen.print("(no rows)")
        return 0
    chosen = names(args.columns)
    if chosen:
        unknown = [c for c in chosen if c not in frame.columns]
        if unknown:
            raise KeyError(
                f"no column {unknown} in '{table.name}'; its columns: "
                f"{', '.join(map(str, frame.columns))}."
            )
        shown = chosen
    elif args.transpose:
        shown = list(frame.columns)
    else:
        shown = _fitting(frame, screen.width)
    if args.transpose:
        screen.print(_transposed(frame[shown], screen.width))
    else:
        screen.print(_rich_table(frame[shown]))
    if len(frame) < table.rows:
        screen.print(f"first {len(frame):,} of {table.rows:,} rows (--rows for more)")
    hidden = [str(c) for c in frame.columns if c not in shown]
    if hidden:
        screen.print(
            f"{len(hidden)} more columns not shown: {', '.join(hidden)}. Pick them with "
            "--columns, see them all with --transpose, or export the table (trendcast export).",
            markup=False,
            highlight=False,
        )
    return 0


def _show_workspace(args: argparse.Namespace) -> int:
    from rich.table import Table

    from trendcast.app.workspace import keep_runs, workspace_runs, workspace_tables

    tables = workspace_tables(args.workspace)
    screen = console()
    if tables.empty:
        screen.print(f"the workspace {args.workspace} holds no tables yet.")
        return 0
    listing = Table(title=f"Tables in {args.workspace}")
    for column in ("name", "kind", "rows", "run", "written", "runs kept"):
        justify = "right" if column in ("rows", "runs kept") else "left"
        listing.add_column(column, justify=justify, no_wrap=column in ("name", "run"))
    for row in tables.itertuples(index=False):
        listing.add_row(
            row.name,
            row.kind,
            f"{row.rows:,}",
            row.run_id or "",
            _when(row.written),
            str(row.runs_kept or ""),
        )
    screen.print(listing)
    runs = workspace_runs(args.workspace)
    if not runs.empty:
        _print_runs(runs.head(10), title="Latest runs")
        if len(runs) > 10:
            screen.print(f"{len(runs) - 10} earlier runs: trendcast runs --workspace ...")
    keep, _ = keep_runs(args.workspace)
    screen.print(
        f"Each table keeps its last {keep} runs' versions. Print a table: trendcast show NAME "
        f"--workspace {args.workspace} [--run RUN_ID]",
        markup=False,
        highlight=False,
    )
    return 0


def _runs(args: argparse.Namespace) -> int:
    from trendcast.app.workspace import keep_runs, workspace_runs

    screen = console()
    if args.keep is not None:
        keep, dropped = keep_runs(args.workspace, args.keep)
        screen.print(
            f"the workspace keeps each table's last {keep} runs' versions from now on; "
            f"{dropped} older versions dropped."
        )
    else:
        keep, _ = keep_runs(args.workspace)
    runs = workspace_runs(args.workspace, table=args.table)
    if args.last is not None:
        runs = runs.head(max(args.last, 0))
    if runs.empty:
        what = f" that wrote '{args.table}'" if args.table else ""
        screen.print(f"no runs{what} in {args.workspace}.")
        return 0
    _print_runs(runs, title=f"Runs in {args.workspace}, newest first")
    screen.print(
        f"Each table keeps its last {keep} runs' versions (--keep N to change); tables marked "
        "'dropped' are no longer kept.",
        markup=False,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from trendcast.app.workspace import export_table

    path = export_table(args.workspace, args.name, args.out, run=args.run_id)
    which = f" of run {args.run_id}" if args.run_id else ""
    console().print(f"{args.name}{which}: {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _report(args: argparse.Namespace) -> int:
    from trendcast.app.workspace import workspace_report

    report = workspace_report(
        args.workspace, args.out, shop=args.shop, title=args.title, n_series=args.series
    )
    screen = console()
    screen.print(f"report: {report.path}", markup=False, highlight=False, soft_wrap=True)
    for line in report.shown:
        screen.print(f"  shows {line}", markup=False, highlight=False, soft_wrap=True)
    for line in report.left_out:
        screen.print(f"  left out {line}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _print_runs(runs, *, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("run", "command", "written", "made from", "tables"):
        table.add_column(column, no_wrap=column == "run")
    for row in runs.itertuples(index=False):
        kept = set(row.kept)
        tables = ", ".join(t if t in kept else f"{t} (dropped)" for t in row.tables)
        table.add_row(row.run_id, row.command, _when(row.written), _cut(row.made_from), tables)
    console().print(table)


def _rich_table(frame):
    from rich.table import Table

    table = Table()
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iufb"
        table.add_column(str(column), justify="right" if numeric else "left", no_wrap=True)
    cells = [_cells(frame[c]) for c in frame.columns]
    for row in zip(*cells, strict=True):
        table.add_row(*row)
    return table


def _transposed(frame, width: int):
    """One line per column, as many rows side by side as fit the screen."""
    from rich.table import Table

    label = max(len(str(c)) for c in frame.columns) + 3
    cells = [_cells(frame[c]) for c in frame.columns]
    widths = [max(len(col[k]) for col in cells) + 3 for k in range(len(frame))]
    fit, used = 0, 4 + label
    while fit < len(widths) and (fit == 0 or used + widths[fit] <= width):
        used += widths[fit]
        fit += 1
    table = Table()
    table.add_column("column", no_wrap=True)
    for k in range(fit):
        table.add_column(f"row {k + 1}", no_wrap=True)
    for column, values in zip(frame.columns, cells, strict=True):
        table.add_row(str(column), *values[:fit])
    if fit < len(frame):
        table.caption = f"the first {fit} rows: no more fit side by side"
    return table


def _fitting(frame, width: int) -> list:
    """The leading columns whose cells fit the screen's width side by side (at least one)."""
    shown, used = [], 4
    for column in frame.columns:
        cells = [len(cell) for cell in _cells(frame[column])]
        needed = max([len(str(column)), *cells]) + 3  # padding and the border
        if shown and used + needed > width:
            break
        shown.append(column)
        used += needed
    return shown


def _cells(column) -> list[str]:
    """A column's values as a reader wants them: numbers with the decimals the column needs,
    dates without midnight, long texts cut, missing values as -."""
    import numpy as np
    import pandas as pd

    if column.dtype.kind == "f":
        finite = column[np.isfinite(column)]
        if finite.empty or (finite == finite.round()).all():
            spec = ",.0f"
        else:
            spec = ",.2f" if finite.abs().max() >= 1 else ".4g"
        return ["-" if pd.isna(v) else format(v, spec) for v in column]
    return [_cell(v) for v in column]


def _cell(value) -> str:
    import numpy as np
    import pandas as pd

    missing = pd.isna(value)
    if isinstance(missing, (bool, np.bool_)) and missing:
        return "-"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return _when(value)
    return _cut(str(value))


def _when(value) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    stamp = pd.Timestamp(value)
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"


def _cut(text: str) -> str:
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"
