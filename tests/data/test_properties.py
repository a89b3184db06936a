"""Properties over generated input: the validator, the file reader and the order-line adapter
either refuse it with a `DataValidationError` (or the adapter's ValueError naming the fix) or
return exactly what it holds. A fixed number of examples, derandomised: same run every time."""

import io

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trendcast.data.adapters import from_transactions
from trendcast.data.io import read_source
from trendcast.data.validate import MAX_VALUE, validate
from trendcast.errors import DataValidationError

CHECKS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
IDS = st.sampled_from(["a", "001", "01", "1", "12", "12.0", "NA", "null", "04006381333932", "A_B"])
FREQS = {"D": pd.offsets.Day(), "W-SUN": pd.offsets.Week(weekday=6), "MS": pd.offsets.MonthBegin()}


@st.composite
def sales(draw):
    """A true table (text ids, dates on a grid, integer units) and that table as a user might
    hand it in: dates as text in some layout, or zoned; units as text, floats or huge."""
    freq = draw(st.sampled_from(list(FREQS)))
    ids = draw(st.lists(IDS, min_size=1, max_size=3, unique=True))
    periods = draw(st.integers(2, 6))
    start = pd.Timestamp("2024-01-07") if freq == "W-SUN" else pd.Timestamp("2024-01-01")
    dates = pd.date_range(start, periods=periods, freq=FREQS[freq])
    truth = pd.DataFrame(
        [(i, d) for i in ids for d in dates], columns=["unique_id", "ds"]
    ).assign(y=draw(st.lists(st.integers(0, 10**6), min_size=len(ids) * periods,
                             max_size=len(ids) * periods)))  # fmt: skip
    given = truth.copy()
    layout = draw(st.sampled_from(["iso", "dmy", "mdy", "zoned", "datetime", "aware"]))
    if layout == "iso":
        given["ds"] = truth["ds"].dt.strftime("%Y-%m-%d")
    elif layout == "dmy":
        given["ds"] = truth["ds"].dt.strftime("%d/%m/%Y")
    elif layout == "mdy":
        given["ds"] = truth["ds"].dt.strftime("%m/%d/%Y")
    elif layout == "zoned":
        offset = draw(st.sampled_from(["+01:00", "-05:00", "Z"]))
        given["ds"] = truth["ds"].dt.strftime("%Y-%m-%dT%H:%M") + offset
    elif layout == "aware":
        given["ds"] = truth["ds"].dt.tz_localize(draw(st.sampled_from(["UTC", "Asia/Tokyo"])))
    units = draw(st.sampled_from(["int", "float", "text", "huge", "inf", "negative"]))
    if units == "float":
        given["y"] = truth["y"].astype(float)
    elif units == "text":
        given["y"] = truth["y"].astype(str)
    elif units == "huge":
        given["y"] = truth["y"].astype(object)
        given.loc[draw(st.integers(0, len(given) - 1)), "y"] = 2**53 + 1
    elif units == "inf":
        given["y"] = truth["y"].astype(float)
        given.loc[0, "y"] = draw(st.sampled_from([np.inf, -np.inf, 1e300]))
    elif units == "negative":
        given.loc[0, "y"] = -1
    rows = draw(st.permutations(range(len(given))))
    return truth, given.iloc[list(rows)].reset_index(drop=True), freq


def assert_refused_well(error: DataValidationError):
    for problem in error.problems:
        assert problem.frame and problem.message and problem.fix.render()
        assert problem.column is not None or problem.rows is not None or problem.fix.settings


@CHECKS
@given(sales())
def test_validation_refuses_or_keeps_every_value(case):
    truth, given_frame, freq = case
    try:
        data = validate(given_frame)
    except DataValidationError as error:
        assert_refused_well(error)
        return
    assert data.freq == freq
    got = data.sales[["unique_id", "ds", "y"]].reset_index(drop=True)
    expected = truth.sort_values(["unique_id", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected.astype({"y": float}), check_dtype=False)
    assert (got["y"].abs() <= MAX_VALUE).all()


CELLS = st.text(st.sampled_from('ab1 ,;|"\n\t£é0-.'), max_size=6)


@CHECKS
@given(
    table=st.lists(st.tuples(IDS, CELLS, CELLS), min_size=1, max_size=8),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_a_written_csv_reads_back_as_written(table, sep, encoding):
    frame = pd.DataFrame(table, columns=["unique_id", "title", "note"])
    body = frame.to_csv(index=False, sep=sep).encode(encoding)
    try:
        back = read_source(io.BytesIO(body), name="file.csv", sep=sep, text_columns=True)
    except DataValidationError as error:
        # Only a table no CSV can hold as written: a cell that is only spaces or empty.
        assert error.frame == "file.csv"
        return
    expected = frame.replace("", np.nan)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


@st.composite
def order_lines(draw):
    """Order lines with quantities and prices written in one locale, and their true units."""
    n = draw(st.integers(1, 8))
    qty = draw(st.lists(st.integers(1, 20_000), min_size=n, max_size=n))
    cents = draw(st.lists(st.integers(1, 500_000), min_size=n, max_size=n))
    decimal = draw(st.sampled_from([".", ","]))
    group = draw(st.sampled_from(["", " ", "," if decimal == "." else "."]))
    currency = draw(st.sampled_from(["", "£", "€ ", "EUR "]))

    def written(value: int, decimals: int) -> str:
        whole, part = divmod(value, 10**decimals) if decimals else (value, None)
        digits = f"{whole:,}".replace(",", group)
        return digits if part is None else f"{digits}{decimal}{part:0{decimals}d}"

    lines = pd.DataFrame(
        {
            "time": ["2024-01-01"] * n,
            "product": draw(st.lists(st.sampled_from(["P1", "P2", "A_B"]), min_size=n, max_size=n)),
            "qty": [written(q, 0) for q in qty],
            "price": [currency + written(c, 2) for c in cents],
        }
    )
    return lines, sum(qty), decimal


@CHECKS
@given(order_lines(), st.booleans())
def test_order_lines_keep_every_unit_or_ask_for_the_decimal_separator(case, declare):
    lines, units, decimal = case
    try:
        data, report = from_transactions(
            lines, time_col="time", product_col="product", quantity_col="qty",
            price_col="price", freq="D", non_products=None, decimal=decimal if declare else None,
        )  # fmt: skip
    except ValueError as error:
        assert not declare and "--decimal" in str(error)
        return
    assert report.rows_excluded == 0
    assert data.sales["y"].sum() == units
