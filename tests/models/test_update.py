"""Updating a fitted model with new periods moves its state as its own recursion does, re-
estimates nothing, and leaves the model it was copied from as it was."""

import copy

import numpy as np
import pandas as pd
import pytest

import trendcast.models as tm
from trendcast import Forecaster
from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.data.simulate import simulate_shop
from trendcast.data.validate import DataValidationError
from trendcast.models import ETS, LightGBM, MovingAverage, Naive, SeasonalNaive

K = 5  # new periods
H = 7
QUANTILES = (0.1, 0.5, 0.9)


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(
        n_items=5, n_stores=2, n_periods=160, seed=4, reviews=False, future_periods=H
    )


@pytest.fixture(scope="module")
def series(shop):
    """The full series, and the same without their last K periods (what the models fit on)."""
    full = SeriesArrays.from_frame(shop.data.sales, "D")
    return full.head(full.lengths - K), full


def _values(arrays: SeriesArrays, i: int) -> np.ndarray:
    return arrays.values[arrays.indptr[i] : arrays.indptr[i + 1]]


@pytest.mark.parametrize("model", [Naive(), SeasonalNaive(), MovingAverage(window=7)], ids=str)
def test_baselines_update_to_what_a_fit_on_the_longer_history_gives(model, series):
    head, full = series
    updated = model.clone().fit(head).update(full).predict(H, QUANTILES)
    refit = model.clone().fit(full).predict(H, QUANTILES)
    np.testing.assert_array_equal(updated.mean, refit.mean)
    np.testing.assert_array_equal(updated.quantiles, refit.quantiles)


@pytest.mark.parametrize("k", [1, K])
def test_ets_update_runs_the_fitted_filter_forward_as_statsforecast_does(k, series):
    """statsforecast's ``forward`` applies the fitted parameters to a longer series from the
    first state; the update starts from the last one and gives the same, to the bit."""
    from statsforecast.models import AutoETS

    head, full = series
    longer = full.head(head.lengths + k)
    model = ETS().fit(head)
    ours = model.update(longer).predict(H, QUANTILES)
    for i, state in enumerate(model.states_):
        y = _values(longer, i)
        peer = AutoETS(season_length=7, model="ZNA").fit(y[:-k]).forward(y, h=H, level=[80])
        expected = np.stack([peer["lo-80"], peer["mean"], peer["hi-80"]], axis=-1)
        np.testing.assert_array_equal(ours.quantiles[i], np.maximum(expected, 0))
        assert state is not None


@pytest.mark.parametrize("name", ["Croston", "TSB"])
def test_croston_and_tsb_update_to_what_a_fit_on_the_longer_history_forecasts(name, series):
    """Their smoothing constants are fixed, so moving the recursions forward gives the
    forecast of a fit on the longer history; the intervals keep the fitted window errors."""
    head, full = series
    model = getattr(tm, name)(horizon=H).fit(head)  # window errors kept for this horizon
    before = model.predict(H, QUANTILES)
    after = model.update(full).predict(H, QUANTILES)
    refit = getattr(tm, name)(horizon=H).fit(full).predict(H, QUANTILES)
    np.testing.assert_array_equal(after.mean, refit.mean)
    assert not np.array_equal(after.mean, before.mean)
    # Conformal bands: the same offsets around the new level, where none is clipped at 0.
    unclipped = (before.quantiles[..., 0] > 0) & (after.quantiles[..., 0] > 0)
    np.testing.assert_allclose(
        (after.quantiles - after.mean[..., None])[unclipped],
        (before.quantiles - before.mean[..., None])[unclipped],
        atol=1e-9,
    )


def _smoothed(y: np.ndarray, fit_length: int, aggregation: int) -> float:
    """statsforecast's smoothed bucket sum of ``y`` with the parameters of its first
    ``fit_length`` values: buckets aligned on their end, alpha chosen on them."""
    from statsforecast.models import _chunk_sums, _ses_lib

    lost = fit_length % aggregation
    alpha = _ses_lib.golden_section_ses(_chunk_sums(y[lost:fit_length], aggregation), 0.1, 0.3)
    return _ses_lib.ses_forecast(_chunk_sums(y[lost:], aggregation), alpha)[0] / aggregation


