"""Elasticities (`estimate_elasticities`) come from one Poisson regression per item (all its series
together: the item in every store; ``method="negbin"`` reweights it as a negative binomial), a
log-linear demand model with controls::

    log E[y] = series level + elasticity * log(price) + promo effect * promo
               + day of week + events + a smooth curve in time (season, trend, launch, decline)

The time curve is piecewise linear with a knot every ``knot_periods`` periods, so slow moves of
demand (seasons, trends, a launch ramp, a decline) are not mistaken for price effects, while short
promotions and step changes of the regular price are what identifies the elasticity. Periods out
of stock (``in_stock`` 0) carry no information on demand and are left out of the fit; a fractional
``in_stock`` (weekly data) scales the expected demand. Standard errors are sandwich (robust)
errors, valid under overdispersion (demand is rarely Poisson). Daily data identify the effect
best: in weekly data whose promotion flag marks a week with any promoted day, the number of
promoted days is unknown, and part of the promotions' uplift is read as price response (on the
weekly sample shop the estimates come out about 0.5 too elastic).

Item estimates are then shrunk toward their category (empirical Bayes): with ``b`` the item's
estimate, ``s`` its standard error, ``m`` the precision-weighted category mean and ``tau^2`` the
spread of true elasticities around it (one value for all categories), the posterior is
``m + w (b - m)`` with ``w = tau^2 / (tau^2 + s^2)``, and its variance ``w s^2`` plus the
uncertainty of ``m``. ``tau`` is learnt from how much more the item estimates spread than their
standard errors explain; rather than fixing it at one value, the posterior averages over ``tau``
weighted by its restricted likelihood, so intervals widen when the data cannot tell how much
items differ. Sparse items (large ``s``) borrow strength from the category; items with
plenty of price variation keep their own estimate. Items whose price never varies (or varies
only with the promotion flag, every promotion at the same discount, so that the price effect
cannot be told from the promotion's), that never sold, or whose fit runs off beyond an elasticity
of 10 in size (a slow mover whose few sales all fell at one price: its likelihood keeps rising
toward an infinite effect), get the category estimate, with the spread of true elasticities
around it as uncertainty, flagged ``source="category"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from trendcast._frames import like, to_pandas
from trendcast._progress import progress_bar
from trendcast.data.arrays import period_index
from trendcast.data.validate import validate
from trendcast.decisions.glm import _count_regression, _least_squares

__all__ = ["estimate_elasticities"]

_METHODS = ("poisson", "negbin", "loglog")
# Knot spacing of the time curve by frequency: four weeks, eight weeks, a quarter.
_KNOT_PERIODS = {"D": 28, "W": 8, "M": 3}
# Ridge on the controls (day of week, events, time curve): keeps a control that sees only zeros
# (a closed day, a delisted stretch) finite without touching well-measured effects.
_CONTROL_RIDGE = 1e-2
# A whisper of ridge on the series levels, price and promotion: keeps the solve defined when they
# are nearly collinear (items without such trouble never feel it).
_CORE_RIDGE = 1e-8
# Retail own-price elasticities lie within a few units of -1.5; a fit beyond this ran off (a slow
# mover whose few sales all fell at one price level) and says nothing about the item.
_MAX_ABS_ELASTICITY = 10.0


def estimate_elasticities(
    sales: Any,
    dynamic: Any,
    static: Any,
    *,
    level: str = "item_id",
    group: str = "cat_id",
    method: str = "poisson",
    shrink: bool = True,
    knot_periods: int | None = None,
    interval: float = 0.9,
    min_price_variation: float = 0.01,
    price_col: str = "price",
    promo_col: str | None = "promo",
    stock_col: str | None = "in_stock",
    event_col: str | None = "event",
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    progress: bool = False,
) -> Any:
    """Price elasticity of demand per item, shrunk toward its category, with uncertainty.

    See the module docstring for the model. The promotion, stock and event columns are used when
    ``dynamic`` has them (pass ``None`` to ignore one).

    Args:
        sales: long frame ``id, ds, y`` (pandas or polars).
        dynamic: long frame with ``price`` (and ``promo``, ``in_stock``, ``event``) on every
            sales row; rows past the sales (a price plan) are ignored.
        static: one row per series with the ``level`` and ``group`` columns.
        level: static column whose values share one elasticity (an item in all its stores).
        group: static column to shrink toward (each ``level`` value in exactly one group).
        method: ``"poisson"`` (Poisson regression, the default), ``"negbin"`` (the same,
            reweighted as a negative binomial: a little more precise per item, no better after
            shrinkage, slower) or ``"loglog"`` (least squares of ``log(1 + y)``, for
            comparison: biased toward 0 on small counts). See
            benchmarks/elasticity_recovery.py.
        shrink: shrink toward the group (empirical Bayes); ``False`` keeps each item's own
            estimate (items without price variation still get the group's).
        knot_periods: spacing of the time curve's knots (default 28 days, 8 weeks, 3 months).
        interval: coverage of the ``lower``/``upper`` interval.
        min_price_variation: items whose log price varies less than this beyond what the
            controls explain (standard deviation over the rows used) get their group's
            estimate.
        price_col, promo_col, stock_col, event_col: names of the dynamic columns.
        id_col, time_col, target_col: column names of the long frames.
        progress: show a progress bar over the items.

    Returns:
        One row per ``level`` value: ``level``, ``group``, ``elasticity`` (posterior mean),
        ``std_error``, ``lower``, ``upper``, ``raw_elasticity`` and ``raw_std_error`` (the
        item's own fit; NaN without price variation), ``weight`` (share of the item's own
        estimate in ``elasticity``: 1 without shrinkage, 0 for the group's), ``n_obs`` (rows
        used), ``units`` (their sales), ``price_variation`` (standard deviation of log price left
        after the controls: what identifies the elasticity) and ``source`` (``"item"``, or
        ``"category"`` where the item could not be estimated, see the module docstring).
        Same frame type as ``sales``.

    Example:
        >>> from trendcast import simulate_shop
        >>> shop = simulate_shop(n_items=8, n_stores=2, n_periods=365, seed=3, reviews=False)
        >>> d = shop.data
        >>> est = estimate_elasticities(d.sales, d.dynamic, d.static)
        >>> est.columns.tolist()[:6]
        ['item_id', 'cat_id', 'elasticity', 'std_error', 'lower', 'upper']
        >>> bool((est["elasticity"] < 0).all())
        True
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}.")
    if not 0 < interval < 1:
        raise ValueError(f"`interval` must lie strictly between 0 and 1, got {interval!r}.")
    if min_price_variation < 0:
        raise ValueError(f"`min_price_variation` must be >= 0, got {min_price_variation!r}.")
    if knot_periods is not None and (not isinstance(knot_periods, int) or knot_periods < 2):
        raise ValueError(f"`knot_periods` must be an integer >= 2, got {knot_periods!r}.")
    rows, items, freq = _estimation_rows(
        sales,
        dynamic,
        static,
        level=level,
        group=group,
        columns=(id_col, time_col, target_col),
        dynamic_columns=(price_col, promo_col, stock_col, event_col),
    )
    knots = knot_periods or _KNOT_PERIODS[freq[0]]
    # The per-item matrices are small: BLAS threads would only wait on each other (tens of
    # times slower on a busy machine), so the fits run on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        fits = _fit_items(
            rows,
            len(items),
            daily=freq == "D",
            knots=knots,
            method=method,
            min_price_variation=min_price_variation,
            progress=progress,
        )
    result = items.assign(**fits)
    own = np.isfinite(result["raw_std_error"]).to_numpy()
    mean, sd, weight = _shrink(
        result["raw_elasticity"].to_numpy(),
        result["raw_std_error"].to_numpy(),
        pd.factorize(result[group])[0],
        shrink=shrink,
    )
    z = norm.ppf(0.5 + interval / 2)
    result["elasticity"], result["std_error"], result["weight"] = mean, sd, weight
    result["lower"], result["upper"] = mean - z * sd, mean + z * sd
    result["source"] = np.where(own, "item", "category")
    ordered = [
        level,
        group,
        "elasticity",
        "std_error",
        "lower",
        "upper",
        "raw_elasticity",
        "raw_std_error",
        "weight",
        "n_obs",
        "units",
        "price_variation",
        "source",
    ]
    return like(result[ordered].reset_index(drop=True), sales)


