import numpy as np
import pandas as pd
import polars as pl
import pytest

from trendcast.data.adapters import (
    EXCLUSION_REASONS,
    TransactionReport,
    from_m5,
    from_m5_long,
    from_transactions,
)
from trendcast.data.contract import ShopData

# ----------------------------------------------------------------------------------------------
# M5 fixtures: 2 items x 2 stores (CA_1, TX_1), 5 days over 2 Walmart weeks.
# ----------------------------------------------------------------------------------------------
DATES = pd.date_range("2011-01-29", periods=5, freq="D")


def m5_calendar() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": DATES.strftime("%Y-%m-%d"),
            "wm_yr_wk": [11101, 11101, 11101, 11102, 11102],
            "weekday": DATES.day_name(),
            "d": [f"d_{i}" for i in range(1, 6)],
            "event_name_1": [None, "SuperBowl", None, None, None],
            "event_type_1": [None, "Sporting", None, None, None],
            "event_name_2": [None] * 5,
            "event_type_2": [None] * 5,
            "snap_CA": [1, 0, 0, 1, 0],
            "snap_TX": [0, 1, 1, 0, 0],
            "snap_WI": [0, 0, 0, 0, 1],
        }
    )


def m5_sales() -> pd.DataFrame:
    # Rows deliberately not in id order.
    rows = [
        ("B", "TX_1", [1, 0, 2, 0, 5]),
        ("A", "CA_1", [0, 0, 0, 4, 1]),
        ("A", "TX_1", [3, 3, 0, 0, 0]),
        ("B", "CA_1", [0, 1, 0, 0, 2]),
    ]
    out = pd.DataFrame(
        {
            "id": [f"{i}_{s}_evaluation" for i, s, _ in rows],
            "item_id": [i for i, _, _ in rows],
            "dept_id": "D1",
            "cat_id": "C",
            "store_id": [s for _, s, _ in rows],
            "state_id": [s[:2] for _, s, _ in rows],
        }
    )
    values = pd.DataFrame([v for _, _, v in rows], columns=[f"d_{i}" for i in range(1, 6)])
    return pd.concat([out, values], axis=1)


def m5_prices() -> pd.DataFrame:
    # A at CA_1 only goes on sale in week 11102; B at TX_1 changes price; a row for another store.
    return pd.DataFrame(
        {
            "store_id": ["CA_1", "TX_1", "TX_1", "CA_1", "CA_1", "TX_1", "WI_1"],
            "item_id": ["A", "A", "A", "B", "B", "B", "A"],
            "wm_yr_wk": [11102, 11101, 11102, 11101, 11102, 11101, 11101],
            "sell_price": [2.0, 1.5, 1.75, 3.0, 3.0, 4.0, 9.9],
        }
    )


def test_from_m5_round_trip():
    data = from_m5(m5_sales(), m5_calendar(), m5_prices())
    assert isinstance(data, ShopData) and data.freq == "D"
    ids = ["A_CA_1", "A_TX_1", "B_CA_1", "B_TX_1"]
    assert data.sales["unique_id"].tolist() == list(np.repeat(ids, 5))
    assert (data.sales["ds"].to_numpy() == np.tile(DATES.to_numpy(), 4)).all()
    # Back to wide: every value is where it was.
    wide = data.sales.pivot(index="unique_id", columns="ds", values="y")
    src = m5_sales().assign(uid=lambda d: d["item_id"] + "_" + d["store_id"]).set_index("uid")
    np.testing.assert_array_equal(
        wide.loc[ids].to_numpy(), src.loc[ids, [f"d_{i}" for i in range(1, 6)]]
    )
    assert data.sales["y"].dtype == np.int64

    static = data.static.set_index("unique_id")
    assert static.loc[
        "B_TX_1", ["item_id", "store_id", "state_id", "dept_id", "cat_id"]
    ].tolist() == ["B", "TX_1", "TX", "D1", "C"]
    assert static.shape[0] == 4

    dyn = data.dynamic.set_index(["unique_id", "ds"])
    assert list(dyn.index) == list(data.sales.set_index(["unique_id", "ds"]).index)
    # Price joined by week; NaN before the first price week ("not yet on sale").
    np.testing.assert_array_equal(dyn.loc["A_CA_1", "price"], [np.nan] * 3 + [2.0, 2.0])
    np.testing.assert_array_equal(dyn.loc["A_TX_1", "price"], [1.5] * 3 + [1.75] * 2)
    np.testing.assert_array_equal(dyn.loc["B_TX_1", "price"], [4.0] * 3 + [np.nan] * 2)
    # SNAP of the series' own state.
    assert dyn.loc["A_CA_1", "snap"].tolist() == [1, 0, 0, 1, 0]
    assert dyn.loc["B_TX_1", "snap"].tolist() == [0, 1, 1, 0, 0]
    events = dyn.loc["A_TX_1", "event_name_1"]
    assert events.isna().tolist() == [True, False, True, True, True]
    assert events.iloc[1] == "SuperBowl"
    assert dyn["event_type_1"].isna().sum() == 16


