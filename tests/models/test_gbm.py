"""The global LightGBM forecaster recovers the sample shop's known structure."""

import numpy as np
import pandas as pd
import pytest

from trendcast import Forecaster, simulate_shop
from trendcast.data.arrays import Covariates, SeriesArrays, period_index
from trendcast.data.validate import validate
from trendcast.evaluation.explain import group_importance
from trendcast.features.lags import WindowStats
from trendcast.models import LightGBM, MovingAverage, SeasonalNaive

H = 14


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=40, n_stores=2, n_periods=500, seed=3, future_periods=H)


@pytest.fixture(scope="module")
def fitted(shop):
    data = shop.data
    fc = Forecaster([LightGBM(n_estimators=300)], quantiles=(0.1, 0.5, 0.9))
    return fc.fit(data.sales, static=data.static, dynamic=data.dynamic)


def future_truth(shop):
    last = shop.data.sales["ds"].max()
    return shop.truth.demand[shop.truth.demand["ds"] > last]


def errors_against_the_truth(shop, forecasts):
    """Absolute error against the true expected demand of LightGBM and two baselines."""
    others = Forecaster([SeasonalNaive(), MovingAverage()]).fit(shop.data.sales).predict(H)
    truth = (
        future_truth(shop)
        .merge(forecasts, on=["unique_id", "ds"])
        .merge(others, on=["unique_id", "ds"])
    )
    return {
        m: (truth[m] - truth["expected_demand"]).abs().sum()
        for m in ("LightGBM", "SeasonalNaive", "MovingAverage")
    }


def test_beats_baselines_against_the_true_demand(shop, fitted):
    error = errors_against_the_truth(shop, fitted.predict(H))
    assert error["LightGBM"] < 0.9 * min(error["SeasonalNaive"], error["MovingAverage"])


@pytest.mark.parametrize("strategy", ["direct", "mix"])
def test_direct_and_mixed_strategies_beat_baselines_and_stay_calibrated(shop, strategy):
    data = shop.data
    fc = Forecaster([LightGBM(n_estimators=150, strategy=strategy)], quantiles=(0.1, 0.9))
    forecasts = fc.fit(data.sales, static=data.static, dynamic=data.dynamic).predict(H)
    assert fc.models_[0].offsets_ == (
        [7, 14, 21, 28] if strategy == "direct" else [1, 7, 14, 21, 28]
    )
    error = errors_against_the_truth(shop, forecasts)
    assert error["LightGBM"] < 0.9 * min(error["SeasonalNaive"], error["MovingAverage"])
    merged = future_truth(shop).merge(forecasts, on=["unique_id", "ds"])
    inside = merged["latent_demand"].between(merged["LightGBM-q-0.1"], merged["LightGBM-q-0.9"])
    assert 0.7 < inside.mean() < 0.97


def test_a_direct_model_reads_the_target_only_up_to_its_offset(shop):
    data = shop.data
    fc = Forecaster([LightGBM(n_estimators=20, strategy="direct")])
    model = fc.fit(data.sales, static=data.static, dynamic=data.dynamic).models_[0]
    arrays, k = model.data_, model.offsets_[0]
    rows = arrays.indptr[1:] - 10
    periods = period_index(arrays.last_ds, arrays.freq) - 9

    def features(values):
        anchors = rows - (k - 1)
        series, starts = np.arange(arrays.n_series), arrays.indptr[:-1]
        return model._features(values, WindowStats(values), starts, anchors, series, periods)[0]

    before = features(arrays.values)
    recent = arrays.values.copy()
    for back in range(k):  # the row itself and the k - 1 periods before it
        recent[rows - back] = 1e4
    np.testing.assert_array_equal(features(recent), before)
    older = arrays.values.copy()
    older[rows - k] = 1e4
    assert not np.array_equal(features(older), before)


def test_unknown_strategy_and_unexplainable_mix_are_clear_errors(shop):
    data = shop.data
    with pytest.raises(ValueError, match="unknown strategy 'hybrid'"):
        Forecaster([LightGBM(strategy="hybrid")]).fit(data.sales)
    mix = Forecaster([LightGBM(n_estimators=20, strategy="mix")]).fit(data.sales).models_[0]
    with pytest.raises(ValueError, match="explain a 'recursive' or 'direct' model"):
        mix.contributions(H)


