"""Static and dynamic covariates looked up for (series, period) rows, as model-ready numbers.

Text columns of the static frame (titles, descriptions, unique per series) are left to the text
features; other string columns become integer category codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trendcast.data.arrays import period_index
from trendcast.data.contract import TEXT_COLUMNS, Columns

# Dynamic columns that are plans or calendars, hence known for future periods.
KNOWN_FUTURE_PREFIXES = ("price", "sell_price", "promo", "event", "snap", "holiday", "discount")


def is_known_future(column: str) -> bool:
    return str(column).lower().startswith(KNOWN_FUTURE_PREFIXES)


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a string/categorical column; NaN where missing or empty."""
    categories = pd.Series(values).astype("category")
    if "" in categories.cat.categories:
        categories = categories.cat.remove_categories("")
    codes = categories.cat.codes.to_numpy().astype(np.float32)
    codes[codes < 0] = np.nan
    return codes


def static_features(
    static: pd.DataFrame | None, ids: np.ndarray, columns: Columns
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per-series numeric features and the names of those that are categorical."""
    if static is None:
        return {}, []
    aligned = static.set_index(columns.id_col).reindex(pd.Index(ids))
    features, categorical = {}, []
    for name in aligned.columns:
        values = aligned[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            features[name] = values.to_numpy(np.float32)
        elif name not in TEXT_COLUMNS and values.nunique() < len(values):
            features[name] = _codes(values)
            categorical.append(name)
    return features, categorical


class DynamicLookup:
    """Values of dynamic covariates at any (series, period), NaN where the frame has no row."""

    def __init__(self, dynamic: pd.DataFrame, ids: np.ndarray, freq: str, columns: Columns):
        series = pd.Index(ids).get_indexer(dynamic[columns.id_col])
        keep = series >= 0
        self._freq = freq
        self._index = pd.Index(
            _key(series[keep], period_index(dynamic[columns.time_col], freq)[keep])
        )
        self.values: dict[str, np.ndarray] = {}
        self.categorical: list[str] = []
        for name in dynamic.columns.drop(columns.key):
            column = dynamic[name][keep]
            if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                self.values[name] = column.to_numpy(np.float32)
            else:
                self.values[name] = _codes(column)
                self.categorical.append(name)

    def take(self, name: str, series: np.ndarray, periods: np.ndarray) -> np.ndarray:
        found = self._index.get_indexer(_key(series, periods))
        out = np.full(len(series), np.nan, dtype=np.float32)
        hit = found >= 0
        out[hit] = self.values[name][found[hit]]
        return out

    def missing(self, series: np.ndarray, periods: np.ndarray) -> np.ndarray:
        """Rows with no dynamic row at all."""
        return self._index.get_indexer(_key(series, periods)) < 0


def _key(series: np.ndarray, periods: np.ndarray) -> np.ndarray:
    return series.astype(np.int64) * (1 << 32) + periods.astype(np.int64)
