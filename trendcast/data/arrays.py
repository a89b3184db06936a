"""Grouped arrays: the validated long frame as one value array plus per-series offsets.

Models compute on these arrays; frames exist only at the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.data.contract import Columns


def period_index(ds: pd.Series | pd.DatetimeIndex | np.ndarray, freq: str) -> np.ndarray:
    """Integer period numbers of timestamps on a ``freq`` grid (consecutive periods differ by 1)."""
    values = pd.DatetimeIndex(ds)
    if freq == "MS":
        return (values.year * 12 + values.month - 1).to_numpy(np.int64)
    days = values.to_numpy("datetime64[D]").astype(np.int64)
    # Weekly periods counted from a Monday (1970-01-05) so any week anchor maps consistently.
    return (days - 4) // 7 if freq.startswith("W") else days


def series_starts(ids: pd.Series) -> np.ndarray:
    """Boolean mask of the rows that start a series (their id differs from the previous row's)."""
    # A categorical's codes compare like its values, without an object array of every row's id.
    if isinstance(ids.dtype, pd.CategoricalDtype):
        ids = ids.cat.codes
    values = ids.to_numpy()
    return np.r_[True, values[1:] != values[:-1]]


def shift_periods(start: np.ndarray, steps: np.ndarray, freq: str) -> np.ndarray:
    """Timestamps ``steps`` periods after ``start`` (both arrays of equal length)."""
    start = np.asarray(start, dtype="datetime64[ns]")
    steps = np.asarray(steps, dtype=np.int64)
    if freq == "MS":
        months = pd.DatetimeIndex(start).to_period("M").asi8 + steps
        _check_in_range(months.astype("datetime64[M]").astype("datetime64[D]"))
        return pd.PeriodIndex.from_ordinals(months, freq="M").to_timestamp().to_numpy()
    unit = 7 if freq.startswith("W") else 1
    days = start.astype("datetime64[D]") + (steps * unit).astype("timedelta64[D]")
    _check_in_range(days)
    return start + (steps * unit).astype("timedelta64[D]")


def _check_in_range(days: np.ndarray) -> None:
    # Compared in days: in nanoseconds the dates past the range would wrap around.
    highest = np.datetime64(pd.Timestamp.max.date(), "D") - np.timedelta64(1, "D")
    lowest = np.datetime64(pd.Timestamp.min.date(), "D") + np.timedelta64(1, "D")
    if len(days) and (days.max() > highest or days.min() < lowest):
        raise ValueError(
            f"the periods asked for reach {max(days.max(), highest)}, past {highest}, the "
            "last date a timestamp can hold: ask for fewer periods."
        )


@dataclass
class SeriesArrays:
    """Target values of many series, concatenated, with offsets.

    Attributes:
        ids: series ids, in order.
        values: all targets (float64), series after series, each in time order.
        indptr: offsets; series ``i`` is ``values[indptr[i]:indptr[i + 1]]``.
        last_ds: timestamp of each series' last observation.
        freq: pandas frequency alias of the periods.
    """

    ids: np.ndarray
    values: np.ndarray
    indptr: np.ndarray
    last_ds: np.ndarray
    freq: str

    @classmethod
    def from_frame(cls, df: pd.DataFrame, freq: str, columns: Columns = Columns()) -> SeriesArrays:
        """Builds arrays from a validated frame (sorted by id and date, without gaps)."""
        starts = np.flatnonzero(series_starts(df[columns.id_col]))
        indptr = np.append(starts, len(df)).astype(np.int64)
        last_rows = indptr[1:] - 1
        return cls(
            ids=df[columns.id_col].iloc[starts].to_numpy(),
            values=df[columns.target_col].to_numpy(np.float64),
            indptr=indptr,
            last_ds=df[columns.time_col].to_numpy("datetime64[ns]")[last_rows],
            freq=freq,
        )

    @property
    def n_series(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def last_values(self, n: int) -> np.ndarray:
        """Matrix (n_series, n) of each series' last ``n`` values; NaN-padded on the left."""
        positions = self.indptr[1:, None] - n + np.arange(n)
        valid = positions >= self.indptr[:-1, None]
        out = np.full(positions.shape, np.nan)
        out[valid] = self.values[positions[valid]]
        return out

    def head(self, keep: np.ndarray, *, select: np.ndarray | None = None) -> SeriesArrays:
        """The first ``keep[i]`` values of each series (of those in ``select``, a boolean mask)."""
        select = np.ones(self.n_series, bool) if select is None else select
        keep = np.asarray(keep, dtype=np.int64)[select]
        starts = self.indptr[:-1][select]
        lengths = self.lengths[select]
        offsets = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
        values = self.values[np.repeat(starts, keep) + offsets]
        dropped = lengths - keep
        last_ds = shift_periods(self.last_ds[select], -dropped, self.freq)
        return SeriesArrays(
            ids=self.ids[select],
            values=values,
            indptr=np.append(0, np.cumsum(keep)).astype(np.int64),
            last_ds=last_ds,
            freq=self.freq,
        )

    def tail(self, n: int) -> SeriesArrays:
        """The last ``n`` values of each series (all of a shorter one)."""
        keep = np.minimum(self.lengths, n)
        offsets = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
        return SeriesArrays(
            ids=self.ids,
            values=self.values[np.repeat(self.indptr[1:] - keep, keep) + offsets],
            indptr=np.append(0, np.cumsum(keep)).astype(np.int64),
            last_ds=self.last_ds,
            freq=self.freq,
        )

    def future_dates(self, h: int) -> np.ndarray:
        """The next ``h`` timestamps of every series, flattened series by series."""
        starts = np.repeat(self.last_ds, h)
        steps = np.tile(np.arange(1, h + 1), self.n_series)
        return shift_periods(starts, steps, self.freq)

    def to_frame(self, columns: Columns = Columns()) -> pd.DataFrame:
        lengths = self.lengths
        offsets = np.arange(len(self.values)) - np.repeat(self.indptr[:-1], lengths)
        steps = offsets - np.repeat(lengths - 1, lengths)
        return pd.DataFrame(
            {
                columns.id_col: np.repeat(self.ids, lengths),
                columns.time_col: shift_periods(np.repeat(self.last_ds, lengths), steps, self.freq),
                columns.target_col: self.values,
            }
        )


@dataclass
class Covariates:
    """Side frames for models that use them (validated, long format).

    Attributes:
        static: one row per series.
        dynamic: one row per series and period; rows past the sales hold known future values
            (price plans, promotions, events).
        columns: names of the id and time columns.
        known_future: the dynamic columns known in advance (plans, calendars), as declared;
            None leaves it to the name rule (`trendcast.features.covariates.is_known_future`).
        categorical: static columns to treat as categories whatever their type (e.g. integer
            store numbers); None leaves it to the type (strings are categories).
        groups: static columns whose groups (same store, same department, ...) models may
            read cross-series signal from; None means the hierarchy columns present.
    """

    static: pd.DataFrame | None = None
    dynamic: pd.DataFrame | None = None
    columns: Columns = Columns()
    known_future: tuple[str, ...] | None = None
    categorical: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None

    def is_known_future(self, column: str) -> bool:
        """Whether the dynamic ``column`` is known for the periods to forecast."""
        from trendcast.features.covariates import is_known_future

        if self.known_future is not None:
            return column in self.known_future
        return is_known_future(column)
