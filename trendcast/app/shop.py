"""A shop's input, read and validated once per use case, and what identifies it."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast.data.contract import ShopData

_SIDE = ("static", "dynamic", "reviews")
_DAYS = {"d": 1.0, "w": 7.0, "m": 365.25 / 12, "y": 365.25}
_SPAN = re.compile(r"^\s*(?P<n>\d+(\.\d+)?)\s*(?P<unit>[dwmy]?)\s*$", re.IGNORECASE)


def read_shop(
    sales: Any,
    *,
    static: Any = None,
    dynamic: Any = None,
    reviews: Any = None,
    sep: str | None = None,
    encoding: str | None = None,
    **options: Any,
) -> ShopData:
    """The validated shop from files (CSV, Parquet or Excel paths) or frames (pandas or polars).

    Files are read by `trendcast.data.io.read_frame` (``sep`` and ``encoding`` for CSV, the
    series ids as text); what reading noted (a detected separator or encoding) opens the
    report. ``options`` go to `trendcast.validate`: ``id_col``, ``time_col``, ``target_col``,
    ``freq``, ``fill_gaps``, ``clip_negative``, ``time_format``, ``tz``.

    Raises:
        DataValidationError: naming the file or frame, the column, the rows and the fix.
    """
    from trendcast.data.validate import validate

    reading = {"sep": sep, "encoding": encoding,
               "text_columns": (options.get("id_col", "unique_id"),)}  # fmt: skip
    given = {"sales": sales, "static": static, "dynamic": dynamic, "reviews": reviews}
    frames = {
        name: as_frame(value, **reading) for name, value in given.items() if value is not None
    }
    notes = [
        f"{path}: {note}"
        for name, value in given.items()
        for path, frame in _read_files(value, frames.get(name))
        for note in frame.attrs.get("notes", ())
    ]
    data = validate(frames.pop("sales"), **frames, **options)
    return replace(data, report=[*notes, *data.report]) if notes else data


def _read_files(value: Any, frame: Any) -> list[tuple[Any, Any]]:
    """(path, frame) of each file ``value`` named (a path, or a list of them)."""
    if isinstance(value, (list, tuple)):
        return [pair for item, part in zip(value, frame, strict=True)
                for pair in _read_files(item, part)]  # fmt: skip
    return [(value, frame)] if isinstance(value, (str, Path)) else []


def data_hash(data: ShopData) -> str:
    """SHA-256 of the shop's rows (sales and side frames): equal data, equal hash."""
    digest = hashlib.sha256()
    for part in ("sales", *_SIDE):
        frame = getattr(data, part)
        if frame is None:
            continue
        digest.update(f"{part}:{','.join(map(str, frame.columns))};".encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def training_span(data: ShopData) -> dict[str, Any]:
    """First and last date, series and rows of the sales."""
    dates = data.sales[data.columns.time_col]
    return {
        "first": f"{dates.min():%Y-%m-%d}",
        "last": f"{dates.max():%Y-%m-%d}",
        "series": int(data.sales[data.columns.id_col].nunique()),
        "rows": len(data.sales),
    }


def as_frame(value: Any, **reading: Any):
    """A frame as it is, or read from a CSV, Parquet or Excel path (``reading`` goes to
    `trendcast.data.io.read_frame`); a list, each of its items."""
    if isinstance(value, (list, tuple)):
        return [as_frame(item, **reading) for item in value]
    if isinstance(value, (str, Path)):
        from trendcast.data.io import read_frame

        return read_frame(value, **reading)
    return value


def segment(data: ShopData, condition: str) -> ShopData:
    """The shop's rows of the series whose static column equals a value, ``"COLUMN=VALUE"``."""
    column, _, value = condition.partition("=")
    if data.static is None or column not in data.static.columns or not value:
        known = (
            "no static file: pass --static" if data.static is None else list(data.static.columns)
        )
        raise ValueError(
            f"a segment is COLUMN=VALUE with a column of the static file ({known}), got "
            f"'{condition}'."
        )
    id_col = data.columns.id_col
    ids = data.static.loc[data.static[column].astype(str) == value, id_col]
    if ids.empty:
        values = sorted(data.static[column].astype(str).unique())[:10]
        raise ValueError(f"no series has {column}={value}; values include {values}.")
    return replace(
        data,
        **{
            name: frame[frame[id_col].isin(ids)].reset_index(drop=True)
            for name in ("sales", "static", "dynamic")
            if (frame := getattr(data, name)) is not None
        },
    )


def to_periods(span: str | int, freq: str, *, name: str = "span", minimum: int = 1) -> int:
    """Periods of the data's frequency in a span: a number of periods (``"3"``) or of days,
    weeks, months or years (``"7d"``, ``"2w"``, ``"3m"``, ``"1y"``), rounded up (within a tenth of a period).

    Example:
        >>> to_periods("7d", "D"), to_periods("7d", "W-MON"), to_periods("3m", "W-MON")
        (7, 1, 13)
    """
    found = _SPAN.match(str(span))
    if found is None:
        raise ValueError(
            f"{name} is a number of periods or a span such as 7d, 2w, 3m or 1y, got '{span}'."
        )
    n, unit = float(found["n"]), found["unit"].lower()
    if unit:
        n = n * _DAYS[unit] / _period_days(freq)
    return max(minimum, math.ceil(n - 0.1))  # 3 months are 13 weeks, not 14


def _period_days(freq: str) -> float:
    head = freq.upper()
    if head.startswith("W"):
        return 7.0
    if head.startswith("M"):
        return 365.25 / 12
    if head.startswith(("Q",)):
        return 365.25 / 4
    if head.startswith(("Y", "A")):
        return 365.25
    return 1.0


def default_span(freq: str, *, days: str, weeks: str, months: str) -> str:
    """The default span of an option at the data's frequency."""
    head = freq.upper()
    return weeks if head.startswith("W") else months if head.startswith("M") else days
