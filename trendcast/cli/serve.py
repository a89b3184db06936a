"""The server and its API keys: serve, keys create / list / revoke."""

from __future__ import annotations

import argparse

from trendcast.cli._common import console


def register(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="the REST API and the dashboard over a workspace",
        description="Serves the workspace's promoted models, forecasts and decisions over HTTP: "
        "the dashboard at /, the API under /v1 (documented at /docs), /health and /metrics. "
        "Writes need an API key (trendcast keys create).",
    )
    serve.add_argument("--workspace", required=True, help="the workspace file (.duckdb)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--model", help="the model served by default (default: the only one)")
    serve.add_argument(
        "--keys-for-reads", action="store_true", help="reads need an API key too, not only writes"
    )
    serve.add_argument(
        "--cors", action="append", default=[], help="an origin allowed to call from a browser"
    )
    serve.add_argument(
        "--max-upload-mb", type=float, default=100.0, help="largest upload (default: 100)"
    )
    serve.add_argument(
        "--inbox", help="a folder of the day's sales files, applied every day at --update-at"
    )
    serve.add_argument(
        "--update-at", default="06:00", help="time of day of the update (default: 06:00)"
    )
    serve.add_argument(
        "--refit-every", help="re-train when the fit is this old, e.g. 7d (default: on drift)"
    )
    serve.set_defaults(command="serve", run=_serve)

    keys = commands.add_parser("keys", help="API keys of the server: create, list, revoke")
    actions = keys.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new key, shown once")
    create.add_argument("name", help="what the key is for, e.g. erp")
    create.add_argument("--workspace", required=True)
    create.add_argument("--read-only", action="store_true", help="the key may only read")
    create.set_defaults(command="keys", run=_create)
    listing = actions.add_parser("list", help="the keys: name, scope, created")
    listing.add_argument("--workspace", required=True)
    listing.set_defaults(command="keys", run=_list)
    revoke = actions.add_parser("revoke", help="a key stops working")
    revoke.add_argument("name")
    revoke.add_argument("--workspace", required=True)
    revoke.set_defaults(command="keys", run=_revoke)


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trendcast.serve import run

    if not Path(args.workspace).exists():
        raise FileNotFoundError(f"no workspace at {args.workspace}: run trendcast demo first, "
                                "or trendcast import / train into it")  # fmt: skip
    console().print(f"serving {args.workspace} at http://{args.host}:{args.port}/ (API docs at "
                    "/docs); Ctrl+C stops")  # fmt: skip
    run(
        args.workspace,
        host=args.host,
        port=args.port,
        model=args.model,
        keys_for_reads=args.keys_for_reads,
        cors_origins=tuple(args.cors),
        max_upload_mb=args.max_upload_mb,
        inbox=args.inbox,
        update_at=args.update_at,
        refit_every=args.refit_every,
    )
    return 0


def _create(args: argparse.Namespace) -> int:
    from trendcast.app.keys import create_key

    token = create_key(args.workspace, args.name, scope="read" if args.read_only else "write")
    console().print(f"key {args.name!r} ({'read' if args.read_only else 'write'}): it is shown "
                    "only now, keep it safe:", markup=False)  # fmt: skip
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    from trendcast.app.keys import list_keys

    keys = list_keys(args.workspace)
    console().print(keys.to_string(index=False) if len(keys) else "no keys", markup=False)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from trendcast.app.keys import revoke_key

    revoke_key(args.workspace, args.name)
    console().print(f"key {args.name!r} revoked", markup=False)
    return 0
