"""Benchmark methods computed on grouped arrays for all series at once.

Intervals follow the normal approximations of Hyndman & Athanasopoulos, *Forecasting: Principles
and Practice* (3rd ed., section 5.5), with sigma from each series' own residuals; the quantiles
are clipped at zero because demand is never negative.

`update`: the baselines estimate nothing but their recent values and residual spread, so an update
with new periods computes exactly what a fit on the extended history computes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.models.base import Model, Prediction, normal_quantiles


class _Baseline(Model):
    """A benchmark method: its state is a function of the recent history alone."""

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        self._fit(data, Covariates())


def _residual_sigma(data: SeriesArrays, lag: int) -> np.ndarray:
    """Per-series RMS of ``y_t - y_{t-lag}``; NaN where the series is not longer than ``lag``."""
    lengths = data.lengths
    sigma = np.full(data.n_series, np.nan)
    position = np.arange(len(data.values)) - np.repeat(data.indptr[:-1], lengths)
    has_lag = position >= lag
    diffs = data.values[has_lag] - data.values[np.flatnonzero(has_lag) - lag]
    owner = np.repeat(np.arange(data.n_series), lengths)[has_lag]
    counts = np.bincount(owner, minlength=data.n_series)
    sums = np.bincount(owner, weights=diffs**2, minlength=data.n_series)
    enough = counts > 0
    sigma[enough] = np.sqrt(sums[enough] / counts[enough])
    return sigma


class Naive(_Baseline):
    """The last observed value, repeated; sigma_h = sigma * sqrt(h)."""

    alias = "Naive"

    def __init__(self, *, alias: str = "Naive"):
        self.alias = alias

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        self.last_ = data.last_values(1)[:, 0]
        # A single observation gives no spread: its interval is a point.
        self.sigma_ = np.nan_to_num(_residual_sigma(data, 1))

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        mean = np.repeat(self.last_[:, None], h, axis=1)
        sigma = self.sigma_[:, None] * np.sqrt(np.arange(1, h + 1))
        return Prediction(mean, normal_quantiles(mean, sigma, quantiles) if quantiles else None)


class SeasonalNaive(_Baseline):
    """The value one season earlier; sigma_h = sigma * sqrt(floor((h - 1) / m) + 1).

    A series shorter than one season has no seasonal history: it gets its last value and the
    intervals of `Naive`.
    """

    def __init__(self, *, season_length: int = 7, alias: str = "SeasonalNaive"):
        self.season_length = season_length
        self.alias = alias

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        season = data.last_values(self.season_length)
        last = data.last_values(1)
        self.season_ = np.where(np.isnan(season), last, season)
        self.seasonal_sigma_ = _residual_sigma(data, self.season_length)
        self.naive_sigma_ = np.nan_to_num(_residual_sigma(data, 1))

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        m = self.season_length
        mean = self.season_[:, np.arange(h) % m]
        seasonal = self.seasonal_sigma_[:, None] * np.sqrt(np.arange(h) // m + 1)
        naive = self.naive_sigma_[:, None] * np.sqrt(np.arange(1, h + 1))
        sigma = np.where(np.isnan(seasonal), naive, seasonal)
        return Prediction(mean, normal_quantiles(mean, sigma, quantiles) if quantiles else None)


class MovingAverage(_Baseline):
    """The mean of the last ``window`` values; sigma_h = sd(window) * sqrt(1 + 1 / window)."""

    def __init__(self, *, window: int = 28, alias: str = "MovingAverage"):
        self.window = window
        self.alias = alias

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        recent = data.last_values(self.window)
        self.level_ = np.nanmean(recent, axis=1)
        count = np.sum(~np.isnan(recent), axis=1)
        spread = np.nanstd(recent, axis=1, ddof=0)
        self.sigma_ = spread * np.sqrt(1 + 1 / count)

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        mean = np.repeat(self.level_[:, None], h, axis=1)
        sigma = np.repeat(self.sigma_[:, None], h, axis=1)
        return Prediction(mean, normal_quantiles(mean, sigma, quantiles) if quantiles else None)
