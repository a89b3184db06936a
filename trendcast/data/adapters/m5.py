"""The M5 (Walmart) layout to the data contract: wide daily sales plus the calendar and weekly
sell prices (`from_m5`), or the long variant with calendar and prices joined (`from_m5_long`).
Rows are left out only when asked (``trim_leading``), with a warning for series that vanish.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import DEFAULT_COLUMNS, ShopData

__all__ = ["from_m5", "from_m5_long"]

TrimLeading = Literal["none", "unpriced", "zeros"]

M5_HIERARCHY = ("item_id", "dept_id", "cat_id", "store_id", "state_id")
M5_EVENTS = ("event_name_1", "event_type_1", "event_name_2", "event_type_2")
M5_PRICE_COLUMNS = ("store_id", "item_id", "wm_yr_wk", "sell_price")
_DAY_COLUMN = re.compile(r"^d_(\d+)$")


_UID, _DS, _Y = DEFAULT_COLUMNS.id_col, DEFAULT_COLUMNS.time_col, DEFAULT_COLUMNS.target_col


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
