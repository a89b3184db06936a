"""Promotion candidates: the economics by hand, the rules, the simulated shop and the errors."""

import numpy as np
import pandas as pd
import pytest

from trendcast.data.simulate import simulate_shop
from trendcast.decisions.promotions import promotion_candidates
from trendcast.decisions.trends import trend_table


def table(**overrides):
    """A hand-made trend table: a (overstocked elastic decliner), b (at stock-out risk),
    c (rising with stock), d (inelastic decliner), e (stable, nothing to do)."""
    base = pd.DataFrame(
        {
            "item_id": list("abcde"),
            "trend": ["declining", "declining", "rising", "declining", "stable"],
            "hot": [False, False, False, False, False],
            "recent": [100.0, 100.0, 100.0, 100.0, 100.0],
            "window": 28,
            "horizon": 28,
            "forecast": [90.0, 90.0, 120.0, 90.0, 100.0],
            "forecast_hi": [120.0, 120.0, 150.0, 120.0, 130.0],
            "on_hand": [500.0, 60.0, 400.0, 500.0, 250.0],
            "weeks_of_cover": [500 / 22.5, 60 / 22.5, 400 / 30, 500 / 22.5, 250 / 25],
        }
    )
    return base.assign(**overrides)


ELASTICITIES = pd.DataFrame(
    {"item_id": list("abcde"), "elasticity": [-2.5, -2.5, -2.0, -0.6, -2.0]}
)
PRICE = pd.DataFrame({"item_id": list("abcde"), "price": [10.0] * 5})
COST = pd.DataFrame({"item_id": list("abcde"), "unit_cost": [6.0] * 5})
UPLIFT = pd.DataFrame({"item_id": list("abcde"), "promo_uplift": [1.3] * 5})


def test_actions_follow_the_rules():
    out = promotion_candidates(
        table(), elasticities=ELASTICITIES, price=PRICE, unit_cost=COST, promo_uplift=UPLIFT
    ).set_index("item_id")
    assert out["action"].to_dict() == {"a": "promote", "c": "push", "b": "do_not_promote"}
    assert "stock-out risk: 60 on hand vs up to 120" in out.loc["b", "reason"]
    assert "declining and 22 weeks of cover" in out.loc["a", "reason"]
    assert out.loc["c", "reason"].startswith("rising: push while stock lasts")


def test_stock_that_lasts_until_a_delivery_is_no_stock_out_risk():
    # b holds 60 units: not the 120 the horizon may ask for, but more than a week's 30. Its
    # stock caps what a cut could sell, so it is no candidate at all.
    args = {"elasticities": ELASTICITIES, "price": PRICE, "unit_cost": COST}
    within_week = promotion_candidates(table(), restock_periods=7, **args).set_index("item_id")
    assert "b" not in within_week.index
    short = promotion_candidates(
        table(on_hand=[500.0, 20.0, 400.0, 500.0, 250.0]), restock_periods=7, **args
    ).set_index("item_id")
    assert short.loc["b", "action"] == "do_not_promote"
    assert "up to 30 expected over the next 7 periods" in short.loc["b", "reason"]
    with pytest.raises(ValueError, match="restock_periods"):
        promotion_candidates(table(), restock_periods=0, **args)


def test_economics_by_hand():
    out = promotion_candidates(
        table(),
        elasticities=ELASTICITIES,
        price=PRICE,
        unit_cost=COST,
        promo_uplift=UPLIFT,
        discount=0.2,
        carrying_rate=0.25,
    ).set_index("item_id")
    promo_units = 90 * 0.8**-2.5 * 1.3
    uplift = promo_units - 90
    cleared = uplift * 6 * 0.25 * (500 / 22.5) / 52
    profit = promo_units * (8 - 6) - 90 * (10 - 6) + cleared
    a = out.loc["a"]
    assert a["promo_units"] == pytest.approx(promo_units)
    assert a["uplift_units"] == pytest.approx(uplift)
    assert a["discount_cost"] == pytest.approx(promo_units * 10 * 0.2)
    assert a["profit_change"] == pytest.approx(profit)
    c = out.loc["c"]  # featured without a discount, capped by nothing: stock 400 > 156
    assert c["uplift_units"] == pytest.approx(120 * 0.3)
    assert c["profit_change"] == pytest.approx(120 * 0.3 * 4)


def test_stock_caps_the_uplift():
    out = promotion_candidates(
        table(on_hand=[125.0, 60.0, 400.0, 500.0, 250.0]),
        elasticities=ELASTICITIES,
        promo_uplift=UPLIFT,
    ).set_index("item_id")
    a = out.loc["a"]
    assert a["action"] == "promote" and a["promo_units"] == 125.0 and a["uplift_units"] == 35.0
    assert np.isnan(a["profit_change"]) and "give price and unit_cost" in a["reason"]


def test_a_declining_item_whose_cut_loses_money_is_not_promoted():
    # Thin margin and no excess stock: the cut sells more but earns less.
    out = promotion_candidates(
        table(weeks_of_cover=[5.0] * 5, on_hand=[200.0] * 5),
        elasticities=ELASTICITIES,
        price=PRICE,
        unit_cost=pd.DataFrame({"item_id": list("abcde"), "unit_cost": [9.0] * 5}),
    )
    assert "a" not in set(out["item_id"])


