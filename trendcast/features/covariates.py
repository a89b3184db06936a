"""Static and dynamic covariates looked up for (series, period) rows, as model-ready numbers.

Text columns of the static frame (titles, descriptions, unique per series) are left to the text
features; other string columns become integer category codes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays, period_index, shift_periods
from trendcast.data.contract import TEXT_COLUMNS, Columns

# Dynamic columns that are plans or calendars, hence known for future periods.
KNOWN_FUTURE_PREFIXES = ("price", "sell_price", "promo", "event", "snap", "holiday", "discount")


def is_known_future(column: str) -> bool:
    """The name rule for dynamic columns nobody declared: plans and calendars by prefix."""
    return str(column).lower().startswith(KNOWN_FUTURE_PREFIXES)


def _codes(values: pd.Series, categories: list | None = None) -> tuple[np.ndarray, list]:
    """Integer codes of a string/categorical column (NaN where missing or empty) and the
    categories they index; ``categories`` fixes them (values outside them are NaN)."""
    if categories is None:
        column = pd.Series(values).astype("category")
        if "" in column.cat.categories:
            column = column.cat.remove_categories("")
    else:
        column = pd.Series(pd.Categorical(values, categories=categories))
    codes = column.cat.codes.to_numpy().astype(np.float32)
    codes[codes < 0] = np.nan
    return codes, list(column.cat.categories)


def static_features(
    static: pd.DataFrame | None,
    ids: np.ndarray,
    columns: Columns,
    categorical: tuple[str, ...] | None = None,
) -> tuple[dict[str, np.ndarray], list[str], dict[str, str]]:
    """Per-series numeric features, the names of those that are categorical, and how each
    static column is used (in words, for the fit report).

    Numbers are numeric features unless declared ``categorical``; strings are categories,
    except text columns and strings with a different value on every series (ids, free text),
    which carry no shared pattern and are left out (the report says so).
    """
    if static is None:
        return {}, [], {}
    declared = set(categorical or ())
    unknown = sorted(declared - set(static.columns))
    if unknown:
        raise ValueError(
            f"categorical={sorted(declared)} names {unknown}, which the static frame does not "
            f"have; it has {static.columns.drop(columns.id_col).tolist()}."
        )
    aligned = static.set_index(columns.id_col).reindex(pd.Index(ids))
    features, categories, usage = {}, [], {}
    for name in aligned.columns:
        values = aligned[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if name in declared:
            features[name] = _codes(values)[0]
            categories.append(name)
            usage[name] = "category (declared)"
        elif numeric:
            features[name] = values.to_numpy(np.float32)
            usage[name] = "number"
        elif name in TEXT_COLUMNS:
            usage[name] = "text: left to the text features"
        elif values.nunique() < len(values):
            features[name] = _codes(values)[0]
            categories.append(name)
            usage[name] = "category"
        else:
            usage[name] = (
                "not used: a different value on every series (an id or free text); declare it "
                "in categorical=... to use it as a category"
            )
    return features, categories, usage


def apply_plan(dynamic: pd.DataFrame | None, plan: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """The dynamic frame with the rows of ``plan`` in place of its own for the same series and
    period (and added where it had none); columns the plan lacks keep their values."""
    if dynamic is None:
        return plan
    key = columns.key
    base = dynamic.set_index(key)
    planned = plan.set_index(key)
    combined = base.reindex(base.index.union(planned.index))
    for name in planned.columns:
        column, given = combined[name], planned[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            combined[name] = column.astype(object)
        elif (
            pd.api.types.is_numeric_dtype(column)
            and pd.api.types.is_numeric_dtype(given)
            and column.dtype != given.dtype
        ):
            # A float64 plan widens a float32 column first: setting it would upcast with a warning.
            combined[name] = column.astype(np.promote_types(column.dtype, given.dtype))
        combined.loc[planned.index, name] = given.to_numpy()
    return combined.reset_index()


class DynamicLookup:
    """Values of dynamic covariates at any (series, period), NaN where the frame has no row.

    Each column is held densely, as a (n_series, n_periods) float32 array over the frame's
    periods from ``first_period`` on (earlier rows are dropped), so a lookup is plain indexing.
    """

    def __init__(
        self,
        dynamic: pd.DataFrame,
        ids: np.ndarray,
        freq: str,
        columns: Columns,
        *,
        first_period: int | None = None,
    ):
        series = pd.Index(ids).get_indexer(dynamic[columns.id_col])
        periods = period_index(dynamic[columns.time_col], freq)
        keep = series >= 0
        if first_period is not None:
            keep &= periods >= first_period
        series, periods = series[keep], periods[keep]
        self._first = int(periods.min()) if len(periods) else 0
        n_periods = int(periods.max()) - self._first + 1 if len(periods) else 0
        self._shape = (len(ids), n_periods)
        cells = series * n_periods + (periods - self._first)
        del series, periods
        self._present = np.zeros(self._shape, dtype=bool)
        self._present.flat[cells] = True
        self.values: dict[str, np.ndarray] = {}
        self.categorical: list[str] = []
        self.categories: dict[str, list] = {}
        for name in dynamic.columns.drop(columns.key):
            column = dynamic[name]
            if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                kept = column.to_numpy(np.float32)[keep]
            else:
                kept, self.categories[name] = _codes(column[keep])
                self.categorical.append(name)
            dense = np.full(self._shape, np.nan, dtype=np.float32)
            dense.flat[cells] = kept
            self.values[name] = dense

    def overlay(
        self, plan: pd.DataFrame, ids: np.ndarray, freq: str, columns: Columns
    ) -> DynamicLookup:
        """A lookup with the values of ``plan`` (validated dynamic rows of known series) in
        place of these for its cells, the span widened to cover its periods. Category columns
        keep the codes of this lookup; this one is left unchanged."""
        unknown = [c for c in plan.columns.drop(columns.key) if c not in self.values]
        if unknown:
            raise ValueError(
                f"the plan has columns {unknown} that were not in `dynamic` at fit; the model "
                f"reads {sorted(self.values)}. Fix: refit with them, or leave them out."
            )
        series = pd.Index(ids).get_indexer(plan[columns.id_col])
        periods = period_index(plan[columns.time_col], freq)
        if (series < 0).any():
            raise ValueError(
                f"the plan names series the model was not fitted on, e.g. "
                f"{plan.loc[series < 0, columns.id_col].unique()[:3].tolist()}."
            )
        out = copy.copy(self)
        out.values = dict(self.values)
        first = min(self._first, int(periods.min())) if len(periods) else self._first
        last = self._first + self._shape[1] - 1
        last = max(last, int(periods.max())) if len(periods) else last
        out._first, out._shape = first, (self._shape[0], last - first + 1)
        widened = out._shape != self._shape
        at = slice(self._first - first, self._first - first + self._shape[1])
        if widened:
            out._present = np.zeros(out._shape, dtype=bool)
            out._present[:, at] = self._present
            for name, dense in self.values.items():
                out.values[name] = np.full(out._shape, np.nan, dtype=np.float32)
                out.values[name][:, at] = dense
        else:
            out._present = self._present.copy()
        cells = (series, periods - first)
        out._present[cells] = True
        for name in plan.columns.drop(columns.key):
            if name in self.categorical:
                new, _ = _codes(plan[name], self.categories[name])
                unseen = plan[name].notna() & np.isnan(new) & (plan[name].astype(str) != "")
                if unseen.any():
                    raise ValueError(
                        f"the plan's column {name!r} holds values not seen at fit, e.g. "
                        f"{plan.loc[unseen, name].unique()[:3].tolist()}; the model knows "
                        f"{self.categories[name][:10]}. Fix: refit with them in `dynamic`."
                    )
            else:
                try:
                    new = pd.to_numeric(plan[name]).to_numpy(np.float32)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"the plan's column {name!r} must be numeric, as at fit; it holds "
                        f"e.g. {plan[name].head(3).tolist()}."
                    ) from None
            if not widened:
                out.values[name] = out.values[name].copy()
            out.values[name][cells] = new
        return out

    def add_relative(self, name: str, groups: np.ndarray, suffix: str) -> str:
        """Adds column ``{name}_vs_{suffix}``: each value over the mean value of its group
        (``groups``: a code per series, NaN for none) in the same period; returns its name.

        E.g. an item's price against the mean price of its department that day.
        """
        values = self.values[name]
        known = np.isfinite(groups)
        codes = np.where(known, groups, 0).astype(np.int64)
        n_groups = int(codes.max()) + 1 if len(codes) else 0
        sums = np.zeros((n_groups, values.shape[1]))
        counts = np.zeros((n_groups, values.shape[1]))
        present = np.isfinite(values) & known[:, None]
        np.add.at(sums, codes, np.where(present, values, 0.0))
        np.add.at(counts, codes, present)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = values / (sums / counts)[codes]
        ratio[~known] = np.nan
        relative = f"{name}_vs_{suffix}"
        self.values[relative] = ratio.astype(np.float32)
        return relative

    def _cells(self, series: np.ndarray, periods: np.ndarray):
        """Each row's series and period offset, and whether the offset is inside the span."""
        offsets = periods - self._first
        inside = (offsets >= 0) & (offsets < self._shape[1])
        return series[inside], offsets[inside], inside

    def take(self, name: str, series: np.ndarray, periods: np.ndarray) -> np.ndarray:
        rows, offsets, inside = self._cells(series, periods)
        out = np.full(len(series), np.nan, dtype=np.float32)
        out[inside] = self.values[name][rows, offsets]
        return out

    def missing(self, series: np.ndarray, periods: np.ndarray) -> np.ndarray:
        """Rows with no dynamic row at all."""
        rows, offsets, inside = self._cells(series, periods)
        out = np.ones(len(series), dtype=bool)
        out[inside] = ~self._present[rows, offsets]
        return out


