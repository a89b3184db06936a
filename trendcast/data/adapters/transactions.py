"""Order lines (transactions) to the data contract: demand per product and period, with
cancellations netted against the orders they reverse, returns kept apart, non-product lines
(postage, fees, adjustments) kept out, outsized lines flagged and every excluded line counted in a
`TransactionReport`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.contract import DEFAULT_COLUMNS, ShopData
from trendcast.data.dates import AmbiguousDates, parse_times
from trendcast.data.numbers import AmbiguousNumbers, infer_decimal, parse_numbers
from trendcast.data.validate import MAX_VALUE
from trendcast.errors import DataValidationError, Fix, Setting

__all__ = ["EXCLUSION_REASONS", "NON_PRODUCTS", "TransactionReport", "from_transactions"]

# Reasons a transaction line is left out, in the order they are checked; a line is counted
# under the first reason that applies.
EXCLUSION_REASONS = (
    "missing_product",
    "missing_store",
    "non_product",
    "bad_timestamp",
    "missing_quantity",
    "unreadable_quantity",
    "zero_quantity",
    "missing_price",
    "unreadable_price",
    "non_positive_price",
    "return_before_first_sale",
)

# Lines that are not a product sold: shipping, fees, discounts, manual bookings, samples,
# write-offs. Matched, ignoring case, against the whole product id and the whole description;
# the short codes are those of common shop systems (POST, DOT, M, D, C2, S, B, CRUK, ...).
NON_PRODUCTS = (
    r"post|dot|m|d|c2|s|b|cruk|amazonfee|bank charges?|"
    r"((dotcom|next day|express) )?(postage|carriage|shipping|delivery)( charges?| costs?)?|"
    r"manual|discount|(amazon |ebay |paypal )?fees?|samples?|show samples|samples?/damages?|"
    r"damages?/samples?|.*\badjust(ment)?\b.*|.*\bcommission\b.*"
)

_OUTLIER_COLUMNS = ["unique_id", "time", "quantity", "usual", "ratio"]
_MIN_LINES = 5  # a product's usual line is its median over at least this many lines

_LINES = "order lines"
_UID, _DS, _Y = DEFAULT_COLUMNS.id_col, DEFAULT_COLUMNS.time_col, DEFAULT_COLUMNS.target_col


@dataclass
class TransactionReport:
    """What :func:`from_transactions` did with each input line.

    ``rows_in == rows_used + sum(excluded.values())`` always holds. Used lines are demand lines
    (positive quantity, not on a cancelled invoice), reversing lines (negative quantity or
    cancelled invoice) and reversed lines: a reversing line that matches an earlier order of
    the same customer and product takes its units off that order's demand; what no order
    matches counts in the dynamic ``returned_units``, never subtracted from demand. Lines
    netted to nothing on both sides are the ``reversed_lines``.

    Attributes:
        rows_in: lines received.
        rows_used: lines that entered demand or returns.
        excluded: lines left out, per reason (see ``EXCLUSION_REASONS``).
        demand_lines: used lines counted as demand.
        return_lines: used lines with a negative quantity on a non-cancelled invoice.
        cancelled_lines: used lines on an invoice starting with the cancel prefix.
        reversed_lines: orders and their cancellations (or returns) netted to nothing.
        units_reversed: units taken off demand by matched cancellations and returns.
        units_ordered: total demand (sum of ``y``), net of the units reversed.
        units_returned: returned or cancelled units that no order matched (sum of
            ``returned_units``).
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
        non_products: the product ids of the lines left out as ``non_product``, with lines.
        unreadable: per column, a few of the values that were no number.
        units_excluded: units on lines left out (those with a readable quantity).
        outliers: demand lines far above their product's usual line (``unique_id``, the
            line's time, ``quantity``, ``usual``, ``ratio``), largest ratio first; flagged,
            still counted as demand.
        notes: what else was decided for the user (e.g. the category given to every product).
    """

    rows_in: int
    rows_used: int
    excluded: dict[str, int] = field(default_factory=dict)
    demand_lines: int = 0
    return_lines: int = 0
    cancelled_lines: int = 0
    reversed_lines: int = 0
    units_reversed: float = 0.0
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
    non_products: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list[str]] = field(default_factory=dict)
    units_excluded: float = 0.0
    outliers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=_OUTLIER_COLUMNS), compare=False
    )
    notes: list[str] = field(default_factory=list)
    outlier_factor: float = 50.0

    @property
    def rows_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    @property
    def warning(self) -> str | None:
        """Said when more than 1% of the lines, or of the units, were left out."""
        rows = self.rows_excluded / self.rows_in if self.rows_in else 0.0
        total = self.units_excluded + self.units_ordered + self.units_reversed
        units = self.units_excluded / total if total else 0.0
        if max(rows, units) <= 0.01:
            return None
        return (
            f"{rows:.1%} of the lines and {units:.1%} of the units were left out; check the "
            "reasons above before trusting the demand."
        )

    def summary(self) -> pd.DataFrame:
        """Line counts as a frame: one row per outcome, with ``rows`` and ``share`` of rows in."""
        items = [("rows_in", self.rows_in)]
        items += [(f"excluded:{k}", v) for k, v in self.excluded.items()]
        items += [
            ("rows_used", self.rows_used),
            ("used:demand_lines", self.demand_lines),
            ("used:return_lines", self.return_lines),
            ("used:cancelled_lines", self.cancelled_lines),
            ("used:reversed_lines", self.reversed_lines),
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
        if self.non_products:
            top = ", ".join(f"{k} ({v:,})" for k, v in list(self.non_products.items())[:6])
            lines.append(f"  non-product lines: {top}")
        for column, values in self.unreadable.items():
            shown = ", ".join(repr(v) for v in values)
            lines.append(f"  not numbers in '{column}': {shown}")
        if self.warning:
            lines.append(f"Warning: {self.warning}")
        lines += [
            f"  demand lines {self.demand_lines:,} ({self.units_ordered:,.0f} units); "
            f"{self.reversed_lines:,} lines of orders and their cancellations netted "
            f"({self.units_reversed:,.0f} units taken off demand); unmatched returns "
            f"{self.return_lines:,} lines + cancellations {self.cancelled_lines:,} lines "
            f"({self.units_returned:,.0f} units, not subtracted from demand)",
            f"Series: {self.products:,} products x {self.periods:,} periods ({self.freq}), "
            f"{self.sales_rows:,} rows of which {self.filled_zero_rows:,} zero-filled",
            f"Dates: {self.start} .. {self.end}"
            + (" (first period partial)" if self.partial_first_period else "")
            + (" (last period partial)" if self.partial_last_period else ""),
        ]
        if len(self.outliers):
            worst = self.outliers.iloc[0]
            lines.append(
                f"Outliers: {len(self.outliers):,} demand lines over {self.outlier_factor:g}x their "
                f"product's usual line, kept as demand; the largest: {worst['unique_id']} "
                f"{worst['quantity']:,.0f} units on {worst['time']:%Y-%m-%d} (usual "
                f"{worst['usual']:,.0f})"
            )
        lines += [f"Note: {note}" for note in self.notes]
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


def _times(raw: pd.Series, time_format: str | None, name: str) -> pd.Series:
    """Timestamps at their local wall-clock time (see `parse_times`), NaT where unreadable."""
    try:
        times = parse_times(raw, time_format=time_format, name=name).times
    except AmbiguousDates as error:
        first, other = error.layouts
        raise DataValidationError(
            f"{error} Day and month cannot be told apart.",
            frame=_LINES,
            column=name,
            fix=Fix.of("pass the layout: ", Setting("time_format", first), " or ",
                       Setting("time_format", other), "."),
        ) from None  # fmt: skip
    # Out of 1900-2200 a timestamp is a typo or a placeholder, not a sale: never a series start.
    return times.where((times >= "1900-01-01") & (times < "2201-01-01"))


def _flag(s: pd.Series) -> np.ndarray:
    """A boolean mask from a comparison that may hold missing values (nullable dtypes)."""
    return s.to_numpy(dtype=bool, na_value=False)


def _decimal(lines: pd.DataFrame, *names: str | None) -> str:
    """The decimal separator the text quantities and prices show together."""
    text = [lines[n] for n in names if n is not None and not _is_number(lines[n])]
    try:
        return infer_decimal(text, name=" and ".join(str(n) for n in names if n is not None))
    except AmbiguousNumbers as error:
        raise _ambiguous(error, names[0]) from None


def _ambiguous(error: AmbiguousNumbers, column: str | None) -> DataValidationError:
    return DataValidationError(
        f"{error}.",
        frame=_LINES,
        column=column,
        fix=Fix.of("pass the decimal separator: ", Setting("decimal", "."), " or ",
                   Setting("decimal", ","), "."),
    )  # fmt: skip


def _is_number(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)


def _numbers(raw: pd.Series, decimal: str, name: str) -> pd.Series:
    """Quantities or prices as numbers (see `parse_numbers`); numeric columns as they are."""
    if _is_number(raw):
        return raw
    try:
        return parse_numbers(raw, decimal=decimal, name=name)
    except AmbiguousNumbers as error:
        raise _ambiguous(error, name) from None


def _unreadable(
    raw: pd.Series, numbers: pd.Series, done: np.ndarray, examples: dict[str, list[str]]
) -> np.ndarray:
    """Lines whose value is given but is no usable number (``2 pcs``, ``inf``, ``1e308``),
    among those not excluded yet; a few of them go to ``examples``."""
    values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    mask = raw.notna().to_numpy() & ~(np.abs(values) <= MAX_VALUE) & ~done
    if mask.any():
        examples[str(raw.name)] = list(dict.fromkeys(raw[mask].astype(str)))[:3]
    return mask


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
    decimal: str | None = None,
    cancel_window: str | pd.Timedelta | None = "30D",
    non_products: str | None = NON_PRODUCTS,
    category_col: str | None = None,
    outlier_factor: float = 50.0,
) -> tuple[ShopData, TransactionReport]:
    """Aggregates order lines into demand per product (and store) and period.

    Demand is the units ordered: the sum of positive quantities on lines whose invoice does not
    start with ``cancel_prefix``, less what cancellations take back. A reversing line (a
    negative quantity, or an invoice starting with the prefix) of a customer takes its units
    off that customer's latest orders of the same product (and store) within
    ``cancel_window`` before it: an order cancelled at once never counts as demand. What no
    order matches (no customer, an older order, more units than were ordered) is never
    subtracted; its units go to the dynamic column ``returned_units`` of the period it was
    booked in. Lines are left out, and counted in the report under the first reason that
    applies, when they have:

    * ``missing_product`` / ``missing_store``: no product (or store) id;
    * ``non_product``: a product id or description matching ``non_products`` (postage,
      fees, discounts, manual bookings, samples, adjustments), listed in the report;
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
        cancel_window: how far back a cancellation or return looks for the order it
            reverses (a pandas time span, e.g. ``"30D"``); ``None``: nothing is netted.
        non_products: regular expression (full match, any case) of the product ids and
            descriptions that are not products; ``None`` keeps every line.
        category_col: optional category column, to ``static["cat_id"]`` (its most frequent
            value per series); without it every product is in category ``"all"``, and the
            report says so.
        outlier_factor: demand lines above this multiple of their product's usual line (the
            median of its lines; for products with fewer than five, the 99th percentile line
            of those with more) are flagged in the report.
        time_format: ``strftime`` format for text timestamps. By default: ISO 8601, or the
            one common layout (``12/1/10 8:26``, ``31.01.2024``, ...) that reads every value;
            a column that reads both day-first and month-first is refused until it is given.
            Numbers are ``YYYYMMDD`` dates or epoch seconds.
        decimal: the decimal separator of quantities and prices written as text (``"."``
            or ``","``). By default the one the values show (``2,55``, ``1.234,50``);
            currency signs and thousands grouping are read too (``£1,234.50``). A column
            whose values read either way (every one like ``1,000``) is refused until it is
            given; a value that is no number (``2 pcs``) excludes its line as
            ``unreadable_quantity`` or ``unreadable_price``, shown in the report.

    Returns:
        ``(ShopData, TransactionReport)``. ``sales``: ``unique_id, ds, y``; ``static``:
        ``unique_id, item_id, cat_id`` (+ ``store_id``, ``title``); ``dynamic``: ``unique_id, ds,
        returned_units, n_lines`` (+ ``price`` = median unit price of the period's demand
        lines, the list price most lines paid, which volume discounts on a few large lines
        do not move; in periods without demand the last one; ``n_orders``; ``n_customers``).

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
        "category_col": category_col,
    }
    for role, col in roles.items():
        if col is not None and col not in lines.columns:
            optional = role not in ("time_col", "product_col", "quantity_col")
            raise DataValidationError(
                f"has no column {col!r} (passed as {role}); its columns are "
                f"{list(lines.columns)}.",
                frame=_LINES,
                column=col,
                fix=Fix.of("pass ", Setting(role, "<column>"), " with the name of the matching "
                           "column" + (", or leave it out." if optional else ".")),
            )  # fmt: skip
    n_in = lines.shape[0]
    if n_in == 0:
        raise DataValidationError(
            "holds no order lines.", frame=_LINES, fix="check the export that wrote it."
        )
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
    non_product = np.zeros(n_in, dtype=bool)
    if non_products:
        _check_pattern(non_products)
        for col in dict.fromkeys(c for c in (product_col, text_col) if c is not None):
            text = lines[col].astype("string").str.strip()
            non_product |= _flag(text.str.fullmatch(non_products, case=False))
    non_product &= ~bad
    exclude("non_product", non_product)
    named = product[non_product].astype(str).value_counts()

    ts = _times(lines[time_col], time_format, time_col)
    exclude("bad_timestamp", ts.isna().to_numpy())

    unreadable: dict[str, list[str]] = {}
    decimal = decimal or _decimal(lines, quantity_col, price_col)
    qty = _numbers(lines[quantity_col], decimal, quantity_col)
    exclude("missing_quantity", lines[quantity_col].isna().to_numpy())
    exclude("unreadable_quantity", _unreadable(lines[quantity_col], qty, bad, unreadable))
    exclude("zero_quantity", _flag(qty == 0))
    price = None
    if price_col is not None:
        price = _numbers(lines[price_col], decimal, price_col)
        exclude("missing_price", lines[price_col].isna().to_numpy())
        exclude("unreadable_price", _unreadable(lines[price_col], price, bad, unreadable))
        exclude("non_positive_price", _flag(price <= 0))
    given_units = qty.to_numpy(dtype="float64", na_value=np.nan)
    given_units = np.where(np.abs(given_units) <= MAX_VALUE, given_units, np.nan)
    units_excluded = float(np.nansum(np.clip(given_units[bad], 0, None)))

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
        raise DataValidationError(
            "mixes id types (e.g. numbers and text), so 85123 and '85123' would be two products.",
            frame=_LINES,
            column=product_col,
            fix=Fix.of("read the file with every column as text (trendcast import does), or cast "
                       "the column first.", example=f"lines[{product_col!r}] = "
                       f"lines[{product_col!r}].astype(str)"),
        )  # fmt: skip
    if store is not None:
        uid_values = (prod_ok.astype(str) + "_" + store[ok].astype(str)).to_numpy()
        _check_unique_ids(prod_ok, store[ok], uid_values)
    else:
        uid_values = prod_ok.to_numpy()
    codes, uniques = pd.factorize(uid_values, sort=True)

    n_reversed, units_before = 0, qty[is_demand].sum()
    if customer_col is not None and cancel_window is not None:
        qty, netted = _net_reversals(
            codes, lines.loc[ok, customer_col], ts[ok], qty, is_demand, pd.Timedelta(cancel_window)
        )
        # Lines netted to nothing leave the data; the report counts them as used.
        n_reversed = int(netted.sum())
        ok[np.flatnonzero(ok)[netted]] = False
        qty, codes, cancelled, is_demand = (a[~netted] for a in (qty, codes, cancelled, is_demand))
    units_reversed = float(units_before - qty[is_demand].sum())

    ds, freq = _period_start(ts[ok], freq)
    ds = ds.to_numpy(dtype="datetime64[ns]")
    offset = pd.tseries.frequencies.to_offset(freq)

    empty_report = TransactionReport(
        rows_in=n_in,
        rows_used=n_reversed,
        excluded=excluded,
        reversed_lines=n_reversed,
        units_reversed=units_reversed,
        freq=freq,
        non_products=named.to_dict(),
        unreadable=unreadable,
        units_excluded=units_excluded,
    )
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
        # The median line's price, not the quantity-weighted mean: volume discounts on large
        # lines would pull the mean down exactly when demand is high, and read as elasticity.
        paid = (
            pd.Series(p[is_demand])
            .groupby(pos[is_demand])
            .median()
            .reindex(np.arange(n_rows))
            .reset_index(drop=True)
        )
        # A period without sales keeps the last price paid: the price did not vanish.
        dyn["price"] = paid.groupby(grid_series).ffill().to_numpy()
        carried = int(paid.isna().sum())
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
    notes = []
    if price is not None and carried:
        notes.append(
            f"{carried:,} periods without sales take the price last paid for the product "
            "(dynamic price)"
        )
    if category_col is not None:
        static["cat_id"] = _most_frequent(codes, used[category_col].to_numpy(), n_series)
    else:
        static["cat_id"] = "all"
        notes.append(
            'the log names no category, so every product is in category "all"; pass '
            "category_col (--category-col) to group products for pricing and trends"
        )
    if text_col is not None:
        static["title"] = _most_frequent(codes, used[text_col].to_numpy(), n_series)

    t_used = ts.to_numpy()[ok_idx]
    start, end = pd.Timestamp(t_used.min()), pd.Timestamp(t_used.max())
    last_day = pd.Timestamp(grid[-1]) + offset - pd.Timedelta(days=1)
    report = TransactionReport(
        rows_in=n_in,
        rows_used=int(ok_idx.size) + n_reversed,
        excluded=excluded,
        demand_lines=int(is_demand.sum()),
        return_lines=int((~is_demand & ~cancelled).sum()),
        cancelled_lines=int(cancelled.sum()),
        reversed_lines=n_reversed,
        units_reversed=units_reversed,
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
        non_products=named.to_dict(),
        unreadable=unreadable,
        units_excluded=units_excluded,
        outliers=_outliers(
            uniques, codes[is_demand], qty[is_demand], t_used[is_demand], outlier_factor
        ),
        outlier_factor=outlier_factor,
        notes=notes,
    )
    return ShopData(sales=sales, freq=freq, static=static, dynamic=dynamic), report


