"""Time-budgeted hyperparameter search for the global `LightGBM` model (optuna, optional).

The search scores each candidate with the library's own rolling-origin backtest: the last
``h * n_windows`` periods of the frame it is given are split into ``n_windows`` validation
windows, and for each window every series is cut at the window's origin before a fresh model is
fitted, so no candidate ever sees the periods it is scored on.

Keep your test window out of the search: pass only the data before it. The function receives
nothing else, so the periods you later report accuracy on cannot influence the chosen
hyperparameters. Needs the ``tune`` extra: ``pip install "trendcast[tune]"``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from trendcast.data.validate import validate
from trendcast.evaluation.backtest import score_backtest
from trendcast.forecaster import Forecaster, season_length
from trendcast.models.gbm import LightGBM

METRICS = {"wape": "WAPE", "rmse": "RMSE", "mase": "MASE", "pinball": "pinball"}

# Each searched parameter and how a trial draws it. The ranges hold the LightGBM defaults, which
# the first trial always evaluates.
_SPACE: dict[str, Callable[[Any], Any]] = {
    "learning_rate": lambda t: t.suggest_float("learning_rate", 0.03, 0.2, log=True),
    "num_leaves": lambda t: t.suggest_int("num_leaves", 15, 255, log=True),
    "min_data_in_leaf": lambda t: t.suggest_int("min_data_in_leaf", 10, 300, log=True),
    "feature_fraction": lambda t: t.suggest_float("feature_fraction", 0.5, 1.0),
    "lambda_l2": lambda t: t.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    "objective": lambda t: t.suggest_categorical(
        "objective", ["tweedie", "poisson", "regression_l1"]
    ),
    # Drawn only when the objective is tweedie (see _suggest).
    "tweedie_variance_power": lambda t: t.suggest_float("tweedie_variance_power", 1.05, 1.6),
}


@dataclass
class TuningResult:
    """Outcome of `tune_lightgbm`.

    Attributes:
        best_params: the searched hyperparameters of the best trial; pass them to `LightGBM`
            together with the fixed ones, or call `model`.
        best_score: validation score of the best trial (lower is better).
        default_score: validation score of the LightGBM defaults (the first trial), so
            ``best_score <= default_score``.
        trials: one row per trial: ``number``, ``params`` (dict), ``score`` (NaN where the
            metric was undefined), ``seconds``.
        fixed: the hyperparameters held fixed in every trial.
        metric: the metric minimised.
        cutoffs: origins of the validation windows, oldest first.
    """

    best_params: dict[str, Any]
    best_score: float
    default_score: float
    trials: pd.DataFrame
    fixed: dict[str, Any]
    metric: str
    cutoffs: list[pd.Timestamp]

    def model(self) -> LightGBM:
        """An unfitted `LightGBM` with the fixed and the best hyperparameters."""
        return LightGBM(**self.fixed, **self.best_params)


def tune_lightgbm(
    df: Any,
    *,
    h: int,
    n_windows: int = 2,
    static: Any = None,
    dynamic: Any = None,
    time_budget: float | None = 300,
    n_trials: int | None = None,
    metric: str = "wape",
    quantiles: Sequence[float] = (),
    seed: int = 0,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    progress: bool = False,
    **fixed: Any,
) -> TuningResult:
    """Searches LightGBM hyperparameters on rolling-origin validation windows within ``df``.

    Each trial runs ``Forecaster([LightGBM(**fixed, **params)]).backtest(df, h=h,
    n_windows=n_windows)``: the last ``h * n_windows`` periods of ``df`` are the validation
    windows, and each window's model is fitted only on the values before its origin. Pass only
    the data before your test window; nothing else reaches the search, and rows of ``dynamic``
    dated after the last date of ``df`` are dropped, so not even planned covariates of the test
    window are read.

    The first trial is always the LightGBM defaults, so the result is never worse than them on
    the validation windows. Then a seeded TPE sampler draws from: ``learning_rate`` (0.03-0.2,
    log), ``num_leaves`` (15-255, log), ``min_data_in_leaf`` (10-300, log),
    ``feature_fraction`` (0.5-1), ``lambda_l2`` (0.001-10, log), ``objective`` (tweedie,
    poisson, regression_l1) and, for tweedie, ``tweedie_variance_power`` (1.05-1.6).

    Args:
        df: long sales frame (pandas or polars), ending where your test window starts.
        h: forecast horizon of each validation window, in periods.
        n_windows: number of validation windows, side by side at the end of ``df``.
        static, dynamic: covariate frames, as for `Forecaster.fit`.
        time_budget: seconds after which no new trial starts (the one running finishes).
            None: no limit, then ``n_trials`` must be given.
        n_trials: most trials, the default one included. None: until the time budget ends.
        metric: ``"wape"`` (pooled over series and windows), ``"rmse"`` or ``"mase"`` (means
            over series; MASE is scaled by the history before the first window), or
            ``"pinball"`` (mean quantile loss; needs ``quantiles``). Lower is better.
        quantiles: quantile levels scored by ``metric="pinball"``.
        seed: seed of the sampler; the same seed and data give the same trials. LightGBM's own
            seed is a fixed parameter (``seed=``, default 0).
        id_col, time_col, target_col: column names of the long frames.
        progress: show a progress bar over the trials.
        **fixed: `LightGBM` keyword arguments used in every trial and left out of the search,
            e.g. ``n_estimators=300`` or ``objective="poisson"``.

    Returns:
        TuningResult with the best hyperparameters, the scores and every trial.

    Raises:
        ValueError: on an unknown metric, missing quantiles for ``"pinball"``, an unknown
            LightGBM parameter in ``fixed``, or no stopping rule.
        ImportError: when optuna is not installed.

    Example:
        >>> from trendcast import simulate_shop
        >>> shop = simulate_shop(n_items=6, n_stores=1, n_periods=250, reviews=False)
        >>> result = tune_lightgbm(shop.data.sales, h=7, n_trials=2, n_estimators=30)
        >>> len(result.trials), result.best_score <= result.default_score
        (2, True)
        >>> result.model().n_estimators
        30
    """
    key, quantiles = _check_arguments(metric, quantiles, time_budget, n_trials, fixed)
    searched = _searched(fixed)
    optuna = _import_optuna()

    data = validate(
        df,
        static=static,
        dynamic=dynamic,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
    )
    last = data.sales[time_col].max()
    known = None if data.dynamic is None else data.dynamic[data.dynamic[time_col] <= last]
    cutoffs: list[pd.Timestamp] = []

    def evaluate(params: dict[str, Any]) -> float:
        forecaster = Forecaster(
            [LightGBM(**fixed, **params)],
            freq=data.freq,
            id_col=id_col,
            time_col=time_col,
            target_col=target_col,
        )
        forecaster.backtest(
            data.sales,
            h=h,
            n_windows=n_windows,
            quantiles=quantiles,
            static=data.static,
            dynamic=known,
        )
        result = forecaster.backtest_
        cutoffs[:] = result.cutoffs
        scores = score_backtest(
            result, data.sales, seasonality=season_length(data.freq), columns=data.columns
        )
        return float(scores.loc[result.models[0], key])

    def objective(trial: Any) -> float:
        score = evaluate(_suggest(trial, searched, fixed))
        if trial.number == 0 and not math.isfinite(score):
            raise ValueError(
                f"the default LightGBM scores {score} in {metric} on the validation windows, "
                "so no trial can be compared: the actuals there may be all zero (wape) or the "
                "series constant (mase). Use another metric, more windows or more series."
            )
        return score

    # optuna logs every trial at INFO; a library call keeps quiet unless something is wrong.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        study.enqueue_trial(_defaults(searched, fixed))
        study.optimize(
            objective, n_trials=n_trials, timeout=time_budget, show_progress_bar=progress
        )
    finally:
        optuna.logging.set_verbosity(verbosity)

    complete = optuna.trial.TrialState.COMPLETE
    trials = pd.DataFrame(
        [
            {
                "number": t.number,
                "params": dict(t.params),
                "score": t.value if t.state == complete else math.nan,
                "seconds": t.duration.total_seconds() if t.duration else math.nan,
            }
            for t in study.trials
        ],
        columns=["number", "params", "score", "seconds"],
    )
    return TuningResult(
        best_params=dict(study.best_trial.params),
        best_score=float(study.best_value),
        default_score=float(study.trials[0].value),
        trials=trials,
        fixed=dict(fixed),
        metric=metric,
        cutoffs=list(cutoffs),
    )


def _check_arguments(
    metric: str,
    quantiles: Sequence[float],
    time_budget: float | None,
    n_trials: int | None,
    fixed: dict[str, Any],
) -> tuple[str, tuple[float, ...]]:
    """Checks the cheap arguments before any data is read; returns the score column."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {sorted(METRICS)}.")
    quantiles = tuple(quantiles)
    if metric == "pinball" and not quantiles:
        raise ValueError(
            "metric='pinball' scores quantile forecasts: pass quantiles, e.g. "
            "quantiles=(0.1, 0.5, 0.9)."
        )
    if metric != "pinball" and quantiles:
        raise ValueError(
            f"quantiles are scored only by metric='pinball', not {metric!r}: pass "
            "metric='pinball' or drop quantiles."
        )
    if time_budget is None and n_trials is None:
        raise ValueError("give a time_budget (seconds) or n_trials, or both: the search must stop.")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be a positive number of seconds, got {time_budget}.")
    if n_trials is not None and n_trials < 1:
        raise ValueError(f"n_trials must be at least 1 (the default trial), got {n_trials}.")
    allowed = set(inspect.signature(LightGBM).parameters)
    unknown = sorted(set(fixed) - allowed)
    if unknown:
        raise ValueError(
            f"unknown LightGBM parameter(s) {unknown}: fixed keyword arguments go to "
            f"LightGBM, which takes {sorted(allowed)}."
        )
    if not _searched(fixed):
        raise ValueError(
            f"every searched parameter is fixed ({sorted(_SPACE)}): nothing is left to tune."
        )
    return METRICS[metric], quantiles