def _estimation_rows(
    sales: Any,
    dynamic: Any,
    static: Any,
    *,
    level: str,
    group: str,
    columns: tuple[str, str, str],
    dynamic_columns: tuple[str, str | None, str | None, str | None],
) -> tuple[dict[str, np.ndarray], pd.DataFrame, str]:
    """Validated sales rows joined to their covariates, grouped by item, as arrays."""
    id_col, time_col, target_col = columns
    price_col, promo_col, stock_col, event_col = dynamic_columns
    if dynamic is None or static is None:
        raise ValueError(
            "`dynamic` (with prices) and `static` (with the item and category of each series) "
            "are both required to estimate elasticities."
        )
    data = validate(
        sales,
        static=to_pandas(static, name="static"),
        dynamic=to_pandas(dynamic, name="dynamic"),
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
    )
    for frame, name, needed in (
        (data.static, "static", (level, group)),
        (data.dynamic, "dynamic", (price_col,)),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"`{name}` has no column {missing}; it has {frame.columns.tolist()}. Fix: add "
                f"it, or name the right column with the keyword arguments."
            )
    used = [c for c in (price_col, promo_col, stock_col, event_col) if c in data.dynamic.columns]
    joined = data.sales.merge(
        data.dynamic[[id_col, time_col, *used]], on=[id_col, time_col], how="left"
    )
    _check_numbers(joined, price_col, id_col, time_col, positive=True)
    for name in (promo_col, stock_col):
        if name in joined.columns:
            _check_numbers(joined, name, id_col, time_col, positive=False)

    hierarchy = data.static[[id_col, level, group]].drop_duplicates(id_col)
    groups_per_item = hierarchy.groupby(level, observed=True)[group].nunique()
    if (groups_per_item > 1).any():
        bad = groups_per_item[groups_per_item > 1].index[:5].tolist()
        raise ValueError(
            f"`static`: each {level} must belong to one {group}, but {bad} have several. Fix: "
            f"give every series of an item the same {group}."
        )
    series_level = joined[id_col].map(hierarchy.set_index(id_col)[level])
    if series_level.isna().any():
        bad = joined.loc[series_level.isna(), id_col].unique()[:5].tolist()
        raise ValueError(
            f"`static` has no {level} for the series {bad}. Fix: add one row per series."
        )
    item_codes, item_names = pd.factorize(series_level.astype(str), sort=True)
    items = (
        hierarchy.assign(**{level: hierarchy[level].astype(str)})
        .drop_duplicates(level)
        .set_index(level)
        .loc[item_names, [group]]
        .rename_axis(level)
        .reset_index()
    )

    keep = np.ones(len(joined), dtype=bool)
    exposure = np.ones(len(joined))
    if stock_col in joined.columns:
        # Out-of-stock periods say nothing about demand.
        share = joined[stock_col].to_numpy(np.float64)
        keep = share > 0
        exposure = np.where(keep, share, 1.0)
    order = np.argsort(item_codes[keep], kind="stable")
    take = np.flatnonzero(keep)[order]
    ds = joined[time_col]
    arrays = {
        "item": item_codes[take],
        "series": pd.factorize(joined[id_col])[0][take],
        "y": joined[target_col].to_numpy(np.float64)[take],
        "log_price": np.log(joined[price_col].to_numpy(np.float64))[take],
        "offset": np.log(exposure[take]),
        "period": period_index(ds, data.freq)[take],
        "dow": ds.dt.dayofweek.to_numpy()[take],
        "promo": (
            joined[promo_col].to_numpy(np.float64)[take]
            if promo_col in joined.columns
            else np.zeros(len(take))
        ),
        "event": (
            _event_codes(joined[event_col])[take]
            if event_col in joined.columns
            else np.zeros(len(take), dtype=np.int64)
        ),
    }
    return arrays, items, data.freq