def test_adida_and_imapa_keep_their_levels_parameters_and_buckets(series):
    """The aggregation levels, smoothing parameters and bucket boundaries are those of the
    fit; completed buckets move the smoothed sums with them (integer counts add exactly in
    any order, so numpy's bucket sums are the reference)."""
    from statsforecast.models import _intervals

    head, full = series
    adida = tm.ADIDA(horizon=H).fit(head).update(full).predict(H).mean[:, 0]
    imapa = tm.IMAPA(horizon=H).fit(head).update(full).predict(H).mean[:, 0]
    refit = tm.ADIDA(horizon=H).fit(full).predict(H).mean[:, 0]
    estimated = 0
    for i in range(full.n_series):
        y, n = _values(full, i), int(head.lengths[i])
        top = round(_intervals(y[:n]).mean().item()) if y[:n].any() else 0
        if not top or n // top < 2:  # too little demand to estimate: as a fit would
            assert adida[i] == refit[i]
            continue
        assert adida[i] == _smoothed(y, n, top)
        assert imapa[i] == np.mean([_smoothed(y, n, k) for k in range(1, top + 1)])
        estimated += 1
    assert estimated >= 5
    assert (adida != refit).any(), "the update re-estimated the parameters"


@pytest.mark.parametrize(
    "model",
    [Naive(), SeasonalNaive(), ETS(), tm.Croston(), tm.TSB(), tm.ADIDA(), tm.IMAPA()],
    ids=str,
)
def test_updating_day_by_day_equals_updating_at_once(model, series):
    head, full = series
    once = model.clone().fit(head).update(full).predict(H, QUANTILES)
    stepwise = model.clone().fit(head)
    for k in range(1, K + 1):
        stepwise.update(full.head(head.lengths + k))
    daily = stepwise.predict(H, QUANTILES)
    np.testing.assert_array_equal(daily.mean, once.mean)
    np.testing.assert_array_equal(daily.quantiles, once.quantiles)


def test_lightgbm_forecasts_from_the_new_lags_with_the_fitted_trees(shop, series):
    head, full = series
    covariates = Covariates(shop.data.static, shop.data.dynamic)
    fitted = LightGBM(n_estimators=30).fit(head, covariates)
    before = fitted.predict(H)
    updated = copy.copy(fitted).update(full)
    after = updated.predict(H).mean
    assert not np.allclose(after, before.mean)
    np.testing.assert_array_equal(fitted.predict(H).mean, before.mean)  # the copy moved alone
    # Fit-free: the fitted trees on the longer history, through the forecasting code itself.
    np.testing.assert_array_equal(after, fitted._forecast(fitted.boosters_, full, H))
    assert updated.boosters_ is fitted.boosters_ and updated.phi_ is fitted.phi_
    # The last new value is the first lag: changing it moves that series' next forecast.
    bumped = full.values.copy()
    bumped[full.indptr[1] - 1] += 20
    other = SeriesArrays(full.ids, bumped, full.indptr, full.last_ds, full.freq)
    moved = copy.copy(fitted).update(other).predict(H).mean
    assert moved[0, 0] > after[0, 0]


def test_forecaster_update_validates_skips_repeats_and_refuses_conflicts(shop):
    sales, dynamic = shop.data.sales, shop.data.dynamic
    last = sales["ds"].max()
    cut = last - pd.Timedelta(days=K)
    old, new = sales[sales["ds"] <= cut], sales[sales["ds"] > cut]
    models = [LightGBM(n_estimators=30), SeasonalNaive(), tm.Croston()]
    fc = Forecaster(models).fit(old, static=shop.data.static, dynamic=dynamic)
    before = fc.predict(H)
    assert fc.update(new) is fc
    after = fc.predict(H)
    assert after["ds"].min() == last + pd.Timedelta(days=1)  # the origin moved by K days
    assert before["ds"].min() == cut + pd.Timedelta(days=1)
    refit = Forecaster([SeasonalNaive()]).fit(sales).predict(H)
    np.testing.assert_array_equal(after["SeasonalNaive"], refit["SeasonalNaive"])

    state = fc.data_
    fc.update(new)  # a repeat: every row is held with the same value
    assert fc.data_ is state and fc.predict(H).equals(after)
    with pytest.raises(DataValidationError, match="another value") as error:
        fc.update(new.assign(y=new["y"] + 1))
    assert len(error.value.rows) == len(new)
    gap = sales[sales["ds"] == last].assign(ds=last + pd.Timedelta(days=3))
    with pytest.raises(DataValidationError, match="periods between are missing"):
        fc.update(gap)
    with pytest.raises(ValueError, match="not in the forecaster"):
        fc.update(pd.DataFrame({"unique_id": ["new"], "ds": [last], "y": [1.0]}))
    assert fc.data_ is state and fc.predict(H).equals(after)


