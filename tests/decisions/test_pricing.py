import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from trendcast import Forecaster, simulate_shop
from trendcast.decisions.elasticity import estimate_elasticities
from trendcast.decisions.pricing import best_price, price_response, settle_prices
from trendcast.decisions.what_if import what_if
from trendcast.models import LightGBM


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=30, n_stores=2, n_periods=540, seed=5, reviews=False)


@pytest.fixture(scope="module")
def estimates(shop):
    d = shop.data
    return estimate_elasticities(d.sales, d.dynamic, d.static)


def _truth(shop, items):
    series = shop.truth.series.drop_duplicates("item_id").set_index("item_id")
    return series.loc[items]


def _known_elasticity_frames(elasticity=-2.0, n_series=3, n_days=400, seed=0):
    """Poisson demand at random prices around 10, nothing else moving."""
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"a_{k}" for k in range(n_series)], n_days)
    ds = np.tile(pd.date_range("2024-01-01", periods=n_days), n_series)
    price = 10 * np.exp(rng.uniform(-0.3, 0.3, n_series * n_days))
    y = rng.poisson(20 * (price / 10) ** elasticity).astype(float)
    sales = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})
    dynamic = pd.DataFrame({"unique_id": ids, "ds": ds, "price": price})
    static = pd.DataFrame(
        {"unique_id": [f"a_{k}" for k in range(n_series)], "item_id": "a", "cat_id": "C"}
    )
    return sales, dynamic, static


# ------------------------------------------------------------------ elasticities


def test_elasticities_have_the_right_sign_and_rank(shop, estimates):
    true = _truth(shop, estimates["item_id"])["elasticity"].to_numpy()
    assert len(estimates) == shop.data.static["item_id"].nunique()
    assert (estimates["elasticity"] < 0).all()
    assert spearmanr(estimates["elasticity"], true).statistic >= 0.6
    assert np.median(np.abs(estimates["elasticity"] - true)) <= 0.3


def test_intervals_cover_the_truth_most_of_the_time(shop, estimates):
    true = _truth(shop, estimates["item_id"])["elasticity"].to_numpy()
    covered = (estimates["lower"] <= true) & (true <= estimates["upper"])
    assert covered.mean() >= 0.75
    assert (estimates["lower"] < estimates["elasticity"]).all()
    assert (estimates["elasticity"] < estimates["upper"]).all()


def test_known_elasticity_is_recovered_without_shrinkage():
    sales, dynamic, static = _known_elasticity_frames(elasticity=-2.0)
    est = estimate_elasticities(sales, dynamic, static, shrink=False, promo_col=None)
    row = est.iloc[0]
    assert row["source"] == "item"
    assert abs(row["elasticity"] - -2.0) < 3 * row["std_error"]
    assert row["std_error"] < 0.1
    assert row["n_obs"] == len(sales)


def test_out_of_stock_days_are_left_out(shop, estimates):
    d, est = shop.data, estimates
    in_stock = d.dynamic.merge(d.static[["unique_id", "item_id"]], on="unique_id")
    expected = in_stock[in_stock["in_stock"] > 0].groupby("item_id").size()
    assert est.set_index("item_id")["n_obs"].sort_index().tolist() == expected.tolist()


def test_shrinkage_pulls_sparse_items_toward_their_category(shop, estimates):
    d = shop.data
    raw = estimate_elasticities(d.sales, d.dynamic, d.static, shrink=False)
    assert (raw["weight"] == 1).all()
    assert np.allclose(raw["elasticity"], raw["raw_elasticity"])
    cat_mean = estimates.groupby("cat_id")["elasticity"].transform("mean")
    assert (
        np.abs(estimates["elasticity"] - cat_mean) <= np.abs(raw["elasticity"] - cat_mean) + 1e-9
    ).mean() >= 0.9
    # The less an item's own estimate is worth, the less it counts.
    assert spearmanr(estimates["weight"], estimates["raw_std_error"]).statistic < -0.99
    sparse = _truth(shop, estimates["item_id"])["intermittent"].to_numpy(bool)
    assert estimates["weight"][sparse].mean() < estimates["weight"][~sparse].mean()
    assert estimates["std_error"].mean() < raw["std_error"].mean()


