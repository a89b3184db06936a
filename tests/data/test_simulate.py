import time

import numpy as np
import pandas as pd
import pytest

from trendcast.data.contract import ShopData
from trendcast.data.simulate import GroundTruth, SampleShop, simulate_shop

KEY = ["unique_id", "ds"]


@pytest.fixture(scope="module")
def shop() -> SampleShop:
    return simulate_shop(n_items=60, n_stores=3, n_periods=730, seed=1)


@pytest.fixture(scope="module")
def big_shop() -> SampleShop:
    return simulate_shop(n_items=300, n_stores=3, n_periods=730, seed=7, reviews=False)


def _frames(s: SampleShop) -> dict[str, pd.DataFrame]:
    d = s.data
    return {
        "sales": d.sales,
        "static": d.static,
        "dynamic": d.dynamic,
        "reviews": d.reviews,
        "series": s.truth.series,
        "demand": s.truth.demand,
        "events": s.truth.events,
    }


def _merged(s: SampleShop) -> pd.DataFrame:
    """Sales, dynamic and truth side by side (they share the same rows in the same order)."""
    d = s.data
    df = pd.concat(
        [
            d.sales,
            d.dynamic.drop(columns=KEY),
            s.truth.demand.drop(columns=KEY),
        ],
        axis=1,
    )
    params = s.truth.series.set_index("unique_id")
    for col in ("elasticity", "promo_uplift", "ref_price", "lifecycle", "behaviour_lead"):
        df[col] = df["unique_id"].map(params[col]).to_numpy()
    return df


def test_returns_contract_types(shop):
    assert isinstance(shop, SampleShop)
    assert isinstance(shop.data, ShopData)
    assert isinstance(shop.truth, GroundTruth)
    assert shop.data.freq == "D"
    assert shop.data.sales.columns.tolist() == ["unique_id", "ds", "y"]
    assert shop.data.static.columns.tolist() == [
        "unique_id", "item_id", "store_id", "dept_id", "cat_id", "title", "description",
    ]  # fmt: skip
    assert shop.data.dynamic.columns.tolist() == [
        "unique_id", "ds", "price", "promo", "in_stock", "event", "views", "clicks",
        "add_to_carts",
    ]  # fmt: skip
    assert shop.data.reviews.columns.tolist() == ["unique_id", "ds", "rating", "text"]
    assert shop.truth.demand.columns.tolist() == [
        "unique_id", "ds", "expected_demand", "latent_demand", "baseline_demand",
    ]  # fmt: skip
    assert {"elasticity", "promo_uplift", "base_level", "quality", "season", "launch_ds",
            "end_ds", "intermittent", "demand_class"} <= set(shop.truth.series.columns)  # fmt: skip


def test_ids_follow_the_hierarchy(shop):
    static = shop.data.static
    assert len(static) == 60 * 3 == static["unique_id"].nunique()
    assert (static["unique_id"].astype(str) == static["item_id"] + "_" + static["store_id"]).all()
    assert (static["item_id"].str.rsplit("_", n=1).str[0] == static["dept_id"]).all()
    assert (static["dept_id"].str.split("_").str[0] == static["cat_id"]).all()
    assert static["cat_id"].nunique() >= 3
    assert set(static["store_id"]) == {"S1", "S2", "S3"}


def test_same_seed_gives_identical_frames():
    kwargs = dict(n_items=15, n_stores=2, n_periods=200, seed=3)
    a, b = simulate_shop(**kwargs), simulate_shop(**kwargs)
    for name, frame in _frames(a).items():
        pd.testing.assert_frame_equal(frame, _frames(b)[name], obj=name)


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch):
    kwargs = dict(n_items=250, n_stores=3, n_periods=40, seed=11)  # several blocks of series
    parallel = simulate_shop(**kwargs)
    monkeypatch.setattr("trendcast.data.simulate.os.cpu_count", lambda: 1)
    serial = simulate_shop(**kwargs)
    for name, frame in _frames(parallel).items():
        pd.testing.assert_frame_equal(frame, _frames(serial)[name], obj=name)


