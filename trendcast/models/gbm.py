"""Global gradient boosting (LightGBM) across all series, count-aware, probabilistic.

One model learns from every series at once (the M5 winners' recipe). Features at a row are
computed only from values before it: target lags, window means and deviations, periods since
the last sale, the long-run level; calendar; known-future dynamic covariates at the target
period (price and its changes, promotions, events, SNAP-style flags); other dynamic covariates
(behaviour such as views and clicks, availability) only as of ``covariate_lag`` periods earlier,
so they are known when forecasting up to that horizon; static attributes (hierarchy ids as
categories, numeric attributes).

Multi-step strategy (``strategy``): recursive by default. One one-step model forecasts period 1,
its forecast fills the lags of period 2, and so on. Direct: one model per quarter of the horizon,
the model for offset ``k`` reading the target only up to ``k`` periods before the row, so no
forecast feeds another (periods beyond the last offset are forecast recursively with that
model). Mix: the mean of both. The same feature code serves training and forecasting: a model of
offset ``k`` computes a row's target features at its *anchor*, ``k - 1`` rows earlier.

Training, within memory: rows are chosen per series (after its first sale, the last
``max_train_periods``), features read only each series' recent tail, dynamic covariates are
dense (series x period) arrays, and LightGBM bins the training rows block by block as they are
computed, so the float feature matrix never exists whole. The binned data serves both the
early-stopping fit (on all but the last ``validation`` periods) and the final fit.

Probabilistic forecasts: demand at each period is negative binomial around the forecast mean,
``var = mu + phi * mu^2``, with each series' ``phi`` estimated from the model's own
out-of-sample recursive errors on the last ``validation`` periods (shrunk toward the pooled
value), so the intervals carry the multi-step error, not just the one-step noise. Count
quantiles are integers; they never cross and are never negative.

`update` keeps the boosters and the dispersions as fitted and takes the extended history: the
lags, window means, levels, periods since the last sale and group movements of the forecasts
are read from it, and the new dynamic rows (observed covariates, plans) replace the fitted ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays, period_index
from trendcast.data.contract import HIERARCHY_COLUMNS
from trendcast.features.calendar import calendar_features
from trendcast.features.covariates import DynamicLookup, check_future_rows, static_features
from trendcast.features.lags import WindowStats, lag, periods_since_positive
from trendcast.models.base import Model, Prediction, default_horizon, new_values

_DEFAULT_LAGS = {"D": (1, 2, 3, 4, 5, 6, 7, 14, 21, 28), "MS": (1, 2, 3, 6, 12)}
_WEEKLY_LAGS = (1, 2, 3, 4, 8, 13, 26, 52)
_DEFAULT_WINDOWS = {"D": (7, 28, 91), "MS": (3, 6, 12)}
_WEEKLY_WINDOWS = (4, 13, 26)
_SHRINK_POINTS = 28.0
_MIN_SCALE = 0.1
_PERIODS_PER_YEAR = {"D": 365, "M": 12, "W": 52}
_STRATEGIES = ("recursive", "direct", "mix")
_DIRECT_MODELS = 4  # one per quarter of the horizon, as the M5 winners' weekly models


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
        strategy: ``"recursive"`` (one one-step model fed its own forecasts), ``"direct"``
            (one model per quarter of the horizon, reading only the history) or ``"mix"``
            (the mean of both; quantiles from the mean's own errors). Recursive won on the
            validation windows (BENCHMARKS.md) and is the default.
        relative_price: add each price over the mean price of its department (``dept_id``,
            else ``cat_id``) in the same period, when the static frame has one. Off by
            default: it lost on the M5 validation month (BENCHMARKS.md).
        lgb_params: further LightGBM parameters (e.g. ``{"max_bin": 63}``), applied last.
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

    supports_future_covariates = True
    supports_sample_paths = True
    supports_contributions = True

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
        relative_price: bool = False,
        strategy: str = "recursive",
        lgb_params: dict | None = None,
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
        self.max_train_periods, self.relative_price = max_train_periods, relative_price
        self.strategy, self.lgb_params = strategy, lgb_params
        self.seed, self.n_jobs, self.alias = seed, n_jobs, alias

    # ------------------------------------------------------------------ fitting

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        self._resolve(data.freq)
        span = period_index(np.array([data.last_ds.max()]), data.freq)[0] - np.min(
            period_index(data.last_ds, data.freq) - data.lengths + 1
        )
        self.yearly_ = bool(span >= 2 * _PERIODS_PER_YEAR.get(data.freq[0], 52))
        self._prepare_covariates(data, covariates)
        self.feature_names_ = self._feature_names()
        # A row's features read at most `reach_` periods back: training and the dispersion's
        # forecasts need only each series' tail.
        history = data
        if self.max_train_periods:
            history = data.tail(max(self.max_train_periods, self.validation_) + self.reach_)
        first, self.boosters_, self.rounds_ = {}, {}, {}
        for offset in self.offsets_:
            # One binned dataset at a time; the boosters are kept without it.
            dataset, held_out = self._training_set(data, history, offset)
            booster = self._train(
                dataset.subset(np.flatnonzero(~held_out)),
                valid=dataset.subset(np.flatnonzero(held_out)),
            )
            self.rounds_[offset] = max(booster.best_iteration, 1)
            first[offset] = _detached(booster)
            del booster  # and with it the binned subsets it trained on
            self.boosters_[offset] = _detached(self._train(dataset, rounds=self.rounds_[offset]))
            del dataset
        # Out-of-sample errors of the first models give the forecast dispersion.
        self.phi_ = self._dispersion(first, history)
        self.data_ = data

    def _training_set(self, data: SeriesArrays, history: SeriesArrays, offset: int):
        """The binned LightGBM dataset of the training rows of the model of ``offset``, and
        which rows are held out."""
        counts = self._training_counts(data, offset)
        # Periods from each training row to its series' end (1 for the last period).
        back = np.repeat(np.cumsum(counts), counts) - np.arange(counts.sum())
        held_out = back <= self.validation_
        if held_out.all() or not held_out.any():
            raise ValueError(
                f"{self.alias}: the series are too short to hold out {self.validation_} periods "
                "for validation; pass a smaller `validation` or give more history."
            )
        rows = np.repeat(history.indptr[1:], counts) - back
        series = np.repeat(np.arange(data.n_series), counts)
        periods = period_index(data.last_ds, data.freq)[series] - back + 1
        del back
        values, stats = history.values, WindowStats(history.values)
        starts = history.indptr[series]
        anchors = rows - (offset - 1)
        scale = _scale(stats.mean(starts, anchors, self.memory_))
        # Group means need every row of a period at once; the other features are row by row.
        momentum = self._momentum(values, stats, starts, anchors, series, periods, scale)
        del starts
        block = partial(
            self._block, values, stats, history.indptr, anchors, series, periods, momentum
        )
        # Binned once; the early-stopping fit and the final fit use views of the same data.
        dataset = self._dataset(_FeatureRows(block, len(rows)), values[rows] / scale, scale)
        return dataset, held_out

    def _resolve(self, freq: str) -> None:
        weekly = freq.startswith("W")
        self.freq_ = freq
        self.lags_ = tuple(self.lags or (_WEEKLY_LAGS if weekly else _DEFAULT_LAGS[freq]))
        self.windows_ = tuple(
            self.windows or (_WEEKLY_WINDOWS if weekly else _DEFAULT_WINDOWS[freq])
        )
        horizon = default_horizon(freq)
        self.validation_ = self.validation or horizon
        self.covariate_lag_ = self.covariate_lag or horizon
        self.memory_ = max(max(self.lags_), max(self.windows_)) + 1
        if self.strategy not in _STRATEGIES:
            raise ValueError(
                f"{self.alias}: unknown strategy {self.strategy!r}; use one of {_STRATEGIES}."
            )
        quarters = tuple(
            sorted({-(-horizon * j // _DIRECT_MODELS) for j in range(1, _DIRECT_MODELS + 1)})
        )
        self.paths_ = {"recursive": [(1,)], "direct": [quarters], "mix": [(1,), quarters]}[
            self.strategy
        ]
        self.offsets_ = sorted({k for path in self.paths_ for k in path})
        self.reach_ = self.memory_ + max(self.offsets_) - 1

    def _prepare_covariates(self, data: SeriesArrays, covariates: Covariates) -> None:
        self.columns_ = covariates.columns
        self.static_, self.categorical_, self.static_usage_ = static_features(
            covariates.static, data.ids, covariates.columns, covariates.categorical
        )
        self.dynamic_ = None
        if covariates.dynamic is not None:
            first_period = None
            if self.max_train_periods:
                # Keep only the periods the training span (and its lagged features) can read.
                last = period_index(data.last_ds, data.freq)
                reach = self.max_train_periods + self.memory_ + self.covariate_lag_ + 7
                first_period = (last - reach).min()
            self.dynamic_ = DynamicLookup(
                covariates.dynamic,
                data.ids,
                data.freq,
                covariates.columns,
                first_period=first_period,
            )
            self.categorical_ = self.categorical_ + self.dynamic_.categorical
        # Hierarchy levels shared by several series carry cross-series signal.
        groups = HIERARCHY_COLUMNS if covariates.groups is None else covariates.groups
        self.groups_ = [
            g
            for g in groups
            if g in self.categorical_ and 1 < np.unique(self.static_[g]).size < data.n_series
        ]
        dynamic = self.dynamic_.values if self.dynamic_ else {}
        self.known_future_ = [n for n in dynamic if covariates.is_known_future(n)]
        category = next((g for g in ("dept_id", "cat_id") if g in self.groups_), None)
        self.relative_ = []
        if self.relative_price and self.dynamic_ is not None and category:
            for name in ("price", "sell_price"):
                if name in self.known_future_:
                    self.relative_.append((name, category))
            self.dynamic_ = self._with_relative(self.dynamic_)
            self.known_future_ += [f"{name}_vs_{group}" for name, group in self.relative_]

    def _with_relative(self, lookup: DynamicLookup) -> DynamicLookup:
        """``lookup`` with each price over its department's mean price in the same period."""
        for name, group in self.relative_:
            lookup.add_relative(name, self.static_[group], group)
        return lookup

    def _planned(self, plan: pd.DataFrame | None) -> DynamicLookup | None:
        """The covariate lookup with ``plan`` in place of the fitted plan for its cells."""
        if plan is None:
            return self.dynamic_
        if self.dynamic_ is None:
            raise ValueError(
                f"{self.alias} was fitted without dynamic covariates, so a plan cannot change "
                "its forecasts. Fix: fit with a `dynamic` frame holding the planned columns."
            )
        lagged = [c for c in plan.columns.drop(self.columns_.key) if c not in self.known_future_]
        if lagged:
            raise ValueError(
                f"{self.alias} reads {lagged} {self.covariate_lag_} periods back, not at the "
                f"forecast periods, so a plan of them changes nothing. Fix: declare them "
                f"known in advance at fit (known_future=[...]) or leave them out of the plan."
            )
        planned = self.dynamic_.overlay(plan, self.data_.ids, self.freq_, self.columns_)
        return self._with_relative(planned)

    def covariate_usage(self) -> dict[str, str]:
        """How each dynamic column is read, in words (for the fit report)."""
        dynamic = self.dynamic_.values if self.dynamic_ else {}
        return {
            name: "known in advance: read at the forecast period"
            if name in self.known_future_
            else f"not known in advance: read {self.covariate_lag_} periods back"
            for name in dynamic
        }

    def _training_counts(self, data: SeriesArrays, offset: int) -> np.ndarray:
        """How many of each series' last periods are training rows of the model of ``offset``."""
        sold = np.flatnonzero(data.values > 0)
        first_sale = np.append(sold, len(data.values))[np.searchsorted(sold, data.indptr[:-1])]
        # Leading zeros before a series' first sale say nothing about demand (not yet listed);
        # a row's anchor must come after the series' first period.
        counts = np.maximum(
            data.indptr[1:] - np.maximum(first_sale + 1, data.indptr[:-1] + offset), 0
        )
        if self.max_train_periods:
            counts = np.minimum(counts, self.max_train_periods)
        if not counts.any():
            raise ValueError(f"{self.alias}: no series has a sale to learn from.")
        return counts

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
        return {**params, **(self.lgb_params or {})}

    def _dataset(self, features: _FeatureRows, target: np.ndarray, weight: np.ndarray):
        """A constructed LightGBM dataset of scaled targets, weighted by scale so that big
        series count as in units."""
        import lightgbm as lgb

        lgb.Sequence.register(_FeatureRows)

        categorical = [c for c in self.categorical_ if c in self.feature_names_]
        return lgb.Dataset(
            features,
            target,
            weight=weight,
            feature_name=self.feature_names_,
            categorical_feature=categorical,
            params={**self._params(), "data_random_seed": _bin_sample_seed(self.seed)},
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

    def _dispersion(self, boosters: dict, data: SeriesArrays) -> np.ndarray:
        """Per-series NB dispersion from forecasts of the validation periods."""
        h = self.validation_
        covered = data.lengths > h + 1
        history = data.head(data.lengths - h, select=covered)
        mean = self._forecast(boosters, history, h, series=np.flatnonzero(covered))
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

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        new_values(self.data_, data)
        if dynamic is not None and self.dynamic_ is not None:
            # Relative prices are recomputed over the new rows too.
            lookup = self.dynamic_.overlay(dynamic, data.ids, self.freq_, self.columns_)
            self.dynamic_ = self._with_relative(lookup)
        self.data_ = data

    # --------------------------------------------------------------- forecasting

    def _predict(
        self, h: int, quantiles: tuple[float, ...], plan: pd.DataFrame | None = None
    ) -> Prediction:
        mean = self._forecast(self.boosters_, self.data_, h, dynamic=self._planned(plan))
        if not quantiles:
            return Prediction(mean)
        return Prediction(mean, negative_binomial_quantiles(mean, self.phi_, quantiles))

    def _forecast(
        self,
        boosters: dict,
        data: SeriesArrays,
        h: int,
        series: np.ndarray | None = None,
        explain: list | None = None,
        dynamic: DynamicLookup | None = None,
    ) -> np.ndarray:
        """Mean forecasts (n_series, h): the mean over the strategy's paths.

        ``series`` maps the rows of ``data`` to the fitted series (for a subset of them);
        ``explain``, if given, receives each step's TreeSHAP contributions and log scale;
        ``dynamic`` is the covariate lookup (default: the fitted one).
        """
        series = np.arange(data.n_series) if series is None else series
        dynamic = self.dynamic_ if dynamic is None else dynamic
        last_period = period_index(data.last_ds, data.freq)
        check_future_rows(
            dynamic, self.known_future_, series, last_period, h, data, owner=self.alias
        )
        paths = [
            self._path(boosters, path, data, h, series, last_period, explain, dynamic)
            for path in self.paths_
        ]
        return np.mean(paths, axis=0)

    def _path(self, boosters, path, data, h, series, last_period, explain, dynamic) -> np.ndarray:
        """One path's forecasts, one period at a time: each period by the model of the
        smallest offset that reaches it, else the largest, fed its own earlier forecasts."""
        n, width = data.n_series, self.reach_ + h
        buffer = np.full((n, width), np.nan)
        buffer[:, : self.reach_] = data.last_values(self.reach_)
        values = buffer.reshape(-1)
        # A series shorter than the reach starts at its first value.
        starts = np.arange(n) * width + np.argmax(~np.isnan(buffer), axis=1)
        for step in range(h):
            offset = min((k for k in path if k > step), default=max(path))
            rows = np.arange(n) * width + self.reach_ + step
            stats = WindowStats(values)
            features, scale = self._features(
                values,
                stats,
                starts,
                rows - (offset - 1),
                series,
                last_period + step + 1,
                dynamic=dynamic,
            )
            booster = boosters[offset]
            predicted = booster.predict(features, num_threads=self.n_jobs) * scale
            if explain is not None:
                explain.append((booster.predict(features, pred_contrib=True), np.log(scale)))
            values[rows] = np.maximum(predicted, 0.0)
        return buffer[:, self.reach_ :]

    # ------------------------------------------------------------------ features

    def _feature_names(self) -> list[str]:
        names = [f"lag_{k}" for k in self.lags_]
        for window in self.windows_:
            names += [f"mean_{window}", f"std_{window}"]
        names += ["level", *self._momentum_names(), "since_sale"]
        no_dates = np.empty(0, dtype="datetime64[ns]")
        names += calendar_features(no_dates, self.freq_, yearly=self.yearly_)
        names += self.static_
        for name in self.dynamic_.values if self.dynamic_ else ():
            lagged = f"{name}_lag{self.covariate_lag_}"
            names.append(name if name in self.known_future_ else lagged)
        names += [f"{n}_change" for n in ("price", "sell_price") if n in self.known_future_]
        # A name given twice is one feature, holding the value written last.
        return list(dict.fromkeys(names))

    def _momentum_names(self) -> list[str]:
        return [f"{group}_{name}" for group in self.groups_ for name in ("recent", "last")]

    def _momentum(self, values, stats, starts, rows, series, periods, scale) -> np.ndarray:
        """How each row's groups (same item elsewhere, same store, ...) move right now: the
        group's mean, over its rows of the same period, of the recent mean and of the last
        value (float32, one column per `_momentum_names`)."""
        recent = stats.mean(starts, rows, self.windows_[0]) / scale
        last = lag(values, starts, rows, self.lags_[0]) / scale
        out = np.empty((len(rows), 2 * len(self.groups_)), dtype=np.float32)
        for j, group in enumerate(self.groups_):
            codes = np.nan_to_num(self.static_[group][series], nan=-1)
            out[:, 2 * j] = group_mean(codes, periods, recent)
            out[:, 2 * j + 1] = group_mean(codes, periods, last)
        return out

    def _block(self, values, stats, indptr, anchors, series, periods, momentum, part: slice):
        """The features of the training rows in the slice ``part``."""
        starts = indptr[series[part]]
        return self._features(
            values, stats, starts, anchors[part], series[part], periods[part], momentum[part]
        )[0]

    def _features(
        self, values, stats, starts, anchors, series, periods, momentum=None, dynamic=None
    ):
        """Feature matrix (float32, one row per anchor, columns as ``feature_names_``) and each
        row's scale (its recent mean level, floored).

        Target-derived features read ``values`` strictly before each row's anchor (the row
        itself for a one-step model); calendar and covariates are those of ``periods``.
        ``stats`` holds the window sums of ``values``; ``starts`` the position where each row's
        series starts; ``momentum`` the rows' group means if already computed over all rows of
        their periods. Target-derived features are divided by the scale, so series of any size
        share one pattern; the level itself stays a feature. ``dynamic`` is the covariate
        lookup (default: the fitted one).
        """
        dynamic = self.dynamic_ if dynamic is None else dynamic
        position = {name: j for j, name in enumerate(self.feature_names_)}
        matrix = np.empty((len(anchors), len(position)), dtype=np.float32)

        def put(name: str, value: np.ndarray) -> None:
            matrix[:, position[name]] = value

        level = stats.mean(starts, anchors, self.memory_)
        scale = _scale(level)
        for k in self.lags_:
            put(f"lag_{k}", lag(values, starts, anchors, k) / scale)
        for window in self.windows_:
            put(f"mean_{window}", stats.mean(starts, anchors, window) / scale)
            put(f"std_{window}", stats.std(starts, anchors, window) / scale)
        put("level", level)
        if momentum is None:
            momentum = self._momentum(values, stats, starts, anchors, series, periods, scale)
        for name, column in zip(self._momentum_names(), momentum.T, strict=True):
            put(name, column)
        since = periods_since_positive(values, starts, anchors)
        put("since_sale", np.where(np.isnan(since), self.memory_, np.minimum(since, self.memory_)))
        dates = _period_dates(periods, self.freq_)
        for name, value in calendar_features(dates, self.freq_, yearly=self.yearly_).items():
            put(name, value)
        for name, per_series in self.static_.items():
            put(name, per_series[series])
        if dynamic is not None:
            for name in dynamic.values:
                if name in self.known_future_:
                    put(name, dynamic.take(name, series, periods))
                else:
                    put(
                        f"{name}_lag{self.covariate_lag_}",
                        dynamic.take(name, series, periods - self.covariate_lag_),
                    )
            for name in ("price", "sell_price"):
                if name in self.known_future_:
                    before = dynamic.take(name, series, periods - 7)
                    put(f"{name}_change", matrix[:, position[name]] / before)
        return matrix, scale

    # -------------------------------------------------------------- explanations

    def contributions(self, h: int, *, plan: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-forecast TreeSHAP contributions (LightGBM's own), on the log scale.

        One row per series and period (in forecast order) and one column per feature, plus
        ``bias`` (the model's base value) and ``scale`` (the log of the series' recent level, by
        which the model's output is multiplied). For the log-link objectives (tweedie, poisson)
        the row sums are the log of the mean forecast; group columns into human terms with
        `trendcast.evaluation.explain.group_contributions`. ``plan`` as in `predict`.
        """
        self._check_fitted("contributions")
        if len(self.paths_) > 1:
            raise ValueError(
                f"{self.alias}: strategy 'mix' averages two forecasts, which no one set of "
                "contributions adds up to; explain a 'recursive' or 'direct' model instead."
            )
        steps: list = []
        self._forecast(self.boosters_, self.data_, h, explain=steps, dynamic=self._planned(plan))
        by_step = [
            pd.DataFrame(c, columns=[*self.feature_names_, "bias"]).assign(scale=log_scale)
            for c, log_scale in steps
        ]
        # Steps come period by period; reorder to series by series like the forecasts.
        stacked = pd.concat(by_step, ignore_index=True)
        order = np.arange(h * self.data_.n_series).reshape(h, -1).T.reshape(-1)
        return stacked.iloc[order].reset_index(drop=True)

    def sample_paths(
        self, h: int, n_samples: int = 200, *, seed: int = 0, plan: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Demand paths (n_series, n_samples, h) drawn around the mean forecast.

        Each path draws one gamma level (mean 1, variance ``phi``) for all its periods and
        Poisson counts around ``level * mean``: every period's marginal is exactly the
        negative binomial of the quantiles, and the shared level makes errors persist over
        time as forecast errors do, so sums over a lead time are not too narrow. ``plan`` as in
        `predict`.
        """
        self._check_fitted("sample_paths")
        mean = self._forecast(self.boosters_, self.data_, h, dynamic=self._planned(plan))
        rng = np.random.default_rng(seed)
        phi = np.maximum(self.phi_, 1e-9)[:, None]
        level = rng.gamma(1 / phi, phi, size=(self.data_.n_series, n_samples))
        return rng.poisson(level[..., None] * mean[:, None, :]).astype(float)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Global importance of each feature (``"gain"`` or ``"split"``, summed over the
        strategy's models), largest first."""
        self._check_fitted("feature_importance")
        importance = sum(
            b.feature_importance(importance_type=kind) for b in self.boosters_.values()
        )
        return pd.Series(importance, index=self.feature_names_).sort_values(ascending=False)


class _FeatureRows:
    """The training feature matrix as a `lightgbm.Sequence`: computed block by block while
    LightGBM reads it, so that the whole float32 matrix never exists at once.

    ``block(part)`` gives the features of the rows in the slice ``part``.
    """

    batch_size = 65_536

    def __init__(self, block: Callable[[slice], np.ndarray], n_rows: int):
        self._block, self._n_rows = block, n_rows
        self._cached_start, self._cached = -1, np.empty((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return self._n_rows

    def __getitem__(self, index: int | slice) -> np.ndarray:
        if isinstance(index, slice):
            return self._block(index)
        # Single rows are the bin sample (LightGBM wants it in float64), asked for in increasing
        # order: each block is computed once.
        start = index - index % self.batch_size
        if start != self._cached_start:
            self._cached_start = start
            self._cached = self._block(slice(start, start + self.batch_size))
        return self._cached[index - start].astype(np.float64)


def _detached(booster):
    """The booster without the training data it holds on to (same trees, same forecasts)."""
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string())


def _bin_sample_seed(seed: int) -> int:
    """The seed of the rows sampled for the bins (``data_random_seed``) that LightGBM derives
    from ``seed`` (its first random number).

    LightGBM derives it when it reads a matrix but not when it samples a `lightgbm.Sequence`;
    passing it keeps the bins, hence the models, those of the in-memory matrix.
    """
    state = (214013 * (seed & 0xFFFFFFFF) + 2531011) & 0xFFFFFFFF
    return ((state >> 16) & 0x7FFF) % 0x7FFF


def _scale(level: np.ndarray) -> np.ndarray:
    """The divisor of target-derived features: the recent mean level, floored."""
    return np.maximum(np.nan_to_num(level), _MIN_SCALE)


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