def test_from_m5_without_prices_and_day_window():
    data = from_m5(m5_sales(), m5_calendar(), start_day="d_2", end_day=4)
    assert data.sales.groupby("unique_id").size().tolist() == [3, 3, 3, 3]
    assert data.sales["ds"].min() == DATES[1] and data.sales["ds"].max() == DATES[3]
    assert "price" not in data.dynamic.columns
    assert data.sales.loc[data.sales["unique_id"] == "A_CA_1", "y"].tolist() == [0, 0, 4]


def test_from_m5_trim_leading():
    unpriced = from_m5(m5_sales(), m5_calendar(), m5_prices(), trim_leading="unpriced")
    sizes = unpriced.sales.groupby("unique_id").size()
    assert sizes.to_dict() == {"A_CA_1": 2, "A_TX_1": 5, "B_CA_1": 5, "B_TX_1": 5}
    assert unpriced.dynamic.shape[0] == unpriced.sales.shape[0]

    zeros = from_m5(m5_sales(), m5_calendar(), trim_leading="zeros")
    first = zeros.sales.groupby("unique_id")["ds"].min()
    assert first.to_dict() == {
        "A_CA_1": DATES[3],
        "A_TX_1": DATES[0],
        "B_CA_1": DATES[1],
        "B_TX_1": DATES[0],
    }

    with pytest.raises(ValueError, match="needs sell prices"):
        from_m5(m5_sales(), m5_calendar(), trim_leading="unpriced")
    with pytest.raises(ValueError, match="trim_leading"):
        from_m5(m5_sales(), m5_calendar(), trim_leading="first")


def test_from_m5_trim_warns_about_series_left_out():
    sales = m5_sales()
    sales.loc[sales["item_id"].eq("A") & sales["store_id"].eq("TX_1"), ["d_1", "d_2"]] = 0
    with pytest.warns(UserWarning, match="1 series never sells"):
        data = from_m5(sales, m5_calendar(), trim_leading="zeros")
    assert "A_TX_1" not in set(data.static["unique_id"])
    assert "A_TX_1" not in set(data.sales["unique_id"])


def test_from_m5_polars_input():
    data = from_m5(
        pl.from_pandas(m5_sales()), pl.from_pandas(m5_calendar()), pl.from_pandas(m5_prices())
    )
    expected = from_m5(m5_sales(), m5_calendar(), m5_prices())
    pd.testing.assert_frame_equal(data.sales, expected.sales)
    pd.testing.assert_frame_equal(data.dynamic, expected.dynamic)


@pytest.mark.parametrize(
    ("frame", "drop", "match"),
    [
        ("sales", "store_id", "`sales` is missing column.*store_id"),
        ("calendar", "d", "`calendar` is missing column.*'d'"),
        ("calendar", "snap_TX", "snap_TX"),
        ("calendar", "wm_yr_wk", "wm_yr_wk"),
        ("prices", "sell_price", "`prices` is missing column.*sell_price"),
    ],
)
def test_from_m5_missing_columns(frame, drop, match):
    frames = {"sales": m5_sales(), "calendar": m5_calendar(), "prices": m5_prices()}
    frames[frame] = frames[frame].drop(columns=drop)
    with pytest.raises(ValueError, match=match):
        from_m5(frames["sales"], frames["calendar"], frames["prices"])


def test_from_m5_rejects_bad_input():
    with pytest.raises(ValueError, match="several rows for series"):
        from_m5(pd.concat([m5_sales(), m5_sales().iloc[:1]]), m5_calendar())
    with pytest.raises(ValueError, match="not in calendar"):
        from_m5(m5_sales(), m5_calendar().iloc[:4])
    with pytest.raises(ValueError, match="no day columns"):
        from_m5(m5_sales().drop(columns=[f"d_{i}" for i in range(1, 6)]), m5_calendar())
    prices = pd.concat([m5_prices(), m5_prices().iloc[:1]])
    with pytest.raises(ValueError, match="same \\(store_id, item_id, wm_yr_wk\\)"):
        from_m5(m5_sales(), m5_calendar(), prices)