def test_different_seeds_differ():
    a = simulate_shop(n_items=15, n_stores=2, n_periods=200, seed=3)
    b = simulate_shop(n_items=15, n_stores=2, n_periods=200, seed=4)
    assert not a.data.static["title"].equals(b.data.static["title"])
    assert not a.truth.series["elasticity"].equals(b.truth.series["elasticity"])
    assert len(a.data.sales) != len(b.data.sales) or not a.data.sales["y"].equals(b.data.sales["y"])


def test_sales_sorted_unique_without_gaps(shop):
    sales = shop.data.sales
    assert isinstance(sales["unique_id"].dtype, pd.CategoricalDtype)
    categories = sales["unique_id"].cat.categories
    assert list(categories) == sorted(categories)
    assert sales["y"].notna().all() and (sales["y"] >= 0).all()
    assert (sales["y"] == np.round(sales["y"])).all()
    assert not sales.duplicated(KEY).any()
    resorted = sales.assign(uid=sales["unique_id"].astype(str)).sort_values(["uid", "ds"])
    assert (resorted.index == sales.index).all()
    codes = sales["unique_id"].cat.codes.to_numpy()
    same = codes[1:] == codes[:-1]
    step = np.diff(sales["ds"].to_numpy()).astype("timedelta64[D]").astype(int)
    assert (step[same] == 1).all()
    # Every series runs to the last day of the window.
    last = sales.groupby("unique_id", observed=True)["ds"].max()
    assert (last == pd.Timestamp("2022-01-03") + pd.Timedelta(days=729)).all()


def test_side_frames_cover_the_sales_rows(shop):
    sales = shop.data.sales
    for frame in (shop.data.dynamic, shop.truth.demand):
        assert len(frame) == len(sales)
        assert (frame["unique_id"] == sales["unique_id"]).all()
        assert (frame["ds"] == sales["ds"]).all()
    assert set(shop.truth.series["unique_id"]) == set(sales["unique_id"])
    dyn = shop.data.dynamic
    assert dyn[["price", "views", "clicks", "add_to_carts"]].notna().all().all()
    assert (dyn["price"] > 0).all()
    assert set(dyn["promo"].unique()) <= {0, 1} and set(dyn["in_stock"].unique()) == {0, 1}


def test_stock_outs_censor_latent_demand(shop):
    df = _merged(shop)
    on = df["in_stock"] == 1
    assert (~on).mean() > 0.002
    np.testing.assert_array_equal(df.loc[on, "y"], df.loc[on, "latent_demand"])
    assert (df.loc[~on, "y"] == 0).all()
    assert (df["y"] <= df["latent_demand"]).all()


def test_latent_demand_averages_to_expected_demand(shop):
    demand = shop.truth.demand
    ratio = demand["latent_demand"].sum() / demand["expected_demand"].sum()
    assert ratio == pytest.approx(1.0, abs=0.02)
    assert (demand["expected_demand"] >= 0).all() and (demand["baseline_demand"] >= 0).all()


def test_expected_demand_decomposes_into_price_and_promo_effects(shop):
    df = _merged(shop)
    effect = (df["price"] / df["ref_price"]) ** df["elasticity"] * np.where(
        df["promo"] == 1, df["promo_uplift"], 1.0
    )
    np.testing.assert_allclose(
        df["expected_demand"], df["baseline_demand"] * effect, rtol=1e-4, atol=1e-6
    )
    promo = df["promo"] == 1
    assert promo.mean() > 0.02
    # Promotions are discounts off the regular price.
    assert (df.loc[promo, "price"] < df.loc[promo, "ref_price"] * 2).all()


