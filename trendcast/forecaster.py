"""The pipeline object: validate, fit, forecast and backtest many series with a list of models."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pandas as pd

from trendcast._frames import like
from trendcast._progress import progress_bar
from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.data.contract import ShopData
from trendcast.data.validate import validate
from trendcast.evaluation.backtest import Backtest, backtest
from trendcast.models.base import Model, predictions_to_frame

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


def season_length(freq: str) -> int:
    """Periods in the main seasonal cycle: a week of days, a year of weeks or of months."""
    return {"D": 7, "MS": 12}.get(freq, 52)


def default_models(freq: str) -> list[Model]:
    """The line-up, set for the data's frequency: global LightGBM first, then the baselines and
    classical models it is measured against."""
    from trendcast.models.baselines import MovingAverage, Naive, SeasonalNaive
    from trendcast.models.classical import ADIDA, ETS, IMAPA, TSB, Croston
    from trendcast.models.gbm import LightGBM

    m = season_length(freq)
    # statsforecast's ETS allows seasons up to 24 periods; weekly data gets a non-seasonal ETS.
    ets = ETS(season_length=m, model="ZNA") if m <= 24 else ETS(season_length=1, model="ZNN")
    return [
        LightGBM(),
        Naive(),
        SeasonalNaive(season_length=m),
        MovingAverage(window={"D": 28, "MS": 6}.get(freq, 8)),
        ets,
        Croston(),
        TSB(),
        ADIDA(),
        IMAPA(),
    ]


def models_by_name(
    names: Sequence[str], freq: str, *, chronos: str | None = None, workspace: Any = None
) -> list[Model]:
    """Models from short names (as the CLI takes them), set for the data's frequency.

    Beside the default line-up: ``chronos2`` (the pretrained sequence model; ``chronos`` names
    other weights, e.g. one fine-tuned and saved in ``workspace``), ``lstm``, and ``ensemble``
    (LightGBM and that Chronos-2, weighted per demand class on a held-out window).
    """
    from trendcast.models.chronos import SHIPPED_MODEL, Chronos2
    from trendcast.models.ensemble import Ensemble
    from trendcast.models.gbm import LightGBM
    from trendcast.models.lstm import LSTM

    line_up = {_NAMES[type(m).__name__]: m for m in default_models(freq)}
    line_up["chronos2"] = Chronos2(chronos or SHIPPED_MODEL, workspace=workspace)
    line_up["lstm"] = LSTM()
    line_up["ensemble"] = Ensemble([LightGBM(), copy.deepcopy(line_up["chronos2"])])
    unknown = [n for n in names if n not in line_up]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(line_up)}.")
    return [line_up[n] for n in names]


_NAMES = {
    "LightGBM": "lightgbm",
    "Naive": "naive",
    "SeasonalNaive": "seasonal_naive",
    "MovingAverage": "moving_average",
    "ETS": "ets",
    "Croston": "croston",
    "TSB": "tsb",
    "ADIDA": "adida",
    "IMAPA": "imapa",
}
MODEL_NAMES = (*_NAMES.values(), "chronos2", "lstm", "ensemble")


class Forecaster:
    """Forecasts many series with several models at once.

    Args:
        models: model objects with unique aliases; None means `default_models` for the data.
        freq: ``"D"``, ``"W-SUN"``-style or ``"MS"``; inferred from the data when omitted.
        quantiles: quantile levels forecast next to the mean (each in (0, 1)).
        id_col, time_col, target_col: column names of the long sales frame.
        fill_gaps: fill missing periods with 0 (reported in ``data_.report``).
        clip_negative: set negative targets to 0 (reported in ``data_.report``).
        progress: show progress bars on long work.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> from trendcast.models import SeasonalNaive
        >>> shop = simulate_shop(n_items=5, n_stores=1, n_periods=120, reviews=False)
        >>> fc = Forecaster([SeasonalNaive()]).fit(shop.data.sales)
        >>> fc.predict(14).columns.tolist()[:3]
        ['unique_id', 'ds', 'SeasonalNaive']
    """

    def __init__(
        self,
        models: Sequence[Model] | None = None,
        *,
        freq: str | None = None,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        fill_gaps: bool = False,
        clip_negative: bool = False,
        progress: bool = False,
    ):
        self.models = models
        self.freq = freq
        self.quantiles = quantiles
        self.id_col, self.time_col, self.target_col = id_col, time_col, target_col
        self.fill_gaps, self.clip_negative = fill_gaps, clip_negative
        self.progress = progress

    def fit(self, df: Any, *, static: Any = None, dynamic: Any = None) -> Forecaster:
        """Validates ``df`` (pandas or polars, long format) and fits every model on it."""
        self.data_ = self._prepare(df, static=static, dynamic=dynamic)
        self.arrays_ = SeriesArrays.from_frame(
            self.data_.sales, self.data_.freq, self.data_.columns
        )
        self.models_ = []
        with progress_bar(len(self.templates_), "fit", enabled=self.progress) as advance:
            for model in self.templates_:
                self.models_.append(
                    copy.deepcopy(model).fit(self.arrays_, self._covariates(self.data_))
                )
                advance(model.alias)
        return self

    def predict(self, h: int, *, quantiles: Sequence[float] | None = None) -> Any:
        """Forecasts ``h`` periods past each series' end; same frame type as the fitted input.

        Returns:
            Long frame: id, ds, one column per model alias, ``{alias}-q-{q}`` per quantile.
        """
        if not hasattr(self, "models_"):
            raise RuntimeError("The Forecaster is not fitted yet: call fit(df) before predict(h).")
        quantiles = self._check_quantiles(quantiles)
        predictions = {m.alias: m.predict(h, quantiles) for m in self.models_}
        frame = predictions_to_frame(self.arrays_, predictions, h, quantiles, self.data_.columns)
        return like(frame, self._input)

    def explain(self, h: int, *, grouped: bool = True) -> Any:
        """Why the recommended model forecasts what it does: per-forecast contributions.

        Args:
            h: horizon, as given to `predict`.
            grouped: sum feature contributions into human terms (trend and recent sales,
                seasonality and calendar, price, promotion, events, behaviour, attributes).

        Returns:
            Long frame: id, ds, one column per group (or feature), on the log scale: the row
            sum is the log of the mean forecast.
        """
        from trendcast.evaluation.explain import group_contributions

        if not hasattr(self, "models_"):
            raise RuntimeError("The Forecaster is not fitted yet: call fit(df) before explain(h).")
        model = self.models_[0]
        if not hasattr(model, "contributions"):
            raise ValueError(
                f"{model.alias} has no per-forecast contributions; explanations come from "
                "LightGBM: put it first in the model list."
            )
        contributions = model.contributions(h)
        if grouped:
            contributions = group_contributions(contributions)
        keys = predictions_to_frame(self.arrays_, {}, h, (), self.data_.columns)
        return like(pd.concat([keys, contributions], axis=1), self._input)

    def backtest(
        self,
        df: Any,
        *,
        h: int,
        n_windows: int = 3,
        step: int | None = None,
        quantiles: Sequence[float] | None = None,
        min_history: int | None = None,
        static: Any = None,
        dynamic: Any = None,
    ) -> Any:
        """Rolling-origin backtest; see `trendcast.evaluation.backtest.backtest`.

        ``min_history`` defaults to two seasons. The full result (cutoffs, series left out per
        window) is kept in ``backtest_``.

        Returns:
            Long frame: id, ds, ``cutoff``, target, one column per model (and quantiles).
        """
        data = self._prepare(df, static=static, dynamic=dynamic)
        arrays = SeriesArrays.from_frame(data.sales, data.freq, data.columns)
        self.backtest_: Backtest = backtest(
            arrays,
            self.templates_,
            h=h,
            n_windows=n_windows,
            step=step,
            quantiles=self._check_quantiles(quantiles),
            min_history=2 * season_length(data.freq) if min_history is None else min_history,
            covariates=self._covariates(data),
            columns=data.columns,
            progress=self.progress,
        )
        return like(self.backtest_.forecasts, self._input)

    def _prepare(self, df: Any, *, static: Any, dynamic: Any) -> ShopData:
        data = validate(
            df,
            static=static,
            dynamic=dynamic,
            id_col=self.id_col,
            time_col=self.time_col,
            target_col=self.target_col,
            freq=self.freq,
            fill_gaps=self.fill_gaps,
            clip_negative=self.clip_negative,
        )
        models = default_models(data.freq) if self.models is None else list(self.models)
        _check_models(models)
        self.templates_, self._input = models, df
        # The first model of the line-up is the recommended one (the default: LightGBM).
        self.default_alias_ = models[0].alias
        return data

    @staticmethod
    def _covariates(data: ShopData) -> Covariates:
        return Covariates(static=data.static, dynamic=data.dynamic, columns=data.columns)

    def _check_quantiles(self, quantiles: Sequence[float] | None) -> tuple[float, ...]:
        quantiles = tuple(self.quantiles if quantiles is None else quantiles)
        bad = [q for q in quantiles if not 0 < q < 1]
        if bad:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {bad}.")
        return tuple(sorted(set(quantiles)))


def _check_models(models: list[Model]) -> None:
    if not models:
        raise ValueError("no models given: pass a list such as [SeasonalNaive(), ETS()].")
    for model in models:
        if not isinstance(model, Model):
            raise TypeError(
                f"{model!r} is not a trendcast model; wrap it in a trendcast.models.base.Model "
                "subclass with fit(arrays) and predict(h, quantiles)."
            )
    aliases = [m.alias for m in models]
    repeated = sorted({a for a in aliases if aliases.count(a) > 1})
    if repeated:
        raise ValueError(
            f"model aliases must be unique, {repeated} repeat: give each its own, e.g. "
            "MovingAverage(window=7, alias='MA7')."
        )
