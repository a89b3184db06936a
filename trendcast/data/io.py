"""Reading and writing frames and files: files are read as written, without guessing types, and
every write goes to a temporary file, then a rename."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from trendcast.errors import DataValidationError, Fix, Setting


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, then renames it to ``path``.

    A failure (or crash) before the rename leaves any previous file at ``path`` untouched.
    Temporary files carry their process id, and those of processes no longer running (killed
    mid-write) are removed on the next write beside them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
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

    The finished folder is first renamed ``ready``; the old one is moved aside and the ready
    one in. A crash at any point leaves either folder complete: one that left ``path`` empty
    is undone by `recover_folder`, which this and every loader call first (the ready folder
    goes in if there is one, else the old one goes back), and the leftovers of dead
    processes are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(path)
    incoming = Path(tempfile.mkdtemp(dir=path.parent, prefix=_leftover(path.name, "new")))
    incoming.chmod(0o777 & ~_umask())
    try:
        write(incoming)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    ready = incoming.with_name(incoming.name.replace("-new-", "-ready-", 1))
    incoming.rename(ready)
    retired = None
    if path.exists():
        retired = ready.with_name(ready.name.replace("-ready-", "-old-", 1))
        path.rename(retired)
    ready.rename(path)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return path


def recover_folder(path: str | Path) -> None:
    """Completes or undoes a replacement of the folder ``path`` that a dead process left
    half-done (see `atomic_folder`), and removes what dead processes left beside it."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    found = _dead_leftovers(path.parent, path.name)
    if not path.exists():
        for kind in ("ready", "old"):  # the newest finished folder, else the one replaced
            folders = sorted(
                (p for k, p in found if k == kind and p.is_dir()), key=lambda p: p.stat().st_mtime
            )
            if folders:
                folders[-1].rename(path)
                break
    remove_leftovers(path.parent, path.name)


_LEFTOVER = re.compile(r"^\.(?P<name>.+?)(?:-(?P<kind>new|ready|old)-|\.)(?P<pid>\d+)[.-]")


def _leftover(name: str, kind: str) -> str:
    return f".{name}-{kind}-{os.getpid()}-"


def _dead_leftovers(folder: Path, name: str | None = None) -> list[tuple[str, Path]]:
    """(kind, path) of the temporary files (kind ``tmp``) and folders (``new``, ``ready``,
    ``old``) in ``folder`` of processes no longer running; of ``name`` only, when given."""
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        kind = match["kind"] or ("tmp" if entry.name.endswith(".tmp") else None)
        if kind is not None and not _running(int(match["pid"])):
            found.append((kind, entry))
    return found


def remove_leftovers(folder: str | Path, name: str | None = None) -> int:
    """Removes the temporary files and folders of dead processes in ``folder`` (of ``name``
    only, when given); the number removed. A half-done folder replacement is for
    `recover_folder` to finish first."""
    removed = 0
    for _, entry in _dead_leftovers(Path(folder), name):
        try:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed += 1
        except OSError:
            pass  # another process cleaned it first
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process: another thread may be writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


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


def read_frame(
    path: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    text_columns: Collection[str] | bool = (),
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Reads a CSV, Parquet or Excel (.xlsx) file as it is written, or says why it cannot.

    CSV: the separator is detected (``,`` ``;`` tab ``|``) unless ``sep`` is given; the
    encoding from a byte-order mark (UTF-8, UTF-16), else UTF-8, else Windows-1252 (Latin-1),
    which ``frame.attrs["notes"]`` then says, as it says a detected separator other than a
    comma. Quoted fields may hold separators and line breaks. Nothing is re-typed by guess: a
    column becomes numbers (or booleans) only when every value is one and none is written
    with a leading zero (``007`` stays text); ``text_columns`` (ids; True: every column) stay
    text whatever they hold, and only an empty cell is missing in them (``NA`` is an id).
    Elsewhere ``NA``, ``NaN``, ``null``, ``None`` and empty cells are missing. Dates stay
    text, for the validator to read in one layout.

    Raises:
        DataValidationError: naming the file (and line) and how to fix it, for a missing file,
            an unknown suffix, an empty file, a line with more fields than the header, an
            unclosed quote, a header naming a column twice, or text in another encoding.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "sales.csv"
        >>> _ = path.write_text("unique_id;ds;y\\n007;2024-01-01;2\\n", encoding="utf-8-sig")
        >>> frame = read_frame(path)
        >>> frame.to_dict("records"), frame.attrs["notes"]
        ([{'unique_id': '007', 'ds': '2024-01-01', 'y': 2}], ["separator ';' detected"])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".tsv", ".parquet", ".pq", ".xlsx"):
        raise DataValidationError(
            f"cannot read '{path.suffix}' files.",
            frame=str(path),
            fix="give a .csv, .parquet or .xlsx file.",
        )
    if not path.is_file():
        raise DataValidationError(
            "file not found." if not path.exists() else "is not a file.",
            frame=str(path),
            fix="check the path (relative to the current folder).",
        )
    with path.open("rb") as handle:
        return read_source(
            handle,
            name=str(path),
            kind=suffix.lstrip("."),
            sep=sep,
            encoding=encoding,
            text_columns=text_columns,
            sheet=sheet,
        )