def test_life_cycles(shop):
    sales, series = shop.data.sales, shop.truth.series.set_index("unique_id")
    first = sales.groupby("unique_id", observed=True)["ds"].min()
    new = series["lifecycle"] == "new"
    assert new.any() and (series["lifecycle"] == "discontinued").any()
    assert (first[new] == series.loc[new, "launch_ds"]).all()
    assert (first[~new] == pd.Timestamp("2022-01-03")).all()
    assert series.loc[~new, "launch_ds"].isna().all()
    df = _merged(shop)
    end = df["unique_id"].map(series["end_ds"]).to_numpy()
    after = df["ds"].to_numpy() >= end  # NaT compares False
    assert after.any()
    assert (df.loc[after, "expected_demand"] == 0).all() and (df.loc[after, "y"] == 0).all()
    assert (series["end_ds"].notna() == (series["lifecycle"] == "discontinued")).all()


def test_events_and_closed_christmas(shop):
    df = _merged(shop)
    christmas = (df["ds"].dt.month == 12) & (df["ds"].dt.day == 25)
    assert christmas.any()
    assert (df.loc[christmas, "event"] == "christmas").all()
    assert (df.loc[christmas, "expected_demand"] == 0).all() and (df.loc[christmas, "y"] == 0).all()
    events = shop.truth.events
    assert {"black_friday", "easter", "summer_sale", "christmas"} <= set(events["event"])
    assert set(df["event"].astype(str).unique()) - {""} <= set(events["event"])
    assert (df["event"] == "black_friday").sum() == 2 * df["unique_id"].nunique() - (
        shop.truth.series["launch_ds"] > pd.Timestamp("2022-11-25")
    ).sum() - (shop.truth.series["launch_ds"] > pd.Timestamp("2023-11-24")).sum()


def test_intermittent_slow_movers(shop):
    sales, series = shop.data.sales, shop.truth.series.set_index("unique_id")
    slow = series.index[series["intermittent"]]
    assert 0.1 < series["intermittent"].mean() < 0.5
    assert (series.loc[slow, "base_level"] < 0.5).all()
    grouped = sales[sales["unique_id"].isin(slow)].groupby("unique_id", observed=True)["y"]
    assert grouped.mean().median() < 0.3 and (grouped.mean() < 1).all()
    assert (grouped.apply(lambda y: (y == 0).mean()) > 0.5).all()
    assert (series.loc[slow, "demand_class"].isin(["intermittent", "lumpy", "zero"])).mean() > 0.9


