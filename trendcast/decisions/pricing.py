"""Prices: elasticities per item, price-response curves, what-if forecasts and the best price.

Elasticities (`estimate_elasticities`) come from one Poisson regression per item (all its series
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

Decisions assume constant elasticity around the current price: demand at price ``p`` is
``demand * (p / price) ** elasticity``. The profit-maximising price of such a curve with unit
cost ``c`` and elasticity ``e < -1`` is ``c * e / (1 + e)``; `best_price` finds it within bounds
(and under a stock limit), and carries the elasticity's uncertainty into an interval on the gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from trendcast._frames import like, to_pandas
from trendcast.data.arrays import period_index
from trendcast.data.validate import validate

__all__ = ["best_price", "estimate_elasticities", "price_response", "what_if"]

_METHODS = ("poisson", "negbin", "loglog")
_OBJECTIVES = ("profit", "revenue")
# Knot spacing of the time curve by frequency: four weeks, eight weeks, a quarter.
_KNOT_PERIODS = {"D": 28, "W": 8, "M": 3}
# Ridge on the controls (day of week, events, time curve): keeps a control that sees only zeros
# (a closed day, a delisted stretch) finite without touching well-measured effects.
_CONTROL_RIDGE = 1e-2
# A whisper of ridge on the series levels, price and promotion: keeps the solve defined when they
# are nearly collinear (items without such trouble never feel it).
_CORE_RIDGE = 1e-8
_MAX_ITER = 50
# Retail own-price elasticities lie within a few units of -1.5; a fit beyond this ran off (a slow
# mover whose few sales all fell at one price level) and says nothing about the item.
_MAX_ABS_ELASTICITY = 10.0
_TOL = 1e-8
_MAX_ETA = 30.0


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
    for k in range(n_items):
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


def _count_regression(
    design: np.ndarray, y: np.ndarray, offset: np.ndarray, penalty: np.ndarray, *, negbin: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge-stabilised Poisson regression (IRLS) with a sandwich covariance.

    With ``negbin``, a second pass reweights rows as a negative binomial with variance
    ``mu + alpha mu^2`` (``alpha`` by moments from the Poisson fit): busy days, whose noise
    grows faster than their mean, then count less, which makes the estimate more precise.
    """
    coef, mu = _irls(design, y, offset, penalty, alpha=0.0)
    alpha = 0.0
    if negbin:
        alpha = max(np.sum((y - mu) ** 2 - mu) / max(np.sum(mu**2), 1e-12), 0.0)
        coef, mu = _irls(design, y, offset, penalty, alpha=alpha, start=coef)
    weight = mu / (1 + alpha * mu)
    hessian = (design.T * weight) @ design + np.diag(penalty)
    return coef, _sandwich(design, hessian, (y - mu) / (1 + alpha * mu))


