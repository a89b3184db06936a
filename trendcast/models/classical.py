"""Classical models from statsforecast: exponential smoothing and intermittent-demand methods.

statsforecast fits each series with numba-compiled code; these wrappers hand it the grouped
arrays and turn its prediction intervals into quantiles. ETS gives model-based intervals and
keeps each series' fitted state (smoothing parameters, last states, variance), so a saved ETS
forecasts without refitting. The intermittent methods (Croston, TSB, ADIDA, IMAPA) have no
intervals of their own: they get conformal intervals from rolling windows of their own errors
for the horizon asked, so they run on the kept history at predict time (their fit is a few
smoothing passes). A series too short for a model's fit (or for its conformal windows) falls
back to statsforecast's Naive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.models.base import Model, Prediction


def _levels(quantiles: tuple[float, ...]) -> list[int | float]:
    """Interval levels (in %) whose bounds give the requested quantiles."""
    levels = {round(abs(1 - 2 * q) * 100, 6) for q in quantiles if q != 0.5}
    return sorted(int(lv) if float(lv).is_integer() else lv for lv in levels)


def _interval_key(q: float) -> str | None:
    """statsforecast's name of the interval bound that is quantile ``q`` (``"lo-80"`` for
    0.1); None for the median, which is the mean forecast."""
    level = _levels((q,))
    return f"{'lo' if q < 0.5 else 'hi'}-{level[0]}" if level else None


class StatsForecastModel(Model):
    """Runs one statsforecast model on grouped arrays. Subclasses build the model in `_make`."""

    n_jobs: int = 1

    def _make(self, h: int, n_windows: int):
        raise NotImplementedError

    def _windows(self, lengths: np.ndarray, h: int) -> np.ndarray:
        """Conformal windows per series; 0 where the model has no conformal intervals."""
        return np.zeros(len(lengths), dtype=np.int64)

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        # statsforecast fits and forecasts in one pass, so fitting keeps the data for predict.
        self.data_ = data

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        data = self.data_
        mean = np.empty((data.n_series, h))
        stacked = np.empty((data.n_series, h, len(quantiles)))
        windows = self._windows(data.lengths, h)
        for n_windows in np.unique(windows):
            group = windows == n_windows
            part = data.head(data.lengths, select=group)
            mean[group], stacked[group] = self._run(
                part, self._make(h, int(n_windows)), h, quantiles
            )
        return Prediction(mean, stacked if quantiles else None)

    def _run(self, data: SeriesArrays, model, h: int, quantiles: tuple[float, ...]):
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        frame = data.to_frame()
        # Integer ids keep statsforecast's output in the arrays' series order.
        frame["unique_id"] = np.repeat(np.arange(data.n_series), data.lengths)
        engine = StatsForecast([model], freq=data.freq, n_jobs=self.n_jobs, fallback_model=Naive())
        out = engine.forecast(df=frame, h=h, level=_levels(quantiles) or None)
        name = str(model)
        columns = [
            out[f"{name}-{key}"] if (key := _interval_key(q)) else out[name] for q in quantiles
        ]
        mean = out[name].to_numpy(np.float64).reshape(-1, h)
        if not quantiles:
            return mean, np.empty((data.n_series, h, 0))
        stacked = pd.concat(columns, axis=1).to_numpy(np.float64)
        return mean, stacked.reshape(-1, h, len(quantiles))


class ETS(StatsForecastModel):
    """Exponential smoothing state-space model (statsforecast AutoETS).

    Args:
        season_length: periods per season (7 for daily data with a weekly cycle).
        model: ETS spec as three letters (error, trend, season), ``Z`` meaning "choose by AICc".
            The default ``"ZNA"`` (no trend, additive season) is robust on demand data with zeros
            and about five times faster than a full search (``"ZZZ"``).
    """

    def __init__(
        self, *, season_length: int = 7, model: str = "ZNA", alias: str = "ETS", n_jobs: int = 1
    ):
        self.season_length, self.model, self.alias, self.n_jobs = (
            season_length,
            model,
            alias,
            n_jobs,
        )

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        from statsforecast.models import AutoETS

        self.data_ = data
        self.states_ = []
        for i in range(data.n_series):
            y = data.values[data.indptr[i] : data.indptr[i + 1]]
            try:
                fitted = AutoETS(season_length=self.season_length, model=self.model).fit(y)
            except Exception:  # statsforecast's own fallback: too short or degenerate series
                self.states_.append(None)
                continue
            self.states_.append(_forecast_state(fitted.model_))

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        from statsforecast.ets import forecast_ets
        from statsforecast.models import Naive

        data, levels = self.data_, _levels(quantiles)
        mean = np.empty((data.n_series, h))
        stacked = np.empty((data.n_series, h, len(quantiles)))
        for i, state in enumerate(self.states_):
            if state is None:
                continue
            out = forecast_ets(state, h=h, level=levels or None)
            mean[i] = out["mean"]
            for k, q in enumerate(quantiles):
                key = _interval_key(q)
                stacked[i, :, k] = out[key] if key else out["mean"]
        failed = np.array([state is None for state in self.states_])
        if failed.any():
            part = data.head(data.lengths, select=failed)
            mean[failed], stacked[failed] = self._run(part, Naive(), h, quantiles)
        return Prediction(mean, stacked if quantiles else None)


def _forecast_state(model: dict) -> dict:
    """What statsforecast's `forecast_ets` reads of a fitted ETS: the last states, the
    parameters, the variance and the residuals (fitted values are not needed)."""
    state = {key: model[key] for key in ("components", "par", "m", "sigma2", "distribution")}
    for key in ("nu", "alpha_dist", "beta_dist"):  # parameters of non-normal error laws
        if key in model:
            state[key] = float(model[key])
    state["states"] = np.asarray(model["states"][-1:], dtype=np.float64)
    state["residuals"] = np.asarray(model["residuals"], dtype=np.float64)
    state["fitted"] = np.empty(0)
    state["sigma2"], state["m"] = float(state["sigma2"]), int(state["m"])
    state["par"] = np.asarray(state["par"], dtype=np.float64)
    return state


class _Intermittent(StatsForecastModel):
    """Intermittent-demand method with conformal intervals from up to ``n_windows`` backtests.

    Each series gets as many windows (at most ``n_windows``, at least 2) as its history holds;
    10 windows covered the M5 subset's validation month far better than 2 (95% intervals:
    0.89 vs 0.64 coverage). Series shorter than ``2 * h + 1`` get statsforecast's Naive.
    """

    def __init__(self, *, alias: str, n_windows: int = 10, n_jobs: int = 1):
        self.alias, self.n_windows, self.n_jobs = alias, n_windows, n_jobs

    def _windows(self, lengths: np.ndarray, h: int) -> np.ndarray:
        return np.clip((lengths - 1) // h, 2, self.n_windows)

    def _intervals(self, h: int, n_windows: int):
        from statsforecast.utils import ConformalIntervals

        return ConformalIntervals(h=h, n_windows=n_windows)


class Croston(_Intermittent):
    """Croston's method (classic): smoothed demand size over smoothed interval."""

    def __init__(self, *, alias: str = "Croston", n_windows: int = 10, n_jobs: int = 1):
        super().__init__(alias=alias, n_windows=n_windows, n_jobs=n_jobs)

    def _make(self, h: int, n_windows: int):
        from statsforecast.models import CrostonClassic

        return CrostonClassic(alias=self.alias, prediction_intervals=self._intervals(h, n_windows))