def read_source(
    source: BinaryIO,
    *,
    name: str,
    kind: str = "csv",
    sep: str | None = None,
    encoding: str | None = None,
    text_columns: Collection[str] | bool = (),
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """`read_frame` of an open binary file (an upload): ``kind`` is its format, ``csv``,
    ``parquet`` or ``xlsx``; ``name`` names it in errors."""
    if kind in ("parquet", "pq"):
        frame = _read_parquet(source, name)
    elif kind == "xlsx":
        frame = _read_excel(source, name, text_columns, sheet)
    else:
        frame = _read_csv(source, name, sep, encoding, text_columns)
    frame.attrs.setdefault("notes", [])
    return frame


def _read_parquet(source: BinaryIO, name: str) -> pd.DataFrame:
    import pyarrow

    try:
        return pd.read_parquet(source)
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        raise DataValidationError(
            f"is not a readable Parquet file ({_first_line(error)}).",
            frame=name,
            fix="write it again with pandas, polars, DuckDB or Spark, or give it as CSV.",
        ) from None


def _read_excel(
    source: BinaryIO, name: str, text_columns: Collection[str] | bool, sheet: str | int | None
) -> pd.DataFrame:
    from zipfile import BadZipFile

    try:  # cells' stored values: a formula is read as its last result, never evaluated
        frame = pd.read_excel(source, sheet_name=0 if sheet is None else sheet, dtype=object,
                              engine="openpyxl")  # fmt: skip
    except (BadZipFile, KeyError, ValueError, OSError) as error:
        raise DataValidationError(
            f"is not a readable Excel workbook, or has no such sheet ({_first_line(error)}).",
            frame=name,
            fix="save it as .xlsx from your spreadsheet, or export the sheet as CSV.",
        ) from None
    _check_header([str(c) for c in frame.columns], name)
    for column in frame.columns:
        if text_columns is True or column in text_columns:
            frame[column] = frame[column].map(_cell_text, na_action="ignore")
    return frame.infer_objects()


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as its text: 12 (stored as 12.0) is '12'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_SEPARATORS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16
# Written for "no value" by spreadsheets, databases and pandas; missing except in text columns.
_MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "none",
                      "#N/A", "<NA>"})  # fmt: skip
_LEADING_ZERO = r"^\s*[+-]?0\d"
# attrs key: columns whose numbers read two ways, with an example (see `_typed`).
AMBIGUOUS = "ambiguous_numbers"
# Numbers as a decimal-comma locale writes them (1.234,5 or 2,55), and dotted ones grouping
# thousands could explain (1.447).
_COMMA_NUMBER = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?"
_DOT_GROUPED = r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+"
_BOOLEANS = {"true": True, "false": False, "TRUE": True, "FALSE": False, "True": True,
             "False": False}  # fmt: skip


def _read_csv(
    source: BinaryIO,
    name: str,
    sep: str | None,
    encoding: str | None,
    text_columns: Collection[str] | bool,
) -> pd.DataFrame:
    notes: list[str] = []
    start = source.tell()
    sample = source.read(_SNIFF_BYTES)
    if not sample.strip():
        raise DataValidationError(
            "the file is empty.", frame=name, fix="check the export that wrote it."
        )
    guessed = encoding is None
    encoding = encoding or _encoding(sample)
    text = sample.decode(encoding, errors="ignore").lstrip("\ufeff")
    if sep is None:
        sep = _sniff_separator(text)
        if sep != ",":
            notes.append(f"separator {sep!r} detected")
    _check_header(_header(text, sep), name)
    for attempt in (encoding, "cp1252", "latin-1") if guessed else (encoding,):
        source.seek(start)
        try:
            frame = _parse_csv(source, name, sep, attempt)
        except UnicodeDecodeError as error:
            if not guessed or attempt == "latin-1":
                raise DataValidationError(
                    f"is not {attempt} text (byte {error.start:,} is {error.object[error.start:error.start + 1]!r}).",
                    frame=name,
                    fix=Fix.of("pass the encoding it was saved in, e.g. ",
                               Setting("encoding", "latin-1"), " or save it as UTF-8."),
                ) from None  # fmt: skip
            continue
        if attempt != encoding:
            notes.append(
                "not UTF-8 text: read as Windows-1252 (Latin-1); if letters look wrong, pass "
                "the encoding it was saved in (encoding=..., --encoding)"
            )
        break
    frame = _typed(frame, text_columns, notes, decimal_comma=sep == ";")
    frame.attrs["notes"] = notes  # beside any AMBIGUOUS columns
    return frame


