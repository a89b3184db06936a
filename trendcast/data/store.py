"""The workspace: one embedded DuckDB file holding datasets, forecasts and backtest results.

Each write replaces a table and its catalog entry in one transaction, so a failure or a crash
mid-write leaves the previous state intact (DuckDB discards uncommitted work on recovery).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import Columns, ShopData

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_CATALOG = "_catalog"
_SIDE_FRAMES = ("static", "dynamic", "reviews")


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
            for name, frame in frames.items():
                df = to_pandas(frame, name=name)
                con.register("_incoming", df)
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
                con.unregister("_incoming")
                _record(con, name, kind, len(df), meta)

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
            row = con.execute(f"SELECT meta FROM {_CATALOG} WHERE name = ?", [name]).fetchone()
        if row is None:
            raise KeyError(f"no table '{name}' in {self.path}.")
        return json.loads(row[0])

    def catalog(self) -> pd.DataFrame:
        """One row per table: name, kind, rows, metadata (JSON) and when it was written."""
        with self._connect() as con:
            return con.execute(f"SELECT * FROM {_CATALOG} ORDER BY name").df()

    def delete(self, name: str) -> None:
        _check_name(name)
        with self._transaction() as con:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
            con.execute(f"DELETE FROM {_CATALOG} WHERE name = ?", [name])
        shutil.rmtree(self.models_dir / name, ignore_errors=True)

    @property
    def models_dir(self) -> Path:
        """Folder beside the workspace file that holds saved models (weights, adapters)."""
        return self.path.with_name(self.path.name + ".models")

    def save_model(
        self, name: str, write: Callable[[Path], None], *, meta: dict | None = None
    ) -> Path:
        """Stores a model's files under ``name``, replacing any previous model of that name.

        ``write(folder)`` writes the files into a fresh temporary folder, which then replaces
        the stored one whole: a failure part-way leaves the previous model intact.
        """
        from trendcast.data.io import atomic_folder

        _check_name(name)
        target = atomic_folder(self.models_dir / name, write)
        with self._transaction() as con:
            _record(con, name, "model", 0, meta)
        return target

    def model_path(self, name: str) -> Path:
        """The folder of the model saved as ``name``."""
        _check_name(name)
        path = self.models_dir / name
        if not path.is_dir():
            saved = sorted(p.name for p in self.models_dir.glob("[A-Za-z]*") if p.is_dir())
            raise KeyError(
                f"no model '{name}' in {self.path}; saved models: {saved or 'none'}. Fine-tune "
                "one first (e.g. `trendcast finetune ... --name NAME`)."
            )
        return path

    def write_shop(self, name: str, data: ShopData) -> None:
        """Stores sales and side frames as ``{name}_sales``, ``{name}_static``, ... at once."""
        frames = {f"{name}_sales": data.sales}
        frames.update(
            {
                f"{name}_{part}": getattr(data, part)
                for part in _SIDE_FRAMES
                if getattr(data, part) is not None
            }
        )
        meta = {"freq": data.freq, "columns": asdict(data.columns), "report": data.report}
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
    def _connect(self, write: bool = False):
        import duckdb

        if not write and not self.path.exists():
            raise FileNotFoundError(
                f"no workspace at {self.path}: run `trendcast demo` or write data to it first."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {_CATALOG} (name VARCHAR PRIMARY KEY, kind VARCHAR, "
                "rows BIGINT, meta VARCHAR, written TIMESTAMP)"
            )
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self):
        """A write connection whose statements all land (COMMIT) or none do (ROLLBACK)."""
        with self._connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _names(con) -> set[str]:
        return {row[0] for row in con.execute(f"SELECT name FROM {_CATALOG}").fetchall()}


def as_workspace(workspace: Workspace | str | Path) -> Workspace:
    """A `Workspace` from itself or from the path of its file."""
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


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