def m5_long() -> pd.DataFrame:
    """The test data in the long layout of the tiny M5 extract (calendar and price joined)."""
    wide = from_m5(m5_sales(), m5_calendar(), m5_prices())
    dyn = wide.dynamic
    static = wide.static.set_index("unique_id")
    out = pd.DataFrame(
        {
            **{
                c: static.loc[dyn["unique_id"], c].to_numpy()
                for c in ["item_id", "dept_id", "cat_id", "store_id", "state_id"]
            },
            "value": pd.array(wide.sales["y"], dtype="Int32"),
            "date": dyn["ds"].dt.date,
            "event_name_1": dyn["event_name_1"].astype(object).fillna(""),
            "event_type_1": dyn["event_type_1"].astype(object).fillna(""),
            "event_name_2": "",
            "event_type_2": "",
            "snap": pd.array(dyn["snap"], dtype="Int32"),
            "sell_price": dyn["price"],
        }
    )
    return out.sample(frac=1.0, random_state=0)  # shuffled rows


def test_from_m5_long_matches_wide():
    expected = from_m5(m5_sales(), m5_calendar(), m5_prices())
    data = from_m5_long(m5_long())
    assert data.freq == "D"
    assert data.sales.shape == (20, 3)
    assert list(data.sales.columns) == ["unique_id", "ds", "y"]
    pd.testing.assert_frame_equal(data.sales, expected.sales)
    pd.testing.assert_frame_equal(data.static, expected.static)
    assert list(data.dynamic.columns) == [
        "unique_id",
        "ds",
        "price",
        "event_name_1",
        "event_type_1",
        "event_name_2",
        "event_type_2",
        "snap",
    ]
    pd.testing.assert_series_equal(data.dynamic["price"], expected.dynamic["price"])
    pd.testing.assert_series_equal(data.dynamic["snap"], expected.dynamic["snap"])
    # Empty strings mean "no event", as missing values do in the calendar.
    assert data.dynamic["event_name_1"].isna().sum() == 16
    assert data.dynamic["event_name_2"].isna().all()


def test_from_m5_long_trim_and_errors():
    data = from_m5_long(m5_long(), trim_leading="unpriced")
    assert data.sales.groupby("unique_id").size()["A_CA_1"] == 2
    with pytest.raises(ValueError, match="missing column.*value"):
        from_m5_long(m5_long().drop(columns="value"))
    long = m5_long()
    with pytest.raises(ValueError, match="repeated"):
        from_m5_long(pd.concat([long, long.iloc[:1]]))
    long.loc[long.index[0], "dept_id"] = "OTHER"
    with pytest.raises(ValueError, match="dept_id"):
        from_m5_long(long)


# ----------------------------------------------------------------------------------------------
# Transactions
# ----------------------------------------------------------------------------------------------
def order_lines() -> pd.DataFrame:
    """Three weeks of order lines (weeks starting Mon 2024-01-01, 01-08, 01-15)."""
    rows = [
        # invoice, time, product, qty, price, customer, description
        ("1001", "2024-01-01 09:00", "A", 2, 1.0, "c1", "Apple"),
        ("1001", "2024-01-01 09:00", "B", 1, 5.0, "c1", "Banana"),
        ("1002", "2024-01-03 10:30", "A", 3, 2.0, "c2", "apple"),
        ("1003", "2024-01-07 23:59", "A", 1, 1.0, None, "Apple"),  # Sunday: still week 1
        ("C1004", "2024-01-09 08:00", "A", -2, 1.0, "c1", "Apple"),  # cancellation
        ("1005", "2024-01-10 12:00", "B", -1, 5.0, "c3", "Banana"),  # return
        ("1006", "2024-01-16 12:00", "A", 4, 1.5, "c2", "Apple"),
        ("1006", "2024-01-16 12:00", "C", 2, 3.0, "c2", "Cherry"),
        ("1007", "2024-01-17 12:00", "C", 1, 6.0, "c3", "Cherry"),
    ]
    return pd.DataFrame(
        rows, columns=["invoice", "time", "product", "qty", "price", "customer", "text"]
    )


KW = dict(
    time_col="time",
    product_col="product",
    quantity_col="qty",
    price_col="price",
    customer_col="customer",
    invoice_col="invoice",
    non_products=None,  # the products are called A, B, C: B and D are also non-product codes
    cancel_window=None,  # nothing netted: see the tests of netting below
)


def by_key(frame: pd.DataFrame, col: str) -> dict:
    return {
        (u, str(d.date())): v for u, d, v in frame[["unique_id", "ds", col]].itertuples(index=False)
    }


def test_a_volume_discount_on_a_large_line_does_not_move_the_price():
    # Four small lines a week at the list price 2.0; in week 2 a wholesale line of 500 at 1.5.
    rows = [
        (f"{week}{n}", f"2024-01-{1 + 7 * week + n:02d}", "A", 2, 2.0, f"c{n}")
        for week in range(3)
        for n in range(4)
    ]
    rows.append(("big", "2024-01-10", "A", 500, 1.5, "c9"))
    lines = pd.DataFrame(rows, columns=["invoice", "time", "product", "qty", "price", "customer"])
    data, _ = from_transactions(lines, **KW)
    assert data.dynamic["price"].tolist() == [2.0, 2.0, 2.0]
    assert data.sales["y"].tolist() == [8, 508, 8]


