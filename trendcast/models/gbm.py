"""Global gradient boosting (LightGBM) across all series, recursive, count-aware, probabilistic.

One model learns from every series at once (the M5 winners' recipe). Features at a row are
computed only from values before it: target lags, window means and deviations, periods since
the last sale, the long-run level; calendar; known-future dynamic covariates at the target
period (price and its changes, promotions, events, SNAP-style flags); other dynamic covariates
(behaviour such as views and clicks, availability) only as of ``covariate_lag`` periods earlier,
so they are known when forecasting up to that horizon; static attributes (hierarchy ids as
categories, numeric attributes).

Multi-step strategy: recursive. One one-step model forecasts period 1, its forecast fills the
lags of period 2, and so on; the same feature code serves training and forecasting.

Probabilistic forecasts: demand at each period is negative binomial around the forecast mean,
``var = mu + phi * mu^2``, with each series' ``phi`` estimated from the model's own
out-of-sample recursive errors on the last ``validation`` periods (shrunk toward the pooled
value), so the intervals carry the multi-step error, not just the one-step noise. Count
quantiles are integers; they never cross and are never negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays, period_index
from trendcast.data.contract import HIERARCHY_COLUMNS
from trendcast.features.calendar import calendar_features
from trendcast.features.covariates import DynamicLookup, is_known_future, static_features
from trendcast.features.lags import WindowStats, lag, periods_since_positive, row_starts
from trendcast.models.base import Model, Prediction

_DEFAULT_LAGS = {"D": (1, 2, 3, 4, 5, 6, 7, 14, 21, 28), "MS": (1, 2, 3, 6, 12)}
_WEEKLY_LAGS = (1, 2, 3, 4, 8, 13, 26, 52)
_DEFAULT_WINDOWS = {"D": (7, 28, 91), "MS": (3, 6, 12)}
_WEEKLY_WINDOWS = (4, 13, 26)
_HORIZON = {"D": 28, "MS": 3}
_WEEKLY_HORIZON = 8
_SHRINK_POINTS = 28.0
_MIN_SCALE = 0.1
_PERIODS_PER_YEAR = {"D": 365, "M": 12, "W": 52}


class LightGBM(Model):
    """Global LightGBM forecaster with negative-binomial quantiles.

    Args:
        lags: target lags (periods); default by frequency (daily: 1-7, 14, 21, 28).
        windows: window lengths for rolling means and standard deviations.
        objective: LightGBM objective; ``"tweedie"`` suits counts with many zeros.
        n_estimators: most boosting rounds; early stopping on the validation periods picks
            the number actually used.
        learning_rate, num_leaves, min_data_in_leaf, feature_fraction, bagging_fraction,
            lambda_l2, tweedie_variance_power: LightGBM parameters.
        validation: periods held out at the end of each series to choose the rounds and to
            estimate forecast dispersion (default: 28 days, 8 weeks, 3 months).
        covariate_lag: how many periods back non-plannable dynamic covariates are read.
            Yearly calendar features (week of year, month) are used only when the history
            spans two years or more.
        max_train_periods: train on each series' last this many periods (None: all).
        seed: random seed; with it, fits are repeatable.
        n_jobs: LightGBM threads. One by default: on a busy or small machine more threads
            slow LightGBM down several times over (OpenMP threads wait on each other).

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> shop = simulate_shop(n_items=10, n_stores=1, n_periods=300, future_periods=7)
        >>> fc = Forecaster([LightGBM(n_estimators=50)]).fit(
        ...     shop.data.sales, static=shop.data.static, dynamic=shop.data.dynamic)
        >>> bool(fc.predict(7)["LightGBM"].ge(0).all())
        True
    """

    def __init__(
        self,
        *,
        lags: Sequence[int] | None = None,
        windows: Sequence[int] | None = None,
        objective: str = "tweedie",
        tweedie_variance_power: float = 1.1,
        n_estimators: int = 1000,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_data_in_leaf: int = 50,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 0.1,
        validation: int | None = None,
        covariate_lag: int | None = None,
        max_train_periods: int | None = None,
        seed: int = 0,
        n_jobs: int = 1,
        alias: str = "LightGBM",
    ):
        self.lags, self.windows = lags, windows
        self.objective, self.tweedie_variance_power = objective, tweedie_variance_power
        self.n_estimators, self.learning_rate = n_estimators, learning_rate
        self.num_leaves, self.min_data_in_leaf = num_leaves, min_data_in_leaf
        self.feature_fraction, self.bagging_fraction = feature_fraction, bagging_fraction
        self.lambda_l2 = lambda_l2
        self.validation, self.covariate_lag = validation, covariate_lag
        self.max_train_periods = max_train_periods
        self.seed, self.n_jobs, self.alias = seed, n_jobs, alias

    # ------------------------------------------------------------------ fitting

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        self._resolve(data.freq)
        span = period_index(np.array([data.last_ds.max()]), data.freq)[0] - np.min(
            period_index(data.last_ds, data.freq) - data.lengths + 1
        )
        self.yearly_ = bool(span >= 2 * _PERIODS_PER_YEAR.get(data.freq[0], 52))
        self._prepare_covariates(data, covariates)
        starts = row_starts(data.indptr)
        rows = self._training_rows(data, starts)
        features, names, scale = self._features(
            data.values, starts, rows, self._row_series(data)[rows], self._row_periods(data)[rows]
        )
        self.feature_names_ = names
        end = np.repeat(data.indptr[1:], np.diff(data.indptr))[rows]
        held_out = rows >= end - self.validation_
        if held_out.all() or not held_out.any():
            raise ValueError(
                f"{self.alias}: the series are too short to hold out {self.validation_} periods "
                "for validation; pass a smaller `validation` or give more history."
            )
        # Binned once; the early-stopping fit and the final fit use views of the same data.
        dataset = self._dataset(features, data.values[rows] / scale, scale)
        del features
        first = self._train(
            dataset.subset(np.flatnonzero(~held_out)),
            valid=dataset.subset(np.flatnonzero(held_out)),
        )
        self.rounds_ = max(first.best_iteration, 1)
        # Out-of-sample recursive errors of the first model give the forecast dispersion.
        self.phi_ = self._dispersion(first, data)
        self.booster_ = self._train(dataset, rounds=self.rounds_)
        self.data_ = data

    def _resolve(self, freq: str) -> None:
        weekly = freq.startswith("W")
        self.freq_ = freq
        self.lags_ = tuple(self.lags or (_WEEKLY_LAGS if weekly else _DEFAULT_LAGS[freq]))
        self.windows_ = tuple(
            self.windows or (_WEEKLY_WINDOWS if weekly else _DEFAULT_WINDOWS[freq])
        )
        horizon = _WEEKLY_HORIZON if weekly else _HORIZON[freq]
        self.validation_ = self.validation or horizon
        self.covariate_lag_ = self.covariate_lag or horizon
        self.memory_ = max(max(self.lags_), max(self.windows_)) + 1

    def _prepare_covariates(self, data: SeriesArrays, covariates: Covariates) -> None:
        self.static_, self.categorical_ = static_features(
            covariates.static, data.ids, covariates.columns
        )
        self.dynamic_ = None
        if covariates.dynamic is not None:
            dynamic = covariates.dynamic
            if self.max_train_periods:
                # Keep only the rows the training span (and its lagged features) can read.
                last = period_index(data.last_ds, data.freq)
                reach = self.max_train_periods + self.memory_ + self.covariate_lag_ + 7
                periods = period_index(dynamic[covariates.columns.time_col], data.freq)
                dynamic = dynamic[periods >= (last - reach).min()]
            self.dynamic_ = DynamicLookup(dynamic, data.ids, data.freq, covariates.columns)
            self.categorical_ = self.categorical_ + self.dynamic_.categorical
        # Hierarchy levels shared by several series carry cross-series signal.
        self.groups_ = [
            g
            for g in HIERARCHY_COLUMNS
            if g in self.categorical_ and 1 < np.unique(self.static_[g]).size < data.n_series
        ]
        self.known_future_ = [
            n for n in (self.dynamic_.values if self.dynamic_ else {}) if is_known_future(n)
        ]

    def _training_rows(self, data: SeriesArrays, starts: np.ndarray) -> np.ndarray:
        positions = np.arange(len(data.values))
        # Leading zeros before a series' first sale say nothing about demand (not yet listed).
        sold = np.where(data.values > 0, positions, len(positions))
        first_sale = np.minimum.reduceat(sold, data.indptr[:-1]) if data.n_series else sold
        keep = positions >= np.repeat(first_sale, data.lengths) + 1
        if self.max_train_periods:
            ends = np.repeat(data.indptr[1:], data.lengths)
            keep &= positions >= ends - self.max_train_periods
        rows = positions[keep]
        if len(rows) == 0:
            raise ValueError(f"{self.alias}: no series has a sale to learn from.")
        return rows

    def _params(self) -> dict:
        params = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }
        if self.objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        return params

    def _dataset(self, features: np.ndarray, target: np.ndarray, weight: np.ndarray):
        """A constructed LightGBM dataset of scaled targets, weighted by scale so that big
        series count as in units."""
        import lightgbm as lgb

        categorical = [c for c in self.categorical_ if c in self.feature_names_]
        return lgb.Dataset(
            features,
            target,
            weight=weight,
            feature_name=self.feature_names_,
            categorical_feature=categorical,
            params=self._params(),
            free_raw_data=True,
        ).construct()

    def _train(self, dataset, *, valid=None, rounds: int | None = None):
        import lightgbm as lgb

        if valid is None:
            return lgb.train(self._params(), dataset, num_boost_round=rounds)
        return lgb.train(
            self._params(),
            dataset,
            num_boost_round=self.n_estimators,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )

    def _dispersion(self, booster, data: SeriesArrays) -> np.ndarray:
        """Per-series NB dispersion from recursive forecasts of the validation periods."""
        h = self.validation_
        covered = data.lengths > h + 1
        history = data.head(data.lengths - h, select=covered)
        mean = self._recursive(booster, history, h, series=np.flatnonzero(covered))
        actual = data.last_values(h)[covered]
        excess = np.nansum((actual - mean) ** 2 - mean, axis=1)
        squares = np.nansum(mean**2, axis=1)
        pooled = max(excess.sum(), 0.0) / max(squares.sum(), 1e-9)
        # Shrink each series toward the pooled value, by how much information it has.
        weight = squares / (squares + _SHRINK_POINTS * max(np.mean(squares) / h, 1e-9))
        own = np.where(squares > 0, np.maximum(excess, 0.0) / np.maximum(squares, 1e-9), pooled)
        phi = np.full(data.n_series, pooled)
        phi[covered] = weight * own + (1 - weight) * pooled
        return phi

    # --------------------------------------------------------------- forecasting

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        mean = self._recursive(self.booster_, self.data_, h)
        if not quantiles:
            return Prediction(mean)
        return Prediction(mean, negative_binomial_quantiles(mean, self.phi_, quantiles))

    def _recursive(
        self,
        booster,
        data: SeriesArrays,
        h: int,
        series: np.ndarray | None = None,
        explain: list | None = None,
    ) -> np.ndarray:
        """Mean forecasts (n_series, h), one period at a time.

        ``series`` maps the rows of ``data`` to the fitted series (for a subset of them);
        ``explain``, if given, receives each step's TreeSHAP contributions and log scale.
        """
        n, width = data.n_series, self.memory_ + h
        series = np.arange(n) if series is None else series
        buffer = np.full((n, width), np.nan)
        buffer[:, : self.memory_] = data.last_values(self.memory_)
        values = buffer.reshape(-1)
        # A series shorter than the memory starts at its first value.
        first = np.argmax(~np.isnan(buffer), axis=1)
        starts = np.repeat(np.arange(n) * width + first, width)
        last_period = period_index(data.last_ds, data.freq)
        self._check_future(series, last_period, h, data)
        for step in range(h):
            rows = np.arange(n) * width + self.memory_ + step
            features, _, scale = self._features(
                values, starts, rows, series, last_period + step + 1
            )
            predicted = booster.predict(features, num_threads=self.n_jobs) * scale
            if explain is not None:
                explain.append((booster.predict(features, pred_contrib=True), np.log(scale)))
            values[rows] = np.maximum(predicted, 0.0)
        return buffer[:, self.memory_ :]

    def _check_future(
        self, series: np.ndarray, last_period: np.ndarray, h: int, data: SeriesArrays
    ) -> None:
        if not self.known_future_:
            return
        future = (last_period[:, None] + np.arange(1, h + 1)).reshape(-1)
        missing = self.dynamic_.missing(np.repeat(series, h), future).reshape(-1, h)
        if missing.any():
            short = np.flatnonzero(missing.any(axis=1))
            first = pd.Timestamp(
                data.future_dates(h).reshape(-1, h)[short[0]][missing[short[0]]][0]
            )
            raise ValueError(
                f"{self.alias}: the model uses the known-in-advance covariates "
                f"{self.known_future_}, but `dynamic` has no rows for some of the {h} periods "
                f"to forecast: {len(short)} series, e.g. {list(data.ids[short[:3]])} (first "
                f"missing period {first:%Y-%m-%d}). Fix: add the planned values (prices, "
                "promotions, events) for those periods to `dynamic`, or drop those columns "
                "before fitting."
            )

    # ------------------------------------------------------------------ features

    def _features(self, values, starts, rows, series, periods):
        """Feature matrix (float32, one row per ``rows``), feature names, and each row's scale
        (its recent mean level, floored).

        Target-derived features are divided by the scale, so series of any size share one
        pattern; the level itself stays a feature.
        """
        stats = WindowStats(values, starts)
        level = stats.mean(rows, self.memory_)
        scale = np.maximum(np.nan_to_num(level), _MIN_SCALE)
        columns: dict[str, np.ndarray] = {
            f"lag_{k}": lag(values, starts, rows, k) / scale for k in self.lags_
        }
        for window in self.windows_:
            columns[f"mean_{window}"] = stats.mean(rows, window) / scale
            columns[f"std_{window}"] = stats.std(rows, window) / scale
        columns["level"] = level
        momentum = {
            "recent": columns[f"mean_{self.windows_[0]}"],
            "last": columns[f"lag_{self.lags_[0]}"],
        }
        for group in self.groups_:
            for name, value in momentum.items():
                # How the series' group (same item elsewhere, same store, ...) moves right now.
                codes = np.nan_to_num(self.static_[group][series], nan=-1)
                columns[f"{group}_{name}"] = group_mean(codes, periods, value)
        since = periods_since_positive(values, starts, rows)
        columns["since_sale"] = np.where(
            np.isnan(since), self.memory_, np.minimum(since, self.memory_)
        )
        dates = _period_dates(periods, self.freq_)
        columns.update(calendar_features(dates, self.freq_, yearly=self.yearly_))
        for name, per_series in self.static_.items():
            columns[name] = per_series[series]
        if self.dynamic_ is not None:
            for name in self.dynamic_.values:
                if name in self.known_future_:
                    columns[name] = self.dynamic_.take(name, series, periods)
                else:
                    columns[f"{name}_lag{self.covariate_lag_}"] = self.dynamic_.take(
                        name, series, periods - self.covariate_lag_
                    )
            for name in ("price", "sell_price"):
                if name in self.known_future_:
                    before = self.dynamic_.take(name, series, periods - 7)
                    columns[f"{name}_change"] = columns[name] / before
        names = list(columns)
        matrix = np.empty((len(rows), len(names)), dtype=np.float32)
        for j, name in enumerate(names):
            matrix[:, j] = columns.pop(name)  # free each column as it lands
        return matrix, names, scale

    @staticmethod
    def _row_series(data: SeriesArrays) -> np.ndarray:
        return np.repeat(np.arange(data.n_series), data.lengths)

    @staticmethod
    def _row_periods(data: SeriesArrays) -> np.ndarray:
        last = np.repeat(period_index(data.last_ds, data.freq), data.lengths)
        offsets = np.arange(len(data.values)) - np.repeat(data.indptr[1:] - 1, data.lengths)
        return last + offsets

    # -------------------------------------------------------------- explanations

    def contributions(self, h: int) -> pd.DataFrame:
        """Per-forecast TreeSHAP contributions (LightGBM's own), on the log scale.

        One row per series and period (in forecast order) and one column per feature, plus
        ``bias`` (the model's base value) and ``scale`` (the log of the series' recent level, by
        which the model's output is multiplied). For the log-link objectives (tweedie, poisson)
        the row sums are the log of the mean forecast; group columns into human terms with
        `trendcast.evaluation.explain.group_contributions`.
        """
        if not hasattr(self, "booster_"):
            raise RuntimeError(f"{self.alias} is not fitted yet: call fit(...) first.")
        steps: list = []
        self._recursive(self.booster_, self.data_, h, explain=steps)
        by_step = [
            pd.DataFrame(c, columns=[*self.feature_names_, "bias"]).assign(scale=log_scale)
            for c, log_scale in steps
        ]
        # Steps come period by period; reorder to series by series like the forecasts.
        stacked = pd.concat(by_step, ignore_index=True)
        order = np.arange(h * self.data_.n_series).reshape(h, -1).T.reshape(-1)
        return stacked.iloc[order].reset_index(drop=True)

    def sample_paths(self, h: int, n_samples: int = 200, *, seed: int = 0) -> np.ndarray:
        """Demand paths (n_series, n_samples, h) drawn around the mean forecast.

        Each path draws one gamma level (mean 1, variance ``phi``) for all its periods and
        Poisson counts around ``level * mean``: every period's marginal is exactly the
        negative binomial of the quantiles, and the shared level makes errors persist over
        time as forecast errors do, so sums over a lead time are not too narrow.
        """
        mean = self._recursive(self.booster_, self.data_, h)
        rng = np.random.default_rng(seed)
        phi = np.maximum(self.phi_, 1e-9)[:, None]
        level = rng.gamma(1 / phi, phi, size=(self.data_.n_series, n_samples))
        return rng.poisson(level[..., None] * mean[:, None, :]).astype(float)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Global importance of each feature (``"gain"`` or ``"split"``), largest first."""
        importance = self.booster_.feature_importance(importance_type=kind)
        return pd.Series(importance, index=self.feature_names_).sort_values(ascending=False)


def group_mean(groups: np.ndarray, periods: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Mean of ``value`` over the rows sharing a group and a period, for each row."""
    key = pd.factorize(groups.astype(np.int64) * (1 << 32) + periods.astype(np.int64))[0]
    present = ~np.isnan(value)
    sums = np.bincount(key, weights=np.where(present, value, 0.0))
    counts = np.bincount(key, weights=present)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts)[key]


def negative_binomial_quantiles(
    mean: np.ndarray, phi: np.ndarray, quantiles: Sequence[float]
) -> np.ndarray:
    """Quantiles (n, h, k) of NB(mean, var = mean + phi * mean^2); Poisson where phi is 0."""
    from scipy.stats import nbinom, poisson

    q = np.asarray(quantiles, dtype=float)
    mu = np.maximum(mean, 1e-9)[..., None]
    size = 1.0 / np.maximum(phi, 1e-6)[:, None, None]
    out = nbinom.ppf(q, size, size / (size + mu))
    poissonian = (phi <= 1e-6)[:, None, None] & np.ones_like(out, dtype=bool)
    out[poissonian] = poisson.ppf(
        np.broadcast_to(q, out.shape)[poissonian], np.broadcast_to(mu, out.shape)[poissonian]
    )
    return out


def _period_dates(periods: np.ndarray, freq: str) -> np.ndarray:
    """Timestamps of integer periods (inverse of `period_index`)."""
    if freq == "MS":
        return (
            pd.PeriodIndex.from_ordinals(periods - (1970 * 12), freq="M").to_timestamp().to_numpy()
        )
    if freq.startswith("W"):
        anchor = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN").index(freq[2:])
        days = periods * 7 + 4 + anchor
        return days.astype("datetime64[D]").astype("datetime64[ns]")
    return periods.astype("datetime64[D]").astype("datetime64[ns]")