def test_slow_movers_whose_fit_runs_off_get_their_category_estimate():
    # In this shop a slow mover sold its few units at one price level: its own fit ran off to an
    # elasticity of -79, which would have dragged its category's estimate along.
    shop = simulate_shop(n_items=30, n_stores=2, n_periods=500, seed=0, future_periods=28)
    d = shop.data
    est = estimate_elasticities(d.sales, d.dynamic, d.static).set_index("item_id")
    assert est.loc["HOUSEHOLD_1_001", "source"] == "category"
    assert est["elasticity"].between(-5, 0).all()
    assert est["raw_elasticity"].abs().max() <= 10


def test_item_without_price_variation_gets_its_category_estimate(shop):
    d = shop.data
    item = d.static["item_id"].iloc[0]
    series = d.static.loc[d.static["item_id"] == item, "unique_id"]
    dynamic = d.dynamic.copy()
    dynamic.loc[dynamic["unique_id"].isin(series), "price"] = np.float32(4.99)
    est = estimate_elasticities(d.sales, dynamic, d.static).set_index("item_id")
    row = est.loc[item]
    assert row["source"] == "category"
    assert row["weight"] == 0
    assert np.isnan(row["raw_elasticity"]) and row["price_variation"] == 0
    others = est[(est["cat_id"] == row["cat_id"]) & (est["source"] == "item")]
    assert others["elasticity"].min() < row["elasticity"] < others["elasticity"].max()
    assert row["std_error"] > others["std_error"].median()


def test_price_moving_only_with_promotions_is_not_identified():
    sales, dynamic, static = _known_elasticity_frames()
    promo = (np.arange(len(dynamic)) % 10 == 0).astype(float)
    dynamic = dynamic.assign(price=np.where(promo == 1, 8.0, 10.0), promo=promo)
    # A second item with real price variation gives the category something to say.
    s2, d2, st2 = _known_elasticity_frames(seed=1)
    rename = {f"a_{k}": f"b_{k}" for k in range(3)}
    s2, d2 = (f.assign(unique_id=f["unique_id"].map(rename)) for f in (s2, d2))
    st2 = st2.assign(unique_id=st2["unique_id"].map(rename), item_id="b")
    est = estimate_elasticities(
        pd.concat([sales, s2]),
        pd.concat([dynamic, d2.assign(promo=0.0)]),
        pd.concat([static, st2]),
    ).set_index("item_id")
    assert est.loc["a", "source"] == "category"
    assert est.loc["b", "source"] == "item"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda dyn, st: (dyn.assign(price=dyn["price"].where(dyn.index != 5, 0.0)), st), "price"),
        (lambda dyn, st: (dyn.assign(price=dyn["price"].where(dyn.index != 7, -1.0)), st), "price"),
        (lambda dyn, st: (dyn.drop(columns="price"), st), "price"),
        (lambda dyn, st: (dyn, st.drop(columns="cat_id")), "cat_id"),
    ],
)
def test_bad_estimation_input_is_refused(change, message):
    sales, dynamic, static = _known_elasticity_frames()
    dynamic, static = change(dynamic, static)
    with pytest.raises(ValueError, match=message):
        estimate_elasticities(sales, dynamic, static)


def test_bad_estimation_options_are_refused():
    sales, dynamic, static = _known_elasticity_frames()
    with pytest.raises(ValueError, match="method"):
        estimate_elasticities(sales, dynamic, static, method="ols")
    with pytest.raises(ValueError, match="interval"):
        estimate_elasticities(sales, dynamic, static, interval=1.5)
    flat = dynamic.assign(price=5.0)
    with pytest.raises(ValueError, match="price variation"):
        estimate_elasticities(sales, flat, static)