def test_order_times_are_read_in_the_layout_that_fits_every_line():
    def weeks(times, **options):
        lines = pd.DataFrame({"t": times, "sku": "A", "qty": 1})
        data, _ = from_transactions(lines, time_col="t", product_col="sku", quantity_col="qty",
                                    non_products=None, **options)  # fmt: skip
        return [f"{d:%Y-%m-%d}" for d in data.sales["ds"]]

    # Month first, as the UCI log writes it: 1/13/11 says which.
    assert weeks(["12/1/10 8:26", "1/13/11 10:05"])[::6] == ["2010-11-29", "2011-01-10"]
    assert weeks(["31.01.2024", "01.02.2024"]) == ["2024-01-29"]
    assert weeks([20240101, 20240108]) == ["2024-01-01", "2024-01-08"]
    assert weeks([1704067200, 1704672000]) == ["2024-01-01", "2024-01-08"]  # epoch seconds
    with pytest.raises(
        ValueError, match="(?s)read both as %m/%d/%Y and as %d/%m/%Y.*--time-format"
    ):
        weeks(["01/02/2024", "03/04/2024"])
    assert weeks(["01/02/2024", "03/04/2024"], time_format="%d/%m/%Y")[0] == "2024-01-29"
    with pytest.raises(ValueError, match="neither YYYYMMDD dates nor epoch seconds"):
        weeks([5, 6])


def test_transactions_weekly_totals_by_hand():
    data, report = from_transactions(order_lines(), **KW, text_col="text")
    assert data.freq == "W-MON"
    assert by_key(data.sales, "y") == {
        ("A", "2024-01-01"): 6,
        ("A", "2024-01-08"): 0,
        ("A", "2024-01-15"): 4,
        ("B", "2024-01-01"): 1,
        ("B", "2024-01-08"): 0,
        ("B", "2024-01-15"): 0,
        ("C", "2024-01-15"): 3,
    }
    assert (data.sales["ds"].dt.dayofweek == 0).all()  # labelled by the week's Monday
    assert data.sales["y"].dtype == np.int64
    dyn = data.dynamic
    assert by_key(dyn, "returned_units") == {
        ("A", "2024-01-01"): 0,
        ("A", "2024-01-08"): 2,
        ("A", "2024-01-15"): 0,
        ("B", "2024-01-01"): 0,
        ("B", "2024-01-08"): 1,
        ("B", "2024-01-15"): 0,
        ("C", "2024-01-15"): 0,
    }
    price = by_key(dyn, "price")
    # The median line's price (1.0, 2.0, 1.0), not the quantity-weighted mean 1.5.
    assert price[("A", "2024-01-01")] == 1.0
    assert price[("C", "2024-01-15")] == pytest.approx((3.0 + 6.0) / 2)
    assert price[("A", "2024-01-08")] == price[("A", "2024-01-01")]  # no sale: the last price
    assert by_key(dyn, "n_orders")[("A", "2024-01-01")] == 3
    assert by_key(dyn, "n_customers")[("A", "2024-01-01")] == 2  # a line without customer
    assert by_key(dyn, "n_lines")[("C", "2024-01-15")] == 2
    assert by_key(dyn, "n_orders")[("A", "2024-01-08")] == 0
    assert data.static.to_dict("list") == {
        "unique_id": ["A", "B", "C"],
        "item_id": ["A", "B", "C"],
        "cat_id": ["all", "all", "all"],
        "title": ["Apple", "Banana", "Cherry"],
    }
    assert isinstance(report, TransactionReport)
    assert (report.products, report.periods, report.sales_rows) == (3, 3, 7)


def test_transactions_returns_reported_not_subtracted():
    data, report = from_transactions(order_lines(), **KW)
    lines = order_lines()
    positive = lines.loc[(lines["qty"] > 0) & ~lines["invoice"].str.startswith("C"), "qty"].sum()
    assert data.sales["y"].sum() == positive == report.units_ordered
    assert report.cancelled_lines == 1 and report.return_lines == 1
    assert report.units_returned == 3 == data.dynamic["returned_units"].sum()
    assert report.demand_lines == 7

    # Without the invoice column the cancellation is still a return (negative quantity).
    _, no_invoice = from_transactions(
        order_lines(), time_col="time", product_col="product", quantity_col="qty", non_products=None
    )
    assert (no_invoice.return_lines, no_invoice.cancelled_lines) == (2, 0)
    # A cancelled invoice with a positive quantity is not demand either.
    lines.loc[lines.index[-1], "invoice"] = "C1007"
    data, report = from_transactions(lines, **KW)
    assert by_key(data.sales, "y")[("C", "2024-01-15")] == 2
    assert report.cancelled_lines == 2 and report.units_returned == 4


