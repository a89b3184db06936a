"""The model contract: parameters, fitted state, saving and the plan at predict time."""

import json

import numpy as np
import pandas as pd
import pytest

from trendcast import Forecaster, simulate_shop
from trendcast.data.arrays import SeriesArrays
from trendcast.data.saved import SavedStateError
from trendcast.errors import NotFittedError
from trendcast.models import ETS, LightGBM, MovingAverage, Naive, SeasonalNaive
from trendcast.models.base import load
from trendcast.models.ensemble import Ensemble


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=4, n_stores=2, n_periods=200, seed=3, future_periods=14).data


@pytest.fixture(scope="module")
def fitted(shop):
    models = [LightGBM(n_estimators=20), Naive()]
    return Forecaster(models, quantiles=(0.9, 0.1)).fit(
        shop.sales, static=shop.static, dynamic=shop.dynamic
    )


def _arrays(shop):
    return SeriesArrays.from_frame(shop.sales, "D")


def test_quantiles_come_in_the_order_asked(shop):
    q = Naive().fit(_arrays(shop)).predict(3, (0.9, 0.1)).quantiles
    assert (q[..., 0] >= q[..., 1]).all() and (q[..., 0] > q[..., 1]).any()


def test_forecaster_keeps_quantile_order_and_rejects_repeats(fitted):
    forecast = fitted.predict(5)
    assert list(forecast.columns[3:5]) == ["LightGBM-q-0.9", "LightGBM-q-0.1"]
    assert (forecast["Naive-q-0.9"] >= forecast["Naive-q-0.1"]).all()
    with pytest.raises(ValueError, match="given twice"):
        fitted.predict(5, quantiles=(0.5, 0.5))


def test_backtest_leaves_the_fitted_forecaster_alone(shop):
    polars = pytest.importorskip("polars")
    fc = Forecaster([Naive()]).fit(polars.from_pandas(shop.sales))
    fc.backtest(shop.sales, h=7, n_windows=1, min_history=14)
    assert isinstance(fc.predict(3), polars.DataFrame)


@pytest.mark.parametrize("method", ["predict", "sample_paths", "feature_importance", "explain"])
def test_one_not_fitted_error_everywhere(method):
    model = LightGBM()
    call = {
        "predict": lambda: model.predict(3),
        "sample_paths": lambda: model.sample_paths(3),
        "feature_importance": lambda: model.feature_importance(),
        "explain": lambda: Forecaster([model]).explain(3),
    }[method]
    with pytest.raises(NotFittedError, match="not fitted"):
        call()


def test_clone_has_equal_params_and_no_fitted_state(shop):
    ensemble = Ensemble([SeasonalNaive(season_length=7), MovingAverage(window=5)], window=7)
    ensemble.fit(_arrays(shop))
    twin = ensemble.clone()
    assert not twin.is_fitted and ensemble.is_fitted
    assert [m.get_params() for m in twin.models] == [m.get_params() for m in ensemble.models]
    assert twin.models[0] is not ensemble.models[0]
    assert ETS().set_params(season_length=12).season_length == 12
    with pytest.raises(ValueError, match="no parameter"):
        ETS().set_params(seasonlength=12)


def test_saved_forecaster_predicts_bit_for_bit(fitted, tmp_path):
    fitted.save(tmp_path / "fc")
    again = Forecaster.load(tmp_path / "fc")
    pd.testing.assert_frame_equal(fitted.predict(14), again.predict(14))
    assert np.array_equal(
        fitted.models_[0].sample_paths(14, n_samples=5),
        again.models_[0].sample_paths(14, n_samples=5),
    )


@pytest.mark.parametrize("model", [Naive(), SeasonalNaive(), MovingAverage(window=5), ETS()])
def test_saved_models_predict_the_same(shop, model, tmp_path):
    model.fit(_arrays(shop)).save(tmp_path / "m")
    before = model.predict(7, (0.1, 0.9))
    after = load(tmp_path / "m").predict(7, (0.1, 0.9))
    assert np.array_equal(before.mean, after.mean)
    assert np.array_equal(before.quantiles, after.quantiles)


