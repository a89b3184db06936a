"""Reading and writing frames and files; every write goes to a temporary file, then a rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from trendcast.data.validate import DataValidationError

_READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, then renames it to ``path``.

    A failure (or crash) before the rename leaves any previous file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file: mkstemp makes it owner-only
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_folder(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Calls ``write(tmp)`` on a fresh temporary folder beside ``path``, then puts it at
    ``path``, replacing any previous folder whole.

    A failure (or crash) before the move leaves any previous folder at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-new-"))
    incoming.chmod(0o777 & ~_umask())
    try:
        write(incoming)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    retired = None
    if path.exists():
        retired = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-old-"))
        path.rename(retired / path.name)
    incoming.rename(path)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the text cells a spreadsheet would run as formulas quoted (see above)."""
    out = None
    for column in df.columns:
        values = df[column]
        if not (pd.api.types.is_object_dtype(values) or isinstance(values.dtype, (
                pd.StringDtype, pd.CategoricalDtype))):  # fmt: skip
            continue
        text = values.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False).to_numpy(bool)
        if risky.any():
            out = df.copy() if out is None else out
            out[column] = values.astype(object).where(~risky, "'" + text.astype(object))
    return df if out is None else out


def read_frame(path: str | Path) -> pd.DataFrame:
    """Reads a CSV or Parquet file, with an error that says what went wrong."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataValidationError(
            f"cannot read '{path.suffix}' files.",
            frame=str(path),
            fix="give a .csv or .parquet file.",
        )
    if not path.exists():
        raise DataValidationError(
            "file not found.",
            frame=str(path),
            fix="check the path (relative to the current folder).",
        )
    return reader(path)


def write_frame(df: pd.DataFrame, path: str | Path) -> Path:
    """Writes ``df`` as CSV or Parquet (by the suffix of ``path``), atomically.

    In a CSV, a text cell that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return: an id such as ``=HYPERLINK(...)``) is
    written with a leading ``'``, so shop staff opening the file see the text. Numbers and
    Parquet files are written as they are.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        safe = spreadsheet_safe(df)
        return atomic_write(path, lambda tmp: safe.to_csv(tmp, index=False))
    if suffix in (".parquet", ".pq"):
        return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    raise ValueError(f"cannot write '{suffix}' files: name the output .csv or .parquet.")
