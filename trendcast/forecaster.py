"""The pipeline object: validate, fit, forecast and backtest many series with a list of models."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import as_type, frame_type, like
from trendcast._params import Estimator
from trendcast._progress import progress_bar
from trendcast.data.arrays import Covariates, SeriesArrays, period_index, shift_periods
from trendcast.data.contract import Columns, ShopData
from trendcast.data.validate import DataValidationError, validate, validate_dynamic
from trendcast.evaluation.backtest import Backtest, backtest
from trendcast.models.base import SAVED_CLASSES, Model, predictions_to_frame

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
    line_up["ensemble"] = Ensemble([LightGBM(), line_up["chronos2"].clone()])
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
DEFAULT_NAMES = tuple(_NAMES.values())  # the line-up of `default_models`
MODEL_NAMES = (*DEFAULT_NAMES, "chronos2", "lstm", "ensemble")


class Forecaster(Estimator):
    """Forecasts many series with several models at once.

    Args:
        models: model objects with unique aliases; None means `default_models` for the data.
        freq: ``"D"``, ``"W-SUN"``-style or ``"MS"``; inferred from the data when omitted.
        quantiles: quantile levels forecast next to the mean (each in (0, 1)), in the order
            their columns come.
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

    def fit(
        self,
        df: Any,
        *,
        static: Any = None,
        dynamic: Any = None,
        known_future: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Forecaster:
        """Validates ``df`` (pandas or polars, long format) and fits every model on it; a
        `ShopData` from `trendcast.validate` (with its side frames) is used as it is.

        Args:
            static: one row per series: hierarchy, attributes, text.
            dynamic: one row per series and period, covariates; rows past the sales hold the
                plan (prices, promotions, events) for the periods to forecast, or give the
                plan to `predict` instead.
            known_future: the dynamic columns known in advance (plans, calendars), read at the
                period forecast; the others are read only as far back as each model needs to
                know them. None: columns named ``price*``, ``promo*``, ``event*``, ``snap*``,
                ``holiday*``, ``discount*``. ``report_`` says how each column is used.
            categorical: static columns that are categories whatever their type (integer
                store numbers); strings are categories anyway.
            groups: static columns whose groups (same store, same department) the models may
                learn shared movement from (made categorical); None: ``item_id``,
                ``store_id``, ``dept_id``, ``cat_id`` where present.
        """
        data = self._validate(df, static=static, dynamic=dynamic)
        templates = self._templates(data.freq)
        covariates = _covariates(data, known_future, categorical, groups)
        arrays = SeriesArrays.from_frame(data.sales, data.freq, data.columns)
        models = []
        with progress_bar(len(templates), "fit", enabled=self.progress) as advance:
            for model in templates:
                models.append(model.clone().fit(arrays, covariates))
                advance(model.alias)
        self.data_, self.arrays_, self.covariates_ = data, arrays, _declarations(covariates)
        self.templates_, self.models_ = templates, models
        self.input_type_ = frame_type(df)
        # The first model of the line-up is the recommended one (the default: LightGBM).
        self.default_alias_ = templates[0].alias
        self.report_ = covariate_report(data, covariates, models)
        return self

    def update(self, df: Any = None, *, dynamic: Any = None) -> Forecaster:
        """Takes the periods observed since the fit without refitting: every model moves its
        state forward with the parameters it learnt (each model's docstring says how), so the
        forecasts start after the new periods.

        Args:
            df: new sales rows (pandas or polars, long format, the fit's column names), the
                periods after each series' end; validated as `fit` validates. Rows the
                forecaster holds with the same value are skipped, so an update repeated
                changes nothing. None: only new dynamic rows.
            dynamic: dynamic rows (the fit's columns) observed or planned since the fit; they
                replace the fitted rows for the same series and date.

        Returns:
            ``self``, updated; on an error it stays as it was. ``update_report_`` lists what
            validating the new rows changed (filled gaps, clipped values).

        Raises:
            DataValidationError: a row fails the contract, holds another value than the
                forecaster's for a period it has, or leaves a gap after its series' end.
            ValueError: rows of series the forecaster was not fitted on.

        Example:
            >>> from trendcast import Forecaster, simulate_shop
            >>> from trendcast.models import Naive
            >>> sales = simulate_shop(n_items=3, n_stores=1, n_periods=60, reviews=False).data.sales
            >>> last = sales["ds"].max()
            >>> fc = Forecaster([Naive()]).fit(sales[sales["ds"] < last])
            >>> fc.update(sales[sales["ds"] == last]).predict(1)["ds"].min() == last + pd.Timedelta("1D")
            True
        """
        self._check_fitted("update")
        data, arrays = self.data_, self.arrays_
        columns = data.columns
        report: list[str] = []
        fresh, position = data.sales.iloc[:0], np.empty(0, dtype=np.int64)
        if df is not None:
            new = validate(
                df,
                id_col=columns.id_col,
                time_col=columns.time_col,
                target_col=columns.target_col,
                freq=data.freq,
                fill_gaps=self.fill_gaps,
                clip_negative=self.clip_negative,
            )
            fresh, position = _fresh_rows(new.sales, arrays, columns)
            report = new.report
        plan = None if dynamic is None else self._new_dynamic(dynamic)
        if fresh.empty and plan is None:
            self.update_report_ = report
            return self
        counts = np.bincount(position, minlength=arrays.n_series)
        at = np.repeat(arrays.indptr[1:], counts)
        extended = SeriesArrays(
            ids=arrays.ids,
            values=np.insert(arrays.values, at, fresh[columns.target_col].to_numpy(np.float64)),
            indptr=np.append(0, np.cumsum(arrays.lengths + counts)).astype(np.int64),
            last_ds=shift_periods(arrays.last_ds, counts, data.freq),
            freq=data.freq,
        )
        # Copies: a model failing leaves the forecaster, and every model, as it was.
        models = [copy.copy(m).update(extended, plan) for m in self.models_]
        self.data_ = dataclasses.replace(
            data,
            sales=with_rows(data.sales, arrays, fresh, position, columns),
            dynamic=data.dynamic if plan is None else overlay_dynamic(data.dynamic, plan, columns),
        )
        self.arrays_, self.models_, self.update_report_ = extended, models, report
        return self

    def _new_dynamic(self, dynamic: Any) -> pd.DataFrame:
        """The validated dynamic rows of an update, with the fitted frame's columns only."""
        data = self.data_
        rows = self._validated_dynamic(
            dynamic, "Fix: update without dynamic=..., or fit again with it."
        )
        unknown = [c for c in rows.columns.drop(data.columns.key) if c not in data.dynamic]
        if unknown:
            raise ValueError(
                f"the new dynamic rows have columns {unknown} the fit had not; it read "
                f"{data.dynamic.columns.drop(data.columns.key).tolist()}. Fix: leave them out, "
                "or fit again with them."
            )
        return rows

    def predict(
        self,
        h: int,
        *,
        quantiles: Sequence[float] | None = None,
        dynamic: Any = None,
        models: Sequence[str] | None = None,
    ) -> Any:
        """Forecasts ``h`` periods past each series' end; same frame type as the fitted input.

        Args:
            h: periods to forecast.
            quantiles: levels to forecast (default: the forecaster's), columns in this order.
            dynamic: the plan for the forecast periods: rows (id, date, known-in-advance
                columns) that replace the fitted frame's rows for the same series and date.
                Models that read no covariates forecast as without it.
            models: aliases of the models to forecast with (default: all), in this order.

        Returns:
            Long frame: id, ds, one column per model alias, ``{alias}-q-{q}`` per quantile.
        """
        self._check_fitted("predict")
        quantiles = self._check_quantiles(quantiles)
        plan = self._plan(dynamic)
        chosen = self.models_ if models is None else [self.model(alias) for alias in models]
        predictions = {m.alias: m.predict(h, quantiles, plan=plan) for m in chosen}
        frame = predictions_to_frame(self.arrays_, predictions, h, quantiles, self.data_.columns)
        return as_type(frame, self.input_type_)

    def sample_paths(
        self, h: int, *, n_samples: int = 200, seed: int = 0, dynamic: Any = None
    ) -> Any:
        """Demand paths ``(n_series, n_samples, h)`` of the recommended model (the first),
        in the order of ``arrays_.ids``; ``dynamic`` is the plan, as in `predict`."""
        self._check_fitted("sample_paths")
        model = self._recommended("supports_sample_paths", "draws no sample paths")
        return model.sample_paths(h, n_samples, seed=seed, plan=self._plan(dynamic))

    def model(self, alias: str | None = None) -> Model:
        """The fitted model of that alias (default: the recommended one, first of the line-up)."""
        self._check_fitted("model")
        if alias is None:
            return self.models_[0]
        for model in self.models_:
            if model.alias == alias:
                return model
        raise ValueError(
            f"no model {alias!r} in the forecaster; it has {[m.alias for m in self.models_]}."
        )

    def explain(self, h: int, *, grouped: bool = True, dynamic: Any = None) -> Any:
        """Why the recommended model forecasts what it does: per-forecast contributions.

        Args:
            h: horizon, as given to `predict`.
            grouped: sum feature contributions into human terms (trend and recent sales,
                seasonality and calendar, price, promotion, events, behaviour, attributes).
            dynamic: the plan for the forecast periods, as in `predict`.

        Returns:
            Long frame: id, ds, one column per group (or feature), on the log scale: the row
            sum is the log of the mean forecast.
        """
        from trendcast.evaluation.explain import group_contributions

        self._check_fitted("explain")
        model = self._recommended("supports_contributions", "has no per-forecast contributions")
        contributions = model.contributions(h, plan=self._plan(dynamic))
        if grouped:
            contributions = group_contributions(contributions)
        keys = predictions_to_frame(self.arrays_, {}, h, (), self.data_.columns)
        return as_type(pd.concat([keys, contributions], axis=1), self.input_type_)

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
        known_future: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Any:
        """Rolling-origin backtest; see `trendcast.evaluation.backtest.backtest`. ``df`` as in
        `fit`.

        Fits fresh copies of the models; a fitted forecaster stays as it was. ``min_history``
        defaults to two seasons, or, where the history before the first cutoff is shorter
        (a year of weekly data), to half of the longest one; the covariate declarations are
        those of `fit`. The full result (cutoffs, series left out per window) is kept in
        ``backtest_``.

        Returns:
            Long frame (the type of ``df``): id, ds, ``cutoff``, target, one column per model
            (and quantiles).
        """
        data = self._validate(df, static=static, dynamic=dynamic)
        arrays = SeriesArrays.from_frame(data.sales, data.freq, data.columns)
        self.backtest_: Backtest = backtest(
            arrays,
            self._templates(data.freq),
            h=h,
            n_windows=n_windows,
            step=step,
            quantiles=self._check_quantiles(quantiles),
            min_history=_min_history(arrays, h, n_windows, step)
            if min_history is None
            else min_history,
            covariates=_covariates(data, known_future, categorical, groups),
            columns=data.columns,
            progress=self.progress,
        )
        return like(self.backtest_.forecasts, df)

    def save(self, path: str | Path) -> Path:
        """Writes the fitted forecaster (its data contract, frequency, column names, covariate
        declarations, training data and models) to the folder ``path``, replaced whole and
        atomically; `Forecaster.load` reads it back and predicts exactly the same."""
        from trendcast.data.io import atomic_folder
        from trendcast.data.saved import write_state

        self._check_fitted("save")
        return atomic_folder(
            path, lambda tmp: write_state(tmp, self, kind="forecaster", allowed=_SAVED)
        )

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Reads a forecaster written by `save`; fails with a clear error, never runs code,
        on a folder that is missing, truncated, edited or of an unknown format version."""
        from trendcast.data.saved import read_state

        return read_state(path, kind="forecaster", allowed=_SAVED)

    def _saved_state(self, folder: Path) -> dict:
        # Backtest results are stored as tables, not with the model.
        return {k: v for k, v in vars(self).items() if k != "backtest_"}

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "models_")

    def _validate(self, df: Any, *, static: Any, dynamic: Any) -> ShopData:
        if isinstance(df, ShopData):
            return self._validated(df, static, dynamic)
        return validate(
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

    def _validated(self, data: ShopData, static: Any, dynamic: Any) -> ShopData:
        """A shop `trendcast.validate` already checked: used as it is, not validated again."""
        if static is not None or dynamic is not None:
            raise ValueError(
                "a ShopData carries its static and dynamic frames: put them in it (validate("
                "sales, static=..., dynamic=...)) rather than beside it."
            )
        asked = Columns(self.id_col, self.time_col, self.target_col)
        if data.columns != asked or (self.freq and self.freq != data.freq):
            raise ValueError(
                f"the shop was validated with columns {data.columns} and frequency "
                f"{data.freq!r}, the forecaster is set for {asked} and {self.freq!r}: give "
                "the forecaster the same."
            )
        return data

    def _templates(self, freq: str) -> list[Model]:
        models = default_models(freq) if self.models is None else list(self.models)
        _check_models(models)
        if self.progress:  # the models' own bars (epochs, steps) inside the forecaster's
            models = [
                m.clone().set_params(progress=True) if "progress" in m.get_params() else m
                for m in models
            ]
        return models

    def _validated_dynamic(self, dynamic: Any, fix: str) -> pd.DataFrame:
        """``dynamic`` checked against the fitted series and frequency; refused, with
        ``fix``, when the fit had no dynamic frame to read it with."""
        data = self.data_
        if data.dynamic is None:
            raise ValueError(
                "the forecaster was fitted without a `dynamic` frame, so no model reads "
                f"covariates. {fix}"
            )
        return validate_dynamic(
            dynamic, pd.Index(self.arrays_.ids), data.freq, data.columns, static=data.static
        )

    def _plan(self, dynamic: Any) -> pd.DataFrame | None:
        """The validated plan for the forecast periods, or None."""
        if dynamic is None:
            return None
        data = self.data_
        plan = self._validated_dynamic(
            dynamic, "Fix: fit with dynamic=... holding the plan's columns for the history."
        )
        given = plan.columns.drop(data.columns.key).tolist()
        unknown = [c for c in given if c not in data.dynamic.columns]
        lagged = [c for c in given if c not in unknown and not self.covariates_.is_known_future(c)]
        if unknown or lagged or not given:
            raise ValueError(
                f"the plan (`dynamic`) must hold known-in-advance columns of the fit "
                f"{[c for c in data.dynamic.columns if self.covariates_.is_known_future(c)]}; "
                f"it has {given}"
                + (f"; {unknown} were not in the fitted `dynamic`" if unknown else "")
                + (
                    f"; {lagged} are not known in advance (read from the past only), so a "
                    "plan of them changes nothing: declare them with fit(..., "
                    "known_future=[...]) if they are planned"
                    if lagged
                    else ""
                )
                + "."
            )
        return plan

    def _recommended(self, capability: str, lacking: str) -> Model:
        """The first model of the line-up, which must have the capability flag."""
        model = self.models_[0]
        if not getattr(model, capability):
            raise ValueError(
                f"The forecaster's first model ({model.alias}) {lacking}. Fix: put LightGBM "
                "first, e.g. Forecaster([LightGBM(), ...])."
            )
        return model

    def _check_quantiles(self, quantiles: Sequence[float] | None) -> tuple[float, ...]:
        quantiles = tuple(self.quantiles if quantiles is None else quantiles)
        bad = [q for q in quantiles if not 0 < q < 1]
        if bad:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {bad}.")
        repeated = sorted({q for q in quantiles if quantiles.count(q) > 1})
        if repeated:
            raise ValueError(f"quantiles {repeated} are given twice; give each level once.")
        return quantiles


_SAVED = {
    **SAVED_CLASSES,
    "Forecaster": "trendcast.forecaster",
    "ShopData": "trendcast.data.contract",
}


@dataclasses.dataclass
class RowMatch:
    """Validated sales rows matched against the series of `SeriesArrays`.

    Attributes:
        position: each row's series in the arrays.
        held: the rows whose period the arrays hold (or that lie before a series' start).
        before: of those, the rows dated before their series' first period.
        rows: for held rows (not before), their position in ``arrays.values``.
        differ: held rows with another value than the arrays' (or dated before the start).
        fresh: the rows after their series' end, sorted by series and period, index reset.
        fresh_series: each fresh row's series position.
    """

    position: np.ndarray
    held: np.ndarray
    before: np.ndarray
    rows: np.ndarray
    differ: np.ndarray
    fresh: pd.DataFrame
    fresh_series: np.ndarray


def match_rows(
    sales: pd.DataFrame, arrays: SeriesArrays, columns: Columns, *, owner: str
) -> RowMatch:
    """Which validated ``sales`` rows the arrays hold (with the same value or not) and which
    come after their series' ends; ``owner`` names the arrays' holder in messages.

    Raises:
        ValueError: rows of series not in ``arrays``.
        DataValidationError: new rows of a series that do not start right after its end.
    """
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    position = pd.Index(arrays.ids).get_indexer(sales[id_col])
    if (position < 0).any():
        unknown = pd.unique(sales.loc[position < 0, id_col])
        raise ValueError(
            f"{len(unknown)} series are not in the {owner}, e.g. {list(map(str, unknown[:3]))}:"
            f" new rows extend the series the {owner} holds. Fix: leave them out, or fit "
            "again with them."
        )
    periods = period_index(sales[time_col], arrays.freq)
    last = period_index(arrays.last_ds, arrays.freq)[position]
    offset = periods - (last - arrays.lengths[position] + 1)
    held = periods <= last
    before = held & (offset < 0)
    rows = arrays.indptr[position] + np.where(held & ~before, offset, 0)
    given = sales[target_col].to_numpy(np.float64)
    differ = held & (before | (arrays.values[rows] != given))
    series, period, end = position[~held], periods[~held], last[~held]
    order = np.lexsort((period, series))
    series, period, end = series[order], period[order], end[order]
    fresh = sales.loc[~held].iloc[order].reset_index(drop=True)
    # Validated rows have no gaps within a series: its first new row must follow its end.
    first = np.r_[True, series[1:] != series[:-1]]
    gap = first & (period > end + 1)
    if gap.any():
        shown = fresh.loc[gap, [id_col, time_col]].rename(columns={time_col: "first_new"})
        shown.insert(1, "last_held", arrays.last_ds[series[gap]])
        raise DataValidationError(
            f"{int(gap.sum())} series' new rows do not start right after their last period in "
            f"the {owner}: the periods between are missing.",
            column=time_col,
            rows=shown.set_index(id_col),  # by series: validating re-sorted the rows
            fix="add the missing periods (0 for periods without sales).",
        )
    return RowMatch(position, held, before, rows, differ, fresh, series)


def _fresh_rows(
    sales: pd.DataFrame, arrays: SeriesArrays, columns: Columns
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of validated ``sales`` past their series' ends, sorted as the arrays, and
    each one's series position; rows held with the same value are left out, rows held with
    another value refused."""
    match = match_rows(sales, arrays, columns, owner="forecaster")
    if match.differ.any():
        differ, target_col = match.differ, columns.target_col
        shown = sales.loc[differ, [columns.id_col, columns.time_col, target_col]]
        shown = shown.rename(columns={target_col: "new"})
        held = np.where(match.before, np.nan, arrays.values[match.rows])
        shown.insert(2, "held", held[differ])
        raise DataValidationError(
            f"{int(differ.sum())} rows hold another value than the forecaster has for their "
            "period (held: NaN before the series' first period).",
            column=target_col,
            rows=shown.set_index(columns.id_col),
            fix="leave them out to keep the history fitted, or fit again on the corrected history.",
        )
    return match.fresh, match.fresh_series


def with_rows(
    sales: pd.DataFrame,
    arrays: SeriesArrays,
    fresh: pd.DataFrame,
    series: np.ndarray,
    columns: Columns,
) -> pd.DataFrame:
    """``sales`` (the rows of ``arrays``, in their order) with the ``fresh`` rows of
    `match_rows` (``series``: their positions) after their series' ends."""
    if fresh.empty:
        return sales
    ids = sales[columns.id_col]
    if isinstance(ids.dtype, pd.CategoricalDtype):  # every fresh id is one of them
        fresh = fresh.assign(
            **{columns.id_col: pd.Categorical(fresh[columns.id_col], ids.cat.categories)}
        )
    at = np.repeat(arrays.indptr[1:], np.bincount(series, minlength=arrays.n_series))
    order = np.insert(np.arange(len(sales)), at, len(sales) + np.arange(len(fresh)))
    combined = pd.concat([sales, fresh[sales.columns]], ignore_index=True)
    return combined.iloc[order].reset_index(drop=True)


def overlay_dynamic(dynamic: pd.DataFrame, rows: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """``dynamic`` with ``rows`` in place of its own for the same series and date (added
    where it had none), sorted by id and date; only its rows from the first new date on are
    merged, so a long history is not reindexed for a day's rows."""
    from trendcast.features.covariates import apply_plan

    if rows.empty:
        return dynamic
    recent = dynamic[columns.time_col] >= rows[columns.time_col].min()
    merged = apply_plan(dynamic[recent], rows, columns)
    combined = pd.concat([dynamic[~recent], merged], ignore_index=True)
    return combined.sort_values(columns.key, kind="stable", ignore_index=True)


def _min_history(arrays: SeriesArrays, h: int, n_windows: int, step: int | None) -> int:
    """Two seasons of history before a backtest cutoff, or half the longest history before
    the first cutoff when no series has two seasons there."""
    before_first = int(arrays.lengths.max()) - h - (n_windows - 1) * (step or h)
    return max(1, min(2 * season_length(arrays.freq), before_first // 2))


def _covariates(
    data: ShopData,
    known_future: Sequence[str] | None,
    categorical: Sequence[str] | None,
    groups: Sequence[str] | None,
) -> Covariates:
    """The side frames with the user's declarations, checked against the frames' columns."""
    for name, declared, frame in (
        ("known_future", known_future, data.dynamic),
        ("categorical", categorical, data.static),
        ("groups", groups, data.static),
    ):
        if declared is None:
            continue
        if isinstance(declared, str):
            raise TypeError(f"{name} takes a list of column names, got the string {declared!r}.")
        have = [] if frame is None else frame.columns.drop(data.columns.id_col, errors="ignore")
        missing = [c for c in declared if c not in have]
        if missing:
            side = "dynamic" if name == "known_future" else "static"
            raise ValueError(
                f"{name}={list(declared)} names {missing}, which the {side} frame does not "
                f"have; it has {list(have)}."
            )
    if groups is not None:
        categorical = list(dict.fromkeys([*(categorical or ()), *groups]))
    return Covariates(
        static=data.static,
        dynamic=data.dynamic,
        columns=data.columns,
        known_future=None if known_future is None else tuple(known_future),
        categorical=None if categorical is None else tuple(categorical),
        groups=None if groups is None else tuple(groups),
    )


def _declarations(covariates: Covariates) -> Covariates:
    """The declarations without the frames (the forecaster keeps those in ``data_``)."""
    return dataclasses.replace(covariates, static=None, dynamic=None)


def covariate_report(
    data: ShopData, covariates: Covariates, models: Sequence[Model]
) -> pd.DataFrame:
    """How each side-frame column is used: one row per column, with who decided it.

    Columns: ``frame`` (static or dynamic), ``column``, ``use`` (in words, from the first model
    that reads side frames, else as declared) and ``decided_by`` (the declaration or the rule).
    """
    reader = next((m for m in models if hasattr(m, "covariate_usage")), None)
    usage = reader.covariate_usage() if reader else {}
    static_usage = reader.static_usage_ if reader else {}
    rows = []
    if data.dynamic is not None:
        for name in data.dynamic.columns.drop(data.columns.key):
            known = covariates.is_known_future(name)
            if covariates.known_future is not None:
                decided = "known_future=" if known else "not in known_future="
            else:
                decided = "name rule (price*, promo*, event*, ...)"
            default = "known in advance" if known else "not known in advance: past values only"
            rows.append(("dynamic", name, usage.get(name, default), decided))
    if data.static is not None:
        declared = set(covariates.categorical or ())
        for name in data.static.columns.drop(data.columns.id_col):
            decided = "categorical=" if name in declared else "column type"
            use = static_usage.get(name, "category" if name in declared else "by type")
            if name in (covariates.groups or ()):
                use += "; group for shared movement (groups=)"
            rows.append(("static", name, use, decided))
    return pd.DataFrame(rows, columns=["frame", "column", "use", "decided_by"])


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
