"""Every model class passes the common checks, and each check fails on a model that breaks it."""

import numpy as np
import pytest

from trendcast.models import (
    ADIDA,
    ETS,
    IMAPA,
    TSB,
    Croston,
    Ensemble,
    LightGBM,
    MovingAverage,
    Naive,
    SeasonalNaive,
)
from trendcast.models.base import SAVED_CLASSES, Model, Prediction
from trendcast.models.checks import CHECKS, check_shop, model_checks


def _lstm():
    from trendcast.models import LSTM

    return LSTM(
        horizon=7, context_length=28, hidden_size=8, num_layers=1, epochs=2, steps_per_epoch=3
    )


def _chronos():
    pytest.importorskip("chronos")
    from trendcast.models import Chronos2

    return Chronos2()


MODELS = {
    "Naive": Naive,
    "SeasonalNaive": SeasonalNaive,
    "MovingAverage": lambda: MovingAverage(window=7),
    "ETS": ETS,
    "Croston": Croston,
    "TSB": TSB,
    "ADIDA": ADIDA,
    "IMAPA": IMAPA,
    "LightGBM": lambda: LightGBM(n_estimators=30),
    "LSTM": _lstm,
    "Chronos2": _chronos,
    "Ensemble": lambda: Ensemble([SeasonalNaive(), LightGBM(n_estimators=20)], window=7),
}


@pytest.fixture(scope="module")
def shop():
    return check_shop()


def test_every_saved_model_class_is_checked():
    models = {
        name for name, module in SAVED_CLASSES.items() if module.startswith("trendcast.models")
    }
    assert models == set(MODELS)


@pytest.mark.parametrize("check", [name for name, _ in model_checks(Naive())])
@pytest.mark.parametrize("name", MODELS)
def test_model_passes_the_common_checks(name, check, shop):
    dict(model_checks(Naive()))[check](MODELS[name](), shop)


class Toy(Model):
    """Forecasts each series' last-week mean, with quantiles spread around it; ``flaw`` breaks
    one property of the contract on purpose."""

    alias = "Toy"

    def __init__(self, *, flaw: str = ""):
        self.flaw = flaw

    @property
    def supports_future_covariates(self):
        return self.flaw == "ignores_plan"

    def fit(self, data, covariates=None):
        fitted = super().fit(data, covariates)
        return None if self.flaw == "fit_returns_none" else fitted

    def _fit(self, data, covariates):
        values = data.values
        self.level_ = np.array([values[end - 7 : end].mean() for end in np.cumsum(data.lengths)])
        if self.flaw == "renamed_columns" and covariates.columns.target_col != "y":
            self.level_ = self.level_ + 1

    def _predict(self, h, quantiles, plan=None):
        level = self.level_
        if self.flaw == "unseeded":
            level = level + np.random.default_rng().random(len(level))
        mean = np.repeat(level[:, None], h, axis=1)
        levels = sorted(quantiles) if self.flaw == "sorted_quantiles" else quantiles
        stacked = np.stack([mean * 2 * q for q in levels], axis=-1) if quantiles else None
        return Prediction(mean, stacked)

    def predict(self, h, quantiles=(), *, plan=None):
        if self.flaw == "predicts_unfitted" and not self.is_fitted:
            return Prediction(np.zeros((1, h)))
        if self.flaw == "negative":
            prediction = self._predict(h, tuple(quantiles))
            return Prediction(prediction.mean - 1e3, prediction.quantiles)
        return super().predict(h, quantiles, plan=plan)

    def clone(self):
        twin = super().clone()
        if self.flaw == "clone_keeps_state" and self.is_fitted:
            twin.level_ = self.level_
        return twin

    def _saved_state(self, folder):
        state = dict(vars(self))
        if self.flaw == "forgets_on_save":
            state.pop("level_", None)
        return state

    def _restore_state(self, state, folder):
        self.__dict__.update(state)
        if self.flaw == "forgets_on_save":
            self.level_ = np.zeros(self.n_series_)


BROKEN = {  # check: (the flaw that breaks it, what its message says)
    "fit_returns_self": ("fit_returns_none", "returned None"),
    "not_fitted_error": ("predicts_unfitted", "before fit returned a forecast"),
    "quantiles_in_the_order_asked": ("sorted_quantiles", "crossed or reordered"),
    "non_negative": ("negative", "negative demand"),
    "seeded_determinism": ("unseeded", "two fits with the same parameters"),
    "clone": ("clone_keeps_state", "clone of a fitted model is fitted"),
    "save_load": ("forgets_on_save", "the one loaded back forecast differently"),
    "renamed_columns": ("renamed_columns", "changed the forecasts"),
    "plan_at_predict_time": ("ignores_plan", "left its forecasts unchanged"),
}


@pytest.fixture
def saved_toy(monkeypatch):
    monkeypatch.setitem(SAVED_CLASSES, "Toy", __name__)


def test_the_sound_toy_passes_every_check(shop, saved_toy):
    for _, check in model_checks(Toy()):
        check(Toy(), shop)


@pytest.mark.parametrize("check, flaw, message", [(c, *v) for c, v in BROKEN.items()])
def test_each_check_fails_on_a_model_that_breaks_it(check, flaw, message, shop, saved_toy):
    with pytest.raises(AssertionError, match=message):
        dict(model_checks(Toy()))[check](Toy(flaw=flaw), shop)


def test_every_check_but_polars_output_has_a_broken_model():
    # Whether polars comes back out is the Forecaster's doing, not the model's.
    names = {check.__name__.removeprefix("check_") for check in CHECKS}
    assert names - set(BROKEN) == {"polars_in_polars_out"}