def test_transactions_exclusions_counted_by_reason():
    good = order_lines()
    bad = pd.DataFrame(
        [
            ("2001", "2024-01-02", None, 1, 1.0, "c1", "x"),  # missing_product
            ("2002", "not a date", "A", 1, 1.0, "c1", "x"),  # bad_timestamp
            ("2003", None, "A", 1, 1.0, "c1", "x"),  # bad_timestamp
            ("2004", "2024-01-02", "A", None, 1.0, "c1", "x"),  # missing_quantity
            ("2005", "2024-01-02", "A", 0, 1.0, "c1", "x"),  # zero_quantity
            ("2006", "2024-01-02", "A", 1, None, "c1", "x"),  # missing_price
            ("2007", "2024-01-02", "A", 1, 0.0, "c1", "x"),  # non_positive_price
            ("2008", "2024-01-02", "A", -5, -3.0, None, "x"),  # non_positive_price (adjustment)
            ("C2009", "2024-01-02", "D", -1, 2.0, "c1", "x"),  # return_before_first_sale
            ("2010", "2024-01-02", "E", -1, 2.0, "c1", "x"),  # return_before_first_sale
            ("2011", "2024-01-16", "D", 1, 2.0, "c1", "x"),  # D's first sale, later
        ],
        columns=good.columns,
    )
    lines = pd.concat([good, bad], ignore_index=True)
    data, report = from_transactions(lines, **KW)
    assert report.excluded == {
        "missing_product": 1,
        "missing_store": 0,
        "non_product": 0,
        "bad_timestamp": 2,
        "missing_quantity": 1,
        "unreadable_quantity": 0,
        "zero_quantity": 1,
        "missing_price": 1,
        "unreadable_price": 0,
        "non_positive_price": 2,
        "return_before_first_sale": 2,
    }
    assert list(report.excluded) == list(EXCLUSION_REASONS)
    assert report.rows_in == len(lines) == report.rows_used + report.rows_excluded
    assert report.rows_used == report.demand_lines + report.return_lines + report.cancelled_lines
    assert report.rows_used == len(good) + 1
    assert set(data.sales["unique_id"]) == {"A", "B", "C", "D"}
    summary = report.summary()
    assert summary.set_index("outcome").loc["excluded:bad_timestamp", "rows"] == 2
    assert summary.set_index("outcome").loc["rows_in", "share"] == 1.0
    text = str(report)
    assert "bad_timestamp" in text and "missing_store" not in text  # zero counts are not listed
    assert f"{len(lines):,} lines in" in text


def test_transactions_zero_fill_from_first_sale_to_end():
    lines = pd.DataFrame(
        {
            "t": pd.to_datetime(["2024-01-01", "2024-01-22", "2024-01-15", "2024-02-05"]),
            "sku": ["A", "A", "B", "C"],
            "qty": [1, 2, 3, 4],
        }
    )
    data, report = from_transactions(
        lines, time_col="t", product_col="sku", quantity_col="qty", non_products=None
    )
    sizes = data.sales.groupby("unique_id").size().to_dict()
    assert sizes == {"A": 6, "B": 4, "C": 1}  # each from its first sale to the last week (Feb 5)
    assert data.sales.groupby("unique_id")["ds"].max().eq(pd.Timestamp("2024-02-05")).all()
    assert report.filled_zero_rows == (data.sales["y"] == 0).sum() == 11 - 4
    assert report.sales_rows == len(data.sales) == len(data.dynamic)
    assert "price" not in data.dynamic.columns and "n_orders" not in data.dynamic.columns


def test_transactions_daily_and_other_week_anchor():
    daily, report = from_transactions(order_lines(), **KW, freq="D")
    assert daily.freq == "D"
    y = by_key(daily.sales, "y")
    assert (
        y[("A", "2024-01-01")] == 2 and y[("A", "2024-01-03")] == 3 and y[("A", "2024-01-02")] == 0
    )
    assert report.periods == 17  # Jan 1 .. Jan 17
    assert daily.sales.groupby("unique_id").size().to_dict() == {"A": 17, "B": 17, "C": 2}
    assert daily.sales["y"].sum() == 14

    sunday, _ = from_transactions(order_lines(), **KW, freq="W-SUN")
    assert (sunday.sales["ds"].dt.dayofweek == 6).all()
    # Sunday Jan 7 starts a new Sunday-to-Saturday week.
    assert by_key(sunday.sales, "y")[("A", "2023-12-31")] == 5
    assert by_key(sunday.sales, "y")[("A", "2024-01-07")] == 1

    monthly, _ = from_transactions(order_lines(), **KW, freq="MS")
    assert monthly.sales["y"].tolist() == [10, 1, 3]
    with pytest.raises(ValueError, match="freq='h' is not supported"):
        from_transactions(order_lines(), **KW, freq="h")