def test_forecaster_update_fails_whole_and_saves_the_updated_state(shop, monkeypatch, tmp_path):
    sales = shop.data.sales
    cut = sales["ds"].max() - pd.Timedelta(days=K)
    fc = Forecaster([SeasonalNaive(), ETS()]).fit(sales[sales["ds"] <= cut])
    before = fc.predict(H)

    def broken(self, data, dynamic):
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(ETS, "_update", broken)
        with pytest.raises(RuntimeError, match="killed"):
            fc.update(sales[sales["ds"] > cut])
    assert fc.predict(H).equals(before)  # SeasonalNaive, updated first, was not kept either
    after = fc.update(sales[sales["ds"] > cut]).predict(H)
    fc.save(tmp_path / "fc")
    back = Forecaster.load(tmp_path / "fc")
    pd.testing.assert_frame_equal(back.predict(H), after)
    ahead = sales[sales["ds"] == sales["ds"].max()].assign(
        ds=lambda d: d["ds"] + pd.Timedelta("1D")
    )
    np.testing.assert_array_equal(
        back.update(ahead).predict(H)["ETS"], fc.update(ahead).predict(H)["ETS"]
    )


def test_new_plans_reach_lightgbm_and_stay_with_the_forecaster(shop):
    data = shop.data
    last = data.sales["ds"].max()
    fc = Forecaster([LightGBM(n_estimators=30), Naive()]).fit(
        data.sales, static=data.static, dynamic=data.dynamic
    )
    before = fc.predict(H)
    plan = data.dynamic.loc[data.dynamic["ds"] > last, ["unique_id", "ds", "price", "promo"]]
    cheaper = plan.assign(price=plan["price"] * 0.5)
    after = fc.update(dynamic=cheaper).predict(H)
    assert (after["LightGBM"] > before["LightGBM"]).mean() > 0.5  # half price sells more
    np.testing.assert_array_equal(after["Naive"], before["Naive"])
    stored = fc.data_.dynamic.merge(cheaper, on=["unique_id", "ds"], suffixes=("", "_plan"))
    np.testing.assert_array_equal(stored["price"], stored["price_plan"])
    with pytest.raises(ValueError, match="columns"):
        fc.update(dynamic=plan.assign(unknown=1.0))


def test_lstm_update_keeps_the_network_and_reads_the_new_history(shop, series):
    pytest.importorskip("torch")
    from trendcast.models.lstm import LSTM

    head, full = series
    covariates = Covariates(shop.data.static, shop.data.dynamic)
    settings = dict(horizon=H, context_length=21, hidden_size=8, num_layers=1, epochs=2)
    model = LSTM(**settings, steps_per_epoch=3, batch_size=32, device="cpu").fit(head, covariates)
    weights = {k: v.clone() for k, v in model.net_.state_dict().items()}
    before = model.predict(H).mean
    once = copy.copy(model).update(full).predict(H).mean
    for k in range(1, K + 1):
        model.update(full.head(head.lengths + k))
    np.testing.assert_array_equal(model.predict(H).mean, once)
    assert not np.allclose(once, before)
    assert all((model.net_.state_dict()[k] == v).all() for k, v in weights.items())


def test_zero_shot_chronos_update_is_a_fit_on_the_longer_history(series):
    """Zero-shot Chronos-2 learns nothing at fit, so the update forecasts what a fit does."""
    pytest.importorskip("chronos")
    head, full = series
    updated = tm.Chronos2().fit(head).update(full).predict(H, QUANTILES)
    fitted = tm.Chronos2().fit(full).predict(H, QUANTILES)
    np.testing.assert_array_equal(updated.quantiles, fitted.quantiles)


def test_update_needs_a_fit_and_the_same_series(series):
    head, full = series
    with pytest.raises(RuntimeError, match="not fitted"):
        Naive().update(full)
    with pytest.raises(ValueError, match="shorter"):
        tm.Croston().fit(full).update(head)