class TSB(_Intermittent):
    """Teunter-Syntetos-Babai: smooths demand probability, so forecasts decay for dying items."""

    def __init__(
        self,
        *,
        alpha_d: float = 0.1,
        alpha_p: float = 0.1,
        alias: str = "TSB",
        n_windows: int = 10,
        n_jobs: int = 1,
    ):
        super().__init__(alias=alias, n_windows=n_windows, n_jobs=n_jobs)
        self.alpha_d, self.alpha_p = alpha_d, alpha_p

    def _make(self, h: int, n_windows: int):
        from statsforecast.models import TSB as StatsTSB

        return StatsTSB(
            alpha_d=self.alpha_d,
            alpha_p=self.alpha_p,
            alias=self.alias,
            prediction_intervals=self._intervals(h, n_windows),
        )


class ADIDA(_Intermittent):
    """Aggregate-disaggregate intermittent demand approach (temporal aggregation + SES)."""

    def __init__(self, *, alias: str = "ADIDA", n_windows: int = 10, n_jobs: int = 1):
        super().__init__(alias=alias, n_windows=n_windows, n_jobs=n_jobs)

    def _make(self, h: int, n_windows: int):
        from statsforecast.models import ADIDA as StatsADIDA

        return StatsADIDA(alias=self.alias, prediction_intervals=self._intervals(h, n_windows))


class IMAPA(_Intermittent):
    """Intermittent multiple aggregation prediction algorithm (ADIDA over many levels)."""

    def __init__(self, *, alias: str = "IMAPA", n_windows: int = 10, n_jobs: int = 1):
        super().__init__(alias=alias, n_windows=n_windows, n_jobs=n_jobs)

    def _make(self, h: int, n_windows: int):
        from statsforecast.models import IMAPA as StatsIMAPA

        return StatsIMAPA(alias=self.alias, prediction_intervals=self._intervals(h, n_windows))