def _check_numbers(
    frame: pd.DataFrame, name: str, id_col: str, time_col: str, *, positive: bool
) -> None:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    if bad.any():
        rule = "positive" if positive else "non-negative"
        raise ValueError(
            f"`dynamic` column {name!r} must be a {rule} number on every sales row; "
            f"{int(bad.sum())} rows are not (or have no dynamic row), e.g.\n"
            f"{frame.loc[bad, [id_col, time_col, name]].head(5).to_string(index=False)}\n"
            f"Fix: give every sales row a {rule} {name}."
        )


def _event_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of event names (from 1), 0 where there is none (NaN or empty)."""
    text = values.astype(object).where(values.notna(), "").astype(str).to_numpy()
    return np.where(text == "", 0, pd.factorize(text)[0] + 1)


def _fit_items(
    rows: dict[str, np.ndarray],
    n_items: int,
    *,
    daily: bool,
    knots: int,
    method: str,
    min_price_variation: float,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Each item's own elasticity and standard error, plus what the fit saw.

    An item is fitted only if its log price varies by at least ``min_price_variation`` (standard
    deviation) beyond what the controls explain: a price that moves only with the promotion flag
    (every promotion at the same discount) cannot be told apart from the promotion's own effect.
    A fit whose elasticity runs beyond ``_MAX_ABS_ELASTICITY`` is discarded the same way.
    """
    bounds = np.searchsorted(rows["item"], np.arange(n_items + 1))
    out = {
        name: np.full(n_items, np.nan)
        for name in ("raw_elasticity", "raw_std_error", "price_variation", "units")
    }
    out["n_obs"] = np.diff(bounds)
    with progress_bar(n_items, "elasticities", enabled=progress) as advance:
        for k in range(n_items):
            advance()
            part = {name: values[bounds[k] : bounds[k + 1]] for name, values in rows.items()}
            out["units"][k] = part["y"].sum()
            if len(part["y"]) == 0:
                out["price_variation"][k] = 0.0
                continue
            design, penalty = _design(part, daily=daily, knots=knots)
            # Column 0 is log price; what the other columns cannot explain identifies its effect.
            controls = design[:, 1:]
            fitted = controls @ np.linalg.lstsq(controls, design[:, 0], rcond=None)[0]
            out["price_variation"][k] = np.std(design[:, 0] - fitted)
            if out["price_variation"][k] < min_price_variation or out["units"][k] == 0:
                continue
            if method in ("poisson", "negbin"):
                coef, cov = _count_regression(
                    design, part["y"], part["offset"], penalty, negbin=method == "negbin"
                )
            else:
                coef, cov = _least_squares(design, np.log1p(part["y"]), penalty)
            if cov[0, 0] > 0 and abs(coef[0]) <= _MAX_ABS_ELASTICITY:
                out["raw_elasticity"][k], out["raw_std_error"][k] = coef[0], np.sqrt(cov[0, 0])
    return out