def test_edited_truncated_or_newer_files_are_refused(fitted, tmp_path):
    folder = fitted.save(tmp_path / "fc")
    state = folder / "state.json"
    text = state.read_text()
    state.write_text(text.replace('"LightGBM"', '"Naive"', 1))
    with pytest.raises(SavedStateError, match="changed after it was saved"):
        Forecaster.load(folder)
    document = json.loads(text)
    document["format_version"] = 99
    state.write_text(json.dumps(document))
    with pytest.raises(SavedStateError, match="format version 99"):
        Forecaster.load(folder)
    state.write_text(text[: len(text) // 2])
    with pytest.raises(SavedStateError, match="not valid JSON"):
        Forecaster.load(folder)
    state.write_text(text)
    booster = next(folder.glob("booster*.txt"))
    booster.write_text(booster.read_text()[:100])
    with pytest.raises(SavedStateError, match="truncated or edited"):
        Forecaster.load(folder)


def test_a_changed_plan_at_predict_time_changes_the_forecast(shop, fitted):
    future = shop.dynamic[shop.dynamic["ds"] > shop.sales["ds"].max()]
    cheaper = future[["unique_id", "ds"]].assign(price=future["price"].to_numpy() * 0.6)
    base, planned = fitted.predict(14), fitted.predict(14, dynamic=cheaper)
    assert planned["LightGBM"].sum() > base["LightGBM"].sum()
    pd.testing.assert_series_equal(planned["Naive"], base["Naive"])
    same = future[["unique_id", "ds", "price"]]
    pd.testing.assert_frame_equal(fitted.predict(14, dynamic=same), base)


def test_a_plan_of_lagged_columns_is_refused(shop, fitted):
    future = shop.dynamic[shop.dynamic["ds"] > shop.sales["ds"].max()]
    lagged = [c for c in shop.dynamic.columns if c not in ("unique_id", "ds")]
    lagged = [c for c in lagged if not fitted.covariates_.is_known_future(c)]
    plan = future[["unique_id", "ds", lagged[0]]]
    with pytest.raises(ValueError, match="not known in advance"):
        fitted.predict(14, dynamic=plan)


def test_declared_known_future_columns_are_read_at_the_forecast_period(shop):
    renamed = shop.dynamic.rename(columns={"promo": "Aktion"})
    fc = Forecaster([LightGBM(n_estimators=10)])
    by_rule = fc.fit(shop.sales, dynamic=renamed).report_.set_index("column")
    assert by_rule.loc["Aktion", "use"].startswith("not known in advance")
    known = [c for c in renamed.columns if c in ("price", "Aktion")]
    declared = fc.fit(shop.sales, dynamic=renamed, known_future=known).report_.set_index("column")
    assert declared.loc["Aktion", "use"].startswith("known in advance")
    assert declared.loc["Aktion", "decided_by"] == "known_future="
    with pytest.raises(ValueError, match="does not have"):
        fc.fit(shop.sales, dynamic=renamed, known_future=["promo"])


def test_predict_with_some_models_only(fitted):
    both = fitted.predict(5)
    naive = fitted.predict(5, models=["Naive"])
    assert [c for c in naive.columns if not c.endswith(("-q-0.9", "-q-0.1"))] == [
        "unique_id",
        "ds",
        "Naive",
    ]
    pd.testing.assert_series_equal(naive["Naive"], both["Naive"])
    assert fitted.model("LightGBM") is fitted.models_[0]
    with pytest.raises(ValueError, match="no model 'ETS'.*'LightGBM', 'Naive'"):
        fitted.predict(5, models=["ETS"])


def test_a_validated_shop_is_not_validated_again(shop, monkeypatch):
    import trendcast.forecaster

    expected = Forecaster([Naive()]).fit(shop.sales, static=shop.static, dynamic=shop.dynamic)

    def no_second_validation(*args, **kwargs):
        raise AssertionError("validated twice")

    monkeypatch.setattr(trendcast.forecaster, "validate", no_second_validation)
    fc = Forecaster([Naive()]).fit(shop)
    pd.testing.assert_frame_equal(fc.predict(5), expected.predict(5))
    assert len(Forecaster([Naive()]).backtest(shop, h=7, n_windows=1))
    with pytest.raises(ValueError, match="carries its static and dynamic"):
        Forecaster([Naive()]).fit(shop, dynamic=shop.dynamic)
    with pytest.raises(ValueError, match="give the forecaster the same"):
        Forecaster([Naive()], id_col="sku").fit(shop)
