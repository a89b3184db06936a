"""Forecast combination weighted on evidence: each demand class gets the members that forecast
its series best on a held-out window of the training history.

Fitting runs one backtest window inside the training data (the last ``window`` periods), scores
every member per demand class (smooth, erratic, intermittent, lumpy) by mean absolute error,
weights the members by inverse squared error within each class, and refits all members on the
full history. Forecasts are the weighted means; quantiles are weighted means of the members'
quantiles (quantile averaging), so they stay ordered.

`update` updates every member (each as its class defines) and keeps the weights and the demand
classes of the fit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.features.demand import CLASSES, demand_classes
from trendcast.models.base import Model, Prediction, default_horizon


class Ensemble(Model):
    """Combination of models with per-demand-class weights chosen on a held-out window.

    Args:
        models: the members (unfitted); each needs a unique alias.
        window: periods held out at the end of the training data to weigh the members
            (default: 28 days, 8 weeks, 3 months).
        alias: column name of the combined forecast.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> from trendcast.models import MovingAverage, SeasonalNaive
        >>> sales = simulate_shop(n_items=8, n_stores=1, n_periods=200, reviews=False).data.sales
        >>> ensemble = Ensemble([SeasonalNaive(), MovingAverage()])
        >>> fc = Forecaster([ensemble]).fit(sales)
        >>> sorted(fc.models_[0].weights_.columns)
        ['MovingAverage', 'SeasonalNaive']
    """

    def __init__(
        self, models: Sequence[Model], *, window: int | None = None, alias: str = "Ensemble"
    ):
        self.models, self.window, self.alias = models, window, alias

    @property
    def supports_future_covariates(self) -> bool:
        return any(m.supports_future_covariates for m in self.models)

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        h = self.window or default_horizon(data.freq)
        aliases = [m.alias for m in self.models]
        classes = demand_classes(data)
        long_enough = data.lengths > 2 * h
        errors = pd.DataFrame(np.nan, index=list(CLASSES), columns=aliases)
        if long_enough.any():
            history = data.head(data.lengths - h, select=long_enough)
            actual = data.last_values(h)[long_enough]
            held_classes = demand_classes(history)
            for model in self.models:
                mean = model.clone().fit(history, covariates).predict(h).mean
                by_series = np.nanmean(np.abs(mean - actual), axis=1)
                errors[model.alias] = pd.Series(by_series).groupby(held_classes).mean()
        # Classes never seen in the window fall back to the pooled errors, then equal weights.
        pooled = errors.mean().fillna(1.0)
        errors = errors.fillna(pooled).clip(lower=1e-9)
        weights = 1 / errors**2
        self.weights_ = weights.div(weights.sum(axis=1), axis=0)
        self.errors_ = errors
        self.classes_ = classes
        self.members_ = [m.clone().fit(data, covariates) for m in self.models]

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        # Copies, so that a member failing leaves the others (and this model) as they were.
        self.members_ = [copy.copy(m).update(data, dynamic) for m in self.members_]

    def _predict(
        self, h: int, quantiles: tuple[float, ...], plan: pd.DataFrame | None = None
    ) -> Prediction:
        weights = self.weights_.loc[self.classes_].to_numpy()  # (n_series, n_members)
        predictions = [m.predict(h, quantiles, plan=plan) for m in self.members_]
        mean = sum(w[:, None] * p.mean for w, p in zip(weights.T, predictions, strict=True))
        if not quantiles:
            return Prediction(mean)
        stacked = sum(
            w[:, None, None] * p.quantiles for w, p in zip(weights.T, predictions, strict=True)
        )
        return Prediction(mean, stacked)
