"""Adapters from the shapes retail data comes in to the data contract (:class:`ShopData`).

Two families are covered:

* the M5 (Walmart) layout: wide daily sales plus the calendar and weekly sell prices
  (:func:`from_m5`), or the already-long variant with calendar and price joined
  (:func:`from_m5_long`);
* raw order lines / transactions with timestamps, quantities and prices
  (:func:`from_transactions`), aggregated to demand per product and period.

No row is dropped or changed without being counted: :func:`from_transactions` returns a
:class:`TransactionReport` beside the data, and the M5 adapters only leave rows out when asked
to (``trim_leading``), warning about series that disappear entirely.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import DEFAULT_COLUMNS, ShopData

__all__ = ["TransactionReport", "from_m5", "from_m5_long", "from_transactions"]

TrimLeading = Literal["none", "unpriced", "zeros"]

M5_HIERARCHY = ("item_id", "dept_id", "cat_id", "store_id", "state_id")
M5_EVENTS = ("event_name_1", "event_type_1", "event_name_2", "event_type_2")
M5_PRICE_COLUMNS = ("store_id", "item_id", "wm_yr_wk", "sell_price")
_DAY_COLUMN = re.compile(r"^d_(\d+)$")

# Reasons a transaction line is left out, in the order they are checked; a line is counted
# under the first reason that applies.
EXCLUSION_REASONS = (
    "missing_product",
    "missing_store",
    "bad_timestamp",
    "missing_quantity",
    "zero_quantity",
    "missing_price",
    "non_positive_price",
    "return_before_first_sale",
)

_UID, _DS, _Y = DEFAULT_COLUMNS.id_col, DEFAULT_COLUMNS.time_col, DEFAULT_COLUMNS.target_col


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, cols: Any, *, name: str, fix: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"`{name}` is missing column(s) {missing}; it has {list(df.columns)[:20]}"
            f"{' ...' if df.shape[1] > 20 else ''}. {fix}"
        )


def _plain_numeric(values: Any) -> np.ndarray:
    """Nullable/extension numbers as a plain numpy array: int64 without gaps, float64 with."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype("int64", copy=False)
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if s.isna().any() or not (pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s)):
        return s.astype("float64").to_numpy()
    return s.astype("int64").to_numpy()


def _as_category(values: Any) -> pd.Categorical:
    """Low-cardinality labels (events) as a categorical; empty strings mean "no event"."""
    s = pd.Series(values, dtype="object")
    s = s.where(s.notna() & (s != ""), None)
    return pd.Categorical(s)


def _group_starts(codes: np.ndarray) -> np.ndarray:
    """Positions where a new group starts in an array of group codes sorted by group."""
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])


