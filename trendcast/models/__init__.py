"""Forecasting models: plain objects with ``fit(arrays)`` and ``predict(h, quantiles)``."""

from trendcast.models.base import Model, Prediction
from trendcast.models.baselines import MovingAverage, Naive, SeasonalNaive
from trendcast.models.classical import ADIDA, ETS, IMAPA, TSB, Croston
from trendcast.models.coldstart import ColdStart, blend_forecasts, credibility_weight
from trendcast.models.gbm import LightGBM

__all__ = [
    "ADIDA",
    "ETS",
    "IMAPA",
    "LightGBM",
    "TSB",
    "ColdStart",
    "Croston",
    "Model",
    "MovingAverage",
    "Naive",
    "Prediction",
    "SeasonalNaive",
    "blend_forecasts",
    "credibility_weight",
]
