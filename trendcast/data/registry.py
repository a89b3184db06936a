"""The model registry of a workspace: each save adds a version, none is ever overwritten.

A model is referred to as ``NAME`` (its version in production) or ``NAME@VERSION``. The files
of version N live in ``<workspace>.models/NAME/vN``; the workspace file holds each version's
metadata (parameters, trendcast version, training data hash and span, backtest scores, created
time) and the history of promotions, so `rollback` always knows what ran before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast.data.store import Workspace, _check_name

_MODELS = "_models"
_PROMOTIONS = "_promotions"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_MODELS} (name VARCHAR, version INTEGER, kind VARCHAR, "
    "meta VARCHAR, created TIMESTAMP, PRIMARY KEY (name, version))",
    # One row per promotion; a rollback retires the latest one, keeping it for the record.
    f"CREATE TABLE IF NOT EXISTS {_PROMOTIONS} (name VARCHAR, version INTEGER, seq INTEGER, "
    "promoted TIMESTAMP, retired TIMESTAMP)",
)
_REF = re.compile(r"^(?P<name>[^@]+)(?:@(?P<version>\d+))?$")


@dataclass(frozen=True)
class ModelVersion:
    """One saved version of a model: where its files are and what it was made from."""

    name: str
    version: int
    kind: str
    path: Path
    meta: dict[str, Any]
    created: datetime

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class ModelRegistry:
    """Versions of the models saved in a workspace (``workspace.models``).

    Example:
        >>> import tempfile, os
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
        >>> write = lambda folder: (folder / "weights.json").write_text("{}")
        >>> ws.models.save("shop", write, kind="demo").ref, ws.models.save("shop", write, kind="demo").ref
        ('shop@1', 'shop@2')
        >>> ws.models.rollback("shop").ref
        'shop@1'
    """

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def save(
        self,
        name: str,
        write: Callable[[Path], None],
        *,
        kind: str,
        meta: dict | None = None,
        promote: bool = True,
    ) -> ModelVersion:
        """Adds a version of ``name``: ``write(folder)`` writes its files into a fresh folder.

        Args:
            kind: what reads the files back (``"forecaster"``, ``"chronos2"``, ...).
            meta: what to record with it (parameters, data hash, scores, ...).
            promote: make it the version that ``NAME`` refers to.

        The version number, the files and the records land together: a failure part-way
        registers nothing and leaves every earlier version as it was.
        """
        from trendcast.data.io import atomic_folder

        _check_name(name)
        created = datetime.now(timezone.utc).replace(tzinfo=None)
        meta = meta or {}
        with self.workspace._transaction(_SCHEMA) as con:
            (latest,) = con.execute(
                f"SELECT coalesce(max(version), 0) FROM {_MODELS} WHERE name = ?", [name]
            ).fetchone()
            version = latest + 1
            # A folder left by a run that failed before registering it is replaced.
            path = atomic_folder(self._folder(name, version), write)
            con.execute(
                f"INSERT INTO {_MODELS} VALUES (?, ?, ?, ?, ?)",
                [name, version, kind, json.dumps(meta, default=str), created],
            )
            if promote:
                _promote(con, name, version)
        return ModelVersion(name, version, kind, path, meta, created)

    def get(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``NAME`` (the one in production) or ``NAME@VERSION``."""
        name, version = parse_ref(ref)
        with self.workspace._connect() as con:
            if version is None:
                version = self._current(con, name)
            row = None
            if _MODELS in self.workspace._tables(con):
                row = con.execute(
                    f"SELECT kind, meta, created FROM {_MODELS} WHERE name = ? AND version = ?",
                    [name, version],
                ).fetchone()
        if row is None:
            raise KeyError(
                f"no model '{name}@{version}' in {self.workspace.path}; saved: "
                f"{self._summary()}. `trendcast models list --workspace ...` shows them all."
            )
        kind, meta, created = row
        return ModelVersion(
            name, version, kind, self._folder(name, version), json.loads(meta), created
        )

    def path(self, ref: str) -> Path:
        """The folder of the version ``ref`` names (see `get`)."""
        return self.get(ref).path

    def has(self, name: str) -> bool:
        """Whether a model called ``name`` has a version in production."""
        if not self.workspace.path.exists():
            return False
        with self.workspace._connect() as con:
            tables = self.workspace._tables(con)
            return _PROMOTIONS in tables and _current_or_none(con, name) is not None

    def list(self, name: str | None = None) -> pd.DataFrame:
        """One row per version (of ``name``, or of every model): name, version, kind,
        ``current`` (the one in production), created, metadata (JSON)."""
        columns = ["name", "version", "kind", "current", "created", "meta"]
        if not self.workspace.path.exists():
            return pd.DataFrame(columns=columns)
        with self.workspace._connect() as con:
            if _MODELS not in self.workspace._tables(con):
                return pd.DataFrame(columns=columns)
            frame = con.execute(
                f"""
                SELECT m.name, m.version, m.kind, coalesce(p.version = m.version, false) AS current,
                       m.created, m.meta
                FROM {_MODELS} m LEFT JOIN (
                    SELECT name, arg_max(version, seq) AS version FROM {_PROMOTIONS}
                    WHERE retired IS NULL GROUP BY name
                ) p ON p.name = m.name
                WHERE ? IS NULL OR m.name = ?
                ORDER BY m.name, m.version
                """,
                [name, name],
            ).df()
        return frame[columns]

    def promote(self, ref: str) -> ModelVersion:
        """Puts the version ``ref`` names into production (``NAME`` alone: its latest)."""
        name, version = parse_ref(ref)
        with self.workspace._transaction(_SCHEMA) as con:
            if version is None:
                (version,) = con.execute(
                    f"SELECT max(version) FROM {_MODELS} WHERE name = ?", [name]
                ).fetchone()
            exists = con.execute(
                f"SELECT count(*) FROM {_MODELS} WHERE name = ? AND version = ?", [name, version]
            ).fetchone()[0]
            if not exists:
                raise KeyError(f"no model '{ref}' to promote; saved: {self._summary(con)}.")
            _promote(con, name, version)
        return self.get(f"{name}@{version}")

    def rollback(self, name: str) -> ModelVersion:
        """Takes the version in production out, back to the one promoted before it."""
        _check_name(name)
        with self.workspace._transaction(_SCHEMA) as con:
            live = con.execute(
                f"SELECT seq, version FROM {_PROMOTIONS} WHERE name = ? AND retired IS NULL "
                "ORDER BY seq DESC LIMIT 2",
                [name],
            ).fetchall()
            if len(live) < 2:
                what = f"only version {live[0][1]} has been" if live else "no version has been"
                raise ValueError(
                    f"nothing to roll back to: {what} in production for '{name}'. "
                    "`trendcast models promote NAME@VERSION` puts any saved version in."
                )
            con.execute(
                f"UPDATE {_PROMOTIONS} SET retired = now() WHERE name = ? AND seq = ?",
                [name, live[0][0]],
            )
        return self.get(f"{name}@{live[1][1]}")

    def _folder(self, name: str, version: int) -> Path:
        return self.workspace.models_dir / name / f"v{version}"

    def _current(self, con, name: str) -> int:
        version = None
        if _PROMOTIONS in self.workspace._tables(con):
            version = _current_or_none(con, name)
        if version is None:
            raise KeyError(
                f"no model '{name}' in {self.workspace.path}; saved: {self._summary(con)}. "
                "Train one first (`trendcast train SALES --workspace ... --name NAME`)."
            )
        return version

    def _summary(self, con=None) -> str:
        if con is None:
            with self.workspace._connect() as con:
                return self._summary(con)
        if _MODELS not in self.workspace._tables(con):
            return "none"
        rows = con.execute(
            f"SELECT name, max(version) FROM {_MODELS} GROUP BY name ORDER BY name"
        ).fetchall()
        return ", ".join(f"{n} (versions 1..{v})" for n, v in rows) or "none"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"shop@3"`` -> ``("shop", 3)``; ``"shop"`` -> ``("shop", None)``."""
    found = _REF.match(str(ref))
    if found is None:
        raise ValueError(f"a model is named NAME or NAME@VERSION (e.g. shop@3), got {ref!r}.")
    _check_name(found["name"])
    return found["name"], int(found["version"]) if found["version"] else None


def _current_or_none(con, name: str) -> int | None:
    row = con.execute(
        f"SELECT version FROM {_PROMOTIONS} WHERE name = ? AND retired IS NULL "
        "ORDER BY seq DESC LIMIT 1",
        [name],
    ).fetchone()
    return None if row is None else row[0]


def _promote(con, name: str, version: int) -> None:
    (seq,) = con.execute(
        f"SELECT coalesce(max(seq), 0) + 1 FROM {_PROMOTIONS} WHERE name = ?", [name]
    ).fetchone()
    con.execute(f"INSERT INTO {_PROMOTIONS} VALUES (?, ?, ?, now(), NULL)", [name, version, seq])
