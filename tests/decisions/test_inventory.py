import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from trendcast.decisions.inventory import (
    critical_ratio,
    demand_paths,
    expected_fill_rate,
    newsvendor_quantity,
    order_quantity,
    protection_demand,
    replenishment_plan,
)
from trendcast.errors import NotFittedError


def stock(ids=("a",), on_hand=0.0, **columns):
    return pd.DataFrame({"unique_id": list(ids), "on_hand": on_hand, **columns})


def normal_paths(mean=100.0, sigma=10.0, n_series=1, n_samples=40_000, h=10, seed=0):
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(mean, sigma, size=(n_series, n_samples, h)), 0.0)


# ------------------------------------------------------------------ textbook cases
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_normal_demand_safety_stock_is_z_sigma_sqrt_lead_time(level):
    paths = normal_paths()
    plan = replenishment_plan(
        paths, ["a"], stock(), lead_time=4, review_period=0, service_level=level
    ).iloc[0]
    expected = norm.ppf(level) * 10.0 * np.sqrt(4)
    assert plan["safety_stock"] == pytest.approx(expected, rel=0.05)
    assert plan["reorder_point"] == pytest.approx(400.0 + expected, rel=0.005)
    assert plan["order_up_to"] == pytest.approx(plan["reorder_point"])


def test_periodic_review_protects_lead_time_plus_review_period():
    paths = normal_paths()
    plan = replenishment_plan(
        paths, ["a"], stock(), lead_time=3, review_period=6, service_level=0.95
    ).iloc[0]
    z = norm.ppf(0.95)
    assert plan["demand_mean"] == pytest.approx(900.0, rel=0.005)
    assert plan["safety_stock"] == pytest.approx(z * 10.0 * 3.0, rel=0.05)
    # The reorder point covers the lead time only.
    assert plan["reorder_point"] == pytest.approx(300.0 + z * 10.0 * np.sqrt(3), rel=0.005)


def test_sums_come_from_paths_not_from_adding_quantiles():
    paths = normal_paths(h=7)
    plan = replenishment_plan(
        paths, ["a"], stock(), lead_time=7, review_period=0, service_level=0.95
    ).iloc[0]
    added_quantiles = np.quantile(paths[0], 0.95, axis=0).sum()
    assert plan["order_up_to"] < added_quantiles - 50  # independent days partly cancel out


def test_newsvendor_takes_the_critical_ratio_quantile():
    demand = np.arange(1, 101, dtype=float)  # uniform on 1..100
    # cu = 10 - 4 = 6, co = 4 - 1 = 3: ratio 2/3 -> the 67th value.
    assert float(newsvendor_quantity(demand, price=10, unit_cost=4, salvage=1)) == 67.0
    many = np.vstack([demand, demand * 2])
    assert newsvendor_quantity(many, price=10, unit_cost=5).tolist() == [50.0, 100.0]
    # A goodwill cost of shortage raises the quantity.
    assert float(newsvendor_quantity(demand, price=10, unit_cost=5, shortage_cost=5)) == 67.0


def test_newsvendor_matches_the_normal_formula():
    samples = np.random.default_rng(1).normal(50, 8, size=200_000)
    got = float(newsvendor_quantity(samples, price=12, unit_cost=3, salvage=1))
    assert got == pytest.approx(50 + norm.ppf(9 / 11) * 8, abs=0.15)


def test_costs_set_the_service_level_by_the_critical_ratio():
    paths = normal_paths(n_samples=5_000)
    by_costs = replenishment_plan(
        paths,
        ["a"],
        stock(),
        lead_time=2,
        review_period=3,
        price=10.0,
        unit_cost=6.0,
        holding_cost=0.1,
    )
    ratio = 4.0 / (4.0 + 0.1 * 3)
    assert by_costs["service_level"].iloc[0] == pytest.approx(ratio)
    by_level = replenishment_plan(
        paths, ["a"], stock(), lead_time=2, review_period=3, service_level=ratio
    )
    assert by_costs["order_up_to"].iloc[0] == by_level["order_up_to"].iloc[0]
    assert float(critical_ratio(shortage_cost=3.0, holding_cost=1.0)) == 0.75


