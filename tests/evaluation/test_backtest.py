import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_series
from trendcast.data.arrays import SeriesArrays
from trendcast.data.validate import validate
from trendcast.evaluation.backtest import backtest, score_backtest
from trendcast.models import MovingAverage, Naive, SeasonalNaive
from trendcast.models.base import Model, Prediction


class Spy(Model):
    """Records the last date and values each fit saw."""

    seen: list = []

    def __init__(self, *, alias: str = "Spy"):
        self.alias = alias

    def _fit(self, data: SeriesArrays, covariates) -> None:
        Spy.seen.append((data.last_ds.max(), data.values.copy()))
        self.last_ = data.last_values(1)[:, 0]

    def _predict(self, h, quantiles):
        return Prediction(np.repeat(self.last_[:, None], h, axis=1))


def arrays(df):
    data = validate(df)
    return SeriesArrays.from_frame(data.sales, data.freq)


def test_windows_sit_side_by_side_up_to_the_last_date(seasonal_sales):
    result = backtest(arrays(seasonal_sales), [Naive()], h=14, n_windows=3)
    last = seasonal_sales["ds"].max()
    assert result.cutoffs == [last - pd.Timedelta(days=d) for d in (42, 28, 14)]
    per_window = result.forecasts.groupby("cutoff")["ds"].agg(["min", "max", "size"])
    assert (per_window["min"] - per_window.index == pd.Timedelta(days=1)).all()
    assert (per_window["max"] - per_window.index == pd.Timedelta(days=14)).all()
    assert (per_window["size"] == 20 * 14).all()


def test_no_model_sees_data_after_its_cutoff(seasonal_sales):
    Spy.seen = []
    result = backtest(arrays(seasonal_sales), [Spy()], h=7, n_windows=4, step=3)
    assert [seen for seen, _ in Spy.seen] == result.cutoffs


def test_future_values_do_not_change_forecasts(seasonal_sales):
    data = arrays(seasonal_sales)
    models = [Naive(), SeasonalNaive(), MovingAverage()]
    reference = backtest(data, models, h=7, n_windows=3, quantiles=(0.1, 0.9)).forecasts
    for cutoff in reference["cutoff"].unique():
        poisoned = seasonal_sales.copy()
        poisoned.loc[poisoned["ds"] > cutoff, "y"] = 1e6
        result = backtest(arrays(poisoned), models, h=7, n_windows=3, quantiles=(0.1, 0.9))
        model_columns = [
            c for c in reference.columns if c.startswith(("Naive", "Seasonal", "Moving"))
        ]
        same_window = result.forecasts["cutoff"] == cutoff
        np.testing.assert_allclose(
            result.forecasts.loc[same_window, model_columns].to_numpy(),
            reference.loc[reference["cutoff"] == cutoff, model_columns].to_numpy(),
        )


def test_actuals_are_the_true_values(seasonal_sales):
    result = backtest(arrays(seasonal_sales), [Naive()], h=5, n_windows=2)
    merged = result.forecasts.merge(seasonal_sales, on=["unique_id", "ds"], suffixes=("", "_true"))
    assert len(merged) == len(result.forecasts)
    np.testing.assert_array_equal(merged["y"], merged["y_true"])


def test_short_series_are_left_out_and_counted():
    long = make_series(n_series=3, n_periods=100)
    short = make_series(n_series=1, n_periods=20, seed=5, start="2023-03-23")
    short["unique_id"] = "new"
    result = backtest(arrays(pd.concat([long, short])), [Naive()], h=7, n_windows=2, min_history=14)
    assert set(result.excluded.values()) == {1}
    assert "new" not in set(result.forecasts["unique_id"])


def test_series_ending_early_keep_only_observed_periods():
    df = make_series(n_series=2, n_periods=60)
    df = df[~((df["unique_id"] == "s01") & (df["ds"] > df["ds"].max() - pd.Timedelta(days=3)))]
    result = backtest(arrays(df), [Naive()], h=7, n_windows=1)
    assert result.forecasts.groupby("unique_id").size().to_dict() == {"s00": 7, "s01": 4}


def test_bad_settings_are_rejected(seasonal_sales):
    with pytest.raises(ValueError, match="positive"):
        backtest(arrays(seasonal_sales), [Naive()], h=0)
    with pytest.raises(ValueError, match="no series"):
        backtest(arrays(seasonal_sales), [Naive()], h=7, n_windows=3, min_history=1000)


def test_scores_rank_the_seasonal_model_first():
    df = make_series(n_series=15, n_periods=200, amplitude=10.0, level=20.0, seed=2)
    result = backtest(
        arrays(df), [Naive(), SeasonalNaive()], h=14, n_windows=2, quantiles=(0.1, 0.5, 0.9)
    )
    scores = score_backtest(result, df, seasonality=7)
    assert list(scores.index) == ["Naive", "SeasonalNaive"]
    assert {"WAPE", "MASE", "MAE", "RMSE", "bias", "pinball", "coverage 80%"} <= set(scores.columns)
    assert scores.loc["SeasonalNaive", "WAPE"] < scores.loc["Naive", "WAPE"]
    assert scores.loc["SeasonalNaive", "MASE"] < scores.loc["Naive", "MASE"]
    assert 0.6 < scores.loc["SeasonalNaive", "coverage 80%"] <= 1.0
