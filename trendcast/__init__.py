"""trendcast: demand and sales-trend forecasting for e-commerce and retail.

Heavy parts load on first use, so ``import trendcast`` stays fast.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Forecaster": "trendcast.forecaster",
    "default_models": "trendcast.forecaster",
    "validate": "trendcast.data.validate",
    "DataValidationError": "trendcast.data.validate",
    "ShopData": "trendcast.data.contract",
    "simulate_shop": "trendcast.data.simulate",
    "Workspace": "trendcast.data.store",
    "tune_lightgbm": "trendcast.tuning",
    "TextEncoder": "trendcast.text",
    "similar_products": "trendcast.text",
    "search_catalogue": "trendcast.text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trendcast' has no attribute {name!r}")