# ------------------------------------------------------------------ lead-time distribution
def test_lead_time_distribution_matches_monte_carlo():
    rate, review = 5.0, 1
    pmf = {2: 0.5, 6: 0.3, 9: 0.2}
    paths = np.random.default_rng(2).poisson(rate, size=(1, 40_000, 10)).astype(float)
    totals = protection_demand(paths, lead_time_pmf=pmf, review_period=review, seed=3)[0]
    rng = np.random.default_rng(4)
    lead = rng.choice(list(pmf), p=list(pmf.values()), size=40_000)
    direct = rng.poisson(rate * (lead + review))
    mean_lead = sum(k * p for k, p in pmf.items())
    assert totals.mean() == pytest.approx(rate * (mean_lead + review), rel=0.01)
    for q in (0.1, 0.5, 0.9, 0.99):
        assert np.quantile(totals, q) == pytest.approx(np.quantile(direct, q), abs=1.0)
    # As a sequence indexed by lead time, the same distribution.
    sequence = [0, 0, 0.5, 0, 0, 0, 0.3, 0, 0, 0.2]
    again = protection_demand(paths, lead_time_pmf=sequence, review_period=review, seed=3)
    assert np.array_equal(again[0], totals)


def test_lead_time_per_series():
    paths = np.ones((2, 4, 10))
    totals = protection_demand(paths, lead_time=np.array([1, 4]), review_period=2)
    assert totals[:, 0].tolist() == [3.0, 6.0]


# ------------------------------------------------------------------ fill rate and orders
def test_fill_rate_target_is_the_smallest_level_meeting_it():
    paths = np.random.default_rng(5).poisson(3.0, size=(3, 4_000, 8)).astype(float)
    plan = replenishment_plan(
        paths,
        ["a", "b", "c"],
        stock(["a", "b", "c"]),
        lead_time=3,
        review_period=2,
        service_level=0.97,
        service_kind="fill_rate",
    )
    lead = protection_demand(paths, lead_time=3)
    total = protection_demand(paths, lead_time=3, review_period=2)
    level = plan["order_up_to"].to_numpy()
    assert np.all(expected_fill_rate(lead, total, level) >= 0.97)
    assert np.all(expected_fill_rate(lead, total, level - 1) < 0.97)
    assert np.all(plan["expected_fill_rate"] >= 0.97)
    # A fill-rate target needs less stock than the same cycle service level.
    cycle = replenishment_plan(
        paths,
        ["a", "b", "c"],
        stock(["a", "b", "c"]),
        lead_time=3,
        review_period=2,
        service_level=0.97,
    )
    assert np.all(level <= cycle["order_up_to"].to_numpy())


def test_order_quantity_packs_minimum_and_stock_on_order():
    paths = np.full((2, 10, 6), 10.0)  # certain demand: 10 a period
    inventory = stock(["a", "b"], on_hand=[5.0, 100.0])
    on_order = pd.DataFrame({"unique_id": ["a", "a"], "quantity": [7.0, 3.0]})
    plan = replenishment_plan(
        paths,
        ["a", "b"],
        inventory,
        lead_time=2,
        review_period=2,
        service_level=0.9,
        on_order=on_order,
        pack_size=6,
        min_order_qty=30,
    )
    assert plan["order_up_to"].tolist() == [40.0, 40.0]
    assert plan["inventory_position"].tolist() == [15.0, 100.0]
    assert plan["order_qty"].tolist() == [30.0, 0.0]  # 25 short -> at least 30, 5 packs
    assert plan["stockout_probability"].tolist() == [0.0, 0.0]
    assert order_quantity(np.array([13.0, 12.0, 0.0]), pack_size=6).tolist() == [18, 12, 0]