# ------------------------------------------------------------------ price response


def test_price_response_passes_through_the_current_point():
    el = pd.DataFrame(
        {"item_id": ["a", "b"], "elasticity": [-2.0, -0.5], "lower": [-2.5, -1.0],
         "upper": [-1.5, 0.0]}
    )  # fmt: skip
    now = pd.DataFrame(
        {"item_id": ["a", "b"], "price": [10.0, 4.0], "demand": [50.0, 8.0], "unit_cost": 2.0}
    )
    curve = price_response(el, now, relative_prices=[0.8, 1.0, 1.25])
    assert len(curve) == 6
    at_current = curve[curve["relative_price"] == 1.0]
    assert at_current["demand"].tolist() == [50.0, 8.0]
    for _, one in curve.groupby("item_id"):
        assert one["demand"].is_monotonic_decreasing
    assert (curve["demand_lower"] <= curve["demand"]).all()
    assert (curve["demand"] <= curve["demand_upper"]).all()
    a = curve[curve["item_id"] == "a"].set_index("relative_price")
    assert a.loc[1.25, "demand"] == pytest.approx(50 * 1.25**-2)
    assert a.loc[1.25, "profit"] == pytest.approx(50 * 1.25**-2 * (12.5 - 2))


# ------------------------------------------------------------------ best price


def _one_item(elasticity, *, std_error=0.05, price=10.0, demand=100.0, unit_cost=6.0, **more):
    el = pd.DataFrame({"item_id": ["a"], "elasticity": [elasticity], "std_error": [std_error]})
    now = pd.DataFrame(
        {"item_id": ["a"], "price": [price], "demand": [demand], "unit_cost": [unit_cost], **more}
    )
    return el, now


@pytest.mark.parametrize(("elasticity", "unit_cost"), [(-3.0, 6.0), (-2.0, 4.0), (-1.5, 3.0)])
def test_best_price_is_the_textbook_optimum(elasticity, unit_cost):
    el, now = _one_item(elasticity, unit_cost=unit_cost)
    out = best_price(el, now, bounds=(0.1, 10.0)).iloc[0]
    optimum = unit_cost * elasticity / (1 + elasticity)
    assert out["best_price"] == pytest.approx(optimum)
    assert out["limited_by"] == ""
    # No price on a fine grid does better.
    grid = np.linspace(1.0, 100.0, 20_000)
    profit = 100 * (grid / 10) ** elasticity * (grid - unit_cost)
    assert out["best_profit"] >= profit.max() - 1e-9
    assert out["gain"] == pytest.approx(out["best_profit"] - out["profit"])
    assert out["gain_lower"] <= out["gain"] <= out["gain_upper"]


def test_best_price_respects_bounds():
    el, now = _one_item(-3.0, unit_cost=6.0)  # optimum 9
    high = best_price(el, now, bounds=(0.95, 1.2)).iloc[0]
    assert high["best_price"] == pytest.approx(9.5) and high["limited_by"] == "lower bound"
    absolute = best_price(el, now, bounds=(5.0, 8.0), relative_bounds=False).iloc[0]
    assert absolute["best_price"] == pytest.approx(8.0) and absolute["limited_by"] == "upper bound"
    inelastic = best_price(*_one_item(-0.6), bounds=(0.7, 1.3)).iloc[0]
    assert inelastic["best_price"] == pytest.approx(13.0)
    revenue = best_price(el, now, objective="revenue").iloc[0]
    assert revenue["best_price"] == pytest.approx(7.0)
    assert revenue["best_revenue"] > revenue["revenue"]


