"""Daily updates: new sales into the workspace, forecasts moved forward without refitting."""

from __future__ import annotations

import argparse

from trendcast.cli._common import console


def register(commands) -> None:
    update = commands.add_parser(
        "update",
        help="add the day's sales, score past forecasts, forecast again without refitting",
        description="Adds new sales (and dynamic rows) to the workspace's shop, scores the "
        "stored forecasts they cover (table NAME_accuracy), moves the model in production "
        "forward over them without refitting and stores its fresh forecasts "
        "(NAME_forecasts). Alerts when the accuracy falls behind the backtest or the sales "
        "level shifts (table alerts), and trains again when --refit-every says the fit is "
        "old or the accuracy drifted, promoting the new version only if it forecasts the "
        "periods since the fit better.",
    )
    update.add_argument("--workspace", required=True, help="the workspace (DuckDB file)")
    update.add_argument(
        "--sales", required=True, help="the new sales rows (.csv or .parquet), the shop's columns"
    )
    update.add_argument(
        "--dynamic",
        action="append",
        help="dynamic rows of the new periods and plans of the coming ones; repeat it for "
        "files at other grains (per store, per date)",
    )
    update.add_argument(
        "--model", help="the model to update: NAME (default: the only one in the workspace)"
    )
    update.add_argument(
        "--replace",
        action="store_true",
        help="write new values over stored ones for the same dates (refused otherwise)",
    )
    update.add_argument(
        "--refit-every",
        help="train again once the fit is this old in data, e.g. 7d, 4w (default: only on "
        "accuracy drift)",
    )
    update.add_argument(
        "--drift",
        type=float,
        default=0.2,
        help="alert when the recent WAPE exceeds the backtest's by this share "
        "(default: %(default)s)",
    )
    update.add_argument(
        "--shift",
        type=float,
        default=0.5,
        help="alert when a group's sales level moves by this share, beyond chance "
        "(default: %(default)s)",
    )
    update.add_argument("--out", help="also write the fresh forecasts (.csv or .parquet)")
    update.set_defaults(command="update", run=_update)


def _update(args: argparse.Namespace) -> int:
    from trendcast.app.update import update
    from trendcast.data.io import write_frame

    done = update(
        args.workspace,
        args.sales,
        model=args.model,
        dynamic=args.dynamic,
        replace=args.replace,
        refit_every=args.refit_every,
        drift=args.drift,
        shift=args.shift,
    )
    screen = console()
    screen.print(
        f"{done.appended:,} new rows, {done.repeated:,} already stored"
        + (f", {done.replaced:,} replaced" if done.replaced else "")
    )
    for note in done.notes:
        screen.print(f"note: {note}", markup=False)
    if not done.accuracy.empty:
        _print_accuracy(done.accuracy)
    for message in done.alerts.get("message", []):
        screen.print(f"[bold red]alert[/bold red]: {message}")
    if done.refit is not None:
        refit = done.refit
        scores = (
            f"WAPE {refit.candidate_wape:.3f} against {refit.current_wape:.3f}"
            if refit.candidate_wape is not None
            else "no sales to score"
        )
        state = "promoted" if refit.promoted else "not promoted (no better)"
        screen.print(
            f"re-trained ({refit.reason}): {refit.version.ref} {state}; on "
            f"{refit.window[0]}..{refit.window[1]} {scores}.",
            markup=False,
        )
    frame = done.forecasts
    id_col, time_col = frame.columns[:2]
    screen.print(
        f"{done.model} forecasts {frame[id_col].nunique():,} series from "
        f"{frame[time_col].min():%Y-%m-%d}"
        + ("" if done.model == done.previous else f" (was {done.previous})")
    )
    if args.out:
        screen.print(f"forecasts: {write_frame(frame, args.out)}")
    if done.run_id:
        screen.print(f"stored in workspace {args.workspace} (run {done.run_id})")
    return 0


def _print_accuracy(accuracy) -> None:
    """WAPE per model over the forecasts this update scored, by horizon step."""
    from rich.table import Table

    rows = accuracy[accuracy["group_col"] == "all"]
    sums = rows.groupby(["model", "step"])[["abs_error", "actual"]].sum()
    wape = (sums["abs_error"] / sums["actual"]).unstack("step")
    table = Table(title="Accuracy of the stored forecasts on the new days: WAPE by step")
    table.add_column("model", no_wrap=True)
    steps = list(wape.columns)[:10]  # the first steps; the table holds them all
    for step in steps:
        table.add_column(str(step), justify="right")
    for model, row in wape.iterrows():
        table.add_row(str(model), *("" if row[s] != row[s] else f"{row[s]:.3f}" for s in steps))
    console().print(table)
