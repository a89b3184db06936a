"""Target lags and rolling statistics at chosen rows of concatenated series, without loops.

Every function takes the concatenated ``values``, the ``rows`` to compute for and, for each of
those rows, the position where its series starts (``starts``, aligned with ``rows``), and only
looks at values strictly before each row. Training (all rows) and recursive forecasting (one
step at a time) call the same code, so features cannot drift apart.
"""

from __future__ import annotations

import numpy as np


def lag(values: np.ndarray, starts: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """``y[t - k]``; NaN where the series has no value that far back."""
    source = rows - k
    out = np.full(len(rows), np.nan)
    ok = source >= starts
    out[ok] = values[source[ok]]
    return out


class WindowStats:
    """Means and standard deviations of windows ending ``offset`` rows before each row.

    Built once per value array (cumulative sums), then queried for any rows and windows.
    """

    def __init__(self, values: np.ndarray):
        filled = np.nan_to_num(values)
        self._sum = np.concatenate([[0.0], np.cumsum(filled)])
        self._sq = np.concatenate([[0.0], np.cumsum(filled**2)])

    @staticmethod
    def _bounds(starts: np.ndarray, rows: np.ndarray, window: int, offset: int):
        end = rows - offset + 1  # exclusive end, in cumulative-sum coordinates
        begin = np.maximum(end - window, starts)
        return begin, end, end - begin

    def mean(self, starts: np.ndarray, rows: np.ndarray, window: int, offset: int = 1):
        begin, end, count = self._bounds(starts, rows, window, offset)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, (self._sum[end] - self._sum[begin]) / count, np.nan)

    def std(self, starts: np.ndarray, rows: np.ndarray, window: int, offset: int = 1):
        begin, end, count = self._bounds(starts, rows, window, offset)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (self._sum[end] - self._sum[begin]) / count
            var = (self._sq[end] - self._sq[begin]) / count - mean**2
            return np.where(count > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)


def periods_since_positive(values: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Periods since the last value above zero before each row (NaN if none yet)."""
    position = np.arange(len(values))
    last = np.maximum.accumulate(np.where(values > 0, position, -1))
    before = np.where(rows - 1 >= 0, last[np.maximum(rows - 1, 0)], -1)
    out = (rows - before).astype(float)
    out[before < starts] = np.nan
    return out
