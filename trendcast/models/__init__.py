"""Forecasting models: plain objects with ``fit(arrays)`` and ``predict(h, quantiles)``.

Each model loads on first use, so importing one (e.g. the torch-based sequence models on a
machine without LightGBM) pulls in only what it needs.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Model": "trendcast.models.base",
    "Prediction": "trendcast.models.base",
    "MovingAverage": "trendcast.models.baselines",
    "Naive": "trendcast.models.baselines",
    "SeasonalNaive": "trendcast.models.baselines",
    "ADIDA": "trendcast.models.classical",
    "ETS": "trendcast.models.classical",
    "IMAPA": "trendcast.models.classical",
    "TSB": "trendcast.models.classical",
    "Croston": "trendcast.models.classical",
    "ColdStart": "trendcast.models.coldstart",
    "blend_forecasts": "trendcast.models.coldstart",
    "credibility_weight": "trendcast.models.coldstart",
    "Ensemble": "trendcast.models.ensemble",
    "LightGBM": "trendcast.models.gbm",
    "Chronos2": "trendcast.models.chronos",
    "LSTM": "trendcast.models.lstm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trendcast.models' has no attribute {name!r}")
