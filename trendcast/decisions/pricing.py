"""Prices: price-response curves and the best price per item, from the elasticities of
`trendcast.decisions.elasticity`.

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

from trendcast._frames import like, to_pandas

__all__ = ["best_price", "price_response", "settle_prices"]

_OBJECTIVES = ("profit", "revenue")


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


def settle_prices(best: Any, elasticities: Any, *, interval: float = 0.9) -> Any:
    """Which of `best_price`'s prices to act on: a price changes only where the item's
    elasticity is negative, its ``interval`` excludes zero, and the gain's interval
    (``gain_lower``) lies above zero; everywhere else the answer is to keep the price, with
    the reason.

    Args:
        best: `best_price`'s frame (computed with the same ``interval``).
        elasticities: `estimate_elasticities`' frame, with ``elasticity`` and ``std_error``
            at the level of ``best``'s first column.

    Returns:
        ``best`` with ``action`` (``"change"`` or ``"keep"``), ``new_price`` (the best price,
        or the current one) and ``reason``.
    """
    from scipy.special import ndtri

    frame, estimates = to_pandas(best, name="best"), to_pandas(elasticities, name="elasticities")
    level = frame.columns[0]
    known = estimates.set_index(level)
    e = frame[level].map(known["elasticity"]).to_numpy(float)
    upper = e + float(ndtri(0.5 + interval / 2)) * frame[level].map(known["std_error"]).to_numpy(
        float
    )
    reason = np.select(
        [
            ~(e < 0),
            ~(upper < 0),
            np.abs(frame["change"].to_numpy()) < 0.005,
            ~(frame["gain_lower"].to_numpy() > 0),
        ],
        [
            "keep: the elasticity is not negative (demand does not fall as the price rises)",
            f"keep: the elasticity is uncertain (its {interval:.0%} interval holds zero)",
            "keep: already at the best price",
            f"keep: the gain is within its uncertainty (its {interval:.0%} interval holds zero)",
        ],
        "change: the gain's interval lies above zero",
    )
    out = frame.copy()
    out["action"] = np.where(np.char.startswith(reason.astype(str), "change"), "change", "keep")
    out["new_price"] = np.where(out["action"] == "change", out["best_price"], out["price"])
    out["reason"] = reason
    return like(out, best)


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