def test_best_price_under_a_stock_limit_sells_no_more_than_the_stock():
    el, now = _one_item(-3.0, unit_cost=6.0, stock=[40.0])  # demand 100 at 10
    out = best_price(el, now, bounds=(0.5, 2.0), stock_col="stock").iloc[0]
    assert out["limited_by"] == "stock"
    assert out["best_price"] == pytest.approx(10 * 0.4 ** (1 / -3.0))
    assert out["best_units"] == pytest.approx(40.0)
    assert out["units"] == pytest.approx(40.0)  # at the current price the stock runs out
    # Any other price in bounds earns less with units capped by the stock.
    grid = np.linspace(5.0, 20.0, 5_000)
    profit = np.minimum(100 * (grid / 10) ** -3.0, 40.0) * (grid - 6.0)
    assert out["best_profit"] >= profit.max() - 1e-9
    empty = best_price(*_one_item(-3.0, stock=[0.0]), stock_col="stock").iloc[0]
    assert empty["best_units"] == 0 and empty["limited_by"] == "upper bound"


def test_gain_interval_widens_with_elasticity_uncertainty():
    sure = best_price(*_one_item(-3.0, std_error=0.01)).iloc[0]
    unsure = best_price(*_one_item(-3.0, std_error=0.8)).iloc[0]
    assert unsure["gain_upper"] - unsure["gain_lower"] > 10 * (
        sure["gain_upper"] - sure["gain_lower"]
    )
    assert sure["prob_gain"] == 1.0
    assert 0 < unsure["prob_gain"] < 1
    again = best_price(*_one_item(-3.0, std_error=0.8)).iloc[0]
    assert again["gain_lower"] == unsure["gain_lower"]


def test_a_price_changes_only_on_a_sure_gain():
    items = list("abcde")
    el = pd.DataFrame(
        {
            "item_id": items,
            "elasticity": [-3.0, 0.5, -3.0, -3.0, -1.5],
            "std_error": [0.01, 0.05, 3.0, 0.01, 0.5],
        }
    )
    # Item d's cost puts its optimum, 1.5 * unit_cost, at today's price.
    now = pd.DataFrame(
        {"item_id": items, "price": 10.0, "demand": 100.0, "unit_cost": [6, 6, 6, 20 / 3, 3]}
    )
    settled = settle_prices(best_price(el, now, bounds=(0.1, 10.0)), el).set_index("item_id")
    assert settled.loc["a", "action"] == "change"
    assert settled.loc["a", "new_price"] == pytest.approx(9.0)
    keep = settled.drop(index="a")
    assert (keep["action"] == "keep").all()
    assert (keep["new_price"] == keep["price"]).all()
    for item, words in [
        ("b", "not negative"),
        ("c", "elasticity is uncertain"),
        ("d", "already at the best"),
        ("e", "gain is within"),
    ]:
        assert words in settled.loc[item, "reason"], item
    # The same item with a well-measured elasticity is repriced.
    sure_el = el.assign(std_error=0.01)
    sure = settle_prices(best_price(sure_el, now, bounds=(0.1, 10.0)), sure_el)
    assert sure.set_index("item_id").loc["e", "action"] == "change"


def test_bad_pricing_input_is_refused():
    el, now = _one_item(-2.0)
    with pytest.raises(ValueError, match="reversed"):
        best_price(el, now, bounds=(1.3, 0.7))
    with pytest.raises(ValueError, match="positive"):
        best_price(el, now, bounds=(0.0, 1.3))
    with pytest.raises(ValueError, match="price"):
        best_price(el, now.assign(price=0.0))
    with pytest.raises(ValueError, match="unit_cost"):
        best_price(el, now.drop(columns="unit_cost"))
    with pytest.raises(ValueError, match="stock"):
        best_price(el, now, stock_col="stock")
    with pytest.raises(ValueError, match="no estimate"):
        best_price(el, now.assign(item_id="zzz"))
    with pytest.raises(ValueError, match="objective"):
        best_price(el, now, objective="margin")
    with pytest.raises(ValueError, match="relative_prices"):
        price_response(el.assign(lower=-3.0, upper=-1.0), now, relative_prices=[0.0, 1.0])


