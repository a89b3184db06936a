"""Rolling-origin backtesting on grouped arrays that never shows a model the future.

For each cutoff, every series is cut to the values at or before the cutoff (a copy: later values
are physically absent), fresh copies of the models are fitted on that and forecast ``h`` periods.
Forecasts are kept where actuals exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trendcast._progress import progress_bar
from trendcast.data.arrays import Covariates, SeriesArrays, period_index, shift_periods
from trendcast.data.contract import Columns
from trendcast.models.base import Model, predictions_to_frame


@dataclass
class Backtest:
    """Backtest forecasts and what was left out.

    Attributes:
        forecasts: long frame: id, ds, ``cutoff``, target, one column per model (and quantiles).
        cutoffs: the forecast origins, oldest first.
        models: the model aliases, one forecast column each.
        quantiles: the quantile levels forecast.
        excluded: per cutoff, the number of series left out for too short a history.
    """

    forecasts: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    models: list[str]
    quantiles: tuple[float, ...] = ()
    excluded: dict[pd.Timestamp, int] = field(default_factory=dict)


def cutoff_dates(data: SeriesArrays, *, h: int, n_windows: int, step: int) -> list[pd.Timestamp]:
    """Origins of ``n_windows`` windows of ``h`` periods, ``step`` apart, ending at the last date."""
    if n_windows < 1 or h < 1 or step < 1:
        raise ValueError(f"h, n_windows and step must be positive, got {h}, {n_windows}, {step}.")
    last = np.max(data.last_ds)
    back = h + step * np.arange(n_windows - 1, -1, -1)
    return [pd.Timestamp(t) for t in shift_periods(np.repeat(last, n_windows), -back, data.freq)]


def backtest(
    data: SeriesArrays,
    models: Sequence[Model],
    *,
    h: int,
    n_windows: int = 3,
    step: int | None = None,
    quantiles: Sequence[float] = (),
    min_history: int = 1,
    covariates: Covariates | None = None,
    columns: Columns = Columns(),
    progress: bool = False,
) -> Backtest:
    """Rolling-origin evaluation of ``models`` on ``data``.

    Args:
        data: validated series.
        models: unfitted model templates; each window fits a fresh copy.
        h: forecast horizon in periods.
        n_windows: number of forecast origins.
        step: periods between origins (default ``h``: windows side by side, no overlap).
        quantiles: quantile levels to forecast.
        min_history: series with fewer values before a cutoff are left out of that window
            (counted in ``Backtest.excluded``).
        covariates: static and dynamic frames for models that use them. Dynamic rows after a
            cutoff count as known in advance (price plans, promotions, events); models use
            other dynamic columns only up to the cutoff.
        columns: output column names.
        progress: show a progress bar.

    Returns:
        Backtest with the forecasts next to the actuals.
    """
    step = h if step is None else step
    cutoffs = cutoff_dates(data, h=h, n_windows=n_windows, step=step)
    first_period = period_index(data.last_ds, data.freq) - data.lengths + 1
    frames, excluded = [], {}
    with progress_bar(n_windows * len(models), "backtest", enabled=progress) as advance:
        for cutoff in cutoffs:
            cutoff_period = period_index(pd.DatetimeIndex([cutoff]), data.freq)[0]
            keep = np.clip(cutoff_period - first_period + 1, 0, data.lengths)
            select = (keep >= max(min_history, 1)) & (keep < data.lengths)
            excluded[cutoff] = int(np.sum((keep < max(min_history, 1)) & (keep < data.lengths)))
            if not select.any():
                for model in models:
                    advance(f"{cutoff:%Y-%m-%d} {model.alias}: no series")
                continue
            history = data.head(keep, select=select)
            predictions = {}
            for model in models:
                fitted = model.clone().fit(history, covariates)
                predictions[model.alias] = fitted.predict(h, quantiles)
                advance(f"{cutoff:%Y-%m-%d} {model.alias}")
            window = predictions_to_frame(history, predictions, h, quantiles, columns)
            window.insert(2, "cutoff", cutoff)
            # Actuals sit right after each series' cut; keep the periods that have one.
            ahead = keep[select, None] + np.arange(h)
            observed = (ahead < data.lengths[select, None]).reshape(-1)
            positions = (data.indptr[:-1][select, None] + ahead).reshape(-1)[observed]
            window = window[observed]
            window.insert(3, columns.target_col, data.values[positions])
            frames.append(window)
    if not frames:
        raise ValueError(
            f"no series has {min_history} values before the first cutoff {cutoffs[0]:%Y-%m-%d}: "
            "use fewer windows, a shorter horizon or a smaller min_history."
        )
    forecasts = pd.concat(frames, ignore_index=True)
    return Backtest(
        forecasts=forecasts,
        cutoffs=cutoffs,
        models=[m.alias for m in models],
        quantiles=tuple(quantiles),
        excluded=excluded,
    )


def score_backtest(
    result: Backtest,
    history: pd.DataFrame,
    *,
    seasonality: int = 1,
    columns: Columns = Columns(),
) -> pd.DataFrame:
    """Summary scores of a backtest, one row per model (lower is better, except coverage).

    WAPE is pooled over all series and windows; MAE, RMSE, bias and MASE are means over series.
    MASE scales by each series' history before the first cutoff, so no window sees its future.
    With quantiles, adds the mean pinball loss and the coverage of the outermost interval.
    """
    from trendcast.evaluation import metrics

    df, models, quantiles = result.forecasts, result.models, result.quantiles
    keywords = {"id_col": columns.id_col, "target_col": columns.target_col}
    train = history[history[columns.time_col] <= result.cutoffs[0]]
    scored = df[df[columns.id_col].isin(train[columns.id_col].unique())]
    table = {
        "WAPE": metrics.wape(df, list(models), pooled=True, **keywords).iloc[0],
        "MASE": metrics.mase(
            scored,
            list(models),
            seasonality=seasonality,
            train_df=train,
            time_col=columns.time_col,
            **keywords,
        ).mean(numeric_only=True),
        "MAE": metrics.mae(df, list(models), **keywords).mean(numeric_only=True),
        "RMSE": metrics.rmse(df, list(models), **keywords).mean(numeric_only=True),
        "bias": metrics.bias(df, list(models), **keywords).mean(numeric_only=True),
    }
    if quantiles:
        table["pinball"] = metrics.pinball_loss(
            df, list(models), quantiles=list(quantiles), **keywords
        ).mean(numeric_only=True)
        lo, hi = min(quantiles), max(quantiles)
        if lo < 0.5 < hi:
            table[f"coverage {hi - lo:.0%}"] = metrics.coverage(
                df, list(models), interval=(lo, hi), **keywords
            ).mean(numeric_only=True)
    scores = pd.DataFrame({name: pd.Series(values)[list(models)] for name, values in table.items()})
    scores.index.name = "model"
    return scores.astype(float)
