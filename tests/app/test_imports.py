"""A shop's order log into the workspace, spans in calendar units, the plan when none is given,
the order list a buyer reads."""

import numpy as np
import pandas as pd
import pytest

from trendcast.app import coming_plan, import_orders, workspace_shop
from trendcast.app.imports import read_orders, recognise_columns
from trendcast.app.shop import to_periods
from trendcast.data.plans import keep_prices
from trendcast.data.simulate import simulate_shop
from trendcast.data.store import Workspace
from trendcast.data.validate import validate

RETAIL = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]


def order_log(n_weeks: int = 30, seed: int = 0, repriced: bool = False) -> pd.DataFrame:
    """Order lines of a small shop in the UCI Online Retail layout: three products with
    ids a CSV reader would re-type, customers, a postage line per invoice and an order that
    its customer cancels at once. ``repriced``: every four weeks the prices move by -15%, 0
    or +15% and the orders follow with an elasticity of -2."""
    rng = np.random.default_rng(seed)
    rows, invoice = [], 500000
    start = pd.Timestamp("2024-01-01 09:00")
    products = {"00123": ("RED MUG", 2.5), "0123": ("BLUE MUG", 2.0), "85123A": ("HEART", 3.0)}
    for day in range(n_weeks * 7):
        factor = (1.0, 0.85, 1.15)[day // 28 % 3] if repriced else 1.0
        for _ in range(rng.poisson(3 * factor**-2)):
            invoice += 1
            time = start + pd.Timedelta(days=day, minutes=int(rng.integers(0, 600)))
            customer = f"{rng.integers(12000, 12030)}.0"
            code = list(products)[rng.integers(0, 3)]
            title, price = products[code]
            rows.append(
                (
                    str(invoice),
                    code,
                    title,
                    int(rng.integers(1, 12)),
                    time,
                    price * factor,
                    customer,
                )
            )
            rows.append((str(invoice), "POST", "POSTAGE", 1, time, 18.0, customer))
    time = start + pd.Timedelta(days=40)
    rows.append(("600000", "85123A", "HEART", 80995, time, 3.0, "12999.0"))
    rows.append(("C600001", "85123A", "HEART", -80995, time, 3.0, "12999.0"))
    return pd.DataFrame(rows, columns=[*RETAIL, "CustomerID"])


def test_columns_recognised_by_their_usual_names():
    roles = recognise_columns([*RETAIL, "CustomerID", "Country"], {})
    assert roles == {
        "time_col": "InvoiceDate",
        "product_col": "StockCode",
        "quantity_col": "Quantity",
        "price_col": "UnitPrice",
        "customer_col": "CustomerID",
        "invoice_col": "InvoiceNo",
        "text_col": "Description",
    }  # no store: a country column would split every product
    # Without an id, the description is the product; options win over names.
    roles = recognise_columns(["Description", "Quantity", "InvoiceDate", "units"], {})
    assert roles["product_col"] == "Description"
    given = recognise_columns(["when", "sku", "Quantity", "n"], {"time_col": "when"})
    assert given["time_col"] == "when" and given["product_col"] == "sku"
    with pytest.raises(ValueError, match="quantity.*--quantity-col COLUMN"):
        recognise_columns(["when", "sku", "amount"], {"time_col": "when"})
    with pytest.raises(ValueError, match="no column 'Qty' \\(--quantity-col\\)"):
        recognise_columns(RETAIL, {"quantity_col": "Qty"})


def test_csv_ids_are_read_exactly(tmp_path):
    path = tmp_path / "orders.csv"
    order_log(n_weeks=2).to_csv(path, index=False)
    lines = read_orders(path)
    assert {"00123", "0123", "85123A"} <= set(lines["StockCode"])  # never 123 or 123.0


def test_import_stores_the_shop_and_its_report_in_one_run(tmp_path):
    path, ws = tmp_path / "orders.csv", tmp_path / "shop.duckdb"
    order_log().to_csv(path, index=False)
    imported = import_orders(path, ws, freq="W")
    data = workspace_shop(ws)
    assert data.freq == "W-MON"
    assert sorted(data.sales["unique_id"].unique()) == ["00123", "0123", "85123A"]
    pd.testing.assert_frame_equal(data.sales, imported.data.sales)
    report = imported.report
    assert report.non_products == {"POST": report.excluded["non_product"]}
    assert report.reversed_lines == 2 and report.units_reversed == 80995
    assert data.sales["y"].max() < 1000  # the cancelled 80,995 units are no demand
    assert set(data.static.columns) >= {"item_id", "title", "cat_id"}
    runs = Workspace(ws).runs()
    assert runs["command"].tolist() == ["import"]
    tables = Workspace(ws).catalog().set_index("name")
    assert tables.loc["input_sales", "kind"] == "shop"
    assert "input_import_report" in tables.index and "input_outliers" in tables.index
    empty = Workspace(tmp_path / "none.duckdb")
    empty.write("notes", pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="holds no shop yet: import one"):
        workspace_shop(empty)


def test_spans_in_calendar_units_become_periods():
    assert to_periods("7d", "D") == 7 and to_periods("7d", "W-SUN") == 1
    assert to_periods("10d", "W-MON") == 2  # rounded up: a lead time is never shortened
    assert to_periods("2w", "D") == 14 and to_periods("3m", "MS") == 3
    assert to_periods("3m", "W-MON") == 13 and to_periods("1y", "W-MON") == 53
    assert to_periods("3", "W-MON") == 3 and to_periods("0", "D", minimum=0) == 0
    with pytest.raises(ValueError, match="--lead-time is a number of periods or a span"):
        to_periods("two weeks", "D", name="--lead-time")


def _shop_without_plan(n_periods=120):
    shop = simulate_shop(n_items=3, n_stores=1, n_periods=n_periods, seed=3, reviews=False)
    data = shop.data
    dynamic = data.dynamic[["unique_id", "ds", "price", "promo"]]
    last = data.sales["ds"].max()
    return validate(data.sales, static=data.static, dynamic=dynamic[dynamic["ds"] <= last])


def test_keep_prices_plans_the_last_price_and_no_promotion():
    data = _shop_without_plan()
    plan, filled = keep_prices(data, 5, ["price", "promo"])
    assert filled == {"price": 15, "promo": 15}
    assert plan.groupby("unique_id", observed=True).size().eq(5).all()
    assert (plan["ds"] > data.sales["ds"].max()).all() and (plan["promo"] == 0).all()
    last = data.dynamic.groupby("unique_id", observed=True)["price"].last()
    np.testing.assert_array_equal(
        plan.groupby("unique_id", observed=True)["price"].first(),
        last.loc[plan["unique_id"].unique()],
    )
    # Planned values stay; nobody can guess an event calendar.
    with_event = data.dynamic.assign(event_sale=0.0)
    data = validate(data.sales, static=data.static, dynamic=with_event)
    with pytest.raises(ValueError, match=r"reads \['event_sale'\] at the forecast periods"):
        keep_prices(data, 5, ["price", "event_sale"])


def test_coming_plan_only_where_the_model_needs_one():
    from trendcast.decisions.plan import fit_forecaster

    data = _shop_without_plan()
    forecaster = fit_forecaster(data, n_estimators=20)
    plan, note = coming_plan(forecaster, 4)
    assert note.startswith("no plan for the next 4 periods") and len(plan) == 12
    assert forecaster.predict(4, dynamic=plan)["LightGBM"].notna().all()
    given, note = coming_plan(forecaster, 4, plan)
    assert given is plan and note is None


def test_order_list_for_a_buyer_flags_outsized_orders():
    from trendcast.decisions.plan import buyer_view

    data = _shop_without_plan(n_periods=60)
    ids = data.static["unique_id"].tolist()
    recent = data.sales.groupby("unique_id", observed=True)["y"].apply(lambda y: y.tail(13).max())
    at_cap = 2 * 2 * recent[ids[0]]  # cap 2 x the busiest recent period x 2 periods
    orders = pd.DataFrame(
        {
            "unique_id": ids,
            "demand_mean": [10.0, 10.0, 0.0],
            "inventory_position": [5.0, 0.0, 0.0],
            "order_qty": [at_cap, 2 * 2 * recent[ids[1]] + 1, 0.0],
        }
    )
    stock = pd.DataFrame({"unique_id": ids, "on_hand": 0.0, "unit_cost": [1.0, 2.0, 3.0]})
    view = buyer_view(orders, data, stock, periods=2, cap=2.0)
    assert view["order_value"].tolist() == [at_cap, orders["order_qty"][1] * 2.0, 0.0]
    assert view["cover_periods"][0] == round((5 + at_cap) / 5, 1)  # held over 5 a period
    assert np.isnan(view["cover_periods"][2])  # no demand: no cover figure
    assert view["check"][0] == "" and "busiest of the last 13 periods" in view["check"][1]
    assert view["recent_max"].tolist() == recent.loc[ids].tolist()
    assert view["price"].notna().all()
    without_cost = buyer_view(orders, data, stock.drop(columns="unit_cost"), periods=2)
    assert without_cost["order_value"].isna().all()


def test_backtest_adapts_to_a_year_of_weekly_data():
    from trendcast.forecaster import Forecaster
    from trendcast.models import SeasonalNaive

    shop = simulate_shop(n_items=3, n_stores=1, n_periods=54, freq="W-MON", seed=1, reviews=False)
    forecaster = Forecaster([SeasonalNaive()], freq="W-MON")
    frame = forecaster.backtest(shop.data.sales, h=4, n_windows=3)
    assert frame["cutoff"].nunique() == 3
    with pytest.raises(ValueError, match="no series has 104 values"):
        forecaster.backtest(shop.data.sales, h=4, n_windows=3, min_history=104)
