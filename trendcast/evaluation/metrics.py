"""Forecast accuracy metrics: pure functions from a long frame to one row per series.

Every metric takes a long frame ``df`` with an id column, the actuals and one column per model
(quantile forecasts in columns named by :func:`trendcast.data.contract.quantile_column`, e.g.
``"ETS-q-0.9"``) and returns a frame of the same type (pandas in, pandas out; polars in, polars
out) with one row per series, sorted by id, and one column per model. Metrics scaled by the
training history also take ``train_df``. Pooled and weighted metrics return a single row whose id
is ``"all"``.

Shared keyword arguments, documented once here:

* ``id_col``: column identifying each series. Defaults to ``"unique_id"``.
* ``target_col``: column holding the actuals. Defaults to ``"y"``.
* ``time_col``: column ordering ``train_df``; only metrics that read it take it. Defaults to
  ``"ds"``.

Backtests: to score each (series, cutoff) pair, pass a column combining both as ``id_col``, in
``df``, ``train_df`` (holding each pair's history up to its cutoff) and ``weights`` alike.

Undefined values are NaN, never inf: a series whose scale is zero or cannot be computed (constant
or too short training history, actuals all zero for the percentage errors) scores NaN, and
:func:`evaluate` leaves NaN out of its aggregates. Missing actuals or forecasts raise instead.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.data.contract import quantile_column

Frame = Any  # a pandas or polars DataFrame

ALL = "all"  # id of the single row returned by pooled and weighted metrics


# ----------------------------------------------------------------------------- validation


def _prepare(
    df: Frame, models: Sequence[str], columns: Sequence[str], id_col: str, target_col: str
) -> pd.DataFrame:
    """Returns ``df`` as pandas after checking its id, target and forecast ``columns``."""
    if isinstance(models, str) or len(models) == 0:
        raise ValueError(
            f"`models` must be a non-empty list of model aliases, e.g. ['ETS'], got {models!r}."
        )
    data = to_pandas(df, name="df")
    _require(data, [id_col, target_col], "df", "pass `id_col`/`target_col` naming your columns")
    _require(
        data,
        columns,
        "df",
        "pass the model aliases as `models`; quantile forecasts must be named like "
        f"{quantile_column('ETS', 0.9)!r} and intervals like 'ETS-lo-80'",
    )
    for col in [id_col, target_col, *columns]:
        missing = data[col].isna()
        if missing.any():
            series = list(pd.unique(data.loc[missing, id_col])[:3])
            raise ValueError(
                f"`df` column {col!r} has {int(missing.sum())} missing value(s) (e.g. series "
                f"{series}). Every row needs an id, actuals and forecasts: drop or fill those "
                f"rows first, e.g. df.dropna(subset=[{col!r}])."
            )
    return data


def _require(data: pd.DataFrame, columns: Sequence[str], name: str, fix: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"`{name}` has no column(s) {missing}: {fix}. Its columns are {list(data.columns)}."
        )


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    qs = [float(q) for q in np.atleast_1d(quantiles)]
    if not qs or not all(0 < q < 1 for q in qs):
        raise ValueError(
            f"`quantiles` must be a non-empty list of levels in (0, 1), e.g. [0.1, 0.5, 0.9], "
            f"got {quantiles!r}."
        )
    return qs


# ----------------------------------------------------------------------------- shared steps


def _per_series(
    data: pd.DataFrame, values: dict[str, np.ndarray], id_col: str, how: str = "mean"
) -> pd.DataFrame:
    """Aggregates pointwise ``values`` by series; the result is indexed by id, sorted."""
    frame = pd.DataFrame(values, index=data.index)
    return frame.groupby(data[id_col], sort=True, observed=True).agg(how)


def _pointwise(
    df: Frame,
    models: Sequence[str],
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray],
    id_col: str,
    target_col: str,
) -> pd.DataFrame:
    data = _prepare(df, models, models, id_col, target_col)
    y = data[target_col].to_numpy(float)
    return _per_series(data, {m: loss(y, data[m].to_numpy(float)) for m in models}, id_col)


def _out(result: pd.DataFrame, template: Frame) -> Frame:
    return like(result.reset_index(), template)


def _scale(
    train_df: Frame,
    ids: pd.Index,
    *,
    seasonality: int,
    power: int,
    from_first_nonzero: bool,
    id_col: str,
    target_col: str,
    time_col: str,
) -> pd.Series:
    """Mean ``|y_t - y_{t-seasonality}| ** power`` of each series' training history.

    With ``from_first_nonzero`` the history starts at the series' first non-zero observation
    (the M5 rule, so that products not yet launched do not shrink the scale). Zero or
    undefined scales are NaN.
    """
    if int(seasonality) != seasonality or seasonality < 1:
        raise ValueError(f"`seasonality` must be a positive integer, got {seasonality!r}.")
    train = to_pandas(train_df, name="train_df")
    _require(
        train,
        [id_col, time_col, target_col],
        "train_df",
        "pass `id_col`/`time_col`/`target_col` naming its columns",
    )
    codes, uniques = pd.factorize(train[id_col])
    if train[target_col].isna().any() or np.any(codes < 0):
        raise ValueError(
            f"`train_df` has missing values in {id_col!r} or {target_col!r}; fill or drop them "
            "before evaluating."
        )
    time, y = train[time_col].to_numpy(), train[target_col].to_numpy(float)
    same = codes[1:] == codes[:-1]
    if np.any(codes[1:] < codes[:-1]) or np.any(same & (time[1:] < time[:-1])):
        order = np.lexsort((time, codes))
        codes, time, y = codes[order], time[order], y[order]
        same = codes[1:] == codes[:-1]
    if np.any(same & (time[1:] == time[:-1])):
        raise ValueError(
            f"`train_df` has repeated ({id_col!r}, {time_col!r}) pairs; keep one row per series "
            "and period."
        )
    absent = ids.difference(pd.Index(uniques))
    if len(absent):
        raise ValueError(
            f"`train_df` has no history for {len(absent)} series of `df` (e.g. "
            f"{list(absent[:3])}); pass the training data of every evaluated series."
        )
    lag = int(seasonality)
    valid = codes[lag:] == codes[:-lag]
    if from_first_nonzero:
        sales_so_far = np.cumsum(y != 0)
        starts = np.flatnonzero(np.r_[True, ~same])
        before_series = np.repeat(
            sales_so_far[starts] - (y[starts] != 0), np.diff(np.r_[starts, len(y)])
        )
        started = sales_so_far > before_series  # at or after the series' first sale
        valid &= started[:-lag]  # the lagged value must lie in the counted history
    diffs = np.abs(y[lag:] - y[:-lag])[valid] ** power
    counts = np.bincount(codes[lag:][valid], minlength=len(uniques))
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.bincount(codes[lag:][valid], weights=diffs, minlength=len(uniques)) / counts
    scale = pd.Series(means, index=uniques)
    return scale.reindex(ids).replace(0, np.nan)


def _pinball(
    df: Frame, models: Sequence[str], quantiles: Sequence[float], id_col: str, target_col: str
) -> pd.DataFrame:
    """Mean pinball loss per series, one column per (model, quantile) named by quantile_column."""
    columns = {quantile_column(m, q): q for m in models for q in quantiles}
    data = _prepare(df, models, list(columns), id_col, target_col)
    y = data[target_col].to_numpy(float)
    losses = {}
    for col, q in columns.items():
        diff = y - data[col].to_numpy(float)
        losses[col] = np.maximum(q * diff, (q - 1) * diff)
    return _per_series(data, losses, id_col)


def _mean_over_quantiles(
    losses: pd.DataFrame, models: Sequence[str], quantiles: Sequence[float]
) -> pd.DataFrame:
    return pd.DataFrame(
        {m: losses[[quantile_column(m, q) for q in quantiles]].mean(axis=1) for m in models}
    )


def _weighted_sum(scores: pd.DataFrame, weights: Frame, id_col: str, metric: str) -> pd.DataFrame:
    """Sum of weight * score over series, as one row with id ``"all"``."""
    table = to_pandas(weights, name="weights")
    _require(
        table, [id_col, "weight"], "weights", f"pass a frame with columns {id_col!r}, 'weight'"
    )
    if table[id_col].duplicated().any():
        raise ValueError(f"`weights` must hold one row per series; {id_col!r} has duplicates.")
    w = table.set_index(id_col)["weight"].astype(float).reindex(scores.index)
    if w.isna().any():
        raise ValueError(
            f"`weights` has no weight for {int(w.isna().sum())} series of `df` (e.g. "
            f"{list(w.index[w.isna()][:3])}); give every evaluated series a weight."
        )
    if not np.isclose(w.sum(), 1.0):
        raise ValueError(
            f"The weights of the {len(w)} series in `df` sum to {w.sum():.6g}, not 1; "
            "normalise them, e.g. weights['weight'] / weights['weight'].sum()."
        )
    undefined = scores.isna().any(axis=1)
    if undefined.any():
        warnings.warn(
            f"{metric}: {int(undefined.sum())} series have a zero or undefined scale and are "
            f"left out (e.g. {list(scores.index[undefined][:3])}); the weights of the others are "
            "rescaled to sum to 1.",
            stacklevel=3,
        )
        scores, w = scores[~undefined], w[~undefined] / w[~undefined].sum()
    total = scores.mul(w, axis=0).sum(min_count=1).to_frame(ALL).T  # NaN if none is defined
    total.index.name = id_col
    return total


# ----------------------------------------------------------------------------- point metrics


def _absolute(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.abs(y - f)


def _squared(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    return (y - f) ** 2


def mae(df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y") -> Frame:
    """Mean absolute error per series: ``mean(|y - ŷ|)``."""
    return _out(_pointwise(df, models, _absolute, id_col, target_col), df)


def mse(df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y") -> Frame:
    """Mean squared error per series: ``mean((y - ŷ)²)``."""
    return _out(_pointwise(df, models, _squared, id_col, target_col), df)


def rmse(
    df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y"
) -> Frame:
    """Root mean squared error per series: ``sqrt(mean((y - ŷ)²))``."""
    return _out(np.sqrt(_pointwise(df, models, _squared, id_col, target_col)), df)


def bias(
    df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y"
) -> Frame:
    """Mean error per series, forecast minus actual: ``mean(ŷ - y)``.

    Positive means over-forecasting (too much stock), negative under-forecasting.
    """
    return _out(_pointwise(df, models, lambda y, f: f - y, id_col, target_col), df)


def mape(
    df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y"
) -> Frame:
    """Mean absolute percentage error per series: ``mean(|y - ŷ| / |y|)`` as a fraction.

    Rows with ``y == 0`` are left out of the mean, where the ratio is undefined; a series whose
    actuals are all zero scores NaN. Multiply by 100 for the percentages quoted in the M
    competitions (whose data had no zeros). Prefer :func:`wape` for intermittent demand.
    """

    def ape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y == 0, np.nan, np.abs(y - f) / np.abs(y))

    return _out(_pointwise(df, models, ape, id_col, target_col), df)


def smape(
    df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y"
) -> Frame:
    """Symmetric MAPE per series: ``mean(|y - ŷ| / (|y| + |ŷ|))``, between 0 and 1.

    This is the M4 sMAPE (0 to 200%) divided by 200. A row where actual and forecast are both
    zero is a perfect forecast and counts as 0.
    """

    def sape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
        denominator = np.abs(y) + np.abs(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator == 0, 0.0, np.abs(y - f) / denominator)

    return _out(_pointwise(df, models, sape, id_col, target_col), df)


def wape(
    df: Frame,
    models: list[str],
    *,
    pooled: bool = False,
    id_col: str = "unique_id",
    target_col: str = "y",
) -> Frame:
    """Weighted absolute percentage error: ``sum(|y - ŷ|) / sum(|y|)``, as a fraction.

    Args:
        pooled: if False, one value per series (NaN where the actuals sum to zero). If True, the
            sums run over every row of ``df`` and the result is one row with id ``"all"``: the
            volume-weighted WAPE of the whole assortment.
    """
    data = _prepare(df, models, models, id_col, target_col)
    y = data[target_col].to_numpy(float)
    errors = _per_series(
        data, {m: np.abs(y - data[m].to_numpy(float)) for m in models}, id_col, how="sum"
    )
    volume = data[target_col].abs().groupby(data[id_col], sort=True, observed=True).sum()
    if pooled:
        errors, volume = errors.sum().to_frame(ALL).T, pd.Series({ALL: volume.sum()})
        errors.index.name = id_col
    return _out(errors.div(volume.replace(0, np.nan), axis=0), df)


def r2(df: Frame, models: list[str], *, id_col: str = "unique_id", target_col: str = "y") -> Frame:
    """Coefficient of determination per series: ``1 - sum((y - ŷ)²) / sum((y - mean(y))²)``.

    A series whose actuals are constant over the evaluated periods scores NaN.
    """
    data = _prepare(df, models, models, id_col, target_col)
    y = data[target_col].to_numpy(float)
    groups = data.groupby(id_col, sort=True, observed=True)[target_col]
    centred = y - groups.transform("mean").to_numpy(float)
    residual = _per_series(
        data, {m: (y - data[m].to_numpy(float)) ** 2 for m in models}, id_col, how="sum"
    )
    total = _per_series(data, {"total": centred**2}, id_col, how="sum")["total"]
    return _out(1 - residual.div(total.replace(0, np.nan), axis=0), df)


# ----------------------------------------------------------------------------- scaled metrics


def mase(
    df: Frame,
    models: list[str],
    seasonality: int,
    train_df: Frame,
    *,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Mean absolute scaled error per series (Hyndman & Koehler, 2006).

    MAE divided by the in-sample MAE of the seasonal naive forecast,
    ``mean(|y_t - y_{t-seasonality}|)`` over the whole training history.

    Args:
        seasonality: season length of the naive benchmark, e.g. 7 for daily data, 1 for
            the one-step naive.
        train_df: training history with id, time and target columns.
    """
    errors = _pointwise(df, models, _absolute, id_col, target_col)
    scale = _scale(
        train_df,
        errors.index,
        seasonality=seasonality,
        power=1,
        from_first_nonzero=False,
        id_col=id_col,
        target_col=target_col,
        time_col=time_col,
    )
    return _out(errors.div(scale, axis=0), df)