def test_transactions_partial_periods_and_dates():
    _, report = from_transactions(order_lines(), **KW)
    assert report.start == pd.Timestamp("2024-01-01 09:00")
    assert report.end == pd.Timestamp("2024-01-17 12:00")
    assert not report.partial_first_period  # starts on the first week's Monday
    assert report.partial_last_period  # ends on a Wednesday
    _, daily = from_transactions(order_lines(), **KW, freq="D")
    assert not daily.partial_first_period and not daily.partial_last_period


def test_transactions_polars_and_text_timestamps():
    lines = order_lines()
    expected, expected_report = from_transactions(lines, **KW)
    data, report = from_transactions(pl.from_pandas(lines), **KW)
    pd.testing.assert_frame_equal(data.sales, expected.sales)
    pd.testing.assert_frame_equal(data.dynamic, expected.dynamic)
    assert report == expected_report

    lines["time"] = pd.to_datetime(lines["time"]).dt.strftime("%m/%d/%y %H:%M")
    data, _ = from_transactions(lines, **KW, time_format="%m/%d/%y %H:%M")
    pd.testing.assert_frame_equal(data.sales, expected.sales)


def test_transactions_store_column():
    lines = order_lines().assign(store=["s1", "s2", "s2", "s1", "s1", "s2", "s1", "s1", None])
    data, report = from_transactions(lines, **KW, store_col="store")
    assert report.excluded["missing_store"] == 1
    assert set(data.sales["unique_id"]) == {"A_s1", "A_s2", "B_s2", "C_s1"}
    static = data.static.set_index("unique_id")
    assert static.loc["A_s2", ["item_id", "store_id"]].tolist() == ["A", "s2"]
    y = by_key(data.sales, "y")
    assert y[("A_s1", "2024-01-01")] == 3 and y[("A_s2", "2024-01-01")] == 3
    assert y[("C_s1", "2024-01-15")] == 2


def test_transactions_missing_column_errors():
    with pytest.raises(ValueError, match="no column 'qty_x' \\(passed as quantity_col\\)"):
        from_transactions(
            order_lines(), time_col="time", product_col="product", quantity_col="qty_x"
        )
    with pytest.raises(ValueError, match="(?s)'Customer'.*customer_col.*or leave it out"):
        from_transactions(order_lines(), **{**KW, "customer_col": "Customer"})
    with pytest.raises(TypeError, match="pandas or polars"):
        from_transactions(order_lines().to_dict(), **KW)
    lines = order_lines()
    lines["product"] = [1, "B", 1, 1, 1, "B", 1, "C", "C"]
    with pytest.raises(ValueError, match="(?s)mixes id types.*astype\\(str\\)"):
        from_transactions(lines, **KW)


def test_transactions_without_demand_warns_and_is_empty():
    lines = order_lines().assign(qty=-1)
    with pytest.warns(UserWarning, match="No demand line"):
        data, report = from_transactions(lines, **KW)
    assert data.sales.empty
    assert report.excluded["return_before_first_sale"] == len(lines)
    assert report.rows_in == report.rows_used + report.rows_excluded


def test_transactions_early_return_does_not_extend_periods():
    early = pd.DataFrame(
        [("C999", "2023-12-20 10:00", "A", -1, 1.0, "c1", "Apple")], columns=order_lines().columns
    )
    data, report = from_transactions(pd.concat([early, order_lines()]), **KW)
    expected, _ = from_transactions(order_lines(), **KW)
    assert report.excluded["return_before_first_sale"] == 1
    assert report.periods == 3 and not report.partial_first_period
    pd.testing.assert_frame_equal(data.sales, expected.sales)


def test_transactions_nullable_quantities_and_zone_aware_times():
    lines = order_lines()
    lines["qty"] = pd.array([2, 1, 3, None, -2, -1, 4, 2, 0], dtype="Int64")
    lines["time"] = pd.to_datetime(lines["time"]).dt.tz_localize("Europe/London")
    data, report = from_transactions(lines, **KW)
    assert report.excluded["missing_quantity"] == 1 and report.excluded["zero_quantity"] == 1
    assert data.sales["y"].dtype == np.int64
    assert (data.sales["ds"].dt.dayofweek == 0).all() and data.sales["ds"].dt.tz is None
    assert by_key(data.sales, "y")[("A", "2024-01-01")] == 5


NETTED = {**KW, "cancel_window": "30D"}


