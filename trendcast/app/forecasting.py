"""Backtest, train and save, forecast from a saved model with the plan of the day."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from trendcast.app.shop import as_frame, data_hash, to_periods, training_span
from trendcast.data.contract import ShopData
from trendcast.data.registry import ModelVersion
from trendcast.data.store import as_workspace
from trendcast.forecaster import DEFAULT_QUANTILES, Forecaster, default_models, season_length
from trendcast.models.base import Model

FORECASTER_KIND = "forecaster"
_FOLDER = "forecaster"  # the saved forecaster's folder inside a model version


@dataclass
class Trained:
    """A forecaster fitted on a shop and saved as a new model version."""

    version: ModelVersion
    forecaster: Forecaster
    scores: pd.DataFrame | None  # backtest scores per model; None without a backtest
    fit_seconds: float
    backtest: Any = None  # the backtest forecasts, beside the actuals; None without one


@dataclass
class Forecast:
    """Forecasts, what produced them and the run that stored them (None when not stored)."""

    forecasts: Any
    model: str | None = None
    run_id: str | None = None
    explanations: Any = None


def backtest_shop(
    data: ShopData,
    forecaster: Forecaster,
    *,
    horizon: int | str,
    n_windows: int = 3,
    step: int | None = None,
    min_history: int | None = None,
    **declarations: Any,
) -> tuple[Any, pd.DataFrame]:
    """Rolling-origin backtest of the forecaster's models on the shop, and its scores
    (one row per model). ``horizon``: periods, or a span such as ``"8w"`` (`to_periods`).
    ``declarations``: ``known_future``, ``categorical``, ``groups``."""
    from trendcast.evaluation.backtest import score_backtest

    horizon = to_periods(horizon, data.freq, name="horizon")
    frame = forecaster.backtest(
        data, h=horizon, n_windows=n_windows, step=step, min_history=min_history, **declarations
    )
    scores = score_backtest(
        forecaster.backtest_,
        data.sales,
        seasonality=season_length(data.freq),
        columns=data.columns,
    )
    return frame, scores


def train(
    data: ShopData,
    workspace: Any,
    name: str,
    *,
    models: Sequence[Model] | None = None,
    horizon: int | str,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    n_windows: int = 1,
    known_future: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    promote: bool = True,
    progress: bool = False,
) -> Trained:
    """Backtests the models on the shop's last ``n_windows`` horizons, fits them on all of it
    and saves the forecaster as a new version of ``name`` in the workspace.

    The version records the parameters, the trendcast version, a hash of the training data,
    its span, the backtest scores and how each covariate is used.

    Args:
        models: the line-up (default: `trendcast.forecaster.default_models`); those that
            learn for a horizon and were given none learn for ``horizon``.
        horizon: periods forecast, backtested and the default of `forecast_saved`, or a span
            such as ``"8w"`` (`to_periods`).
        n_windows: backtest windows before the fit (0: no backtest, no scores).
        known_future, categorical, groups: covariate declarations, as `Forecaster.fit`.
        promote: make the new version the one ``name`` refers to.
    """
    from trendcast import __version__

    declarations = {"known_future": known_future, "categorical": categorical, "groups": groups}
    horizon = to_periods(horizon, data.freq, name="horizon")
    forecaster = Forecaster(
        _for_horizon(default_models(data.freq) if models is None else models, horizon),
        freq=data.freq,
        quantiles=quantiles,
        id_col=data.columns.id_col,
        time_col=data.columns.time_col,
        target_col=data.columns.target_col,
        progress=progress,
    )
    backtest, scores = None, None
    if n_windows:
        backtest, scores = backtest_shop(
            data, forecaster, horizon=horizon, n_windows=n_windows, **declarations
        )
    started = time.perf_counter()
    forecaster.fit(data, **declarations)  # validated once, by read_shop
    fit_seconds = time.perf_counter() - started
    meta = {
        "trendcast": __version__,
        "params": {
            "quantiles": list(forecaster.quantiles),
            "models": [
                {"class": type(m).__name__, "alias": m.alias, "params": m.get_params()}
                for m in forecaster.templates_
            ],
            **declarations,
        },
        "recommended": forecaster.default_alias_,
        "data_hash": data_hash(data),
        "span": training_span(data),
        "freq": data.freq,
        "columns": asdict(data.columns),
        "horizon": horizon,
        "scores": None if scores is None else scores.to_dict(orient="index"),
        "covariates": forecaster.report_.to_dict(orient="records"),
        "fit_seconds": round(fit_seconds, 3),
    }
    version = as_workspace(workspace).models.save(
        name,
        lambda folder: forecaster.save(folder / _FOLDER),
        kind=FORECASTER_KIND,
        meta=meta,
        promote=promote,
    )
    return Trained(version, forecaster, scores, fit_seconds, backtest)


def _for_horizon(models: Sequence[Model], horizon: int) -> list[Model]:
    """The models, those that learn for a horizon (``horizon=None``: their default) set to
    learn for this one, so forecasting it needs no re-estimation."""
    return [
        m.clone().set_params(horizon=horizon)
        if "horizon" in m.get_params() and m.get_params()["horizon"] is None
        else m
        for m in models
    ]


def load_saved(workspace: Any, model: str) -> tuple[Forecaster, ModelVersion]:
    """The forecaster saved as ``model`` (``NAME`` or ``NAME@VERSION``) and its version."""
    version = as_workspace(workspace).models.get(model)
    if version.kind != FORECASTER_KIND:
        raise ValueError(
            f"'{version.ref}' is a {version.kind} model, not a forecaster; train one with "
            "`trendcast train SALES --workspace ... --name NAME`."
        )
    return Forecaster.load(version.path / _FOLDER), version


def forecast_saved(
    workspace: Any,
    model: str,
    *,
    horizon: int | str | None = None,
    dynamic: Any = None,
    quantiles: Sequence[float] | None = None,
    explain: bool = False,
    store: bool = True,
) -> Forecast:
    """Forecasts with a saved forecaster, no refit: ``dynamic`` is the plan of the forecast
    periods (prices, promotions, events known in advance), replacing the one it was fitted
    with for the same series and dates.

    Args:
        model: ``NAME`` (the version in production) or ``NAME@VERSION``.
        horizon: periods to forecast, or a span such as ``"8w"`` (default: the one it was
            trained for).
        dynamic: frame or file (CSV, Parquet) of id, date and known-in-advance columns.
        explain: also explain the recommended model's forecasts (LightGBM).
        store: write the forecasts (and explanations) to the workspace as
            ``{NAME}_forecasts``, marked with the model version and a run id.
    """
    forecaster, version = load_saved(workspace, model)
    horizon = horizon or version.meta.get("horizon")
    if not horizon:
        raise ValueError(f"'{version.ref}' records no horizon: pass one.")
    horizon = to_periods(horizon, forecaster.data_.freq, name="horizon")
    ids = [forecaster.data_.columns.id_col]
    plan = as_frame(dynamic, text_columns=ids) if dynamic is not None else None
    frame = forecaster.predict(horizon, quantiles=quantiles, dynamic=plan)
    result = Forecast(frame, model=version.ref)
    if explain:
        result.explanations = forecaster.explain(horizon, dynamic=plan)
    if store:
        results = {f"{version.name}_forecasts": frame}
        if explain:
            results[f"{version.name}_explanations"] = result.explanations
        meta = {"model": version.ref, "horizon": horizon, "plan": plan is not None}
        result.run_id = as_workspace(workspace).write_run("forecast", meta=meta, results=results)
    return result


def fit_and_forecast(
    data: ShopData,
    forecaster: Forecaster,
    *,
    horizon: int | str,
    explain: bool = False,
    workspace: Any = None,
    **declarations: Any,
) -> Forecast:
    """Fits the forecaster on the whole shop and forecasts ``horizon`` periods (or a span such
    as ``"8w"``); with a workspace, stores the input and the forecasts in one run.
    ``declarations``: ``known_future``, ``categorical``, ``groups`` as `Forecaster.fit` takes
    them."""
    horizon = to_periods(horizon, data.freq, name="horizon")
    forecaster.fit(data, **declarations)
    result = Forecast(forecaster.predict(horizon))
    if explain:
        result.explanations = forecaster.explain(horizon)
    if workspace is not None:
        results = {"forecasts": result.forecasts}
        if explain:
            results["explanations"] = result.explanations
        meta = {"models": [m.alias for m in forecaster.models_], "horizon": horizon}
        result.run_id = as_workspace(workspace).write_run(
            "forecast", meta=meta, shop=("input", data), results=results
        )
    return result


def finetune_chronos(
    data: ShopData,
    workspace: Any,
    name: str,
    *,
    base: str = "trendcast-chronos2-small",
    mode: str = "lora",
    steps: int = 300,
    horizon: int | str | None = None,
) -> tuple[Any, ModelVersion]:
    """Fine-tunes Chronos-2 on the shop (LoRA adapters or all weights) and saves it as a new
    version of ``name``; ``Chronos2(name, workspace=...)`` forecasts with it."""
    from trendcast.data.arrays import Covariates, SeriesArrays
    from trendcast.models.chronos import Chronos2

    if horizon is not None:
        horizon = to_periods(horizon, data.freq, name="horizon")
    model = Chronos2(base, finetune=mode, steps=steps, horizon=horizon, workspace=workspace)
    model.fit(
        SeriesArrays.from_frame(data.sales, data.freq, data.columns),
        Covariates(data.static, data.dynamic, data.columns),
    )
    model.save_to(workspace, name)
    return model, as_workspace(workspace).models.get(name)
