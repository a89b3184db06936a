"""The saved models of a workspace: their versions, which is in production, and moving it."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from trendcast.data.registry import ModelVersion
from trendcast.data.store import as_workspace


def list_models(workspace: Any, name: str | None = None) -> pd.DataFrame:
    """One row per saved version: name, version, kind, current, created, training span,
    data hash (short), backtest WAPE of the first model, and the full metadata (JSON)."""
    frame = as_workspace(workspace).models.list(name)
    meta = [json.loads(m) for m in frame["meta"]]
    frame.insert(5, "trained_on", [_span(m.get("span")) for m in meta])
    frame.insert(6, "data_hash", [m.get("data_hash", "")[:12] for m in meta])
    frame.insert(7, "wape", [_recommended_wape(m) for m in meta])
    return frame


def promote(workspace: Any, ref: str) -> ModelVersion:
    """Puts ``NAME@VERSION`` (``NAME``: its latest) into production."""
    return as_workspace(workspace).models.promote(ref)


def rollback(workspace: Any, name: str) -> ModelVersion:
    """Back to the version of ``name`` that was in production before the current one."""
    return as_workspace(workspace).models.rollback(name)


def _span(span: dict | None) -> str:
    return f"{span['first']}..{span['last']} ({span['series']} series)" if span else ""


def _recommended_wape(meta: dict) -> float | None:
    """The backtest WAPE of the model the forecaster recommends (the first of its line-up)."""
    scores = meta.get("scores") or {}
    return scores.get(meta.get("recommended"), {}).get("WAPE")
