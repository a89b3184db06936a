"""The saved models of a workspace: list the versions, promote one, roll back."""

from __future__ import annotations

import argparse

from trendcast.cli._common import console


def register(commands) -> None:
    models = commands.add_parser(
        "models",
        help="list the saved model versions, promote one, roll back",
        description="Every `trendcast train` (and `finetune`) adds a version; NAME refers to "
        "the one in production. promote puts any version in, rollback returns to the one "
        "before.",
    )
    actions = models.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every version, with its span and scores")
    listing.add_argument("name", nargs="?", help="only this model's versions")
    listing.set_defaults(run=_list)
    promote = actions.add_parser("promote", help="put NAME@VERSION (NAME: its latest) in")
    promote.add_argument("ref", help="NAME@VERSION, or NAME for its latest version")
    promote.set_defaults(run=_promote)
    rollback = actions.add_parser("rollback", help="back to the version in production before")
    rollback.add_argument("name", help="model name")
    rollback.set_defaults(run=_rollback)
    for action in (listing, promote, rollback):
        action.add_argument("--workspace", required=True, help="the workspace (DuckDB file)")
    models.set_defaults(command="models")


def _list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from trendcast.app import list_models

    frame = list_models(args.workspace, args.name)
    if frame.empty:
        console().print(f"no saved models in {args.workspace}: `trendcast train` saves one.")
        return 0
    table = Table(title=f"Models in {args.workspace} (* in production)")
    for column in ("model", "kind", "created", "trained on", "data hash", "WAPE"):
        table.add_column(column, justify="right" if column == "WAPE" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            f"{'*' if row.current else ' '} {row.name}@{row.version}",
            row.kind,
            f"{row.created:%Y-%m-%d %H:%M}",
            row.trained_on,
            row.data_hash,
            "" if row.wape is None else f"{row.wape:.3f}",
            style="bold green" if row.current else None,
        )
    console().print(table)
    return 0


def _promote(args: argparse.Namespace) -> int:
    from trendcast.app import promote

    version = promote(args.workspace, args.ref)
    console().print(f"{version.ref} is now in production.")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from trendcast.app import rollback

    version = rollback(args.workspace, args.name)
    console().print(f"rolled back: {version.ref} is in production again.")
    return 0