def test_transactions_cancellation_nets_the_order_it_reverses():
    data, report = from_transactions(order_lines(), **NETTED)
    y = by_key(data.sales, "y")
    # c1's cancellation of 2 A on Jan 9 takes back c1's order of 2 A on Jan 1; c3's return of
    # a B that c3 never ordered stays a return.
    assert y[("A", "2024-01-01")] == 4
    assert report.reversed_lines == 2 and report.units_reversed == 2
    assert report.units_returned == 1 == data.dynamic["returned_units"].sum()
    assert report.units_ordered == data.sales["y"].sum() == 12
    assert (report.cancelled_lines, report.return_lines) == (0, 1)
    assert report.rows_in == report.rows_used + report.rows_excluded
    assert "netted" in str(report)

    # Too far back for the window: nothing is netted.
    _, short = from_transactions(order_lines(), **{**NETTED, "cancel_window": "3D"})
    assert short.reversed_lines == 0 and short.units_returned == 3


def test_transactions_netting_latest_order_first_and_partial():
    rows = [
        ("1", "2024-01-01", "A", 5, "c1"),
        ("2", "2024-01-02", "A", 3, "c1"),
        ("3", "2024-01-02", "A", 4, "c2"),  # another customer: never netted
        ("C4", "2024-01-03", "A", -4, "c1"),  # takes 3 off order 2, then 1 off order 1
        ("C5", "2024-01-04", "A", -9, "c1"),  # takes the 4 left on order 1; 5 units returned
    ]
    lines = pd.DataFrame(rows, columns=["invoice", "time", "product", "qty", "customer"])
    data, report = from_transactions(
        lines,
        time_col="time",
        product_col="product",
        quantity_col="qty",
        customer_col="customer",
        invoice_col="invoice",
        freq="D",
    )
    # The series starts with the first order not taken back.
    assert by_key(data.sales, "y") == {
        ("A", "2024-01-02"): 4,
        ("A", "2024-01-03"): 0,
        ("A", "2024-01-04"): 0,
    }
    assert report.units_reversed == 8 and report.units_returned == 5
    # Orders 1, 2 and cancellation 4 are netted to nothing; C5 keeps 5 units as a return.
    assert report.reversed_lines == 3 and report.cancelled_lines == 1


def test_transactions_order_cancelled_at_once_is_no_demand():
    rows = [
        ("1", "2024-01-01 09:00", "JAR", 80995, "c9"),
        ("C2", "2024-01-01 09:05", "JAR", -80995, "c9"),
        ("3", "2024-01-02 10:00", "CUP", 2, "c1"),
    ]
    lines = pd.DataFrame(rows, columns=["invoice", "time", "product", "qty", "customer"])
    data, report = from_transactions(
        lines,
        time_col="time",
        product_col="product",
        quantity_col="qty",
        customer_col="customer",
        invoice_col="invoice",
    )
    assert data.sales["unique_id"].unique().tolist() == ["CUP"]  # the jar never sold
    assert report.reversed_lines == 2 and report.rows_used == 3


def test_transactions_non_product_lines_kept_out():
    rows = [
        ("2024-01-01", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6),
        ("2024-01-01", "POST", "POSTAGE", 1),
        ("2024-01-02", "DOT", "DOTCOM POSTAGE", 1),
        ("2024-01-02", "M", "Manual", 1),
        ("2024-01-03", "23099", "FRENCH CARRIAGE LANTERN", 2),  # a product, not carriage
        ("2024-01-03", "21656", "samples", 1),
        ("2024-01-04", "51020B", "taig adjust", 3),
    ]
    lines = pd.DataFrame(rows, columns=["time", "code", "text", "qty"])
    kw = dict(time_col="time", product_col="code", quantity_col="qty", text_col="text")
    data, report = from_transactions(lines, **kw)
    assert set(data.sales["unique_id"]) == {"85123A", "23099"}
    assert report.excluded["non_product"] == 5
    assert report.non_products == {"POST": 1, "DOT": 1, "M": 1, "21656": 1, "51020B": 1}
    assert "non-product lines: " in str(report)
    everything, kept = from_transactions(lines, **kw, non_products=None)
    assert kept.excluded["non_product"] == 0 and everything.sales["unique_id"].nunique() == 7
    with pytest.raises(ValueError, match="not a valid regular expression"):
        from_transactions(lines, **kw, non_products="post(")


def test_transactions_outliers_flagged_not_changed():
    times = pd.date_range("2024-01-01", periods=8, freq="D")
    lines = pd.DataFrame(
        {
            "time": list(times) + [times[3], times[5]],
            "sku": ["A"] * 8 + ["A", "JAR"],
            "qty": [2, 3, 2, 2, 3, 2, 2, 3, 400, 90000],
        }
    )
    data, report = from_transactions(lines, time_col="time", product_col="sku", quantity_col="qty")
    assert data.sales["y"].sum() == lines["qty"].sum()  # flagged, still demand
    out = report.outliers
    assert out["unique_id"].tolist() == ["JAR", "A"]  # largest ratio first
    assert out.loc[1, "quantity"] == 400 and out.loc[1, "usual"] == 2.0
    assert out.loc[0, "time"] == times[5]
    assert "Outliers: 2 demand lines" in str(report)
    _, lenient = from_transactions(
        lines, time_col="time", product_col="sku", quantity_col="qty", outlier_factor=1e6
    )
    assert lenient.outliers.empty