def _poisson_fixed_effects(y, x, group, n_iter=100):
    """Poisson regression of y on x with one intercept per group (fixed effects concentrated out)."""
    beta = np.zeros(x.shape[1])
    n_groups = group.max() + 1
    for _ in range(n_iter):
        mu0 = np.exp(x @ beta)
        alpha = np.bincount(group, y, n_groups) / np.bincount(group, mu0, n_groups)
        mu = mu0 * alpha[group]
        weight = np.bincount(group, mu, n_groups)
        xbar = np.stack(
            [np.bincount(group, mu * x[:, j], n_groups) / weight for j in range(x.shape[1])], 1
        )
        xt = x - xbar[group]
        step = np.linalg.solve((xt * mu[:, None]).T @ xt, xt.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def test_log_log_regression_recovers_elasticity_and_uplift(big_shop):
    """Poisson regression of log E[y] on log price and the promo flag, per category.

    Fixed effects per series and 28-day window absorb level, trend and seasonality, so the
    coefficients come from the price and promotion variation within a window.
    """
    df = _merged(big_shop)
    keep = (df["in_stock"] == 1) & (df["event"] == "") & (df["lifecycle"] == "mature")
    df = df[keep]
    cat = df["unique_id"].astype(str).str.split("_").str[0].to_numpy()
    categories = sorted(set(cat))
    onehot = np.stack([cat == c for c in categories], 1).astype(float)
    log_price = np.log(df["price"].to_numpy(np.float64))
    promo = df["promo"].to_numpy(np.float64)
    x = np.hstack([onehot * log_price[:, None], onehot * promo[:, None]])
    y = df["y"].to_numpy(np.float64)
    window = ((df["ds"] - df["ds"].min()).dt.days // 28).to_numpy()
    group = df["unique_id"].cat.codes.to_numpy().astype(np.int64) * 1000 + window
    has_sales = np.bincount(group, y) > 0
    rows = has_sales[group]
    _, group = np.unique(group[rows], return_inverse=True)
    beta = _poisson_fixed_effects(y[rows], x[rows], group)
    k = len(categories)
    for j, c in enumerate(categories):
        mine = cat == c
        true_elasticity = df.loc[mine, "elasticity"].drop_duplicates().mean()
        true_log_uplift = np.log(df.loc[mine, "promo_uplift"]).drop_duplicates().mean()
        assert beta[j] == pytest.approx(true_elasticity, abs=0.3), c
        assert beta[k + j] == pytest.approx(true_log_uplift, abs=0.1), c
    # Category means differ as documented: food is the least price sensitive.
    assert beta[categories.index("FOODS")] > beta[categories.index("APPAREL")]


def test_promotion_days_sell_more(big_shop):
    df = _merged(big_shop)
    df = df[(df["in_stock"] == 1) & (df["lifecycle"] == "mature")]
    # Compare promo days with the same series' non-promo days, correcting for the discount.
    discount_effect = (df["price"] / df["ref_price"]) ** df["elasticity"]
    df = df.assign(adjusted=df["y"] / discount_effect)
    by = df.groupby(["unique_id", "promo"], observed=True)["adjusted"].mean().unstack()
    by = by.dropna()
    by = by[by[0] > 2]
    observed = np.exp(np.log(by[1] / by[0]).median())
    truth = big_shop.truth.series.set_index("unique_id").loc[by.index, "promo_uplift"]
    assert observed == pytest.approx(np.exp(np.log(truth).median()), rel=0.12)
    assert observed > 1.1


def test_funnel_leads_sales(big_shop):
    df = _merged(big_shop)
    dyn = big_shop.data.dynamic
    assert (dyn["views"] >= dyn["clicks"]).all() and (dyn["clicks"] >= dyn["add_to_carts"]).all()
    series = big_shop.truth.series.set_index("unique_id")
    busy = series.index[(series["lifecycle"] == "mature") & (series["mean_demand"] > 3)]
    forward, backward = [], []
    for uid, g in df[df["unique_id"].isin(busy[:60])].groupby("unique_id", observed=True):
        lead = int(series.loc[uid, "behaviour_lead"])
        views, y = g["views"].to_numpy(float), g["y"].to_numpy(float)
        forward.append(np.corrcoef(views[:-lead], y[lead:])[0, 1])
        backward.append(np.corrcoef(views[lead:], y[:-lead])[0, 1])
    assert np.mean(forward) > np.mean(backward) + 0.1
    assert np.mean(np.array(forward) > np.array(backward)) > 0.9


def test_text_carries_season_and_quality_signal(big_shop):
    static = big_shop.data.static.drop_duplicates("item_id")
    series = big_shop.truth.series.drop_duplicates("item_id").set_index("item_id")
    season = series.loc[static["item_id"], "season"].to_numpy()
    quality = series.loc[static["item_id"], "quality"].to_numpy()
    words = static["title"].str.lower().str.split()
    winter_words = {"winter", "wool", "cozy", "festive", "thermal", "snowy"}
    has_winter = words.apply(lambda w: bool(winter_words & set(w))).to_numpy()
    assert has_winter[season == "winter"].mean() > 0.6
    assert has_winter[season != "winter"].mean() < 0.05
    assert static["description"][season == "summer"].str.contains("summer").mean() > 0.6
    has_premium = words.apply(lambda w: bool({"premium", "deluxe", "luxury", "signature"} & set(w)))
    assert has_premium[quality == "premium"].mean() > 0.9
    assert has_premium[quality != "premium"].mean() < 0.05
    assert static["title"].nunique() > 0.95 * len(static)


def test_reviews_follow_quality_and_sales(shop):
    reviews, sales = shop.data.reviews, shop.data.sales
    assert len(reviews) > 100
    assert reviews["rating"].between(1, 5).all()
    assert (reviews[["unique_id", "ds"]].sort_values(KEY).index == reviews.index).all()
    # Reviews fall on days the series is on sale.
    first = sales.groupby("unique_id", observed=True)["ds"].min()
    assert (reviews["ds"].to_numpy() >= reviews["unique_id"].map(first).to_numpy()).all()
    assert reviews["ds"].max() <= sales["ds"].max()
    per_month = reviews.groupby(["unique_id", reviews["ds"].dt.to_period("M")], observed=True)
    assert per_month.size().max() <= 2
    quality = shop.truth.series.set_index("unique_id")["quality"]
    mean_rating = reviews.groupby(reviews["unique_id"].map(quality).to_numpy())["rating"].mean()
    assert mean_rating["premium"] > mean_rating["standard"] > mean_rating["basic"]
    assert mean_rating["premium"] - mean_rating["basic"] > 0.7
    positive = reviews.loc[reviews["rating"] == 5, "text"].astype(str)
    negative = reviews.loc[reviews["rating"] == 1, "text"].astype(str)
    assert not set(positive) & set(negative)
    counts = reviews["unique_id"].value_counts()
    total = sales.groupby("unique_id", observed=True)["y"].sum()
    assert np.corrcoef(counts.reindex(total.index, fill_value=0), total)[0, 1] > 0.5


def test_no_reviews_when_disabled():
    assert simulate_shop(n_items=5, n_stores=1, n_periods=60, reviews=False).data.reviews is None


def test_weekly_aggregates_daily_totals():
    daily = simulate_shop(n_items=20, n_stores=2, n_periods=7 * 60, seed=5, freq="D")
    weekly = simulate_shop(n_items=20, n_stores=2, n_periods=60, seed=5, freq="W-SUN")
    assert weekly.data.freq == "W-SUN"
    assert (weekly.data.sales["ds"].dt.dayofweek == 6).all()
    assert weekly.data.sales["ds"].min() == pd.Timestamp("2022-01-09")
    d = _merged(daily)
    d["week"] = d["ds"] + pd.to_timedelta(6 - d["ds"].dt.dayofweek, unit="D")
    agg = d.groupby(["unique_id", "week"], observed=True).agg(
        y=("y", "sum"),
        expected_demand=("expected_demand", "sum"),
        latent_demand=("latent_demand", "sum"),
        views=("views", "sum"),
        add_to_carts=("add_to_carts", "sum"),
        price=("price", "mean"),
        promo=("promo", "max"),
        in_stock=("in_stock", "mean"),
        n_days=("y", "size"),
    )
    w = _merged(weekly)
    assert len(agg) == len(w)
    np.testing.assert_array_equal(agg.index.get_level_values("week"), w["ds"])
    for col in ("y", "latent_demand", "views", "add_to_carts", "promo"):
        np.testing.assert_array_equal(agg[col].to_numpy(), w[col].to_numpy(), err_msg=col)
    for col in ("expected_demand", "price", "in_stock"):
        np.testing.assert_allclose(agg[col], w[col], rtol=1e-5, err_msg=col)
    # Weeks carry the names of their events.
    christmas_week = w["ds"] == pd.Timestamp("2022-12-25")
    assert w.loc[christmas_week, "event"].str.contains("christmas").all()
    # The truth is aggregated too: censoring holds on fully in-stock weeks.
    full = w["in_stock"] == 1
    np.testing.assert_array_equal(w.loc[full, "y"], w.loc[full, "latent_demand"])


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="freq"):
        simulate_shop(n_items=5, n_periods=30, freq="MS")
    with pytest.raises(ValueError, match="n_items"):
        simulate_shop(n_items=0)
    with pytest.raises(ValueError, match="n_periods"):
        simulate_shop(n_periods=0)


def test_moderate_shop_is_fast():
    start = time.perf_counter()
    s = simulate_shop(n_items=1000, n_stores=3, n_periods=730, seed=2)
    elapsed = time.perf_counter() - start
    assert s.data.sales["unique_id"].nunique() == 3000
    assert elapsed < 10