def _design(
    part: dict[str, np.ndarray], *, daily: bool, knots: int
) -> tuple[np.ndarray, np.ndarray]:
    """One item's design matrix and ridge penalty (diagonal).

    Columns: log price (centred), promotion, one level per series, day of week (daily data),
    one per event, and the piecewise-linear time curve (zero at the item's first period).
    """
    n = len(part["y"])
    log_price = part["log_price"] - np.median(part["log_price"])
    blocks = [log_price[:, None]]
    if np.ptp(part["promo"]) > 0:
        blocks.append(part["promo"][:, None])
    series = pd.factorize(part["series"])[0]
    blocks.append(np.eye(series.max() + 1)[series])
    n_core = sum(b.shape[1] for b in blocks)
    if daily:
        blocks.append(np.eye(7)[part["dow"]][:, 1:])
    events = np.unique(part["event"][part["event"] > 0])
    if len(events):
        blocks.append((part["event"][:, None] == events[None, :]).astype(np.float64))
    t = (part["period"] - part["period"].min()) / knots
    n_knots = int(np.floor(t.max())) + 2
    left = np.minimum(np.floor(t).astype(np.int64), n_knots - 2)
    frac = t - left
    hats = np.zeros((n, n_knots))
    hats[np.arange(n), left] = 1 - frac
    hats[np.arange(n), left + 1] = frac
    # The first knot is pinned at 0 (the series levels carry it); knots no row reaches go.
    hats = hats[:, 1:]
    blocks.append(hats[:, hats.any(axis=0)])
    design = np.hstack(blocks)
    penalty = np.full(design.shape[1], _CONTROL_RIDGE)
    penalty[:n_core] = _CORE_RIDGE
    return design, penalty


