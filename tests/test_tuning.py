import inspect
import sys
import time

import pandas as pd
import pytest

from trendcast import Forecaster, simulate_shop
from trendcast.evaluation.backtest import score_backtest
from trendcast.models.gbm import LightGBM
from trendcast.tuning import TuningResult, tune_lightgbm

pytest.importorskip("optuna")

SMALL = {"n_estimators": 30}  # keeps each fit well under a second


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=6, n_stores=1, n_periods=200, reviews=False)


@pytest.fixture(scope="module")
def tuned(shop):
    return tune_lightgbm(shop.data.sales, h=7, n_trials=4, **SMALL)


@pytest.fixture
def fits(monkeypatch):
    """Records, for every LightGBM fit, the last date it saw and its hyperparameters."""
    seen = []
    original = LightGBM.fit

    def spy(self, data, covariates=None):
        dynamic = None if covariates is None else covariates.dynamic
        seen.append(
            {
                "last": data.last_ds.max(),
                "dynamic_last": None if dynamic is None else dynamic["ds"].max(),
                "model": self,
            }
        )
        return original(self, data, covariates)

    monkeypatch.setattr(LightGBM, "fit", spy)
    return seen


def reference_score(shop, metric, quantiles=()):
    """Scores the LightGBM defaults directly with the library's backtest."""
    forecaster = Forecaster([LightGBM(**SMALL)])
    forecaster.backtest(shop.data.sales, h=7, n_windows=2, quantiles=quantiles)
    scores = score_backtest(forecaster.backtest_, shop.data.sales, seasonality=7)
    return scores.loc[
        "LightGBM", {"wape": "WAPE", "rmse": "RMSE", "mase": "MASE"}.get(metric, metric)
    ]


def test_first_trial_is_the_defaults_and_the_best_is_no_worse(shop, tuned):
    defaults = inspect.signature(LightGBM).parameters
    first = tuned.trials.loc[0, "params"]
    assert first == {name: defaults[name].default for name in first}
    assert set(first) == {
        "learning_rate",
        "num_leaves",
        "min_data_in_leaf",
        "feature_fraction",
        "lambda_l2",
        "objective",
        "tweedie_variance_power",
    }
    assert isinstance(tuned, TuningResult)
    assert tuned.trials.columns.tolist() == ["number", "params", "score", "seconds"]
    assert tuned.trials["number"].tolist() == [0, 1, 2, 3]
    assert tuned.default_score == pytest.approx(reference_score(shop, "wape"))
    assert tuned.best_score <= tuned.default_score
    assert tuned.best_score == tuned.trials["score"].min()


def test_model_carries_the_fixed_and_best_parameters(tuned):
    model = tuned.model()
    assert isinstance(model, LightGBM) and model.n_estimators == 30
    for name, value in tuned.best_params.items():
        assert getattr(model, name) == value


@pytest.mark.parametrize(
    ("metric", "quantiles"), [("rmse", ()), ("mase", ()), ("pinball", (0.1, 0.5, 0.9))]
)
def test_each_metric_scores_the_defaults_like_the_backtest(shop, metric, quantiles):
    result = tune_lightgbm(
        shop.data.sales, h=7, n_trials=1, metric=metric, quantiles=quantiles, **SMALL
    )
    assert result.metric == metric
    assert result.default_score == pytest.approx(reference_score(shop, metric, quantiles))


def test_validation_windows_end_at_the_last_date_and_no_fit_sees_past_them(shop, fits):
    sales = shop.data.sales
    last = sales["ds"].max() - pd.Timedelta(days=30)
    history = sales[sales["ds"] <= last]
    # The covariates reach 30 days past the history, as a shop's planned prices would.
    result = tune_lightgbm(
        history, h=7, n_windows=3, n_trials=2, dynamic=shop.data.dynamic, **SMALL
    )
    # The windows are the last h * n_windows periods of df, side by side.
    assert result.cutoffs == [last - pd.Timedelta(days=d) for d in (21, 14, 7)]
    # Every trial fits once per window, each on the history up to that window's origin.
    assert len(fits) == 2 * 3
    assert sorted({fit["last"] for fit in fits}) == result.cutoffs
    assert max(fit["dynamic_last"] for fit in fits) == last


