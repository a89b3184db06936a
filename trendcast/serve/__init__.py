"""``trendcast serve``: the REST API and the dashboard over one workspace (the ``serve`` extra:
FastAPI and uvicorn, imported only here).

Example:
    >>> from trendcast.serve import create_app  # doctest: +SKIP
    >>> app = create_app("trendcast-demo/trendcast.duckdb")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "run"]


def create_app(workspace: Any, **options: Any):
    """The ASGI app serving ``workspace`` (see `trendcast.serve.api.create_app`)."""
    from trendcast.serve.api import create_app as build

    return build(workspace, **options)


def run(workspace: Any, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serves ``workspace`` until interrupted."""
    import uvicorn

    uvicorn.run(create_app(workspace, **options), host=host, port=port, log_level="info")
