import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.conftest import make_series
from trendcast import Forecaster, default_models
from trendcast.data.validate import DataValidationError
from trendcast.forecaster import models_by_name
from trendcast.models import ETS, MovingAverage, Naive, SeasonalNaive


def test_predict_frame_has_the_contract_columns(seasonal_sales):
    fc = Forecaster([Naive(), SeasonalNaive()], quantiles=(0.1, 0.5, 0.9)).fit(seasonal_sales)
    out = fc.predict(14)
    assert out.columns.tolist() == [
        "unique_id",
        "ds",
        "Naive",
        "Naive-q-0.1",
        "Naive-q-0.5",
        "Naive-q-0.9",
        "SeasonalNaive",
        "SeasonalNaive-q-0.1",
        "SeasonalNaive-q-0.5",
        "SeasonalNaive-q-0.9",
    ]
    assert len(out) == 20 * 14
    first = out[out["unique_id"] == "s00"]["ds"]
    assert first.min() == seasonal_sales["ds"].max() + pd.Timedelta(days=1)
    assert first.is_monotonic_increasing


def test_custom_column_names_and_polars_round_trip(seasonal_sales):
    df = pl.from_pandas(
        seasonal_sales.rename(columns={"unique_id": "sku", "ds": "date", "y": "units"})
    )
    fc = Forecaster([MovingAverage()], id_col="sku", time_col="date", target_col="units").fit(df)
    out = fc.predict(7, quantiles=(0.5,))
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["sku", "date", "MovingAverage", "MovingAverage-q-0.5"]
    backtest = fc.backtest(df, h=7, n_windows=2)
    assert isinstance(backtest, pl.DataFrame) and "units" in backtest.columns


def test_weekly_data_gets_weekly_defaults():
    df = make_series(n_series=5, n_periods=120, season=52, freq="W-SUN", start="2021-01-03")
    models = default_models("W-SUN")
    assert {m.alias: getattr(m, "season_length", None) for m in models}["SeasonalNaive"] == 52
    out = (
        Forecaster([SeasonalNaive(season_length=52), ETS(season_length=1, model="ZNN")])
        .fit(df)
        .predict(4)
    )
    assert (out["ds"].dt.dayofweek == 6).all()


def test_the_default_line_up_is_what_the_cli_says_it_is():
    from trendcast.forecaster import DEFAULT_NAMES, models_by_name

    for freq in ("D", "W-SUN", "MS"):
        by_name = [m.alias for m in models_by_name(DEFAULT_NAMES, freq)]
        assert by_name == [m.alias for m in default_models(freq)]


def test_errors_are_clear(seasonal_sales):
    with pytest.raises(RuntimeError, match="fit"):
        Forecaster([Naive()]).predict(3)
    with pytest.raises(ValueError, match="unique"):
        Forecaster([Naive(), Naive()]).fit(seasonal_sales)
    with pytest.raises(TypeError, match="not a trendcast model"):
        Forecaster(["ets"]).fit(seasonal_sales)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Forecaster([Naive()], quantiles=(0.5, 1.5)).fit(seasonal_sales).predict(3)
    with pytest.raises(DataValidationError, match="negative"):
        Forecaster([Naive()]).fit(seasonal_sales.assign(y=-1.0))
    with pytest.raises(ValueError, match="unknown model"):
        models_by_name(["prophet"], "D")


def test_default_line_up_runs_end_to_end(seasonal_sales):
    fc = Forecaster(quantiles=(0.1, 0.9))
    backtest = fc.backtest(seasonal_sales, h=7, n_windows=2)
    aliases = fc.backtest_.models
    assert aliases == [
        "LightGBM",
        "Naive",
        "SeasonalNaive",
        "MovingAverage",
        "ETS",
        "Croston",
        "TSB",
        "ADIDA",
        "IMAPA",
    ]
    assert not backtest[aliases].isna().any().any()
    assert np.all(
        backtest[[f"{a}-q-0.9" for a in aliases]].to_numpy()
        >= backtest[[f"{a}-q-0.1" for a in aliases]].to_numpy()
    )


@pytest.mark.parametrize(("freq", "start", "h"), [("D", "2023-01-02", 100_000),
                                                  ("W-SUN", "2023-01-01", 13_000),
                                                  ("MS", "2023-01-01", 4_000)])  # fmt: skip
def test_a_horizon_past_the_last_timestamp_is_refused_not_wrapped(freq, start, h):
    df = make_series(n_series=2, n_periods=30, freq=freq, start=start)
    fitted = Forecaster([Naive()]).fit(df)
    with pytest.raises(ValueError, match="ask for fewer periods"):
        fitted.predict(h)
    last = df["ds"].max()
    assert (fitted.predict(3)["ds"] > last).all()