def _shrink(
    estimate: np.ndarray, std_error: np.ndarray, groups: np.ndarray, *, shrink: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical-Bayes posterior mean, sd and own-estimate weight per item (see module doc).

    The spread ``tau`` is not fixed at one estimate: the posterior mixes over a grid of ``tau``
    weighted by its restricted likelihood (flat prior on ``tau``), so that the intervals widen
    when the data cannot tell how much items differ. Items without an estimate (NaN) get their
    group's mean with ``tau^2`` plus the mean's variance; a group without any estimate gets the
    overall mean.
    """
    have = np.isfinite(estimate) & np.isfinite(std_error)
    if not have.any():
        raise ValueError(
            "No item has enough price variation to estimate an elasticity from: prices are "
            "constant over time, or move only with the promotion flag. Fix: give data with "
            "price changes or promotions at different discounts."
        )
    b, s2, g = estimate[have], std_error[have] ** 2, groups[have]
    n_groups = groups.max() + 1
    tau = np.linspace(0.0, 3 * np.std(b) + 1e-6, 301)[:, None]
    v = 1 / (tau**2 + s2)  # (grid, items)
    precision = np.stack([np.bincount(g, weights=row, minlength=n_groups) for row in v])
    weighted = np.stack([np.bincount(g, weights=row, minlength=n_groups) for row in v * b])
    empty = precision == 0
    overall = (v * b).sum(axis=1, keepdims=True) / v.sum(axis=1, keepdims=True)
    group_mean = np.where(empty, overall, weighted / np.where(empty, 1, precision))
    group_var = np.where(empty, 1 / v.sum(axis=1, keepdims=True), 1 / np.where(empty, 1, precision))
    # Restricted log-likelihood of tau, with the group means integrated out.
    resid = b - group_mean[:, g]
    loglik = -0.5 * (np.log(1 / v) + v * resid**2).sum(axis=1)
    loglik -= 0.5 * np.log(np.where(empty, 1, precision)).sum(axis=1)
    posterior = np.exp(loglik - loglik.max())
    posterior /= posterior.sum()

    # Per grid value: mean and variance of every item; then mixed over the grid.
    mean = group_mean[:, groups].copy()
    var = tau**2 + group_var[:, groups]
    weight = np.zeros((len(tau), len(estimate)))
    w = tau**2 * v
    mean[:, have] = group_mean[:, g] + w * (b - group_mean[:, g])
    var[:, have] = w * s2 + (1 - w) ** 2 * group_var[:, g]
    weight[:, have] = w
    mixed = posterior @ mean
    sd = np.sqrt(np.maximum(posterior @ (var + mean**2) - mixed**2, 0.0))
    weight = posterior @ weight
    if not shrink:
        mixed[have], sd[have], weight[have] = b, np.sqrt(s2), 1.0
    return mixed, sd, weight
