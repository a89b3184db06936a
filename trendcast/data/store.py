"""The workspace: one embedded DuckDB file holding datasets, forecasts, backtest results and
the registry of saved models.

Each write replaces a table and its catalog entry in one transaction, so a failure or a crash
mid-write leaves the previous state intact (DuckDB discards uncommitted work on recovery).
Readers open the file read-only, so several may read at once; a writer holds it alone, and
anyone else who tries meanwhile gets `WorkspaceBusyError` naming the process that holds it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import Columns, ShopData
from trendcast.errors import WorkspaceBusyError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_CATALOG = "_catalog"
_RUNS = "_runs"
_SIDE_FRAMES = ("static", "dynamic", "reviews")
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_CATALOG} (name VARCHAR PRIMARY KEY, kind VARCHAR, "
    "rows BIGINT, meta VARCHAR, written TIMESTAMP)",
    f"CREATE TABLE IF NOT EXISTS {_RUNS} (run_id VARCHAR PRIMARY KEY, command VARCHAR, "
    "tables VARCHAR, meta VARCHAR, written TIMESTAMP)",
)
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class Workspace:
    """A DuckDB file of named tables plus a catalog (kind, rows, metadata, time written).

    Args:
        path: the workspace file; created on first write.

    Example:
        >>> import pandas as pd, tempfile, os
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
        >>> ws.write("sales", pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"], "y": [1.0]}))
        >>> ws.read("sales")["y"].tolist()
        [1.0]
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, name: str, frame: Any, *, kind: str = "dataset", meta: dict | None = None):
        """Stores ``frame`` (pandas or polars) as table ``name``, replacing any previous one."""
        self.write_many({name: frame}, kind=kind, meta=meta)

    def write_many(
        self, frames: dict[str, Any], *, kind: str = "dataset", meta: dict | None = None
    ):
        """Stores several tables in one transaction: all of them land, or none."""
        for name in frames:
            _check_name(name)
        with self._transaction() as con:
            _write_tables(con, frames, kind, meta)

    def write_run(
        self,
        command: str,
        *,
        meta: dict,
        results: dict[str, Any] | None = None,
        kind: str = "result",
        shop: tuple[str, ShopData] | None = None,
        decisions: dict[str, Any] | None = None,
    ) -> str:
        """Stores what one run read and produced in one transaction, marked with a new run id,
        so a failed or killed run never leaves new inputs beside old results.

        Args:
            command: what ran (``"forecast"``, ``"train"``, ...).
            meta: what produced the tables (model reference, version, settings); every
                table's catalog entry carries it with the run id.
            results: tables written with ``kind``.
            shop: ``(name, data)``: the input, stored as by `write_shop`.
            decisions: tables written with kind ``"decision"`` (orders, prices, ...).

        Returns:
            The run id, also a row of `runs` listing the tables written.
        """
        run_id = new_run_id()
        marked = {**meta, "run_id": run_id}
        shop_frames, shop_meta = _shop_tables(*shop) if shop else ({}, {})
        results, decisions = results or {}, decisions or {}
        tables = [*shop_frames, *results, *decisions]
        for name in tables:
            _check_name(name)
        with self._transaction() as con:
            _write_tables(con, shop_frames, "shop", {**shop_meta, **marked})
            _write_tables(con, results, kind, marked)
            _write_tables(con, decisions, "decision", marked)
            con.execute(
                f"INSERT INTO {_RUNS} VALUES (?, ?, ?, ?, now())",
                [run_id, command, json.dumps(tables), json.dumps(meta, default=str)],
            )
        return run_id

    def runs(self) -> pd.DataFrame:
        """One row per stored run: run id, command, tables written (JSON), metadata, time."""
        with self._connect() as con:
            if _RUNS not in self._tables(con):
                return pd.DataFrame(columns=["run_id", "command", "tables", "meta", "written"])
            return con.execute(f"SELECT * FROM {_RUNS} ORDER BY written, run_id").df()

    def append(self, name: str, frame: Any, *, kind: str = "dataset", meta: dict | None = None):
        """Adds the rows of ``frame`` to table ``name`` (created if absent) in one transaction,
        without rewriting the rows already there; the columns must match the table's."""
        _check_name(name)
        df = to_pandas(frame, name=name)
        with self._transaction() as con:
            con.register("_incoming", df)
            if name in self._names(con):
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _incoming')
            else:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
            rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            _record(con, name, kind, rows, meta)

    def read(self, name: str) -> pd.DataFrame:
        """Returns table ``name`` as a pandas frame."""
        _check_name(name)
        with self._connect() as con:
            if name not in self._names(con):
                raise KeyError(
                    f"no table '{name}' in {self.path}; the workspace has "
                    f"{sorted(self._names(con))}. Run `trendcast demo` or load data first."
                )
            return con.execute(f'SELECT * FROM "{name}"').df()

    def meta(self, name: str) -> dict:
        with self._connect() as con:
            row = None
            if _CATALOG in self._tables(con):
                row = con.execute(f"SELECT meta FROM {_CATALOG} WHERE name = ?", [name]).fetchone()
        if row is None:
            raise KeyError(f"no table '{name}' in {self.path}.")
        return json.loads(row[0])

    def catalog(self) -> pd.DataFrame:
        """One row per table: name, kind, rows, metadata (JSON) and when it was written."""
        with self._connect() as con:
            if _CATALOG not in self._tables(con):
                return pd.DataFrame(columns=["name", "kind", "rows", "meta", "written"])
            return con.execute(f"SELECT * FROM {_CATALOG} ORDER BY name").df()

    def delete(self, name: str) -> None:
        _check_name(name)
        with self._transaction() as con:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
            con.execute(f"DELETE FROM {_CATALOG} WHERE name = ?", [name])

    @property
    def models_dir(self) -> Path:
        """Folder beside the workspace file that holds the saved models' files."""
        return self.path.with_name(self.path.name + ".models")

    @property
    def models(self):
        """The registry of saved models: versions, promotion, rollback (`ModelRegistry`)."""
        from trendcast.data.registry import ModelRegistry

        return ModelRegistry(self)

    def write_shop(self, name: str, data: ShopData) -> None:
        """Stores sales and side frames as ``{name}_sales``, ``{name}_static``, ... at once."""
        frames, meta = _shop_tables(name, data)
        self.write_many(frames, kind="shop", meta=meta)

    def read_shop(self, name: str) -> ShopData:
        meta = self.meta(f"{name}_sales")
        with self._connect() as con:
            present = self._names(con)
        parts = {p: self.read(f"{name}_{p}") for p in _SIDE_FRAMES if f"{name}_{p}" in present}
        return ShopData(
            sales=self.read(f"{name}_sales"),
            freq=meta["freq"],
            columns=Columns(**meta["columns"]),
            report=meta["report"],
            **parts,
        )

    @contextmanager
    def _connect(self, write: bool = False, schema: Sequence[str] = ()):
        """A connection, read-only unless ``write``; a write connection first creates the
        workspace's own tables (and those of ``schema``) where missing."""
        import duckdb

        if not write and not self.path.exists():
            raise FileNotFoundError(
                f"no workspace at {self.path}: run `trendcast demo` or write data to it first."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), read_only=not write)
        except duckdb.IOException as error:
            raise _busy(self.path, error) from None
        try:
            if write:
                for statement in (*_SCHEMA, *schema):
                    con.execute(statement)
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self, schema: Sequence[str] = ()):
        """A write connection whose statements all land (COMMIT) or none do (ROLLBACK)."""
        with self._connect(write=True, schema=schema) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _names(con) -> set[str]:
        if _CATALOG not in Workspace._tables(con):
            return set()
        return {row[0] for row in con.execute(f"SELECT name FROM {_CATALOG}").fetchall()}

    @staticmethod
    def _tables(con) -> set[str]:
        """Every table in the file, the workspace's own included."""
        return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def as_workspace(workspace: Workspace | str | Path) -> Workspace:
    """A `Workspace` from itself or from the path of its file."""
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def new_run_id() -> str:
    """A run id that sorts by time and is unique: ``20261203T071502-3f9a1c``."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _shop_tables(name: str, data: ShopData) -> tuple[dict[str, Any], dict]:
    """The tables of a shop's data, and the catalog metadata that reads them back."""
    frames = {f"{name}_sales": data.sales}
    for part in _SIDE_FRAMES:
        if getattr(data, part) is not None:
            frames[f"{name}_{part}"] = getattr(data, part)
    return frames, {"freq": data.freq, "columns": asdict(data.columns), "report": data.report}