def check_future_rows(
    lookup: DynamicLookup | None,
    known_future: list[str],
    series: np.ndarray,
    last_period: np.ndarray,
    h: int,
    data: SeriesArrays,
    *,
    owner: str,
) -> None:
    """Raises a clear error when `dynamic` lacks rows for some of the ``h`` periods to forecast.

    Args:
        series: positions of the series to check; ``last_period`` their last observed period.
    """
    if lookup is None or not known_future:
        return
    future = (last_period[:, None] + np.arange(1, h + 1)).reshape(-1)
    missing = lookup.missing(np.repeat(series, h), future).reshape(-1, h)
    if missing.any():
        short = np.flatnonzero(missing.any(axis=1))
        dates = shift_periods(
            np.repeat(data.last_ds[series[short[0]]], h), np.arange(1, h + 1), data.freq
        )
        first = pd.Timestamp(dates[missing[short[0]]][0])
        raise ValueError(
            f"{owner}: the model uses the known-in-advance covariates {known_future}, but "
            f"`dynamic` has no rows for some of the {h} periods to forecast: {len(short)} series, "
            f"e.g. {list(data.ids[series[short[:3]]])} (first missing period {first:%Y-%m-%d}). "
            "Fix: add the planned values (prices, promotions, events) for those periods to "
            "`dynamic`, or drop those columns before fitting."
        )