def test_transactions_category_column_or_all():
    lines = order_lines().assign(cat=["fruit", "fruit", None, "fruit", "x", "y", "fruit", "z", "z"])
    data, report = from_transactions(lines, **KW, category_col="cat")
    assert data.static.set_index("unique_id")["cat_id"].to_dict() == {
        "A": "fruit",
        "B": "fruit",
        "C": "z",
    }
    assert not any("category" in note for note in report.notes)
    data, report = from_transactions(order_lines(), **KW)
    assert (data.static["cat_id"] == "all").all()
    assert any('category "all"' in note for note in report.notes)
    assert "3 periods without sales take the price last paid" in report.notes[0]


def test_transactions_composite_ids_never_merge():
    lines = pd.DataFrame(
        {
            "time": ["2024-01-01", "2024-01-02"],
            "sku": ["A_B", "A"],
            "store": ["C", "B_C"],
            "qty": [1, 2],
        }
    )
    with pytest.raises(ValueError, match="join into the same series id"):
        from_transactions(
            lines, time_col="time", product_col="sku", quantity_col="qty", store_col="store"
        )


def as_written(lines: pd.DataFrame, **columns) -> pd.DataFrame:
    """The order lines as a CSV export holds them: every value text."""
    out = lines.astype(object).where(lines.notna(), None)
    return out.assign(**columns).astype(object)


@pytest.mark.parametrize(
    "qty, price, decimal",
    [
        (["1.000", "2", "3"], ["£2,55", "£1.234,50", "£3"], None),  # German grouping
        (["1,000", "2", "3"], ["$2.55", "$1,234.50", "3 USD"], None),
        (["1,000", "2", "3"], ["2.50", "1,234.50", "3"], None),
        (["1 000", "2", "3"], ["2,55 €", "1234,50 €", "3 €"], None),
        (["1.000", "2", "3"], ["2.500", "1.234", "3"], ","),  # every value reads both ways
    ],
)
def test_locale_numbers_are_read_exactly(qty, price, decimal):
    lines = pd.DataFrame(
        {
            "time": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "product": ["A", "A", "B"],
            "qty": qty,
            "price": price,
        }  # fmt: skip
    )
    data, report = from_transactions(
        lines, time_col="time", product_col="product", quantity_col="qty", price_col="price",
        decimal=decimal, freq="D", non_products=None,
    )  # fmt: skip
    assert report.rows_excluded == 0
    assert data.sales.groupby("unique_id")["y"].sum().to_dict() == {"A": 1002, "B": 3}


def test_ambiguous_numbers_are_refused_with_the_values():
    lines = pd.DataFrame({"time": ["2024-01-01"] * 2, "product": "A", "qty": ["1,000", "2,000"]})
    with pytest.raises(ValueError, match=r"(?s)'1,000' 1000 or 1\?.*--decimal"):
        from_transactions(lines, time_col="time", product_col="product", quantity_col="qty")


def test_values_that_are_no_number_are_counted_shown_and_warned():
    lines = pd.DataFrame(
        {
            "time": ["2024-01-01"] * 4,
            "product": ["P1", "P1", "P2", "P2"],
            "qty": ["2 pcs", "inf", "1e308", "3"],
        }  # fmt: skip
    )
    data, report = from_transactions(
        lines, time_col="time", product_col="product", quantity_col="qty", freq="D"
    )
    assert report.excluded["unreadable_quantity"] == 3
    assert data.sales["y"].tolist() == [3]
    assert "'2 pcs', 'inf', '1e308'" in str(report)
    assert "75.0% of the lines" in report.warning


@pytest.mark.parametrize(
    "times",
    [
        [20240101, 20240102, 20240108],
        [1704067200, 1704153600, 1704672000],  # epoch seconds
        ["2024-01-01T10:00+01:00", "2024-01-02T10:00-08:00", "2024-01-08T23:30Z"],
    ],
)
def test_integer_and_zoned_timestamps_keep_their_days(times):
    lines = pd.DataFrame({"time": times, "product": "A", "qty": [1, 2, 3]})
    data, _ = from_transactions(
        lines, time_col="time", product_col="product", quantity_col="qty", freq="D"
    )
    days = data.sales.loc[data.sales["y"] > 0, "ds"].dt.strftime("%Y-%m-%d").tolist()
    assert days == ["2024-01-01", "2024-01-02", "2024-01-08"]