def _searched(fixed: dict[str, Any]) -> list[str]:
    """The parameters left to search once ``fixed`` is taken out."""
    # A fixed objective other than tweedie has no variance power to search.
    unused = set() if fixed.get("objective", "tweedie") == "tweedie" else {"tweedie_variance_power"}
    return [name for name in _SPACE if name not in fixed and name not in unused]


def _objective_of(params: dict[str, Any], fixed: dict[str, Any]) -> str:
    return fixed.get("objective", params.get("objective"))


def _suggest(trial: Any, searched: list[str], fixed: dict[str, Any]) -> dict[str, Any]:
    """A trial's draw of the searched parameters; the tweedie power only for tweedie."""
    params: dict[str, Any] = {}
    for name in searched:
        if name == "tweedie_variance_power" and _objective_of(params, fixed) != "tweedie":
            continue
        params[name] = _SPACE[name](trial)
    return params


def _defaults(searched: list[str], fixed: dict[str, Any]) -> dict[str, Any]:
    """LightGBM's own defaults of the searched parameters, as the first trial."""
    signature = inspect.signature(LightGBM).parameters
    params = {name: signature[name].default for name in searched}
    if _objective_of(params, fixed) != "tweedie":
        params.pop("tweedie_variance_power", None)
    return params


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as error:
        raise ImportError(
            'tune_lightgbm needs optuna, an optional dependency: pip install "trendcast[tune]"'
        ) from error
    return optuna