def _encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    # UTF-16 without a mark: every other byte of ASCII text is 0.
    if sample[1::2].count(0) > len(sample) // 4:
        return "utf-16-le"
    if sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    return "utf-8"


def _sniff_separator(text: str) -> str:
    """The separator that splits the first lines into the same number of fields (the most)."""
    lines = text.splitlines()[:50]
    best, best_score = ",", (False, 1)
    for sep in _SEPARATORS:
        rows = [row for row in csv.reader(lines, delimiter=sep) if row]
        if not rows or len(rows[0]) < 2:
            continue
        consistent = sum(len(row) == len(rows[0]) for row in rows) >= 0.9 * len(rows)
        score = (consistent, len(rows[0]))
        if score > best_score:
            best, best_score = sep, score
    return best


def _header(text: str, sep: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text), delimiter=sep), [])
    except csv.Error:
        return []


def _check_header(names: list[str], name: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1 and n.strip()})
    if repeated:
        raise DataValidationError(
            f"the header names columns {repeated} more than once.",
            frame=name,
            fix="give every column its own name.",
        )


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _parse_csv(source: BinaryIO, name: str, sep: str, encoding: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # More fields than the header in the first lines: pandas warns and drops them.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(source, sep=sep, encoding=encoding, dtype=str, index_col=False,
                               keep_default_na=False, na_values=[""])  # fmt: skip
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            "the file is empty.", frame=name, fix="check the export that wrote it."
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error) as error:
        message = str(error)
        if found := _FIELDS.search(message):
            expected, line, saw = found.groups()
            problem = f"line {line} has {saw} fields where the header has {expected}."
        elif found := _OPEN_QUOTE.search(message):
            problem = f'a quote (") opened on data row {found[1]} is never closed.'
        elif isinstance(error, pd.errors.ParserWarning):
            problem = "a line has more fields than the header."
        else:
            problem = f"cannot be read as CSV ({_first_line(error)})."
        shown = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(sep, repr(sep))
        raise DataValidationError(
            problem,
            frame=name,
            fix=Fix.of(
                f"quote fields that hold the separator ({shown}) or a line break in double "
                "quotes, close every quote, or pass the separator the file uses, e.g. ",
                Setting("sep", ";"),
                ".",
            ),
        ) from None


def _typed(
    frame: pd.DataFrame,
    text_columns: Collection[str] | bool,
    notes: list[str] | None = None,
    *,
    decimal_comma: bool = False,
) -> pd.DataFrame:
    """Columns of text as numbers or booleans where every value is one (see `read_frame`).

    With ``decimal_comma`` (a ``;``-separated file, the habit of locales that write 2,55), a
    column of such numbers is read so, and one whose every dotted value could group thousands
    (``1.447``) stays text: 1.447 or 1447 cannot be told. ``notes`` says which."""
    for column in frame.columns:
        if text_columns is True or column in text_columns:
            continue
        values = frame[column]
        missing = values.isna() | values.isin(_MISSING)
        given = values[~missing]
        if given.empty:
            frame[column] = np.nan
            continue
        if given.isin(_BOOLEANS.keys()).all() and not missing.any():
            frame[column] = values.map(_BOOLEANS).astype(bool)
            continue
        if given.str.contains(_LEADING_ZERO, regex=True).any():
            continue
        if decimal_comma and given.str.fullmatch(_COMMA_NUMBER).all():
            if given.str.contains(",", regex=False).any():
                numbers = pd.to_numeric(
                    given.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
                )
                frame[column] = numbers.reindex(values.index) if missing.any() else numbers
                _note(notes, f"column '{column}': decimal commas read (2,55 is 2.55)")
                continue
            grouped = given[given.str.fullmatch(_DOT_GROUPED)]
            if len(grouped):
                # Kept as text, and named: the validator refuses such a target.
                frame.attrs.setdefault(AMBIGUOUS, {})[column] = grouped.iloc[0]
                _note(notes, f"column '{column}': values such as {grouped.iloc[0]!r} read as a "
                             "decimal or as thousands (1.447 or 1447): kept as text")  # fmt: skip
                continue
        numbers = pd.to_numeric(given, errors="coerce")
        if numbers.isna().any():
            continue
        frame[column] = numbers.reindex(values.index) if missing.any() else numbers
    return frame


def _note(notes: list[str] | None, note: str) -> None:
    if notes is not None:
        notes.append(note)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


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
