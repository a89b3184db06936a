"""The workspace: one embedded DuckDB file holding datasets, forecasts, backtest results and
the registry of saved models.

Each write replaces a table and its catalog entry in one transaction, so a failure or a crash
mid-write leaves the previous state intact (DuckDB discards uncommitted work on recovery).
Readers open the file read-only, so several may read at once; a writer holds it alone, and
anyone else who tries meanwhile gets `WorkspaceBusyError` naming the process that holds it.

Run history: a table written by a run (`Workspace.write_run`) keeps the versions of the last
runs that wrote it, readable with ``read(name, run=RUN_ID)``. When a run replaces the table,
the version it replaces is renamed aside (no copy), and one equal to the new version is not
stored twice. Each table keeps its last ``keep_runs`` versions (`KEEP_RUNS` unless set with
`Workspace.set_keep_runs`); older ones are dropped in the run's transaction, and a run drops
out of `runs` once none of its tables is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import Columns, ShopData
from trendcast.data.io import remove_leftovers
from trendcast.errors import WorkspaceBusyError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_CATALOG = "_catalog"
_RUNS = "_runs"
_HISTORY = "_history"
_SETTINGS = "_settings"
_ARCHIVE = "_run_"  # prefix of the tables holding replaced versions; no user name starts with _
KEEP_RUNS = 20  # versions kept per table, unless the workspace sets its own
_SIDE_FRAMES = ("static", "dynamic", "reviews")
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_CATALOG} (name VARCHAR PRIMARY KEY, kind VARCHAR, "
    "rows BIGINT, meta VARCHAR, written TIMESTAMP)",
    f"CREATE TABLE IF NOT EXISTS {_RUNS} (run_id VARCHAR PRIMARY KEY, command VARCHAR, "
    "tables VARCHAR, meta VARCHAR, written TIMESTAMP)",
    # One row per table a run wrote; `stored` is the table holding that version: the table
    # itself while current, else its archive. Runs that wrote equal content share one.
    f"CREATE TABLE IF NOT EXISTS {_HISTORY} (name VARCHAR, run_id VARCHAR, stored VARCHAR, "
    "kind VARCHAR, rows BIGINT, meta VARCHAR, digest VARCHAR, written TIMESTAMP)",
    f"CREATE TABLE IF NOT EXISTS {_SETTINGS} (key VARCHAR PRIMARY KEY, value VARCHAR)",
)
LOCK_WAIT = 30.0  # seconds to wait for another process's lock; TRENDCAST_LOCK_WAIT overrides
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

        The versions these tables replace stay readable by their run ids (``read(name,
        run=...)``); each table keeps the last `keep_runs`, older ones are dropped here.
        """
        run_id = new_run_id()
        marked = {**meta, "run_id": run_id}
        shop_frames, shop_meta = _shop_tables(*shop) if shop else ({}, {})
        results, decisions = results or {}, decisions or {}
        tables = [*shop_frames, *results, *decisions]
        for name in tables:
            _check_name(name)
        twice = sorted({name for name in tables if tables.count(name) > 1})
        if twice:
            raise ValueError(f"a run writes each table once; given more than once: {twice}.")
        with self._transaction() as con:
            if shop:
                _retire_side_tables(con, shop[0], shop_frames)
            _write_tables(con, shop_frames, "shop", {**shop_meta, **marked}, run_id)
            _write_tables(con, results, kind, marked, run_id)
            _write_tables(con, decisions, "decision", marked, run_id)
            con.execute(
                f"INSERT INTO {_RUNS} VALUES (?, ?, ?, ?, now())",
                [run_id, command, json.dumps(tables), json.dumps(meta, default=str)],
            )
            _prune(con, tables, _keep_runs(con))
        return run_id

    def runs(self) -> pd.DataFrame:
        """One row per stored run: run id, command, tables written (JSON), metadata, time."""
        with self._connect() as con:
            if _RUNS not in self._tables(con):
                return pd.DataFrame(columns=["run_id", "command", "tables", "meta", "written"])
            return con.execute(f"SELECT * FROM {_RUNS} ORDER BY written, run_id").df()

    def history(self, name: str | None = None) -> pd.DataFrame:
        """The kept versions of the tables runs wrote (of ``name`` only, when given), newest
        first: table name, run id, command, kind, rows, whether it is the current version,
        metadata (JSON) and when it was written."""
        columns = ["name", "run_id", "command", "kind", "rows", "current", "meta", "written"]
        with self._connect() as con:
            if _HISTORY not in self._tables(con):
                return pd.DataFrame(columns=columns)
            where, params = ("WHERE h.name = ?", [name]) if name else ("", [])
            return con.execute(
                f"SELECT h.name, h.run_id, r.command, h.kind, h.rows, h.stored = h.name AND "
                "row_number() OVER (PARTITION BY h.name ORDER BY h.written DESC, h.run_id DESC)"
                f" = 1 AS current, h.meta, h.written FROM {_HISTORY} h LEFT JOIN {_RUNS} r "
                f"USING (run_id) {where} ORDER BY h.written DESC, h.run_id DESC, h.name",
                params,
            ).df()

    @property
    def keep_runs(self) -> int:
        """How many runs' versions each table keeps: the workspace's setting, else `KEEP_RUNS`."""
        if not self.path.exists():
            return KEEP_RUNS
        with self._connect() as con:
            return _keep_runs(con)

    def set_keep_runs(self, keep: int) -> int:
        """Keeps the last ``keep`` runs' versions of each table from now on, and drops the
        older ones now, in one transaction; returns how many versions were dropped."""
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep at least the current version (1 or more), got {keep!r}.")
        with self._transaction() as con:
            con.execute(f"INSERT OR REPLACE INTO {_SETTINGS} VALUES ('keep_runs', ?)", [str(keep)])
            names = [
                row[0] for row in con.execute(f"SELECT DISTINCT name FROM {_HISTORY}").fetchall()
            ]
            return _prune(con, names, keep)

    def append(self, name: str, frame: Any, *, kind: str = "dataset", meta: dict | None = None):
        """Adds the rows of ``frame`` to table ``name`` (created if absent) in one transaction,
        without rewriting the rows already there; the columns must match the table's."""
        _check_name(name)
        df = to_pandas(frame, name=name)
        with self._transaction() as con:
            con.register("_incoming", df)
            if name in self._names(con):
                _adopt(con, name)
                archive = _detach(con, name)
                if archive:  # a run's version stays as it was; the appended table is new
                    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM {_quote(archive)}')
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _incoming')
            else:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
            rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            _record(con, name, kind, rows, meta)

    def read(self, name: str, *, run: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Returns table ``name`` as a pandas frame: its current version, or the one written
        by ``run`` while kept (`history` lists them); ``limit``: its first rows only."""
        _check_name(name)
        with self._connect() as con:
            present = self._names(con)
            # A run's version stays readable after a later shop without that side frame.
            retired = run is not None and name in self._kept_names(con)
            if name not in present and not retired:
                raise KeyError(
                    f"no table '{name}' in {self.path}; the workspace has "
                    f"{sorted(present)}. Run `trendcast demo` or load data first."
                )
            table = f'"{name}"' if run is None else _quote(self._stored(con, name, run))
            if limit is None:
                return con.execute(f"SELECT * FROM {table}").df()
            return con.execute(f"SELECT * FROM {table} LIMIT ?", [int(limit)]).df()

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
            con.execute(f"DELETE FROM {_HISTORY} WHERE name = ?", [name])
            _drop_unreferenced(con)

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
        for table in frames:
            _check_name(table)
        with self._transaction() as con:
            _retire_side_tables(con, name, frames)
            _write_tables(con, frames, "shop", meta)

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
        con = self._open(duckdb, write)
        try:
            if write:
                for statement in (*_SCHEMA, *schema):
                    con.execute(statement)
            yield con
        finally:
            con.close()

    def wait_until_free(self) -> None:
        """Returns once no other process holds the workspace (waiting as a write would),
        else raises `WorkspaceBusyError`: a long command checks before it computes, not only
        when it stores."""
        import duckdb

        if self.path.exists():
            self._open(duckdb, write=True).close()

    def _open(self, duckdb, write: bool):
        """A DuckDB connection; while another process holds the file, retried for up to
        `LOCK_WAIT` seconds, then a `WorkspaceBusyError` naming that process."""
        deadline = time.monotonic() + lock_wait()
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not write)
                break
            except duckdb.IOException as error:
                busy = _busy(self.path, error)
                if not isinstance(busy, WorkspaceBusyError) or time.monotonic() > deadline:
                    raise busy from None
                time.sleep(0.1)
        if write:  # what killed writers left beside the workspace and its models
            remove_leftovers(self.path.parent)
            if self.models_dir.is_dir():
                for folder in (self.models_dir, *self.models_dir.iterdir()):
                    if folder.is_dir():
                        remove_leftovers(folder)
        return con

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

    def _stored(self, con, name: str, run: str) -> str:
        """The table holding the version of ``name`` that ``run`` wrote."""
        row = None
        if _HISTORY in self._tables(con):
            sql = f"SELECT stored FROM {_HISTORY} WHERE name = ? AND run_id = ?"
            row = _first(con, sql, [name, run])
        if row is not None:
            return row[0]
        current = _first(con, f"SELECT meta FROM {_CATALOG} WHERE name = ?", [name])
        if (
            current and json.loads(current[0]).get("run_id") == run
        ):  # written before runs kept history
            return name
        kept = []
        if _HISTORY in self._tables(con):
            kept = [
                r[0]
                for r in con.execute(
                    f"SELECT run_id FROM {_HISTORY} WHERE name = ? ORDER BY written DESC, "
                    "run_id DESC",
                    [name],
                ).fetchall()
            ]
        raise KeyError(
            f"table '{name}' in {self.path} keeps no version of run '{run}'; "
            + (
                f"its kept runs, newest first: {', '.join(kept)}."
                if kept
                else "no run's version of it is kept."
            )
        )

    @staticmethod
    def _kept_names(con) -> set[str]:
        """The tables some run's kept version is of."""
        if _HISTORY not in Workspace._tables(con):
            return set()
        return {row[0] for row in con.execute(f"SELECT DISTINCT name FROM {_HISTORY}").fetchall()}

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


def _write_tables(
    con, frames: dict[str, Any], kind: str, meta: dict | None, run_id: str | None = None
) -> None:
    """Replaces each table; a run's version it replaces moves aside and stays readable, and a
    run (``run_id``) adds its own version to the history."""
    for name, frame in frames.items():
        df = to_pandas(frame, name=name)
        _adopt(con, name)
        digest = _digest(df) if run_id else None
        if digest is None or digest != _current_digest(con, name):
            _detach(con, name)
            con.register("_incoming", df)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        # else: the run wrote what the table already holds, and shares that version
        _record(con, name, kind, len(df), meta)
        if run_id:
            con.execute(
                f"INSERT INTO {_HISTORY} VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                [name, run_id, name, kind, len(df), json.dumps(meta or {}, default=str), digest],
            )


def _retire_side_tables(con, shop: str, frames: dict[str, Any]) -> None:
    """Takes out of the catalog the side frames of ``shop`` the new one lacks, so it is never
    read back with an earlier shop's; runs' versions of them stay readable by run id."""
    for part in _SIDE_FRAMES:
        name = f"{shop}_{part}"
        if name in frames or name not in Workspace._names(con):
            continue
        _adopt(con, name)
        _detach(con, name)
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute(f"DELETE FROM {_CATALOG} WHERE name = ?", [name])


def _digest(df: pd.DataFrame) -> str | None:
    """A hash of the frame's columns, types and values; None when a value cannot be hashed."""
    try:
        values = pd.util.hash_pandas_object(df, index=False).to_numpy()
    except TypeError:  # lists or dicts in cells
        return None
    head = json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode()
    return hashlib.sha256(head + values.tobytes()).hexdigest()


def _current_digest(con, name: str) -> str | None:
    sql = f"SELECT digest FROM {_HISTORY} WHERE stored = ? AND digest IS NOT NULL LIMIT 1"
    row = _first(con, sql, [name])
    return None if row is None else row[0]


def _adopt(con, name: str) -> None:
    """Enters into the history the current version of a table a run wrote before runs kept
    history, so replacing it keeps it too."""
    if _first(con, f"SELECT count(*) FROM {_HISTORY} WHERE name = ?", [name])[0]:
        return
    row = _first(con, f"SELECT kind, rows, meta, written FROM {_CATALOG} WHERE name = ?", [name])
    run_id = json.loads(row[2]).get("run_id") if row else None
    if run_id:
        con.execute(
            f"INSERT INTO {_HISTORY} VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            [name, str(run_id), name, row[0], row[1], row[2], row[3]],
        )


def _detach(con, name: str) -> str | None:
    """Renames table ``name`` aside when runs' versions are stored in it, and points them at
    the new name; returns it (None: no run's version was there, nothing moved)."""
    (run_id,) = _first(con, f"SELECT min(run_id) FROM {_HISTORY} WHERE stored = ?", [name])
    if run_id is None:
        return None
    # Unique: a run writes a table once, and its version moves aside at most once.
    archive = f"{_ARCHIVE}{run_id}_{name}"
    con.execute(f'ALTER TABLE "{name}" RENAME TO {_quote(archive)}')
    con.execute(f"UPDATE {_HISTORY} SET stored = ? WHERE stored = ?", [archive, name])
    return archive


def _prune(con, names: Sequence[str], keep: int) -> int:
    """Drops the versions of ``names`` older than the last ``keep``, the tables that held
    them, and the runs none of whose versions is left; returns how many versions went."""
    stale = []
    for name in names:
        stale += con.execute(
            f"SELECT name, run_id FROM {_HISTORY} WHERE name = ? "
            "ORDER BY written DESC, run_id DESC OFFSET ?",
            [name, keep],
        ).fetchall()
    for name, run_id in stale:
        con.execute(f"DELETE FROM {_HISTORY} WHERE name = ? AND run_id = ?", [name, run_id])
    _drop_unreferenced(con)
    for run_id in {run_id for _, run_id in stale}:
        if not _first(con, f"SELECT count(*) FROM {_HISTORY} WHERE run_id = ?", [run_id])[0]:
            con.execute(f"DELETE FROM {_RUNS} WHERE run_id = ?", [run_id])
    return len(stale)


def _drop_unreferenced(con) -> None:
    """Drops the archived versions no history row points at any more."""
    kept = {row[0] for row in con.execute(f"SELECT DISTINCT stored FROM {_HISTORY}").fetchall()}
    for table in Workspace._tables(con):
        if table.startswith(_ARCHIVE) and table not in kept:
            con.execute(f"DROP TABLE {_quote(table)}")


def _keep_runs(con) -> int:
    row = None
    if _SETTINGS in Workspace._tables(con):
        row = _first(con, f"SELECT value FROM {_SETTINGS} WHERE key = 'keep_runs'")
    return KEEP_RUNS if row is None else int(row[0])


def _first(con, sql: str, params: Sequence = ()) -> tuple | None:
    """The first row of a query, or None. The result is read to its end: DuckDB refuses a
    connection's next statement while one is pending."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def lock_wait() -> float:
    """Seconds to wait for a workspace another process holds: ``TRENDCAST_LOCK_WAIT``, else
    `LOCK_WAIT`."""
    try:
        return max(0.0, float(os.environ.get("TRENDCAST_LOCK_WAIT", LOCK_WAIT)))
    except ValueError:
        return LOCK_WAIT


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
        f"writes to it (waited {lock_wait():g} s). Wait for it to finish and try again, or "
        f"stop it (`kill {pid}`); TRENDCAST_LOCK_WAIT sets how long to wait."
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