@pytest.fixture(scope="module")
def shop_candidates():
    shop = simulate_shop(n_items=80, n_stores=2, n_periods=500, seed=4, reviews=False)
    data, truth = shop.data, shop.truth.series
    rng = np.random.default_rng(0)
    ids = data.static["unique_id"].astype(str)
    on_hand = pd.DataFrame(
        {"unique_id": ids, "on_hand": rng.integers(0, 400, len(ids)).astype(float)}
    )
    trends = trend_table(data.sales, static=data.static, dynamic=data.dynamic, on_hand=on_hand)
    elasticities = truth.drop_duplicates("item_id")[["item_id", "elasticity"]]
    prices = truth.drop_duplicates("item_id")[["item_id", "ref_price"]].rename(
        columns={"ref_price": "price"}
    )
    costs = prices.assign(unit_cost=prices["price"] * 0.55)[["item_id", "unit_cost"]]
    out = promotion_candidates(
        trends,
        elasticities=elasticities,
        price=prices,
        unit_cost=costs,
        promo_uplift=truth.drop_duplicates("item_id")[["item_id", "promo_uplift"]],
    )
    return trends, elasticities, out


def test_shop_candidates_protect_stock_outs_and_clear_elastic_overstock(shop_candidates):
    trends, elasticities, out = shop_candidates
    rows = trends.set_index("unique_id")
    elastic = trends["item_id"].map(elasticities.set_index("item_id")["elasticity"]) <= -1
    upper = rows["forecast_hi"].fillna(rows["recent"])  # no forecast: the recent rate
    at_risk = set(rows.index[rows["on_hand"] < upper])
    promoted = out[out["action"] != "do_not_promote"]
    assert at_risk and not at_risk & set(promoted["unique_id"])
    assert set(out.loc[out["action"] == "do_not_promote", "unique_id"]) == at_risk
    overstocked_decliners = (
        set(
            trends.loc[
                (trends["trend"] == "declining")
                & elastic.to_numpy()
                & (trends["weeks_of_cover"] >= 12)
                & (trends["recent"] > 0),  # with no demand left, no cut clears anything
                "unique_id",
            ]
        )
        - at_risk
    )
    assert overstocked_decliners
    assert overstocked_decliners <= set(out.loc[out["action"] == "promote", "unique_id"])
    assert (promoted.loc[promoted["action"] == "promote", "elasticity"] <= -1).all()
    pushed = out[out["action"] == "push"]
    assert (pushed["trend"] == "rising").all() or pushed.empty
    order = out["action"].map({"promote": 0, "push": 1, "do_not_promote": 2})
    assert order.is_monotonic_increasing


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="`discount` must lie in"):
        promotion_candidates(table(), elasticities=ELASTICITIES, discount=1.2)
    with pytest.raises(ValueError, match="elasticities.*missing column"):
        promotion_candidates(table(), elasticities=ELASTICITIES.rename(columns={"elasticity": "e"}))
    negative = pd.DataFrame({"item_id": ["a", "b"], "on_hand": [3.0, -1.0]})
    with pytest.raises(ValueError, match="on_hand[\\s\\S]*>= 0[\\s\\S]*b"):
        promotion_candidates(table(), elasticities=ELASTICITIES, on_hand=negative)
    with pytest.raises(ValueError, match="price[\\s\\S]*> 0"):
        promotion_candidates(
            table(), elasticities=ELASTICITIES, price=PRICE.assign(price=[10, 0, 1, 1, 1])
        )
    with pytest.raises(ValueError, match="`horizon` must be a positive"):
        promotion_candidates(table(), elasticities=ELASTICITIES, horizon=0)
    with pytest.raises(ValueError, match="'item_id'"):
        promotion_candidates(table().rename(columns={"item_id": "sku"}), elasticities=ELASTICITIES)
    with pytest.raises(ValueError, match="cover 28 periods, not horizon=14"):
        promotion_candidates(table(), elasticities=ELASTICITIES, horizon=14)


def test_forecast_frame_gives_the_demand():
    future = pd.date_range("2024-01-01", periods=28, freq="D")
    forecasts = pd.DataFrame(
        {"unique_id": np.repeat(list("abcde"), 28), "ds": np.tile(future, 5), "M": 2.0}
    )
    trends = table().rename(columns={"item_id": "unique_id"}).assign(item_id=list("abcde"))
    out = promotion_candidates(trends, elasticities=ELASTICITIES, forecasts=forecasts)
    assert (out["base_units"] == 56.0).all()
    # Without quantiles the expectation is the upper bound: b (60 on hand) is no longer at risk.
    assert "b" not in set(out.loc[out["action"] == "do_not_promote", "unique_id"])


def test_stock_given_here_sets_the_cover():
    rng = np.random.default_rng(5)
    days = pd.date_range("2023-01-02", periods=420, freq="D")
    sales = pd.DataFrame(
        {
            "unique_id": np.repeat(["x", "y"], 420),
            "ds": np.tile(days, 2),
            "y": rng.poisson(10.0, 840),
        }
    )
    trends = trend_table(sales).assign(item_id=["x", "y"])
    stock = pd.DataFrame({"unique_id": ["x", "y"], "on_hand": [5.0, 1000.0]})
    out = promotion_candidates(
        trends,
        elasticities=pd.DataFrame({"item_id": ["x", "y"], "elasticity": [-2.0, -2.0]}),
        on_hand=stock,
    ).set_index("unique_id")
    weekly = trends.set_index("unique_id")["weekly_demand"]
    assert out.loc["y", "weeks_of_cover"] == pytest.approx(1000.0 / weekly["y"])
    assert out["action"].to_dict() == {"y": "promote", "x": "do_not_promote"}
