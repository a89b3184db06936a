"""Text, numbers and datetimes of any time zone to plain timestamps, each read one way.

Every reader of dates (the validator, the order-line adapter) goes through `parse_times`:
ISO 8601, or the one layout that reads a whole column (day-first and month-first that both
read it are refused, never guessed per value), and one convention for time zones: a
timestamp's local wall-clock time as written (``tz="local"``), or its instant in UTC
(``tz="UTC"``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

TIME_ZONES = ("local", "UTC")

# Layouts tried on text that is not ISO 8601, day-first and month-first alike.
_DATE_LAYOUTS = ("%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y",
                 "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d")  # fmt: skip
_TIME_LAYOUTS = ("", " %H:%M", " %H:%M:%S")
# A zone written after a time of day: Z, UTC, +01:00, -0500.
_ZONE = r"\s*(?:Z|UTC|[+-]\d\d:?\d\d)$"
_ZONED = r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?" + _ZONE


class AmbiguousDates(ValueError):
    """A column that reads as dates in two layouts that give different days."""

    def __init__(self, name: str, layouts: tuple[str, str], example: str, days: tuple[str, str]):
        self.layouts = layouts
        super().__init__(
            f"the dates of column '{name}' read both as {layouts[0]} and as {layouts[1]} (e.g. "
            f"'{example}' is {days[0]} or {days[1]})."
        )


@dataclass
class ParsedTimes:
    """Timestamps without a zone (NaT where unreadable), and how many rows had a zone."""

    times: pd.Series
    zoned: int = 0  # values that carried a time zone, taken by the ``tz`` convention


def parse_times(
    raw: pd.Series, *, time_format: str | None = None, tz: str = "local", name: str = "time"
) -> ParsedTimes:
    """``raw`` as timestamps without a zone.

    Args:
        raw: text, datetimes (zone-aware or not, or both mixed) or numbers (``YYYYMMDD`` dates
            or epoch seconds or milliseconds, never nanoseconds).
        time_format: the layout of text values (``"%d/%m/%Y"``); without it ISO 8601, else
            the one layout of a list of common ones that reads every value.
        tz: ``"local"`` keeps a zoned timestamp's wall-clock time as written (a sale at 23:30
            in Berlin stays on its day); ``"UTC"`` takes its instant in UTC.

    Raises:
        AmbiguousDates: text that two layouts read as different days (every day <= 12).
        ValueError: numbers that are neither ``YYYYMMDD`` nor epoch times; an unknown ``tz``.

    Example:
        >>> parse_times(pd.Series(["2024-01-01T23:30+01:00", "2024-01-02"])).times.tolist()
        [Timestamp('2024-01-01 23:30:00'), Timestamp('2024-01-02 00:00:00')]
        >>> parse_times(pd.Series(["13/02/2024", "01/03/2024"])).times.dt.month.tolist()
        [2, 3]
    """
    if tz not in TIME_ZONES:
        raise ValueError(f"tz must be one of {TIME_ZONES}, got {tz!r}.")
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return ParsedTimes(_unzoned(raw, tz), zoned=int(raw.notna().sum()))
    if pd.api.types.is_datetime64_any_dtype(raw):
        within = (raw >= pd.Timestamp.min) & (raw <= pd.Timestamp.max)
        return ParsedTimes(raw.where(within).astype("datetime64[ns]"))  # beyond: NaT
    if pd.api.types.is_bool_dtype(raw):
        return ParsedTimes(pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"))
    if pd.api.types.is_numeric_dtype(raw):
        return ParsedTimes(number_times(raw, name))
    if holds_numbers(raw):  # numbers held as Python objects
        return ParsedTimes(number_times(pd.to_numeric(raw), name))
    # Each distinct value is read once: dates repeat across series.
    uniques = pd.Series(raw.dropna().unique())
    parsed, zoned = _parse_distinct(uniques, time_format, tz, name)
    lookup = pd.Series(parsed.to_numpy(), index=uniques.to_numpy())
    times = raw.map(lookup).astype("datetime64[ns]")
    zoned_rows = int(raw.isin(uniques[zoned.to_numpy()]).sum()) if zoned.any() else 0
    return ParsedTimes(times, zoned=zoned_rows)


def _parse_distinct(
    values: pd.Series, time_format: str | None, tz: str, name: str
) -> tuple[pd.Series, pd.Series]:
    """Timestamps of distinct values (text or datetime objects), and which carried a zone."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    zoned = pd.Series(False, index=values.index)
    is_time = values.map(lambda v: isinstance(v, (datetime, np.datetime64))).astype(bool)
    for position, value in values[is_time].items():
        stamp = pd.Timestamp(value)
        zoned[position] = stamp.tzinfo is not None
        out[position] = _unzoned_one(stamp, tz)  # objects mixing zones: one by one
    text = values[~is_time].astype(str).str.strip()
    if text.empty:
        return out, zoned
    zone = text.str.contains(_ZONED, regex=True)
    zoned[text.index] = zone
    if zone.any():
        if tz == "local":  # the wall-clock time is the text without its zone
            text = text.where(~zone, text.str.replace(_ZONE, "", regex=True))
        else:
            instants = pd.to_datetime(text[zone], format="ISO8601", utc=True, errors="coerce")
            out[instants.index] = instants.dt.tz_localize(None)
            text = text[~zone]
    layout = time_format or time_layout(text, name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        out[text.index] = _to_naive(text, layout)
    return out, zoned


def _to_naive(text: pd.Series, layout: str | None) -> pd.Series:
    parsed = pd.to_datetime(text, format=layout or "ISO8601", errors="coerce")
    if layout is None:  # no one layout reads every value: each is read by pandas' guess
        failed = parsed.isna()
        guessed = [_guess(v) for v in text[failed]]
        parsed = parsed.copy()
        parsed[failed] = pd.Series(guessed, index=text.index[failed], dtype="datetime64[ns]")
    return parsed


def _guess(value: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT
    return _unzoned_one(stamp, "local")


def time_layout(text: pd.Series, name: str = "time") -> str | None:
    """The layout that reads every value of ``text``: ``"ISO8601"``, one of the common ones,
    or None when none reads them all; `AmbiguousDates` when two read them differently."""
    values = pd.Series(text.unique()).astype(str).str.strip()
    if values.empty or pd.to_datetime(values, format="ISO8601", errors="coerce").notna().all():
        return "ISO8601"
    fits = {}
    for layout in (d + t for d in _DATE_LAYOUTS for t in _TIME_LAYOUTS):
        parsed = pd.to_datetime(values, format=layout, errors="coerce")
        if parsed.notna().all():
            fits[layout] = parsed
    if not fits:
        return None
    (first, dates), *others = fits.items()
    for layout, other in others:
        differ = (dates != other).to_numpy()
        if differ.any():
            days = (f"{dates[differ].iloc[0]:%Y-%m-%d}", f"{other[differ].iloc[0]:%Y-%m-%d}")
            raise AmbiguousDates(name, (first, layout), values[differ].iloc[0], days)
    return first


def number_times(raw: pd.Series, name: str = "time") -> pd.Series:
    """Numbers as ``YYYYMMDD`` dates or epoch seconds (or milliseconds); else a ValueError."""
    values = raw.dropna().to_numpy(float)
    whole = bool((values == np.round(values)).all())
    if whole and ((values >= 1900_01_01) & (values <= 2200_12_31)).all():
        text = raw.astype("Int64").astype("string")
        return pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    for unit, low, high in (("s", 1e8, 1e10), ("ms", 1e11, 1e13)):
        if ((values >= low) & (values < high)).all():
            return pd.to_datetime(raw, unit=unit, errors="coerce")
    example = f"{values[0]:g}" if len(values) else "none"
    raise ValueError(
        f"column '{name}' holds numbers that are neither YYYYMMDD dates nor epoch seconds "
        f"(e.g. {example}): give the times as text such as 2024-01-31 09:30."
    )


def holds_numbers(raw: pd.Series) -> bool:
    """Whether every value of ``raw`` is a number (of a numeric dtype, or Python objects)."""
    if pd.api.types.is_bool_dtype(raw):
        return False
    if pd.api.types.is_numeric_dtype(raw):
        return True
    given = raw.dropna()
    return bool(len(given)) and bool(given.map(_is_number).all())


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _unzoned(times: pd.Series, tz: str) -> pd.Series:
    if tz == "UTC":
        times = times.dt.tz_convert("UTC")
    return times.dt.tz_localize(None).astype("datetime64[ns]")


def _unzoned_one(stamp: pd.Timestamp, tz: str) -> pd.Timestamp:
    if stamp.tzinfo is not None:
        stamp = (stamp.tz_convert("UTC") if tz == "UTC" else stamp).tz_localize(None)
    try:
        return stamp.as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT  # beyond 1677-2262: reported as unreadable
