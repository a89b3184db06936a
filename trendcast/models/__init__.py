"""Forecasting models: plain objects with ``fit(arrays)`` and ``predict(h, quantiles)``."""

from trendcast.models.base import Model, Prediction
from trendcast.models.baselines import MovingAverage, Naive, SeasonalNaive
from trendcast.models.classical import ADIDA, ETS, IMAPA, TSB, Croston
from trendcast.models.gbm import LightGBM

__all__ = [
    "ADIDA",
    "ETS",
    "IMAPA",
    "LightGBM",
    "TSB",
    "Croston",
    "Model",
    "MovingAverage",
    "Naive",
    "Prediction",
    "SeasonalNaive",
]