def _write_tables(con, frames: dict[str, Any], kind: str, meta: dict | None) -> None:
    for name, frame in frames.items():
        df = to_pandas(frame, name=name)
        con.register("_incoming", df)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        con.unregister("_incoming")
        _record(con, name, kind, len(df), meta)


def _busy(path: Path, error: Exception) -> Exception:
    """`WorkspaceBusyError` naming the process that holds ``path``, from DuckDB's lock error;
    any other I/O error as it was."""
    found = _HOLDER.search(str(error))
    if found is None:
        return error
    pid = found["pid"]
    try:  # the holder's command line says more than the interpreter's path
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        holder = " ".join(raw.decode().split())
    except OSError:
        holder = found["program"]
    return WorkspaceBusyError(
        f"the workspace {path} is in use by another process, PID {pid} ({holder}), which "
        f"writes to it. Wait for it to finish and try again, or stop it (`kill {pid}`)."
    )


def _record(con, name: str, kind: str, rows: int, meta: dict | None) -> None:
    """Puts ``name``'s row in the catalog, replacing the previous one."""
    con.execute(f"DELETE FROM {_CATALOG} WHERE name = ?", [name])
    con.execute(
        f"INSERT INTO {_CATALOG} VALUES (?, ?, ?, ?, now())",
        [name, kind, rows, json.dumps(meta or {}, default=str)],
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(
            f"table name {name!r} is not allowed: use letters, digits and underscores, starting "
            "with a letter (at most 63 characters)."
        )