def test_covariates_after_the_last_date_are_never_read(shop):
    sales, dynamic = shop.data.sales, shop.data.dynamic
    cut = sales["ds"].max() - pd.Timedelta(days=30)
    history = sales[sales["ds"] <= cut]
    # Future covariates that are nonsense: a search that read them would score differently.
    garbled = dynamic.copy()
    later = garbled["ds"] > cut
    garbled.loc[later, "price"] *= 100
    garbled.loc[later, "promo"] = 1 - garbled.loc[later, "promo"]
    runs = [
        tune_lightgbm(history, h=7, n_trials=2, dynamic=frame, **SMALL)
        for frame in (dynamic[dynamic["ds"] <= cut], garbled)
    ]
    pd.testing.assert_frame_equal(
        runs[0].trials.drop(columns="seconds"), runs[1].trials.drop(columns="seconds")
    )
    assert runs[0].cutoffs[-1] == cut - pd.Timedelta(days=7)


def test_time_budget_stops_the_search(shop):
    start = time.perf_counter()
    result = tune_lightgbm(shop.data.sales, h=7, time_budget=3, n_trials=1000, **SMALL)
    elapsed = time.perf_counter() - start
    assert 1 < len(result.trials) < 1000
    # The trial running when the budget ends finishes; no new one starts.
    assert elapsed < 3 + result.trials["seconds"].max() + 2


def test_fixed_parameters_reach_every_trial_and_are_not_searched(shop, fits):
    fixed = {"n_estimators": 30, "objective": "poisson", "num_leaves": 20}
    result = tune_lightgbm(shop.data.sales, h=7, n_trials=3, **fixed)
    for params in result.trials["params"]:
        assert not set(params) & {"n_estimators", "objective", "num_leaves"}
        # The variance power means nothing without the tweedie objective.
        assert "tweedie_variance_power" not in params
    assert len(fits) == 3 * 2
    for fit in fits:
        model = fit["model"]
        assert (model.n_estimators, model.objective, model.num_leaves) == (30, "poisson", 20)
    assert result.fixed == fixed
    assert result.model().objective == "poisson"


def test_same_seed_gives_the_same_trials(shop):
    runs = [tune_lightgbm(shop.data.sales, h=7, n_trials=3, seed=s, **SMALL) for s in (1, 1, 2)]
    pd.testing.assert_frame_equal(
        runs[0].trials.drop(columns="seconds"), runs[1].trials.drop(columns="seconds")
    )
    assert runs[0].best_params == runs[1].best_params
    assert runs[0].trials["params"][0] == runs[2].trials["params"][0]  # the defaults
    assert runs[0].trials["params"][1] != runs[2].trials["params"][1]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "mape"}, "unknown metric 'mape': choose one of"),
        ({"metric": "pinball"}, r"pass quantiles, e.g. quantiles=\(0.1, 0.5, 0.9\)"),
        ({"quantiles": (0.5,)}, "pass metric='pinball' or drop quantiles"),
        ({"time_budget": None}, "give a time_budget"),
        ({"time_budget": 0}, "time_budget must be a positive"),
        ({"n_trials": 0}, "n_trials must be at least 1"),
        ({"n_leaves": 31}, r"unknown LightGBM parameter\(s\) \['n_leaves'\]"),
        (
            {
                "learning_rate": 0.1,
                "num_leaves": 31,
                "min_data_in_leaf": 20,
                "feature_fraction": 1.0,
                "lambda_l2": 0.0,
                "objective": "poisson",
            },
            "nothing is left to tune",
        ),
    ],
)
def test_bad_arguments_say_how_to_fix_them(shop, arguments, message):
    with pytest.raises(ValueError, match=message):
        tune_lightgbm(shop.data.sales, h=7, **arguments)


def test_missing_optuna_says_what_to_install(shop, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r'pip install "trendcast\[tune\]"'):
        tune_lightgbm(shop.data.sales, h=7, n_trials=1)