def _from_first_true(codes: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """Mask keeping, within each group of sorted ``codes``, the rows from the first true ``cond``."""
    if codes.size == 0:
        return np.zeros(0, dtype=bool)
    csum = np.cumsum(cond, dtype=np.int64)
    starts = _group_starts(codes)
    lengths = np.diff(np.r_[starts, codes.size])
    before = np.where(starts > 0, csum[starts - 1], 0)
    return (csum - np.repeat(before, lengths)) > 0


def _trim_leading(
    sales: pd.DataFrame,
    static: pd.DataFrame,
    dynamic: pd.DataFrame,
    codes: np.ndarray,
    how: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Drops each series' leading rows before its first price / first sale (sales sorted by id, ds)."""
    if how == "none":
        return sales, static, dynamic
    if how == "unpriced":
        if "price" not in dynamic.columns:
            raise ValueError(
                "trim_leading='unpriced' needs sell prices; pass `prices` (or a `sell_price` "
                "column) or use trim_leading='none'."
            )
        cond = dynamic["price"].notna().to_numpy()
        what = "never has a sell price"
    else:
        y = sales[_Y].to_numpy()
        cond = np.nan_to_num(y.astype("float64"), nan=0.0) != 0
        what = "never sells"
    keep = _from_first_true(codes, cond)
    sales = sales.loc[keep].reset_index(drop=True)
    dynamic = dynamic.loc[keep].reset_index(drop=True)
    kept_ids = pd.unique(sales[_UID])
    lost = static.shape[0] - kept_ids.size
    if lost:
        warnings.warn(
            f"trim_leading={how!r}: {lost} series {what} in the selected days and were left "
            "out entirely; pass trim_leading='none' to keep them.",
            stacklevel=3,
        )
        static = static.loc[static[_UID].isin(kept_ids)].reset_index(drop=True)
    return sales, static, dynamic


def _check_trim(trim_leading: str) -> None:
    if trim_leading not in ("none", "unpriced", "zeros"):
        raise ValueError(
            f"trim_leading must be 'none', 'unpriced' or 'zeros', got {trim_leading!r}."
        )


# ----------------------------------------------------------------------------------------------
# M5
# ----------------------------------------------------------------------------------------------
def _day_number(day: int | str | None, name: str) -> int | None:
    if day is None or isinstance(day, (int, np.integer)):
        return day
    match = _DAY_COLUMN.match(str(day))
    if match is None:
        raise ValueError(f"{name} must be a day number such as 1913 or 'd_1913', got {day!r}.")
    return int(match.group(1))


def from_m5(
    sales: Any,
    calendar: Any,
    prices: Any | None = None,
    *,
    start_day: int | str | None = None,
    end_day: int | str | None = None,
    trim_leading: TrimLeading = "none",
) -> ShopData:
    """Turns the M5 competition files (wide daily sales, calendar, sell prices) into the contract.

    Series are item x store, ``unique_id = f"{item_id}_{store_id}"``, one row per day from
    ``start_day`` to ``end_day``. The dynamic frame holds, per series and day, ``price`` (the
    store's weekly M5 ``sell_price`` joined through ``wm_yr_wk``), the calendar's
    ``event_name_1/event_type_1/event_name_2/event_type_2`` (categoricals, missing = no event)
    and ``snap``, the SNAP flag of the series' own state (``snap_CA`` for CA stores, ...).

    M5 convention on prices: an item has no price row before the week it goes on sale, so
    ``price`` is NaN there and the zeros sold on those days mean "not yet on sale" rather
    than "no demand". ``trim_leading`` makes the choice explicit:

    * ``"none"`` (default): every series covers every selected day, as in the competition.
    * ``"unpriced"``: each series starts on its first day with a price (needs ``prices``).
    * ``"zeros"``: each series starts on its first day with non-zero sales.

    Series left with no row at all are removed (also from ``static``) with a warning.

    Args:
        sales: wide frame (pandas or polars) with ``item_id, dept_id, cat_id, store_id,
            state_id`` and day columns ``d_1 .. d_N`` (Kaggle ``sales_train_*.csv``); an ``id``
            column, if present, is ignored.
        calendar: the official ``calendar.csv`` with ``d, date`` and, when used,
            ``wm_yr_wk``, the event columns and ``snap_<state>`` columns.
        prices: optional official ``sell_prices.csv`` (``store_id, item_id, wm_yr_wk,
            sell_price``). Rows for other stores, items or weeks are not needed and are unused.
        start_day: first day to keep, as ``1`` or ``"d_1"`` (default: first day column).
        end_day: last day to keep, inclusive (default: last day column).
        trim_leading: where each series starts, see above.

    Returns:
        ShopData with ``freq="D"``; ``sales`` (``unique_id, ds, y``) sorted by id then date,
        ``static`` (``unique_id`` + hierarchy) and ``dynamic``.

    Example:
        >>> sales = pd.DataFrame({"item_id": ["A"], "dept_id": ["D"], "cat_id": ["C"],
        ...                       "store_id": ["CA_1"], "state_id": ["CA"], "d_1": [0], "d_2": [3]})
        >>> calendar = pd.DataFrame({"d": ["d_1", "d_2"], "date": ["2011-01-29", "2011-01-30"],
        ...                          "wm_yr_wk": [11101, 11101], "snap_CA": [0, 1]})
        >>> from_m5(sales, calendar).sales["y"].tolist()
        [0, 3]
    """
    _check_trim(trim_leading)
    sales = to_pandas(sales, name="sales")
    calendar = to_pandas(calendar, name="calendar")
    _require(
        sales,
        M5_HIERARCHY,
        name="sales",
        fix="M5 sales need the hierarchy columns of sales_train_*.csv; rename yours to match.",
    )
    _require(
        calendar,
        ("d", "date"),
        name="calendar",
        fix="Pass the official M5 calendar.csv (columns d, date, wm_yr_wk, events, snap_*).",
    )

    day_cols = {int(m.group(1)): c for c in sales.columns if (m := _DAY_COLUMN.match(str(c)))}
    if not day_cols:
        raise ValueError(
            "`sales` has no day columns named d_1 .. d_N; pass the wide M5 sales frame "
            "(for the long layout use from_m5_long)."
        )
    first = _day_number(start_day, "start_day") or min(day_cols)
    last = _day_number(end_day, "end_day") or max(day_cols)
    days = [d for d in sorted(day_cols) if first <= d <= last]
    if not days:
        raise ValueError(
            f"No day columns between start_day={first} and end_day={last}; `sales` has "
            f"d_{min(day_cols)} .. d_{max(day_cols)}."
        )
    day_names = [day_cols[d] for d in days]

    # Calendar rows of the selected days, in day order.
    if calendar["d"].duplicated().any():
        raise ValueError("`calendar` repeats some values of column 'd'; each day must appear once.")
    cal = calendar.set_index("d")
    unknown = [c for c in day_names if c not in cal.index]
    if unknown:
        raise ValueError(
            f"Day columns {unknown[:5]} of `sales` are not in calendar['d']; pass the calendar "
            "that covers the sales period."
        )
    cal = cal.loc[day_names]
    dates = pd.to_datetime(cal["date"]).to_numpy(dtype="datetime64[ns]")

    # Series in id order, so the melted frame comes out sorted without sorting 59M rows.
    hierarchy = sales[list(M5_HIERARCHY)].astype("object")
    uid = (hierarchy["item_id"].astype(str) + "_" + hierarchy["store_id"].astype(str)).to_numpy()
    dup = pd.Series(uid).duplicated()
    if dup.any():
        raise ValueError(
            f"`sales` has several rows for series {list(pd.unique(uid[dup.to_numpy()]))[:5]} "
            "(item_id, store_id); keep one row per item and store (e.g. do not stack the "
            "validation and evaluation files)."
        )
    order = np.argsort(uid, kind="stable")
    uid = uid[order]
    hierarchy = hierarchy.iloc[order].reset_index(drop=True)
    values = sales[day_names].to_numpy()[order]
    n, t = values.shape

    static = pd.concat([pd.DataFrame({_UID: uid}), hierarchy], axis=1)
    codes = np.repeat(np.arange(n), t)
    uid_long, ds_long = np.repeat(uid, t), np.tile(dates, n)
    # The arrays are fresh, so the frames take them without the copy pandas makes by default;
    # at full M5 size (59M rows) that copy is most of the run time.
    long_sales = pd.DataFrame(
        {_UID: uid_long, _DS: ds_long, _Y: _plain_numeric(values.ravel())}, copy=False
    )

    dyn: dict[str, Any] = {_UID: uid_long.copy(), _DS: ds_long.copy()}
    if prices is not None:
        dyn["price"] = _m5_price_matrix(to_pandas(prices, name="prices"), cal, hierarchy).ravel()
    for col in M5_EVENTS:
        if col in cal.columns:
            per_day = _as_category(cal[col].to_numpy())
            dyn[col] = pd.Categorical.from_codes(
                np.tile(per_day.codes, n), categories=per_day.categories
            )
    snap_cols = [c for c in cal.columns if str(c).startswith("snap_")]
    if snap_cols:
        states = hierarchy["state_id"].astype(str).to_numpy()
        state_names, state_idx = np.unique(states, return_inverse=True)
        missing = [f"snap_{s}" for s in state_names if f"snap_{s}" not in cal.columns]
        if missing:
            raise ValueError(
                f"`calendar` is missing {missing} for states in `sales`; pass the official "
                "calendar, which has snap_CA, snap_TX and snap_WI."
            )
        snap = np.stack([cal[f"snap_{s}"].to_numpy(dtype="int8") for s in state_names])
        dyn["snap"] = snap[state_idx].ravel()
    dynamic = pd.DataFrame(dyn, copy=False)

    long_sales, static, dynamic = _trim_leading(long_sales, static, dynamic, codes, trim_leading)
    return ShopData(sales=long_sales, freq="D", static=static, dynamic=dynamic)


def _m5_price_matrix(
    prices: pd.DataFrame, cal: pd.DataFrame, hierarchy: pd.DataFrame
) -> np.ndarray:
    """(series x day) sell prices: the (store, item, week) price spread over the week's days."""
    _require(
        prices,
        M5_PRICE_COLUMNS,
        name="prices",
        fix="Pass the official M5 sell_prices.csv (store_id, item_id, wm_yr_wk, sell_price).",
    )
    if "wm_yr_wk" not in cal.columns:
        raise ValueError(
            "`calendar` is missing column 'wm_yr_wk', needed to join `prices`; pass the "
            "official M5 calendar."
        )
    day_weeks = cal["wm_yr_wk"].to_numpy()
    weeks, day_week_idx = np.unique(day_weeks, return_inverse=True)
    items = pd.Index(pd.unique(hierarchy["item_id"].astype(str)))
    stores = pd.Index(pd.unique(hierarchy["store_id"].astype(str)))
    series_of = np.full((items.size, stores.size), -1, dtype=np.int64)
    series_of[
        items.get_indexer(hierarchy["item_id"].astype(str)),
        stores.get_indexer(hierarchy["store_id"].astype(str)),
    ] = np.arange(hierarchy.shape[0])

    item_pos = items.get_indexer(prices["item_id"].astype(str))
    store_pos = stores.get_indexer(prices["store_id"].astype(str))
    week_pos = pd.Index(weeks).get_indexer(prices["wm_yr_wk"].to_numpy())
    used = (item_pos >= 0) & (store_pos >= 0) & (week_pos >= 0)
    series_pos = np.full(prices.shape[0], -1, dtype=np.int64)
    series_pos[used] = series_of[item_pos[used], store_pos[used]]
    used &= series_pos >= 0

    flat = series_pos[used] * weeks.size + week_pos[used]
    if np.bincount(flat, minlength=hierarchy.shape[0] * weeks.size).max(initial=0) > 1:
        raise ValueError(
            "`prices` has several rows for the same (store_id, item_id, wm_yr_wk); keep one "
            "price per store, item and week."
        )
    weekly = np.full((hierarchy.shape[0], weeks.size), np.nan)
    weekly.ravel()[flat] = prices["sell_price"].to_numpy(dtype="float64")[used]
    return weekly[:, day_week_idx]


def from_m5_long(df: Any, *, trim_leading: TrimLeading = "none") -> ShopData:
    """Turns an already-long M5 extract (one row per item, store and day) into the contract.

    Expects the layout of the ``tiny_m5`` extract: ``item_id, dept_id, cat_id, store_id,
    state_id, value, date`` plus, when present, ``sell_price``, ``snap`` (the SNAP flag of the
    row's state) and ``event_name_1, event_type_1, event_name_2, event_type_2`` (empty string
    = no event). The output has the same shape as :func:`from_m5`: ``unique_id =
    f"{item_id}_{store_id}"``, ``y`` from ``value``, ``ds`` from ``date``, events as
    categoricals with missing for "no event", ``snap`` and ``price`` (from ``sell_price``; NaN =
    not yet on sale) in ``dynamic``. ``trim_leading`` is as in :func:`from_m5`.

    Args:
        df: long frame (pandas or polars).
        trim_leading: ``"none"``, ``"unpriced"`` or ``"zeros"``, see :func:`from_m5`.

    Returns:
        ShopData with ``freq="D"``, sorted by id then date.

    Example:
        >>> df = pd.DataFrame({"item_id": ["A", "A"], "store_id": ["CA_1", "CA_1"],
        ...                    "value": [0, 2], "date": ["2011-01-29", "2011-01-30"]})
        >>> from_m5_long(df).sales["unique_id"].tolist()
        ['A_CA_1', 'A_CA_1']
    """
    _check_trim(trim_leading)
    df = to_pandas(df, name="df")
    _require(
        df,
        ("item_id", "store_id", "value", "date"),
        name="df",
        fix="from_m5_long expects the long M5 layout (item_id, store_id, value, date, ...); "
        "for the wide Kaggle files use from_m5.",
    )
    uid = df["item_id"].astype(str) + "_" + df["store_id"].astype(str)
    ds = pd.to_datetime(df["date"])
    if ds.isna().any():
        raise ValueError(
            f"Column 'date' has {int(ds.isna().sum())} missing or unparsable values; fix or "
            "remove those rows first."
        )
    order = np.lexsort((ds.to_numpy(), uid.to_numpy()))
    uid = uid.to_numpy()[order]
    ds = ds.to_numpy(dtype="datetime64[ns]")[order]
    dup = np.r_[False, (uid[1:] == uid[:-1]) & (ds[1:] == ds[:-1])]
    if dup.any():
        raise ValueError(
            f"`df` has {int(dup.sum())} repeated (item_id, store_id, date) rows, e.g. "
            f"{uid[dup][0]} on {pd.Timestamp(ds[dup][0]).date()}; keep one row per series and day."
        )
    rows = df.iloc[order].reset_index(drop=True)
    sales = pd.DataFrame({_UID: uid, _DS: ds, _Y: _plain_numeric(rows["value"])})

    hier = [c for c in M5_HIERARCHY if c in rows.columns]
    firsts = np.r_[True, uid[1:] != uid[:-1]]
    static = pd.concat(
        [
            pd.DataFrame({_UID: uid[firsts]}),
            rows.loc[firsts, hier].astype("object").reset_index(drop=True),
        ],
        axis=1,
    )
    varying = [
        c for c in hier if rows.groupby(uid, sort=False)[c].nunique(dropna=False).gt(1).any()
    ]
    if varying:
        raise ValueError(
            f"Columns {varying} change within a series; item_id and store_id must determine the "
            "hierarchy (dept_id, cat_id, state_id)."
        )

    dyn: dict[str, Any] = {_UID: uid, _DS: ds}
    if "sell_price" in rows.columns:
        dyn["price"] = rows["sell_price"].astype("float64").to_numpy()
    for col in M5_EVENTS:
        if col in rows.columns:
            dyn[col] = _as_category(rows[col].to_numpy())
    if "snap" in rows.columns:
        snap = _plain_numeric(rows["snap"])
        dyn["snap"] = snap.astype("int8") if snap.dtype.kind == "i" else snap
    dynamic = pd.DataFrame(dyn)

    codes = np.cumsum(firsts) - 1
    sales, static, dynamic = _trim_leading(sales, static, dynamic, codes, trim_leading)
    return ShopData(sales=sales, freq="D", static=static, dynamic=dynamic)


# ----------------------------------------------------------------------------------------------
# Transactions
# ----------------------------------------------------------------------------------------------
@dataclass
class TransactionReport:
    """What :func:`from_transactions` did with each input line.

    ``rows_in == rows_used + sum(excluded.values())`` always holds. Used lines are either demand
    lines (positive quantity, not on a cancelled invoice) or return lines (negative quantity or
    cancelled invoice), the latter counted in the dynamic ``returned_units`` and never
    subtracted from demand.

    Attributes:
        rows_in: lines received.
        rows_used: lines that entered demand or returns.
        excluded: lines left out, per reason (see ``EXCLUSION_REASONS``).
        demand_lines: used lines counted as demand.
        return_lines: used lines with a negative quantity on a non-cancelled invoice.
        cancelled_lines: used lines on an invoice starting with the cancel prefix.
        units_ordered: total demand (sum of ``y``).
        units_returned: total returned or cancelled units (sum of ``returned_units``).
        products: number of series.
        periods: number of periods from the first to the last used period.
        sales_rows: rows of the sales frame.
        filled_zero_rows: sales rows with no demand line, filled with ``y = 0``.
        start: first used timestamp.
        end: last used timestamp.
        freq: period frequency.
        partial_first_period: the data starts after the first period's first day.
        partial_last_period: the data ends before the last period's last day, so its demand
            is incomplete.
    """

    rows_in: int
    rows_used: int
    excluded: dict[str, int] = field(default_factory=dict)
    demand_lines: int = 0
    return_lines: int = 0
    cancelled_lines: int = 0
    units_ordered: float = 0.0
    units_returned: float = 0.0
    products: int = 0
    periods: int = 0
    sales_rows: int = 0
    filled_zero_rows: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    freq: str = "D"
    partial_first_period: bool = False
    partial_last_period: bool = False

    @property
    def rows_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def summary(self) -> pd.DataFrame:
        """Line counts as a frame: one row per outcome, with ``rows`` and ``share`` of rows in."""
        items = [("rows_in", self.rows_in)]
        items += [(f"excluded:{k}", v) for k, v in self.excluded.items()]
        items += [
            ("rows_used", self.rows_used),
            ("used:demand_lines", self.demand_lines),
            ("used:return_lines", self.return_lines),
            ("used:cancelled_lines", self.cancelled_lines),
        ]
        out = pd.DataFrame(items, columns=["outcome", "rows"])
        out["share"] = out["rows"] / self.rows_in if self.rows_in else np.nan
        return out

    def __str__(self) -> str:
        def pct(k: int) -> str:
            return f"{k / self.rows_in:6.2%}" if self.rows_in else "   n/a"

        lines = [
            f"Transactions: {self.rows_in:,} lines in, {self.rows_used:,} used ({pct(self.rows_used)}), "
            f"{self.rows_excluded:,} excluded ({pct(self.rows_excluded)})",
        ]
        for reason, k in self.excluded.items():
            if k:
                lines.append(f"  excluded {reason:<26} {k:>10,} ({pct(k)})")
        lines += [
            f"  demand lines {self.demand_lines:,} ({self.units_ordered:,.0f} units); returns "
            f"{self.return_lines:,} lines + cancellations {self.cancelled_lines:,} lines "
            f"({self.units_returned:,.0f} units, not subtracted from demand)",
            f"Series: {self.products:,} products x {self.periods:,} periods ({self.freq}), "
            f"{self.sales_rows:,} rows of which {self.filled_zero_rows:,} zero-filled",
            f"Dates: {self.start} .. {self.end}"
            + (" (first period partial)" if self.partial_first_period else "")
            + (" (last period partial)" if self.partial_last_period else ""),
        ]
        return "\n".join(lines)


def _period_start(ts: pd.Series, freq: str) -> tuple[pd.Series, str]:
    """Label of the period holding each timestamp: the period's first day."""
    offset = pd.tseries.frequencies.to_offset(freq)
    day = ts.dt.normalize()
    if isinstance(offset, pd.offsets.Day) and offset.n == 1:
        return day, "D"
    if isinstance(offset, pd.offsets.Week) and offset.n == 1 and offset.weekday is not None:
        back = (day.dt.dayofweek - offset.weekday) % 7
        return day - pd.to_timedelta(back, unit="D"), offset.freqstr
    if isinstance(offset, pd.offsets.MonthBegin) and offset.n == 1:
        return day - pd.to_timedelta(day.dt.day - 1, unit="D"), "MS"
    raise ValueError(
        f"freq={freq!r} is not supported; use 'D' (days), 'W-MON' .. 'W-SUN' (weeks starting on "
        "that day) or 'MS' (calendar months)."
    )


def _parse_times(raw: pd.Series, time_format: str | None) -> pd.Series:
    """Timestamps, NaT where unparsable.

    Without a format, pandas infers one from the first value; values in another layout (a date
    without a time, say) are then parsed one by one rather than lost. Zone-aware timestamps are
    taken at their local wall-clock time.
    """
    if pd.api.types.is_datetime64_any_dtype(raw):
        ts = raw
    else:
        ts = pd.to_datetime(raw, format=time_format, errors="coerce")
        failed = ts.isna() & raw.notna()
        if time_format is None and failed.any():
            ts = ts.copy()
            ts[failed] = pd.to_datetime(raw[failed], format="mixed", errors="coerce")
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        # Periods follow the shop's local calendar: keep the wall-clock time, drop the zone.
        ts = ts.dt.tz_localize(None)
    return ts


def _flag(s: pd.Series) -> np.ndarray:
    """A boolean mask from a comparison that may hold missing values (nullable dtypes)."""
    return s.to_numpy(dtype=bool, na_value=False)


def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s) else s


def from_transactions(
    lines: Any,
    *,
    time_col: str,
    product_col: str,
    quantity_col: str,
    price_col: str | None = None,
    customer_col: str | None = None,
    invoice_col: str | None = None,
    store_col: str | None = None,
    text_col: str | None = None,
    freq: str = "W-MON",
    cancel_prefix: str | None = "C",
    time_format: str | None = None,
) -> tuple[ShopData, TransactionReport]:
    """Aggregates order lines into demand per product (and store) and period.

    Demand is the units ordered: the sum of positive quantities on lines whose invoice does not
    start with ``cancel_prefix``. Returns (negative quantities) and cancellations (invoices
    starting with the prefix) are never subtracted; their absolute units go to the dynamic
    column ``returned_units`` of the period they were booked in. Lines are left out, and counted
    in the report under the first reason that applies, when they have:

    * ``missing_product`` / ``missing_store``: no product (or store) id;
    * ``bad_timestamp``: a missing or unparsable timestamp;
    * ``missing_quantity`` / ``zero_quantity``: a missing, non-numeric or zero quantity;
    * ``missing_price`` / ``non_positive_price``: with ``price_col``, a missing or non-numeric
      price, or a price <= 0 (bookkeeping adjustments, samples, write-offs);
    * ``return_before_first_sale``: a return or cancellation of a product that has no demand
      line at or before that period, so no series to attach it to.

    Periods are labelled by their first day: with ``freq="W-MON"`` a week runs Monday to Sunday
    and ``ds`` is its Monday (the dates ``pd.date_range(freq="W-MON")`` yields); ``"D"`` labels
    days, ``"MS"`` calendar months. Each series runs from the period of the product's first sale
    to the last period of the data, and periods without any demand line get ``y = 0``: no order
    line means nothing was ordered. The report counts those filled rows and says whether the
    first or last period is only partly covered by the data.

    Args:
        lines: one row per order line (pandas or polars).
        time_col: timestamp column (datetime, or text parsed with ``time_format``).
        product_col: product id column (e.g. a SKU or stock code; a title works if there is
            no id).
        quantity_col: units on the line; negative for returns.
        price_col: optional unit price; enables the price checks and the dynamic ``price``.
        customer_col: optional customer id; enables the dynamic ``n_customers``.
        invoice_col: optional invoice / order id; enables cancellation detection and the
            dynamic ``n_orders``.
        store_col: optional store / channel column; series become product x store,
            ``unique_id = f"{product}_{store}"``.
        text_col: optional product description; its most frequent value per series (ties:
            alphabetical first) goes to ``static["title"]``.
        freq: ``"D"``, ``"W-MON"`` .. ``"W-SUN"`` or ``"MS"``.
        cancel_prefix: invoices starting with it are cancellations (``None`` to disable).
        time_format: ``strftime`` format for text timestamps. By default the format is
            inferred from the first value and values that do not match it are parsed one by
            one; pass it to make parsing strict and fast.

    Returns:
        ``(ShopData, TransactionReport)``. ``sales``: ``unique_id, ds, y``; ``static``:
        ``unique_id, item_id`` (+ ``store_id``, ``title``); ``dynamic``: ``unique_id, ds,
        returned_units, n_lines`` (+ ``price`` = quantity-weighted mean unit price of the
        demand lines, NaN without demand; ``n_orders``; ``n_customers``).

    Example:
        >>> lines = pd.DataFrame({"t": ["2024-01-01", "2024-01-03", "2024-01-16"],
        ...                       "sku": ["A", "A", "A"], "qty": [2, 3, 1]})
        >>> data, report = from_transactions(lines, time_col="t", product_col="sku", quantity_col="qty")
        >>> data.sales["y"].tolist()
        [5, 0, 1]
        >>> report.filled_zero_rows
        1
    """
    lines = to_pandas(lines, name="lines")
    roles = {
        "time_col": time_col,
        "product_col": product_col,
        "quantity_col": quantity_col,
        "price_col": price_col,
        "customer_col": customer_col,
        "invoice_col": invoice_col,
        "store_col": store_col,
        "text_col": text_col,
    }
    for role, col in roles.items():
        if col is not None and col not in lines.columns:
            raise ValueError(
                f"`lines` has no column {col!r} (passed as {role}); its columns are "
                f"{list(lines.columns)}. Pass {role}= the name of the matching column"
                + (
                    " or leave it as None."
                    if role not in ("time_col", "product_col", "quantity_col")
                    else "."
                )
            )
    n_in = lines.shape[0]
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    bad = np.zeros(n_in, dtype=bool)

    def exclude(reason: str, mask: np.ndarray) -> None:
        new = mask & ~bad
        excluded[reason] = int(new.sum())
        bad[new] = True

    product = lines[product_col]
    exclude("missing_product", product.isna().to_numpy())
    store = lines[store_col] if store_col is not None else None
    if store is not None:
        exclude("missing_store", store.isna().to_numpy())

    ts = _parse_times(lines[time_col], time_format)
    exclude("bad_timestamp", ts.isna().to_numpy())

    qty = _numeric(lines[quantity_col])
    exclude("missing_quantity", qty.isna().to_numpy())
    exclude("zero_quantity", _flag(qty == 0))
    price = None
    if price_col is not None:
        price = _numeric(lines[price_col])
        exclude("missing_price", price.isna().to_numpy())
        exclude("non_positive_price", _flag(price <= 0))

    ok = ~bad
    # Integer quantities stay integer (nullable ones too, once their gaps are excluded).
    qty_dtype = "int64" if pd.api.types.is_integer_dtype(qty.dtype) else "float64"
    qty = qty[ok].to_numpy(dtype=qty_dtype)
    cancelled = np.zeros(qty.size, dtype=bool)
    if invoice_col is not None and cancel_prefix:
        cancelled = (
            lines.loc[ok, invoice_col].astype(str).str.startswith(cancel_prefix).to_numpy()
            & lines.loc[ok, invoice_col].notna().to_numpy()
        )
    is_demand = (qty > 0) & ~cancelled

    # Series ids, sorted. Mixed id types (85123 next to "85123A", typical of CSV readers) would
    # make 85123 and "85123" two products, so they are refused rather than guessed at.
    prod_ok = product[ok]
    kind = pd.api.types.infer_dtype(prod_ok, skipna=True)
    if kind.startswith("mixed"):
        raise ValueError(
            f"Column {product_col!r} mixes id types (e.g. numbers and text); cast it first, "
            f"e.g. lines[{product_col!r}] = lines[{product_col!r}].astype(str)."
        )
    if store is not None:
        uid_values = (prod_ok.astype(str) + "_" + store[ok].astype(str)).to_numpy()
    else:
        uid_values = prod_ok.to_numpy()
    codes, uniques = pd.factorize(uid_values, sort=True)

    ds, freq = _period_start(ts[ok], freq)
    ds = ds.to_numpy(dtype="datetime64[ns]")
    offset = pd.tseries.frequencies.to_offset(freq)

    empty_report = TransactionReport(rows_in=n_in, rows_used=0, excluded=excluded, freq=freq)
    if not is_demand.any():
        # Every used line is a return: none can be attached to a series.
        exclude("return_before_first_sale", ok.copy())
        empty_report.excluded = excluded
        empty = pd.DataFrame(
            {_UID: pd.Series(dtype=object), _DS: pd.Series(dtype="datetime64[ns]"), _Y: []}
        )
        warnings.warn("No demand line left after the checks; the result is empty.", stacklevel=2)
        return ShopData(sales=empty, freq=freq, static=None, dynamic=None), empty_report

    grid = pd.date_range(ds.min(), ds.max(), freq=freq).to_numpy(dtype="datetime64[ns]")
    period = np.searchsorted(grid, ds)
    n_periods = grid.size

    # Series start at the period of the product's first demand line.
    first = np.full(uniques.size, n_periods, dtype=np.int64)
    np.minimum.at(first, codes[is_demand], period[is_demand])
    orphan = ~is_demand & (period < first[codes])
    ok_idx = np.flatnonzero(ok)
    late_bad = np.zeros(n_in, dtype=bool)
    late_bad[ok_idx[orphan]] = True
    exclude("return_before_first_sale", late_bad)
    keep = ~orphan
    ok_idx = ok_idx[keep]
    codes, period, qty = codes[keep], period[keep], qty[keep]
    cancelled, is_demand = cancelled[keep], is_demand[keep]

    # Products with no demand line at all have no series; drop their ids and re-code.
    has_series = first < n_periods
    remap = np.cumsum(has_series) - 1
    uniques = uniques[has_series]
    first = first[has_series]
    codes = remap[codes]
    n_series = uniques.size
    # The data starts with the first used line: drop leading periods that only held
    # the returns just excluded.
    lead = int(min(first.min(), period.min()))
    grid, period, first = grid[lead:], period - lead, first - lead
    n_periods = grid.size

    # Full (series, period) grid from first sale to the end; keys sorted by series then period.
    lengths = n_periods - first
    grid_series = np.repeat(np.arange(n_series), lengths)
    grid_period = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid_period += np.repeat(first, lengths)
    grid_key = grid_series * n_periods + grid_period
    line_key = codes * n_periods + period
    pos = np.searchsorted(grid_key, line_key)

    n_rows = grid_key.size
    y = np.zeros(n_rows, dtype=qty.dtype)
    np.add.at(y, pos[is_demand], qty[is_demand])
    returned = np.zeros(n_rows, dtype=qty.dtype)
    np.add.at(returned, pos[~is_demand], np.abs(qty[~is_demand]))
    n_lines = np.bincount(pos[is_demand], minlength=n_rows)
    filled = int(n_rows - np.unique(pos[is_demand]).size)

    uid_col = uniques[grid_series]
    ds_col = grid[grid_period]
    sales = pd.DataFrame({_UID: uid_col, _DS: ds_col, _Y: y})
    dyn: dict[str, Any] = {
        _UID: uid_col,
        _DS: ds_col,
        "returned_units": returned,
        "n_lines": n_lines,
    }
    used = lines.iloc[ok_idx]
    if price is not None:
        p = price.to_numpy()[ok_idx]
        revenue = np.zeros(n_rows)
        np.add.at(revenue, pos[is_demand], qty[is_demand] * p[is_demand])
        with np.errstate(invalid="ignore", divide="ignore"):
            dyn["price"] = np.where(y > 0, revenue / np.where(y > 0, y, 1), np.nan)
    for name, col in (("n_orders", invoice_col), ("n_customers", customer_col)):
        if col is not None:
            counts = (
                pd.DataFrame({"pos": pos[is_demand], "v": used[col].to_numpy()[is_demand]})
                .groupby("pos")["v"]
                .nunique()
            )
            out = np.zeros(n_rows, dtype=np.int64)
            out[counts.index.to_numpy()] = counts.to_numpy()
            dyn[name] = out
    dynamic = pd.DataFrame(dyn)

    static = pd.DataFrame({_UID: uniques})
    _, first_line = np.unique(codes, return_index=True)
    static["item_id"] = product.to_numpy()[ok_idx[first_line]]
    if store is not None:
        static["store_id"] = store.to_numpy()[ok_idx[first_line]]
    if text_col is not None:
        text = pd.DataFrame({"code": codes, "text": used[text_col].to_numpy()}).dropna()
        top = (
            text.groupby(["code", "text"])
            .size()
            .rename("k")
            .reset_index()
            .sort_values(["code", "k", "text"], ascending=[True, False, True])
            .drop_duplicates("code")
        )
        titles = np.full(n_series, None, dtype=object)
        titles[top["code"].to_numpy()] = top["text"].to_numpy()
        static["title"] = titles

    t_used = ts.to_numpy()[ok_idx]
    start, end = pd.Timestamp(t_used.min()), pd.Timestamp(t_used.max())
    last_day = pd.Timestamp(grid[-1]) + offset - pd.Timedelta(days=1)
    report = TransactionReport(
        rows_in=n_in,
        rows_used=int(ok_idx.size),
        excluded=excluded,
        demand_lines=int(is_demand.sum()),
        return_lines=int((~is_demand & ~cancelled).sum()),
        cancelled_lines=int(cancelled.sum()),
        units_ordered=float(y.sum()),
        units_returned=float(returned.sum()),
        products=int(n_series),
        periods=int(n_periods),
        sales_rows=int(n_rows),
        filled_zero_rows=filled,
        start=start,
        end=end,
        freq=freq,
        partial_first_period=bool(start.normalize() > pd.Timestamp(grid[0])),
        partial_last_period=bool(end.normalize() < last_day),
    )
    return ShopData(sales=sales, freq=freq, static=static, dynamic=dynamic), report