@dataclass
class SequenceCovariates:
    """Dynamic covariates aligned with each series' history and with the periods to forecast.

    Numeric columns keep their values; string/categorical columns (events) become 0/1 flags.
    NaN marks a value the frame does not have (e.g. the price of an item not yet on sale).

    Attributes:
        known_future: names of the covariates known in advance (plans, calendars).
        past_only: names of those observed only up to the last sale (behaviour, stock).
        history: per name, values aligned with ``SeriesArrays.values`` (same offsets).
        future: per known-future name, a (n_series, h) array; empty when ``h`` is 0.
    """

    known_future: list[str]
    past_only: list[str]
    history: dict[str, np.ndarray]
    future: dict[str, np.ndarray]

    @property
    def names(self) -> list[str]:
        return self.known_future + self.past_only


def sequence_covariates(
    data: SeriesArrays, covariates: Covariates, h: int = 0, *, owner: str = "model"
) -> SequenceCovariates:
    """Aligns ``covariates.dynamic`` with every series' history and its next ``h`` periods.

    Raises:
        ValueError: when a known-future covariate has no rows for some of the ``h`` periods.
    """
    if covariates.dynamic is None or covariates.dynamic.empty:
        return SequenceCovariates([], [], {}, {})
    lookup = DynamicLookup(covariates.dynamic, data.ids, data.freq, covariates.columns)
    lengths = data.lengths
    last_period = period_index(data.last_ds, data.freq)
    series = np.repeat(np.arange(data.n_series), lengths)
    periods = np.repeat(last_period - lengths + 1, lengths) + (
        np.arange(len(data.values)) - np.repeat(data.indptr[:-1], lengths)
    )
    known = [name for name in lookup.values if covariates.is_known_future(name)]
    past_only = [name for name in lookup.values if name not in known]

    def take(name: str, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
        values = lookup.take(name, rows, at)
        if name in lookup.categorical:  # an event (any category) or none
            return np.isfinite(values).astype(np.float32)
        return values

    history = {name: take(name, series, periods) for name in known + past_only}
    future = {}
    if h:
        check_future_rows(
            lookup, known, np.arange(data.n_series), last_period, h, data, owner=owner
        )
        rows = np.repeat(np.arange(data.n_series), h)
        at = (last_period[:, None] + np.arange(1, h + 1)).reshape(-1)
        future = {name: take(name, rows, at).reshape(-1, h) for name in known}
    return SequenceCovariates(known, past_only, history, future)