def test_weekly_seasonality_is_captured(shop, fitted):
    forecasts = fitted.predict(H)
    merged = future_truth(shop).merge(forecasts, on=["unique_id", "ds"])
    daily = merged.groupby("ds")[["expected_demand", "LightGBM"]].sum()
    assert np.corrcoef(daily["expected_demand"], daily["LightGBM"])[0, 1] > 0.8


def what_if(shop, fitted, **changes):
    data = shop.data
    dynamic = data.dynamic.copy()
    future = dynamic["ds"] > data.sales["ds"].max()
    for column, value in changes.items():
        dynamic.loc[future, column] = value(dynamic.loc[future, column])
    model = fitted.models_[0]
    refitted = Forecaster([model]).fit(data.sales, static=data.static, dynamic=dynamic)
    return refitted.predict(H)["LightGBM"].sum()


def test_price_and_promotion_effects_have_the_right_sign(shop):
    model = LightGBM(n_estimators=300)
    fc = Forecaster([model]).fit(
        shop.data.sales, static=shop.data.static, dynamic=shop.data.dynamic
    )
    plan = fc.predict(H)["LightGBM"].sum()
    dearer = what_if(shop, fc, price=lambda p: p * 1.3)
    promoted = what_if(shop, fc, promo=lambda p: p * 0 + 1)
    assert dearer < 0.97 * plan
    assert promoted > 1.03 * plan