def rmsse(
    df: Frame,
    models: list[str],
    train_df: Frame,
    seasonality: int = 1,
    *,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Root mean squared scaled error per series, as in the M5 accuracy competition.

    ``sqrt(mean((y - ŷ)²) / scale)`` where ``scale`` is the mean of
    ``(y_t - y_{t-seasonality})²`` over the training history counted from the series' first
    non-zero observation.

    Args:
        train_df: training history with id, time and target columns.
        seasonality: lag of the differences; the M5 uses 1.
    """
    errors = _pointwise(df, models, _squared, id_col, target_col)
    scale = _scale(
        train_df,
        errors.index,
        seasonality=seasonality,
        power=2,
        from_first_nonzero=True,
        id_col=id_col,
        target_col=target_col,
        time_col=time_col,
    )
    return _out(np.sqrt(errors.div(scale, axis=0)), df)


def wrmsse(
    df: Frame,
    models: list[str],
    train_df: Frame,
    weights: Frame,
    seasonality: int = 1,
    *,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Weighted RMSSE, ``sum(weight * rmsse)``, as one row with id ``"all"``.

    Series with a zero or undefined scale are left out with a warning and the weights of the
    others rescaled to sum to 1.

    Args:
        train_df: training history with id, time and target columns.
        weights: frame with ``id_col`` and ``"weight"``; the weights of the series in ``df``
            must sum to 1, e.g. from :func:`m5_dollar_weights`.
        seasonality: lag of the differences of the scale; the M5 uses 1.
    """
    scores = to_pandas(
        rmsse(
            df,
            models,
            train_df,
            seasonality,
            id_col=id_col,
            target_col=target_col,
            time_col=time_col,
        )
    ).set_index(id_col)
    return _out(_weighted_sum(scores, weights, id_col, "wrmsse"), df)


def m5_dollar_weights(
    train_df: Frame,
    *,
    price_col: str = "price",
    last_n: int = 28,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Each series' share of dollar sales ``y * price`` over the last ``last_n`` periods.

    These are the M5 weights of the bottom level (one product in one store). The window is the
    last ``last_n`` distinct periods of ``train_df`` as a whole, so a series that stopped
    selling earlier weighs less, or zero.

    Args:
        train_df: training history with id, time, target and price columns. A missing price is
            accepted where nothing sold (a product not yet on sale).
        price_col: column holding the unit price.
        last_n: number of final periods summed; the M5 uses 28 days.

    Returns:
        Frame with ``id_col`` and ``"weight"``, one row per series, weights summing to 1.
    """
    if int(last_n) != last_n or last_n < 1:
        raise ValueError(f"`last_n` must be a positive integer, got {last_n!r}.")
    data = to_pandas(train_df, name="train_df")
    _require(
        data,
        [id_col, time_col, target_col, price_col],
        "train_df",
        "pass `id_col`/`time_col`/`target_col`/`price_col` naming its columns",
    )
    window = data[data[time_col].isin(data[time_col].drop_duplicates().nlargest(int(last_n)))]
    y, price = window[target_col], window[price_col]
    unpriced = y.isna() | (price.isna() & y.ne(0))
    if unpriced.any():
        raise ValueError(
            f"`train_df` has {int(unpriced.sum())} row(s) in the last {last_n} periods with "
            f"sales but a missing {target_col!r} or {price_col!r} (e.g. series "
            f"{list(pd.unique(window.loc[unpriced, id_col])[:3])}); fill them first."
        )
    dollars = (y * price).where(y.ne(0), 0.0)
    sales = dollars.groupby(window[id_col], sort=True, observed=True).sum()
    sales = sales.reindex(pd.Index(data[id_col].unique()).sort_values(), fill_value=0.0)
    if not sales.sum() > 0:
        raise ValueError(
            f"Dollar sales over the last {last_n} periods of `train_df` sum to {sales.sum()}; "
            "weights need positive sales. Use a longer `last_n`."
        )
    weights = (sales / sales.sum()).rename("weight")
    weights.index.name = id_col
    return like(weights.reset_index(), train_df)


# ----------------------------------------------------------------------------- probabilistic


def pinball_loss(
    df: Frame,
    models: list[str],
    quantiles: Sequence[float],
    *,
    per_quantile: bool = False,
    id_col: str = "unique_id",
    target_col: str = "y",
) -> Frame:
    """Pinball (quantile) loss per series, averaged over periods and quantiles.

    For quantile ``q`` and ``d = y - ŷ_q`` the loss is ``max(q·d, (q - 1)·d)``, so the loss of
    the median is half the absolute error. Averaging over evenly spaced quantiles approximates
    half the CRPS.

    Args:
        quantiles: levels in (0, 1); model ``m`` must have the columns
            ``quantile_column(m, q)`` for each, e.g. ``"ETS-q-0.9"``.
        per_quantile: if True, return one column per model and quantile, named by
            ``quantile_column``, instead of the mean over quantiles.
    """
    qs = _check_quantiles(quantiles)
    losses = _pinball(df, models, qs, id_col, target_col)
    return _out(losses if per_quantile else _mean_over_quantiles(losses, models, qs), df)


quantile_loss = pinball_loss


def scaled_pinball_loss(
    df: Frame,
    models: list[str],
    quantiles: Sequence[float],
    train_df: Frame,
    seasonality: int = 1,
    *,
    per_quantile: bool = False,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Scaled pinball loss per series, as in the M5 uncertainty competition.

    :func:`pinball_loss` divided by the mean of ``|y_t - y_{t-seasonality}|`` over the training
    history counted from the series' first non-zero observation.

    Args:
        quantiles: levels in (0, 1); see :func:`pinball_loss`. The M5 used
            0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975 and 0.995.
        train_df: training history with id, time and target columns.
        seasonality: lag of the differences; the M5 uses 1.
        per_quantile: if True, one column per model and quantile instead of their mean.
    """
    qs = _check_quantiles(quantiles)
    losses = _pinball(df, models, qs, id_col, target_col)
    scale = _scale(
        train_df,
        losses.index,
        seasonality=seasonality,
        power=1,
        from_first_nonzero=True,
        id_col=id_col,
        target_col=target_col,
        time_col=time_col,
    )
    losses = losses.div(scale, axis=0)
    return _out(losses if per_quantile else _mean_over_quantiles(losses, models, qs), df)


def wspl(
    df: Frame,
    models: list[str],
    quantiles: Sequence[float],
    train_df: Frame,
    weights: Frame,
    seasonality: int = 1,
    *,
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
) -> Frame:
    """Weighted scaled pinball loss, ``sum(weight * scaled_pinball_loss)``, as one row ``"all"``.

    Weights and undefined scales are handled as in :func:`wrmsse`.
    """
    scores = to_pandas(
        scaled_pinball_loss(
            df,
            models,
            quantiles,
            train_df,
            seasonality,
            id_col=id_col,
            target_col=target_col,
            time_col=time_col,
        )
    ).set_index(id_col)
    return _out(_weighted_sum(scores, weights, id_col, "wspl"), df)


def coverage(
    df: Frame,
    models: list[str],
    level: float | None = None,
    *,
    interval: tuple[float, float] | None = None,
    id_col: str = "unique_id",
    target_col: str = "y",
) -> Frame:
    """Share of actuals inside the forecast interval ``[lo, hi]`` (bounds included), per series.

    Args:
        level: interval level read from the columns ``"{model}-lo-{level}"`` and
            ``"{model}-hi-{level}"``, e.g. 80.
        interval: instead of ``level``, a pair of quantiles ``(lo, hi)`` read from the
            ``quantile_column`` columns, e.g. ``(0.1, 0.9)`` for ``"ETS-q-0.1"``/``"ETS-q-0.9"``.
    """
    if (level is None) == (interval is None):
        raise ValueError(
            "Pass exactly one of `level` (e.g. 80 for 'ETS-lo-80'/'ETS-hi-80') and `interval` "
            "(a quantile pair, e.g. (0.1, 0.9) for 'ETS-q-0.1'/'ETS-q-0.9')."
        )
    if level is not None:
        bounds = {m: (f"{m}-lo-{level:g}", f"{m}-hi-{level:g}") for m in models}
    else:
        lo, hi = interval
        if not 0 < lo < hi < 1:
            raise ValueError(f"`interval` must be quantiles 0 < lo < hi < 1, got {interval!r}.")
        bounds = {m: (quantile_column(m, lo), quantile_column(m, hi)) for m in models}
    data = _prepare(df, models, [c for pair in bounds.values() for c in pair], id_col, target_col)
    y = data[target_col].to_numpy(float)
    inside = {
        m: ((y >= data[lo_col].to_numpy(float)) & (y <= data[hi_col].to_numpy(float))).astype(float)
        for m, (lo_col, hi_col) in bounds.items()
    }
    return _out(_per_series(data, inside, id_col), df)


# ----------------------------------------------------------------------------- evaluate


def evaluate(
    df: Frame,
    metrics: list[Callable[..., Frame]],
    models: list[str],
    train_df: Frame | None = None,
    *,
    agg_fn: str | Callable | None = "mean",
    id_col: str = "unique_id",
    target_col: str = "y",
    time_col: str = "ds",
    **kwargs: Any,
) -> Frame:
    """Scores forecasts with several metrics into one tidy frame.

    ``train_df``, ``time_col`` and every extra keyword (``seasonality``, ``quantiles``,
    ``weights``, ``level``...) go to each metric whose signature accepts them; fix a setting
    for one metric only with ``functools.partial``.

    Args:
        df: forecasts with id, target and model columns.
        metrics: metric functions of this module, or any with the same signature.
        models: model aliases to score.
        train_df: training history, needed by scaled metrics such as :func:`mase`.
        agg_fn: how the per-series scores of each metric are reduced (a pandas aggregation
            such as ``"mean"`` or ``"median"``; NaN scores are left out); None keeps one row
            per series.
        **kwargs: further arguments for the metrics.

    Returns:
        Frame with ``"metric"`` and one column per model, plus ``id_col`` (first) when
        ``agg_fn`` is None; same type as ``df``.

    Example:
        >>> import pandas as pd
        >>> from trendcast.evaluation.metrics import bias, evaluate, mae
        >>> df = pd.DataFrame({
        ...     "unique_id": ["a", "a", "b", "b"], "ds": [1, 2, 1, 2],
        ...     "y": [1.0, 3.0, 2.0, 2.0], "Naive": [2.0, 2.0, 2.0, 4.0],
        ... })
        >>> evaluate(df, [mae, bias], models=["Naive"])
          metric  Naive
        0    mae    1.0
        1   bias    0.5
    """
    data = to_pandas(df, name="df")
    options = {"time_col": time_col, **kwargs}
    if train_df is not None:
        options["train_df"] = to_pandas(train_df, name="train_df")
    used: set[str] = set()
    results = []
    for metric in metrics:
        name = getattr(metric, "__name__", None) or metric.func.__name__  # functools.partial
        params = inspect.signature(metric).parameters
        call = {k: v for k, v in options.items() if k in params}
        needed = [
            p.name
            for p in list(params.values())[2:]
            if p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in call
        ]
        if needed:
            raise ValueError(
                f"Metric {name!r} needs {needed}; pass them to evaluate, e.g. "
                f"evaluate(df, metrics, models, {needed[0]}=...)."
            )
        used.update(call)
        result = to_pandas(metric(data, models, id_col=id_col, target_col=target_col, **call))
        results.append(result.assign(metric=name))
    unused = sorted(set(kwargs) - used)
    if unused:
        raise ValueError(f"Keyword(s) {unused} are not used by any metric in `metrics`.")
    out = pd.concat(results, ignore_index=True)
    scores = [c for c in out.columns if c not in (id_col, "metric")]
    if agg_fn is None:
        out = out[[id_col, "metric", *scores]]
    else:
        out = out.groupby("metric", sort=False)[scores].agg(agg_fn).reset_index()
    return like(out, df)