def _irls(
    design: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    penalty: np.ndarray,
    *,
    alpha: float,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solves ``X' (y - mu) / (1 + alpha mu) = penalty * coef`` for a log link."""
    if start is None:
        # Start at the log mean: the series levels absorb it in one step.
        eta = np.full(len(y), np.log(max(y.mean(), 1e-3)))
    else:
        eta = design @ start
    previous = np.inf
    for _ in range(_MAX_ITER):
        mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
        weight = mu / (1 + alpha * mu)
        working = eta + (y - mu) / mu
        hessian = (design.T * weight) @ design + np.diag(penalty)
        coef = np.linalg.solve(hessian, (design.T * weight) @ working)
        eta = design @ coef
        # Poisson deviance as the stopping rule: it settles even where a control drifts
        # toward minus infinity over a stretch of zeros.
        mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
        deviance = 2 * np.sum(y * np.log(np.where(y > 0, y, 1) / np.where(y > 0, mu, 1)) - (y - mu))
        if abs(previous - deviance) <= _TOL * (abs(deviance) + 1):
            break
        previous = deviance
    mu = np.exp(np.clip(eta + offset, -_MAX_ETA, _MAX_ETA))
    return coef, mu


def _least_squares(
    design: np.ndarray, target: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    hessian = design.T @ design + np.diag(penalty)
    coef = np.linalg.solve(hessian, design.T @ target)
    return coef, _sandwich(design, hessian, target - design @ coef)


def _sandwich(design: np.ndarray, hessian: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Robust covariance ``H^-1 X' diag(r^2) X H^-1``, with the small-sample factor n / (n - p)."""
    n, p = design.shape
    bread = np.linalg.inv(hessian)
    meat = (design.T * residual**2) @ design
    return bread @ meat @ bread * (n / max(n - p, 1))


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


def price_response(
    elasticities: Any,
    current: Any,
    *,
    relative_prices: Sequence[float] = tuple(np.round(np.linspace(0.7, 1.3, 13), 2)),
    level: str = "item_id",
) -> Any:
    """Demand, revenue (and profit) per item over a range of prices around the current one.

    Demand follows the constant-elasticity curve through the current point:
    ``demand * (p / price) ** elasticity``; the band uses the elasticity's ``lower`` and
    ``upper``.

    Args:
        elasticities: output of `estimate_elasticities` (``level``, ``elasticity``, ``lower``,
            ``upper``).
        current: one row per item: ``level``, ``price`` (current price), ``demand`` (expected
            units at that price over the period of interest, e.g. a forecast's sum), optional
            ``unit_cost``.
        relative_prices: prices to evaluate, as multiples of the current price.
        level: the item column.

    Returns:
        Long frame, one row per item and price: ``level``, ``relative_price``, ``price``,
        ``demand``, ``demand_lower``, ``demand_upper``, ``revenue`` and, with ``unit_cost``,
        ``profit``. Same frame type as ``current``.

    Example:
        >>> import pandas as pd
        >>> el = pd.DataFrame({"item_id": ["a"], "elasticity": [-2.0], "lower": [-2.5],
        ...                    "upper": [-1.5]})
        >>> now = pd.DataFrame({"item_id": ["a"], "price": [10.0], "demand": [100.0]})
        >>> curve = price_response(el, now, relative_prices=[0.5, 1.0])
        >>> curve["demand"].tolist()
        [400.0, 100.0]
    """
    relative = np.asarray(relative_prices, dtype=np.float64).ravel()
    if len(relative) == 0 or not np.all(np.isfinite(relative)) or (relative <= 0).any():
        raise ValueError(
            f"`relative_prices` must be positive multiples of the current price, got "
            f"{list(relative_prices)}."
        )
    table = _join_current(
        elasticities, current, level=level, estimates=("lower", "upper"), optional=("unit_cost",)
    )
    n, k = len(table), len(relative)
    ratio = np.tile(relative, n)
    demand = np.repeat(table["demand"].to_numpy(), k)
    bounds = [demand * ratio ** np.repeat(table[c].to_numpy(), k) for c in ("lower", "upper")]
    out = pd.DataFrame(
        {
            level: np.repeat(table[level].to_numpy(), k),
            "relative_price": ratio,
            "price": np.repeat(table["price"].to_numpy(), k) * ratio,
            "demand": demand * ratio ** np.repeat(table["elasticity"].to_numpy(), k),
            "demand_lower": np.minimum(*bounds),
            "demand_upper": np.maximum(*bounds),
        }
    )
    out["revenue"] = out["demand"] * out["price"]
    if "unit_cost" in table.columns:
        out["profit"] = out["demand"] * (out["price"] - np.repeat(table["unit_cost"].to_numpy(), k))
    return like(out, current)


def best_price(
    elasticities: Any,
    current: Any,
    *,
    bounds: tuple[float, float] = (0.7, 1.3),
    relative_bounds: bool = True,
    objective: str = "profit",
    stock_col: str | None = None,
    interval: float = 0.9,
    n_draws: int = 2000,
    seed: int = 0,
    level: str = "item_id",
) -> Any:
    """The profit- (or revenue-) maximising price per item within bounds, optionally under stock.

    Demand is ``demand * (p / price) ** e`` (constant elasticity ``e`` through the current
    point) and units sold are capped by the stock, ``min(demand(p), stock)``. With ``e < -1``
    profit ``units * (p - unit_cost)`` peaks at ``unit_cost * e / (1 + e)``; with ``e >= -1``
    it keeps rising, so the upper bound binds. Revenue is profit at zero cost: with ``e < -1``
    the lower bound binds. A stock limit raises the price until demand fits the stock (the
    price ``price * (stock / demand) ** (1 / e)``), since selling out earlier only gives away
    margin. The recommendation uses the posterior mean ``elasticity``; its uncertainty is
    carried into the gain by redrawing the elasticity ``n_draws`` times from
    ``N(elasticity, std_error^2)``.

    Args:
        elasticities: output of `estimate_elasticities` (``level``, ``elasticity``,
            ``std_error``).
        current: one row per item: ``level``, ``price``, ``demand`` (expected units at the
            current price over the period the decision covers), ``unit_cost`` (needed for
            ``objective="profit"``) and the stock column if ``stock_col`` is given.
        bounds: lowest and highest allowed price; multiples of the current price when
            ``relative_bounds`` (default ``(0.7, 1.3)``), else absolute prices.
        relative_bounds: whether ``bounds`` are relative to the current price.
        objective: ``"profit"`` or ``"revenue"``.
        stock_col: column of ``current`` with the units available over the period.
        interval: coverage of the gain interval.
        n_draws: elasticity draws for the gain interval.
        seed: seed of the draws.
        level: the item column.

    Returns:
        One row per item: ``level``, ``price``, ``best_price``, ``change`` (relative price
        change), ``units``/``best_units``, ``revenue``/``best_revenue``, with a unit cost
        ``profit``/``best_profit``, then ``gain`` (in the objective, at the point elasticity),
        ``gain_lower``, ``gain_upper``, ``prob_gain`` (share of draws where the new price does
        better) and ``limited_by`` (``"lower bound"``, ``"upper bound"``, ``"stock"`` or
        ``""``). Same frame type as ``current``.

    Example:
        >>> import pandas as pd
        >>> el = pd.DataFrame({"item_id": ["a"], "elasticity": [-3.0], "std_error": [0.1]})
        >>> now = pd.DataFrame({"item_id": ["a"], "price": [10.0], "demand": [100.0],
        ...                     "unit_cost": [6.0]})
        >>> float(best_price(el, now)["best_price"].iloc[0])  # 6 * -3 / (1 - 3)
        9.0
    """
    if objective not in _OBJECTIVES:
        raise ValueError(f"`objective` must be one of {_OBJECTIVES}, got {objective!r}.")
    low, high = _check_bounds(bounds)
    if not 0 < interval < 1:
        raise ValueError(f"`interval` must lie strictly between 0 and 1, got {interval!r}.")
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ValueError(f"`n_draws` must be a positive integer, got {n_draws!r}.")
    required = ("unit_cost",) if objective == "profit" else ()
    optional = ("unit_cost",) if objective == "revenue" else ()
    if stock_col is not None:
        required += (stock_col,)
    table = _join_current(
        elasticities,
        current,
        level=level,
        estimates=("std_error",),
        required=required,
        optional=optional,
    )
    price = table["price"].to_numpy()
    demand = table["demand"].to_numpy()
    elasticity = table["elasticity"].to_numpy()
    has_cost = "unit_cost" in table.columns
    cost = table["unit_cost"].to_numpy() if has_cost else np.zeros(len(table))
    margin_cost = cost if objective == "profit" else np.zeros(len(table))
    stock = table[stock_col].to_numpy() if stock_col is not None else np.full(len(table), np.inf)
    lower = low * price if relative_bounds else np.full(len(table), low)
    upper = high * price if relative_bounds else np.full(len(table), high)

    with np.errstate(divide="ignore", invalid="ignore"):
        # Unconstrained optimum of the objective along the curve (see above).
        peak = np.where(
            elasticity < -1,
            margin_cost * elasticity / (1 + elasticity),
            np.where((elasticity == -1) & (objective == "revenue"), price, np.inf),
        )
        # Lowest price at which demand fits the stock; none needed if it always fits.
        sell_out = np.where(
            (stock < demand) & (elasticity < 0),
            price * (stock / demand) ** (1 / elasticity),
            0.0,
        )
    target = np.maximum(peak, sell_out)
    best = np.clip(target, lower, upper)
    limited_by = np.select(
        [target >= upper, target <= lower, sell_out > peak],
        ["upper bound", "lower bound", "stock"],
        "",
    )

    def outcome(p: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
        units = np.minimum(demand[:, None] * (p / price)[:, None] ** e, stock[:, None])
        return units, units * p[:, None], units * (p - cost)[:, None]

    point = elasticity[:, None]
    now, new = outcome(price, point), outcome(best, point)
    rng = np.random.default_rng(seed)
    draws = point + table["std_error"].to_numpy()[:, None] * rng.standard_normal(
        (len(table), n_draws)
    )
    index = 2 if objective == "profit" else 1
    gains = outcome(best, draws)[index] - outcome(price, draws)[index]
    tail = (1 - interval) / 2
    out = pd.DataFrame(
        {
            level: table[level].to_numpy(),
            "price": price,
            "best_price": best,
            "change": best / price - 1,
            "units": now[0][:, 0],
            "best_units": new[0][:, 0],
            "revenue": now[1][:, 0],
            "best_revenue": new[1][:, 0],
        }
    )
    if has_cost:
        out["profit"], out["best_profit"] = now[2][:, 0], new[2][:, 0]
    out["gain"] = new[index][:, 0] - now[index][:, 0]
    out["gain_lower"] = np.quantile(gains, tail, axis=1)
    out["gain_upper"] = np.quantile(gains, 1 - tail, axis=1)
    out["prob_gain"] = (gains > 0).mean(axis=1)
    out["limited_by"] = limited_by
    return like(out, current)


def _check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(
            f"`bounds` must be two numbers (lowest, highest price), got {bounds!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0:
        raise ValueError(f"`bounds` must be finite and positive, got {bounds!r}.")
    if low > high:
        raise ValueError(
            f"`bounds` are reversed: lowest {low} > highest {high}. Fix: pass (lowest, highest)."
        )
    return low, high


def _join_current(
    elasticities: Any,
    current: Any,
    *,
    level: str,
    estimates: Sequence[str],
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> pd.DataFrame:
    """``current`` joined to its items' ``estimates``, checked; one row per item, in its order."""
    el = to_pandas(elasticities, name="elasticities")
    now = to_pandas(current, name="current")
    el_needed = [level, "elasticity", *estimates]
    now_needed = [level, "price", "demand", *required]
    for frame, name, needed in ((el, "elasticities", el_needed), (now, "current", now_needed)):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"`{name}` has no column {missing}; it has {frame.columns.tolist()}. Fix: "
                + ("pass the output of estimate_elasticities." if frame is el else "add it.")
            )
        repeated = frame[level][frame[level].duplicated()]
        if len(repeated):
            raise ValueError(
                f"`{name}` must have one row per {level}; {repeated.unique()[:5].tolist()} repeat."
            )
    columns = now_needed + [c for c in optional if c in now.columns]
    table = now[columns].merge(el[el_needed], on=level, how="left")
    unknown = table[level][table["elasticity"].isna()]
    if len(unknown):
        raise ValueError(
            f"`elasticities` has no estimate for {unknown.unique()[:5].tolist()} "
            f"({len(unknown)} items). Fix: estimate them, or drop them from `current`."
        )
    for column in columns[1:]:
        rule = "positive" if column == "price" else "non-negative"
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(values) | ((values <= 0) if rule == "positive" else (values < 0))
        if bad.any():
            raise ValueError(
                f"`current` column {column!r} must be {rule} and finite; {int(bad.sum())} rows "
                f"are not, e.g.\n{table.loc[bad, [level, column]].head(5).to_string(index=False)}"
            )
        table[column] = values
    return table


def what_if(
    forecaster: Any,
    h: int,
    plan: Any,
    *,
    model: str | None = None,
    elasticities: Any = None,
    level: str = "item_id",
    price_col: str = "price",
) -> Any:
    """Forecasts under a different price or promotion plan, next to the fitted plan's.

    The fitted model forecasts twice, without a refit (a plan changes only the covariates of
    the periods to forecast, never what the model learned from the past): with the fitted plan,
    then with ``plan`` given to `Forecaster.predict`, whose rows replace the fitted plan's;
    rows ``plan`` does not name keep the fitted plan.

    A forecaster learns price response only as far as it helps forecast accuracy, and LightGBM
    learns little of it (on the sample shop its implied elasticities barely rank with the true
    ones; see benchmarks/elasticity_recovery.py). With ``elasticities``, the result also has
    ``what_if_elasticity``: the baseline forecast times ``(planned / fitted price) ** e`` with
    each item's estimated elasticity ``e``, the price response measured on the history. It
    covers price changes only; promotions move it through their price alone.

    Args:
        forecaster: a `trendcast.Forecaster` fitted with a ``dynamic`` frame that holds the
            plan for the next ``h`` periods, with a model that reads known-future covariates
            (`trendcast.models.LightGBM`).
        h: horizon, as given to ``predict``.
        plan: long frame ``id, ds`` plus the numeric planned columns to change (e.g.
            ``price``, ``promo``), for periods after each series' last sale date; each row
            must exist in the fitted ``dynamic``.
        model: alias of the model to use (default: the forecaster's first model).
        elasticities: optional output of `estimate_elasticities`, for ``what_if_elasticity``;
            the forecaster's ``static`` frame must map series to its ``level``.
        level: the item column of ``elasticities`` and of the fitted ``static``.
        price_col: the price column of the plan.

    Returns:
        Long frame ``id, ds, baseline, what_if`` (and ``what_if_elasticity``): the mean
        forecast under the fitted plan and under ``plan``. Same frame type as ``plan``.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> from trendcast.models import LightGBM
        >>> shop = simulate_shop(n_items=6, n_stores=1, n_periods=300, future_periods=7,
        ...                      reviews=False)
        >>> d = shop.data
        >>> fc = Forecaster([LightGBM(n_estimators=30)]).fit(
        ...     d.sales, static=d.static, dynamic=d.dynamic)
        >>> future = d.dynamic[d.dynamic["ds"] > d.sales["ds"].max()]
        >>> cut = future[["unique_id", "ds"]].assign(price=future["price"] * 0.7)
        >>> out = what_if(fc, 7, cut)
        >>> out.columns.tolist()
        ['unique_id', 'ds', 'baseline', 'what_if']
    """
    fitted = _forecasting_model(forecaster, model)
    columns = forecaster.data_.columns
    id_col, time_col = columns.id_col, columns.time_col
    plan_df = to_pandas(plan, name="plan")
    _check_plan(plan_df, forecaster)
    dynamic = forecaster.data_.dynamic
    planned = plan_df.assign(**{time_col: pd.to_datetime(plan_df[time_col])})
    keys = pd.MultiIndex.from_frame(dynamic[[id_col, time_col]].astype({id_col: object}))
    position = keys.get_indexer(
        pd.MultiIndex.from_frame(planned[[id_col, time_col]].astype({id_col: object}))
    )
    if (position < 0).any():
        bad = planned.loc[position < 0, [id_col, time_col]].head(5).to_string(index=False)
        raise ValueError(
            f"`plan` has {int((position < 0).sum())} rows with no row in the fitted `dynamic`, "
            f"e.g.\n{bad}\nFix: fit the forecaster with the base plan for every period to "
            "forecast, then change it here."
        )
    # Predict twice, with the fitted plan and with this one: the model is not refitted.
    forecast = {"quantiles": (), "models": [fitted.alias]}
    before = to_pandas(forecaster.predict(h, **forecast))
    after = to_pandas(forecaster.predict(h, dynamic=planned, **forecast))
    out = before[[id_col, time_col]].assign(
        baseline=before[fitted.alias].to_numpy(), what_if=after[fitted.alias].to_numpy()
    )
    if elasticities is not None:
        if price_col not in dynamic.columns:
            raise ValueError(
                f"The fitted `dynamic` has no {price_col!r} column to scale by the elasticities; "
                "name the price column with `price_col`."
            )
        rows = keys.get_indexer(
            pd.MultiIndex.from_frame(out[[id_col, time_col]].astype({id_col: object}))
        )
        price = dynamic[price_col].to_numpy(np.float64)
        scenario = price.copy()
        if price_col in planned.columns:
            scenario[position] = planned[price_col].to_numpy(np.float64)
        ratio = scenario[rows] / price[rows]
        slope = _series_elasticity(elasticities, forecaster.data_.static, out[id_col], level)
        out["what_if_elasticity"] = out["baseline"] * ratio**slope
    return like(out, plan)


def _series_elasticity(
    elasticities: Any, static: pd.DataFrame | None, ids: pd.Series, level: str
) -> np.ndarray:
    """Each row's item elasticity, through the fitted static frame."""
    el = to_pandas(elasticities, name="elasticities")
    missing = [c for c in (level, "elasticity") if c not in el.columns]
    if missing:
        raise ValueError(
            f"`elasticities` has no column {missing}; pass the output of estimate_elasticities."
        )
    id_col = ids.name
    if static is None or level not in static.columns:
        raise ValueError(
            f"The forecaster was fitted without a `static` frame with {level!r}, so series "
            f"cannot be matched to items. Fix: fit with static=... holding {level!r}."
        )
    item = ids.astype(object).map(static.set_index(id_col)[level].astype(str))
    slope = item.map(el.assign(**{level: el[level].astype(str)}).set_index(level)["elasticity"])
    if slope.isna().any():
        raise ValueError(
            f"`elasticities` has no estimate for the items "
            f"{list(item[slope.isna()].unique()[:5])}. "
            "Fix: estimate every item of the forecaster."
        )
    return slope.to_numpy(np.float64)


def _forecasting_model(forecaster: Any, alias: str | None) -> Any:
    models = getattr(forecaster, "models_", None)
    if not models:
        raise ValueError("The forecaster is not fitted: call fit(df, dynamic=...) first.")
    chosen = models[0] if alias is None else forecaster.model(alias)
    if not chosen.supports_future_covariates or forecaster.data_.dynamic is None:
        raise ValueError(
            f"{chosen.alias} reads no known-future covariates, so a plan cannot change its "
            "forecasts. Fix: fit Forecaster([LightGBM(), ...]) with a `dynamic` frame holding "
            "price and promotion plans."
        )
    return chosen


def _check_plan(plan: pd.DataFrame, forecaster: Any) -> None:
    """Checks the plan's shape, columns, values and periods."""
    columns = forecaster.data_.columns
    id_col, time_col = columns.id_col, columns.time_col
    missing = [c for c in (id_col, time_col) if c not in plan.columns]
    if missing:
        raise ValueError(f"`plan` has no column {missing}; it has {plan.columns.tolist()}.")
    changed = [c for c in plan.columns if c not in (id_col, time_col)]
    dynamic = forecaster.data_.dynamic
    allowed = [
        c
        for c in dynamic.columns.drop(list(columns.key))
        if forecaster.covariates_.is_known_future(c) and pd.api.types.is_numeric_dtype(dynamic[c])
    ]
    wrong = [c for c in changed if c not in allowed]
    if not changed or wrong:
        raise ValueError(
            f"`plan` must change some of the model's numeric known-future covariates "
            f"{allowed}; got {changed}. Fix: keep only {id_col}, {time_col} and those columns."
        )
    if plan.duplicated([id_col, time_col]).any():
        repeated = plan.loc[plan.duplicated([id_col, time_col]), [id_col, time_col]]
        raise ValueError(
            f"`plan` has repeated rows:\n{repeated.head(5).to_string(index=False)}\n"
            "Fix: one row per series and period."
        )
    for name in changed:
        values = pd.to_numeric(plan[name], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(values)
        if name.lower().startswith(("price", "sell_price")):
            bad |= values <= 0
        if bad.any():
            raise ValueError(
                f"`plan` column {name!r} must be finite (and positive for prices); "
                f"{int(bad.sum())} rows are not, e.g.\n"
                f"{plan.loc[bad, [id_col, time_col, name]].head(5).to_string(index=False)}"
            )
    last = pd.Series(forecaster.arrays_.last_ds, index=pd.Index(forecaster.arrays_.ids))
    last_sale = plan[id_col].astype(object).map(last)
    unknown = last_sale.isna()
    if unknown.any():
        raise ValueError(
            f"`plan` names series the forecaster was not fitted on: "
            f"{plan.loc[unknown, id_col].unique()[:5].tolist()}."
        )
    past = pd.to_datetime(plan[time_col]).to_numpy() <= last_sale.to_numpy("datetime64[ns]")
    if past.any():
        raise ValueError(
            f"`plan` must only change periods after each series' last sale; {int(past.sum())} "
            f"rows do not, e.g.\n{plan.loc[past, [id_col, time_col]].head(5).to_string(index=False)}"
        )