def test_per_series_costs_from_inventory_columns():
    paths = normal_paths(n_series=2, n_samples=4_000)
    inventory = stock(["a", "b"], price=[10.0, 10.0], unit_cost=[5.0, 9.0], holding_cost=0.2)
    plan = replenishment_plan(paths, ["a", "b"], inventory, lead_time=1, review_period=1)
    assert plan["service_level"].tolist() == pytest.approx([5 / 5.2, 1 / 1.2])
    assert plan["order_up_to"].iloc[0] > plan["order_up_to"].iloc[1]


def test_plan_keeps_rows_in_input_order_and_polars_type():
    pl = pytest.importorskip("polars")
    paths = np.stack([np.full((5, 4), 1.0), np.full((5, 4), 3.0)])
    inventory = pl.DataFrame({"sku": ["y", "x"], "on_hand": [0.0, 0.0]})
    plan = replenishment_plan(
        paths,
        ["x", "y"],
        inventory,
        lead_time=2,
        review_period=0,
        service_level=0.5,
        id_col="sku",
    )
    assert isinstance(plan, pl.DataFrame)
    assert plan["sku"].to_list() == ["y", "x"]
    assert plan["order_up_to"].to_list() == [6.0, 2.0]


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"lead_time": -1, "service_level": 0.9}, "lead_time must be whole"),
        ({"lead_time": 2, "service_level": 1.0}, "strictly between 0 and 1"),
        ({"lead_time": 2, "service_level": 0.0}, "strictly between 0 and 1"),
        ({"lead_time": 2}, "holding_cost"),
        ({"lead_time": 2, "holding_cost": 0.1}, "shortage_cost, or price and unit_cost"),
        ({"lead_time": 9, "review_period": 3, "service_level": 0.9}, "draw paths over"),
        ({"lead_time_pmf": {1: 0.5, 2: 0.2}, "service_level": 0.9}, "summing to 1"),
        ({"service_level": 0.9}, "exactly one of lead_time"),
        ({"lead_time": 2, "service_level": 0.9, "service_kind": "both"}, "service_kind"),
    ],
)
def test_bad_settings_are_explained(keywords, message):
    with pytest.raises(ValueError, match=message):
        replenishment_plan(np.ones((1, 5, 10)), ["a"], stock(), **keywords)


def test_unknown_items_and_bad_stock_are_explained():
    paths = np.ones((1, 5, 10))
    with pytest.raises(ValueError, match=r"never sold.*\['ghost'\]"):
        replenishment_plan(paths, ["a"], stock(["a", "ghost"]), lead_time=1, service_level=0.9)
    with pytest.raises(ValueError, match="on_hand"):
        replenishment_plan(paths, ["a"], stock(on_hand=-2.0), lead_time=1, service_level=0.9)
    with pytest.raises(ValueError, match="lacks the column"):
        replenishment_plan(
            paths, ["a"], stock().drop(columns="on_hand"), lead_time=1, service_level=0.9
        )
    with pytest.raises(ValueError, match="several rows"):
        replenishment_plan(paths, ["a"], stock(["a", "a"]), lead_time=1, service_level=0.9)
    on_order = pd.DataFrame({"unique_id": ["b"], "quantity": [1.0]})
    with pytest.raises(ValueError, match="on_order has"):
        replenishment_plan(paths, ["a"], stock(), lead_time=1, service_level=0.9, on_order=on_order)
    with pytest.raises(ValueError, match="no NaN"):
        protection_demand(np.full((1, 2, 3), np.nan), lead_time=1)


def test_newsvendor_rejects_unprofitable_buys():
    with pytest.raises(ValueError, match="price"):
        newsvendor_quantity(np.ones(5), price=3.0, unit_cost=4.0)


def test_demand_paths_needs_a_fitted_model_with_paths():
    from tests.conftest import make_series
    from trendcast import Forecaster
    from trendcast.models import SeasonalNaive

    fc = Forecaster([SeasonalNaive()])
    with pytest.raises(NotFittedError, match="not fitted"):
        demand_paths(fc, 7)
    fc.fit(make_series(n_series=2, n_periods=30))
    with pytest.raises(ValueError, match="draws no sample paths"):
        demand_paths(fc, 7)