def test_quantiles_are_ordered_and_roughly_calibrated(shop, fitted):
    forecasts = fitted.predict(H)
    q = forecasts[["LightGBM-q-0.1", "LightGBM-q-0.5", "LightGBM-q-0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    merged = future_truth(shop).merge(forecasts, on=["unique_id", "ds"])
    inside = merged["latent_demand"].between(merged["LightGBM-q-0.1"], merged["LightGBM-q-0.9"])
    assert 0.7 < inside.mean() < 0.97


def test_same_seed_same_forecasts(shop, fitted):
    data = shop.data
    again = Forecaster([LightGBM(n_estimators=300)], quantiles=(0.1, 0.5, 0.9)).fit(
        data.sales, static=data.static, dynamic=data.dynamic
    )
    pd.testing.assert_frame_equal(again.predict(H), fitted.predict(H))


def test_missing_future_covariates_are_rejected(shop):
    data = shop.data
    past_only = data.dynamic[data.dynamic["ds"] <= data.sales["ds"].max()]
    fc = Forecaster([LightGBM(n_estimators=50)]).fit(data.sales, dynamic=past_only)
    with pytest.raises(ValueError, match="no rows for some of the 14 periods"):
        fc.predict(H)


def test_backtest_forecasts_ignore_future_targets(shop):
    data = shop.data
    sales = data.sales[data.sales["ds"] <= data.sales["ds"].max()]
    side = {"static": data.static, "dynamic": data.dynamic}
    fc = Forecaster([LightGBM(n_estimators=60)])
    reference = fc.backtest(sales, h=7, n_windows=2, **side)
    cutoff = reference["cutoff"].min()
    poisoned = sales.assign(y=np.where(sales["ds"] > cutoff, 1e4, sales["y"]))
    result = fc.backtest(poisoned, h=7, n_windows=2, **side)
    first = result["cutoff"] == cutoff
    np.testing.assert_allclose(
        result.loc[first, "LightGBM"], reference.loc[reference["cutoff"] == cutoff, "LightGBM"]
    )


def test_importance_groups_into_human_terms(fitted):
    groups = group_importance(fitted.models_[0].feature_importance())
    assert abs(groups.sum() - 1) < 1e-9
    assert {"trend and recent sales", "price", "promotion"} <= set(groups.index)
    # The shop's demand moves with its history, promotions and prices: each group must count.
    assert groups[["trend and recent sales", "promotion", "price"]].min() > 0.05


def test_too_short_history_is_a_clear_error():
    sales = simulate_shop(n_items=3, n_stores=1, n_periods=20, reviews=False).data.sales
    data = validate(sales)
    arrays = SeriesArrays.from_frame(data.sales, data.freq)
    with pytest.raises(ValueError, match="too short"):
        LightGBM().fit(arrays, Covariates())


def test_dynamic_lookup_reads_the_frame_rows_with_gaps_and_unknown_ids():
    from trendcast.data.arrays import period_index
    from trendcast.data.contract import Columns
    from trendcast.features.covariates import DynamicLookup

    rng = np.random.default_rng(0)
    ids = np.array(["a", "b", "c"])
    dates = pd.date_range("2024-01-01", periods=10)
    frame = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b", "c", "z"], 10), "ds": np.tile(dates, 4)}
    )
    frame = frame.assign(
        price=rng.random(len(frame)).astype(np.float32),
        event=rng.choice(["", "sale", "xmas"], len(frame)),
    ).sample(frac=0.7, random_state=1)  # gaps; "z" is not a fitted series
    first = period_index(dates[2:3], "D")[0]
    lookup = DynamicLookup(frame, ids, "D", Columns(), first_period=first)

    series = rng.integers(0, 3, 300)
    periods = first + rng.integers(-4, 12, 300)  # before, inside and after the frame's span
    keys = pd.DataFrame({"unique_id": ids[series], "ds": periods.astype("datetime64[D]")})
    kept = frame[frame["ds"] >= dates[2]]
    expected = keys.merge(kept, on=["unique_id", "ds"], how="left", indicator=True)
    np.testing.assert_array_equal(
        lookup.missing(series, periods), expected["_merge"] == "left_only"
    )
    np.testing.assert_array_equal(
        lookup.take("price", series, periods), expected["price"].to_numpy(np.float32)
    )
    # Category codes of the kept rows' values, the empty string meaning none.
    categories = sorted(set(kept.loc[kept["unique_id"] != "z", "event"]) - {""})
    codes = expected["event"].map({c: float(i) for i, c in enumerate(categories)})
    assert lookup.categorical == ["event"]
    np.testing.assert_array_equal(lookup.take("event", series, periods), codes.to_numpy(np.float32))


def test_streamed_features_are_binned_as_the_in_memory_matrix():
    import lightgbm as lgb

    from trendcast.models.gbm import _bin_sample_seed, _FeatureRows

    lgb.Sequence.register(_FeatureRows)
    rng = np.random.default_rng(0)
    # More rows than LightGBM samples for its bins (200,000), so the sample matters.
    features = rng.normal(size=(250_000, 3)).astype(np.float32)
    features[rng.random(features.shape) < 0.1] = np.nan
    target = rng.poisson(np.exp(np.nan_to_num(features[:, 0]).clip(-2, 2)))
    params = {"objective": "tweedie", "seed": 7, "verbosity": -1, "num_threads": 1}
    models = []
    for data, extra in [
        (features, {}),
        (_FeatureRows(features.__getitem__, len(features)), {"data_random_seed": 7}),
        (
            _FeatureRows(features.__getitem__, len(features)),
            {"data_random_seed": _bin_sample_seed(7)},
        ),
    ]:
        dataset = lgb.Dataset(data, target, params=params | extra).construct()
        models.append(lgb.train(params, dataset, num_boost_round=5).model_to_string())
    assert models[2] == models[0]
    assert models[1] != models[0]  # the sample, hence the bins, follow the seed


def test_relative_price_is_the_price_over_its_department_mean_that_day(shop):
    data = shop.data
    series = SeriesArrays.from_frame(data.sales, data.freq)
    model = LightGBM(n_estimators=5, relative_price=True)
    model.fit(series, Covariates(data.static, data.dynamic))
    assert "price_vs_dept_id" in model.feature_names_
    day = data.sales["ds"].max()
    rows = data.dynamic[data.dynamic["ds"] == day].merge(data.static[["unique_id", "dept_id"]])
    expected = rows["price"] / rows.groupby("dept_id", observed=True)["price"].transform("mean")
    position = pd.Index(series.ids).get_indexer(rows["unique_id"])
    periods = np.full(len(rows), (day - pd.Timestamp("1970-01-01")).days)
    got = model.dynamic_.take("price_vs_dept_id", position, periods)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-5)


def test_further_lightgbm_parameters_reach_the_booster(shop):
    data = shop.data
    fc = Forecaster([LightGBM(n_estimators=20, lgb_params={"num_leaves": 3})]).fit(data.sales)
    trees = fc.models_[0].boosters_[1].dump_model()["tree_info"]
    assert trees and max(tree["num_leaves"] for tree in trees) <= 3
