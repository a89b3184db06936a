"""The model contract: plain objects with ``fit(arrays) -> self`` and ``predict(h, quantiles)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.data.contract import Columns, quantile_column


def default_horizon(freq: str) -> int:
    """The horizon models train and validate for unless told: 28 days, 8 weeks, 3 months."""
    return {"D": 28, "MS": 3}.get(freq, 8)


@dataclass
class Prediction:
    """A model's forecasts for every series.

    Attributes:
        mean: point forecasts, shape (n_series, h).
        quantiles: quantile forecasts, shape (n_series, h, len(levels)), non-decreasing along the
            last axis; None when no quantiles were asked for.
    """

    mean: np.ndarray
    quantiles: np.ndarray | None = None


class Model:
    """Base class. Subclasses set ``alias`` and implement `_fit` and `_predict`.

    ``__init__`` only stores hyperparameters; learned state ends in ``_``. Models that use
    static or dynamic covariates read them from the ``covariates`` given to `fit`.
    """

    alias: str = "Model"

    def fit(self, data: SeriesArrays, covariates: Covariates | None = None) -> Model:
        self._fit(data, covariates or Covariates())
        self.n_series_ = data.n_series
        return self

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Prediction:
        if not hasattr(self, "n_series_"):
            raise RuntimeError(
                f"{self.alias} is not fitted yet: call fit(...) before predict(...)."
            )
        if h < 1:
            raise ValueError(f"horizon h must be a positive number of periods, got {h}.")
        prediction = self._predict(h, tuple(quantiles))
        prediction.mean = np.maximum(prediction.mean, 0.0)
        if prediction.quantiles is not None:
            # Demand is never negative, and quantiles must not cross.
            prediction.quantiles = np.sort(np.maximum(prediction.quantiles, 0.0), axis=-1)
        return prediction

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        raise NotImplementedError

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


def normal_quantiles(
    mean: np.ndarray, sigma: np.ndarray, quantiles: tuple[float, ...]
) -> np.ndarray:
    """Quantiles (n, h, k) of normal forecast distributions with the given mean and sigma (n, h)."""
    z = norm.ppf(np.asarray(quantiles, dtype=float))
    return mean[..., None] + sigma[..., None] * z


def predictions_to_frame(
    data: SeriesArrays,
    predictions: dict[str, Prediction],
    h: int,
    quantiles: Sequence[float],
    columns: Columns,
) -> pd.DataFrame:
    """Long frame (id, ds, one column per model, ``{alias}-q-{q}`` per quantile) of predictions."""
    out = {
        columns.id_col: np.repeat(data.ids, h),
        columns.time_col: data.future_dates(h),
    }
    for alias, prediction in predictions.items():
        out[alias] = prediction.mean.reshape(-1)
        for k, q in enumerate(quantiles):
            out[quantile_column(alias, q)] = prediction.quantiles[:, :, k].reshape(-1)
    return pd.DataFrame(out)