def _check_pattern(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(
            f"non_products is not a valid regular expression ({error}): {pattern!r}."
        ) from None


def _check_unique_ids(product: pd.Series, store: pd.Series, ids: np.ndarray) -> None:
    """Refuses product x store pairs that join into the same series id (``A_B`` at ``C`` and
    ``A`` at ``B_C``), which would merge two series."""
    pairs = pd.DataFrame({"p": product.astype(str).to_numpy(), "s": store.astype(str).to_numpy()})
    pairs["id"] = ids
    pairs = pairs.drop_duplicates()
    clash = pairs[pairs.duplicated("id", keep=False)]
    if len(clash):
        shown = clash.head(4).itertuples(index=False)
        raise DataValidationError(
            "product and store ids join into the same series id: "
            + "; ".join(f"product {p!r} at store {s!r} -> {i!r}" for p, s, i in shown)
            + ".",
            frame=_LINES,
            fix="rename the products or stores so that no id holds '_' where the other could "
            "end or start, or leave the store column out.",
        )


def _net_reversals(
    series: np.ndarray,
    customer: pd.Series,
    times: pd.Series,
    qty: np.ndarray,
    is_demand: np.ndarray,
    window: pd.Timedelta,
) -> tuple[np.ndarray, np.ndarray]:
    """Quantities once each reversing line of a known customer has taken its units off that
    customer's latest earlier orders of the same series within ``window``, and which lines
    are left with nothing."""
    customers, _ = pd.factorize(customer)
    known = customers >= 0
    key = series.astype(np.int64) * (int(customers.max()) + 2) + customers
    t = times.to_numpy(dtype="datetime64[ns]").view(np.int64)
    # Per key in time order; at equal times an order comes before its cancellation.
    order = np.lexsort((~is_demand, t, key))
    k, tt, demand = key[order], t[order], is_demand[order]
    rest = np.abs(qty)[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    group_start = starts[np.searchsorted(starts, np.arange(k.size), side="right") - 1]
    span = window.value
    for p in np.flatnonzero(~demand & known[order]):
        j = p - 1
        while rest[p] > 0 and j >= group_start[p] and tt[j] >= tt[p] - span:
            if demand[j] and rest[j] > 0:
                take = min(rest[j], rest[p])
                rest[j] -= take
                rest[p] -= take
            j -= 1
    left = np.empty_like(rest)
    left[order] = rest
    return np.sign(qty) * left, left == 0


def _most_frequent(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per series code, its most frequent non-missing value (ties: the first in sort order)."""
    pairs = pd.DataFrame({"code": codes, "value": values}).dropna()
    top = (
        pairs.groupby(["code", "value"])
        .size()
        .rename("k")
        .reset_index()
        .sort_values(["code", "k", "value"], ascending=[True, False, True])
        .drop_duplicates("code")
    )
    out = np.full(n, None, dtype=object)
    out[top["code"].to_numpy()] = top["value"].to_numpy()
    return out


def _outliers(
    ids: np.ndarray, codes: np.ndarray, qty: np.ndarray, times: np.ndarray, factor: float
) -> pd.DataFrame:
    """Demand lines above ``factor`` times their product's usual line: the median of its
    lines, or where it has fewer than ``_MIN_LINES``, the 99th percentile line of the products
    that have as many."""
    if qty.size == 0:
        return pd.DataFrame(columns=_OUTLIER_COLUMNS)
    lines = pd.DataFrame({"code": codes, "q": qty.astype(float)})
    per_product = lines.groupby("code")["q"].agg(["median", "size"])
    known = per_product["size"] >= _MIN_LINES
    # Products with few lines are held to the lines of the products that have many.
    pool = qty[known.reindex(codes).to_numpy()] if known.any() else qty
    usual = np.where(known, per_product["median"], np.quantile(pool, 0.99))
    reference = pd.Series(usual, index=per_product.index).reindex(codes).to_numpy()
    flagged = qty > factor * reference
    out = pd.DataFrame(
        {
            "unique_id": ids[codes[flagged]],
            "time": times[flagged],
            "quantity": qty[flagged],
            "usual": reference[flagged],
        }
    )
    out["ratio"] = out["quantity"] / out["usual"]
    return out.sort_values("ratio", ascending=False, ignore_index=True)
