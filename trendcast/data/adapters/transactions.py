"""Order lines (transactions) to the data contract: demand per product and period, with
cancellations and returns kept apart and every excluded line counted in a `TransactionReport`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import DEFAULT_COLUMNS, ShopData

__all__ = ["EXCLUSION_REASONS", "TransactionReport", "from_transactions"]

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