# ------------------------------------------------------------------ what-if forecasts


@pytest.fixture(scope="module")
def fitted():
    shop = simulate_shop(
        n_items=20, n_stores=2, n_periods=400, seed=1, future_periods=14, reviews=False
    )
    d = shop.data
    fc = Forecaster([LightGBM(n_estimators=100)]).fit(d.sales, static=d.static, dynamic=d.dynamic)
    future = d.dynamic[d.dynamic["ds"] > d.sales["ds"].max()]
    return fc, future


def test_a_price_cut_raises_the_forecast_and_a_rise_lowers_it(fitted):
    fc, future = fitted
    keys = future[["unique_id", "ds"]]
    cut = what_if(fc, 14, keys.assign(price=future["price"] * 0.7))
    rise = what_if(fc, 14, keys.assign(price=future["price"] * 1.3))
    assert np.allclose(cut["baseline"], rise["baseline"])
    assert cut["what_if"].sum() > 1.05 * cut["baseline"].sum()
    assert rise["what_if"].sum() < 0.97 * rise["baseline"].sum()
    plain = fc.predict(14)
    assert np.allclose(cut["baseline"], plain["LightGBM"])


def test_what_if_changes_only_the_planned_series(fitted):
    fc, future = fitted
    one = future["unique_id"] == future["unique_id"].iloc[0]
    plan = future.loc[one, ["unique_id", "ds"]].assign(promo=1)
    out = what_if(fc, 14, plan)
    planned = out["unique_id"] == future["unique_id"].iloc[0]
    assert out.loc[planned, "what_if"].sum() > out.loc[planned, "baseline"].sum()
    # Other series keep their covariates: the first step is unchanged, later ones move only
    # through how the planned series' group (its store) moves.
    others = out[~planned]
    first = others["ds"] == others["ds"].min()
    assert np.array_equal(others.loc[first, "what_if"], others.loc[first, "baseline"])
    assert others["what_if"].sum() == pytest.approx(others["baseline"].sum(), rel=0.02)


def test_bad_plans_are_refused(fitted):
    fc, future = fitted
    keys = future[["unique_id", "ds"]]
    past = keys.assign(ds=keys["ds"] - pd.Timedelta(days=30), price=5.0)
    with pytest.raises(ValueError, match="after each series' last sale"):
        what_if(fc, 14, past)
    with pytest.raises(ValueError, match="known-future"):
        what_if(fc, 14, keys.assign(views=3.0))
    with pytest.raises(ValueError, match="positive for prices"):
        what_if(fc, 14, keys.assign(price=0.0))
    with pytest.raises(ValueError, match="repeated"):
        what_if(fc, 14, pd.concat([keys, keys]).assign(promo=1))
    late = keys.assign(ds=keys["ds"] + pd.Timedelta(days=60), price=5.0)
    with pytest.raises(ValueError, match="no row in the fitted"):
        what_if(fc, 14, late)


def test_what_if_with_elasticities_scales_the_baseline_by_the_price_change(fitted):
    fc, future = fitted
    items = fc.data_.static["item_id"].unique()
    el = pd.DataFrame({"item_id": items, "elasticity": -2.0})
    one = future["unique_id"] == future["unique_id"].iloc[0]
    plan = future.loc[one, ["unique_id", "ds"]].assign(price=future.loc[one, "price"] * 0.8)
    out = what_if(fc, 14, plan, elasticities=el)
    planned = out["unique_id"] == future["unique_id"].iloc[0]
    expected = out.loc[planned, "baseline"] * 0.8**-2.0
    assert np.allclose(out.loc[planned, "what_if_elasticity"], expected, rtol=1e-5)
    assert np.allclose(out.loc[~planned, "what_if_elasticity"], out.loc[~planned, "baseline"])
    with pytest.raises(ValueError, match="no estimate"):
        what_if(fc, 14, plan, elasticities=el.iloc[1:])
