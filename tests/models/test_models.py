"""Every model passes the same checks; baselines beat naive where the data's structure says so."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_series
from trendcast.data.arrays import SeriesArrays
from trendcast.data.validate import validate
from trendcast.models import (
    ADIDA,
    ETS,
    IMAPA,
    TSB,
    Croston,
    LightGBM,
    MovingAverage,
    Naive,
    SeasonalNaive,
)

ALL_MODELS = [
    Naive(),
    SeasonalNaive(),
    MovingAverage(),
    ETS(),
    Croston(),
    TSB(),
    ADIDA(),
    IMAPA(),
    LightGBM(n_estimators=60),
]
QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)


def arrays(df: pd.DataFrame) -> SeriesArrays:
    data = validate(df)
    return SeriesArrays.from_frame(data.sales, data.freq)


@pytest.fixture(scope="module")
def train_test():
    df = make_series(n_series=12, n_periods=224, amplitude=10.0, level=20.0, seed=3)
    train = df.groupby("unique_id").head(196)
    test = df.groupby("unique_id").tail(28)
    return arrays(train), test["y"].to_numpy().reshape(12, 28)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.alias)
def test_model_contract(model, train_test):
    train, _ = train_test
    with pytest.raises(RuntimeError, match="not fitted"):
        type(model)().predict(3)
    assert model.fit(train) is model
    prediction = model.predict(28, QUANTILES)
    assert prediction.mean.shape == (12, 28)
    assert prediction.quantiles.shape == (12, 28, len(QUANTILES))
    assert np.all(prediction.mean >= 0) and np.all(prediction.quantiles >= 0)
    assert np.all(np.diff(prediction.quantiles, axis=-1) >= 0), "quantiles cross"
    assert np.isfinite(prediction.quantiles).all()
    again = type(model)(**{k: v for k, v in vars(model).items() if not k.endswith("_")})
    np.testing.assert_allclose(again.fit(train).predict(28).mean, prediction.mean)


@pytest.mark.parametrize(
    "model", [SeasonalNaive(), ETS(), LightGBM(n_estimators=100)], ids=lambda m: m.alias
)
def test_seasonal_models_beat_naive_on_seasonal_data(model, train_test):
    train, test = train_test
    naive_error = np.abs(Naive().fit(train).predict(28).mean - test).mean()
    error = np.abs(model.fit(train).predict(28).mean - test).mean()
    assert error < 0.85 * naive_error


def test_moving_average_beats_naive_on_noisy_level():
    df = make_series(n_series=30, n_periods=150, amplitude=0.0, level=5.0, seed=1)
    train = arrays(df.groupby("unique_id").head(122))
    test = df.groupby("unique_id").tail(28)["y"].to_numpy().reshape(30, 28)
    naive_error = np.abs(Naive().fit(train).predict(28).mean - test).mean()
    ma_error = np.abs(MovingAverage().fit(train).predict(28).mean - test).mean()
    assert ma_error < 0.8 * naive_error


def test_intermittent_methods_beat_naive_on_intermittent_data():
    rng = np.random.default_rng(7)
    n, t = 40, 300
    occurs = rng.random((n, t)) < 0.15
    y = np.where(occurs, rng.poisson(4, (n, t)) + 1, 0).astype(float)
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), t),
            "ds": np.tile(pd.date_range("2023-01-01", periods=t), n),
            "y": y.ravel(),
        }
    )
    train = arrays(df.groupby("unique_id").head(t - 28))
    test = y[:, -28:]
    naive_error = np.abs(Naive().fit(train).predict(28).mean - test).mean()
    for model in (Croston(), TSB(), ADIDA(), IMAPA()):
        error = np.abs(model.fit(train).predict(28).mean - test).mean()
        assert error < 0.8 * naive_error, model.alias


def test_normal_intervals_are_calibrated_on_gaussian_noise():
    rng = np.random.default_rng(11)
    n, t = 400, 129
    y = 50 + rng.normal(0, 5, (n, t))
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), t),
            "ds": np.tile(pd.date_range("2023-01-01", periods=t), n),
            "y": y.ravel(),
        }
    )
    train = arrays(df.groupby("unique_id").head(t - 1))
    prediction = MovingAverage(window=128).fit(train).predict(1, (0.1, 0.9))
    inside = (y[:, -1] >= prediction.quantiles[:, 0, 0]) & (
        y[:, -1] <= prediction.quantiles[:, 0, 1]
    )
    assert 0.74 < inside.mean() < 0.86


def test_seasonal_naive_repeats_the_last_season():
    df = make_series(n_series=2, n_periods=21, seed=0)
    train = arrays(df)
    mean = SeasonalNaive(season_length=7).fit(train).predict(10).mean
    last_week = df["y"].to_numpy().reshape(2, 21)[:, -7:]
    np.testing.assert_array_equal(mean[:, :7], last_week)
    np.testing.assert_array_equal(mean[:, 7:], last_week[:, :3])


def test_horizon_must_be_positive(train_test):
    with pytest.raises(ValueError, match="positive"):
        Naive().fit(train_test[0]).predict(0)


def test_seasonal_naive_on_short_series_has_naive_intervals():
    df = make_series(n_series=3, n_periods=20, seed=4)
    train = arrays(df)
    short = SeasonalNaive(season_length=52).fit(train).predict(5, (0.05, 0.95))
    naive = Naive().fit(train).predict(5, (0.05, 0.95))
    np.testing.assert_allclose(short.quantiles, naive.quantiles)
    assert (short.quantiles[..., 1] > short.quantiles[..., 0]).any()


def _statsforecast_model(name: str, intervals):
    import statsforecast.models as sf

    if name == "ETS":
        return sf.AutoETS(season_length=7, model="ZNA")
    if name == "TSB":
        return sf.TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=intervals)
    cls = {"Croston": sf.CrostonClassic, "ADIDA": sf.ADIDA, "IMAPA": sf.IMAPA}[name]
    return cls(prediction_intervals=intervals)


@pytest.mark.parametrize("name", ["ETS", "Croston", "TSB", "ADIDA", "IMAPA"])
@pytest.mark.parametrize("h", [28, 7])
def test_classical_models_forecast_what_statsforecast_does(name, h):
    """Fitted series by series and kept, the models forecast to the bit what statsforecast's
    engine forecasts in one pass, with its Naive fallback for series too short to fit."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive
    from statsforecast.utils import ConformalIntervals

    import trendcast.models as tm
    from trendcast.data.simulate import simulate_shop
    from trendcast.models.classical import _levels

    data = simulate_shop(n_items=5, n_stores=2, n_periods=200, seed=4, reviews=False).data
    arrays = SeriesArrays.from_frame(data.sales, "D")
    arrays = arrays.head(np.where(np.arange(arrays.n_series) % 4 == 0, 20, arrays.lengths))
    ours = getattr(tm, name)().fit(arrays).predict(h, (0.1, 0.5, 0.9))
    peers = []
    for i in range(arrays.n_series):
        y = arrays.values[arrays.indptr[i] : arrays.indptr[i + 1]]
        intervals = ConformalIntervals(h=h, n_windows=int(np.clip((len(y) - 1) // h, 2, 10)))
        peer = _statsforecast_model(name, intervals)
        frame = pd.DataFrame({"unique_id": 0, "ds": np.arange(len(y)), "y": y})
        out = StatsForecast([peer], freq=1, fallback_model=Naive()).forecast(
            df=frame, h=h, level=_levels((0.1, 0.9))
        )
        column = str(peer)
        peers.append(out[[f"{column}-lo-80", column, f"{column}-hi-80"]].to_numpy())
    expected = np.maximum(np.stack(peers), 0)  # (series, h, [q0.1, mean, q0.9])
    np.testing.assert_array_equal(ours.mean, expected[..., 1])
    np.testing.assert_array_equal(ours.quantiles[..., 0], expected[..., 0])
    np.testing.assert_array_equal(ours.quantiles[..., 2], expected[..., 2])
