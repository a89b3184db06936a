"""Items worth promoting, pushing, or protecting from promotion.

`promotion_candidates` reads a trend table (`trendcast.decisions.trends.trend_table`) and prices
each entity's promotion over the next ``horizon`` periods:

* demand without promotion ``D``: the forecast summed over the horizon (from ``forecasts``, else
  the table's ``forecast``, else its recent rate); ``D_hi``: the upper forecast quantile sum;
* demand with the promotion ``D * (1 - discount) ** elasticity * promo_uplift`` (price response
  at constant elasticity, times the promotion's own lift, 1 when not given);
* sales are capped by the stock on hand ``S``: ``min(D, S)`` and ``min(D_promo, S)``;
* ``discount_cost``: the price given away on the promoted units, ``min(D_promo, S) * price *
  discount``;
* ``profit_change``: ``min(D_promo, S) * (price * (1 - discount) - unit_cost) - min(D, S) *
  (price - unit_cost)``, plus the carrying cost saved on the units cleared
  (``uplift_units * unit_cost * carrying_rate * min(weeks_of_cover, 52) / 52``) when stock is
  known.

Actions, first match wins:

* ``do_not_promote``: stock-out risk, ``S < D_hi * restock_periods / horizon``: the stock does
  not cover the upper forecast until a delivery can arrive (``restock_periods``, the lead time;
  by default the whole horizon, as if nothing could be reordered).
* ``promote`` (price cut or promotion): not rising, elastic (``elasticity <= -1``, so a cut raises revenue)
  AND either declining with ``profit_change > 0`` or overstocked (``weeks_of_cover >=
  overstock_weeks``) with units to clear (its ``profit_change`` may be negative: the cost of
  clearing).
* ``push`` (feature it, no discount): rising or a hot mover, while stock lasts (not at risk);
  the expected uplift is the promotion lift without the discount, ``D * (promo_uplift - 1)``.

Entities with no action are left out of the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.data.validate import DataValidationError
from trendcast.decisions.trends import forecast_totals

__all__ = ["ACTIONS", "promotion_candidates"]

ACTIONS = ("promote", "push", "do_not_promote")


def promotion_candidates(
    trends: Any,
    *,
    elasticities: Any,
    forecasts: Any | None = None,
    model: str | None = None,
    static: Any | None = None,
    on_hand: Any | None = None,
    unit_cost: Any | None = None,
    price: Any | None = None,
    promo_uplift: Any | None = None,
    discount: float = 0.15,
    horizon: int | None = None,
    restock_periods: int | None = None,
    overstock_weeks: float = 12.0,
    carrying_rate: float = 0.25,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> Any:
    """Promotion, push and do-not-promote candidates with expected uplift, cost and profit.

    See the module docstring for the economics and the rules.

    Args:
        trends: output of `trend_table`; its first column names the entities.
        elasticities: ``item_id``, ``elasticity`` (own-price elasticity, negative).
        forecasts: output of `Forecaster.predict`; without it the table's forecast (or recent
            rate) is the demand.
        model: forecast alias to read when ``forecasts`` holds several models.
        static: series hierarchy, to sum ``forecasts`` to an entity level other than ``id_col``.
        on_hand: entity column (or ``item_id``) and ``on_hand``; defaults to the table's. Weeks
            of cover follow it through the table's ``weekly_demand``.
        unit_cost: entity column (or ``item_id``) and ``unit_cost``.
        price: entity column (or ``item_id``) and ``price`` (regular price).
        promo_uplift: entity column (or ``item_id``) and ``promo_uplift`` (demand multiplier of
            the promotion itself, on top of the price cut).
        discount: price cut of a promotion, in (0, 1).
        horizon: periods the promotion runs; defaults to the table's ``horizon``.
        restock_periods: periods until new stock can arrive (the lead time), over which the
            stock must cover the upper forecast; defaults to ``horizon``.
        overstock_weeks: weeks of cover from which stock is excess.
        carrying_rate: yearly cost of holding stock, as a share of its unit cost.
        id_col: series id column of ``forecasts``.
        time_col: period column of ``forecasts``.

    Returns:
        Same frame type as ``trends``: the entity column, ``item_id``, ``action``, ``trend``,
        ``elasticity``, ``base_units``, ``promo_units``, ``uplift_units``, ``discount_cost``,
        ``profit_change`` (NaN without price and cost), ``on_hand``, ``weeks_of_cover``,
        ``reason``; promote first (by profit change), then push, then do_not_promote.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"item_id": ["a", "b"], "trend": ["declining", "rising"],
        ...     "hot": [False, False], "recent": [100.0, 50.0], "window": 28, "horizon": 28,
        ...     "forecast": [90.0, 60.0], "forecast_hi": [110.0, 80.0],
        ...     "on_hand": [400.0, 30.0], "weeks_of_cover": [18.0, 2.0]})
        >>> elasticities = pd.DataFrame({"item_id": ["a", "b"], "elasticity": [-2.5, -1.5]})
        >>> out = promotion_candidates(table, elasticities=elasticities)
        >>> out[["item_id", "action"]].to_dict("records")
        [{'item_id': 'a', 'action': 'promote'}, {'item_id': 'b', 'action': 'do_not_promote'}]
    """
    table = to_pandas(trends, name="trends").reset_index(drop=True)
    _require(table, ["trend", "recent", "window"], "trends")
    level = next(c for c in table.columns if c != "rank")  # `trending` puts the rank first
    if "item_id" not in table.columns:
        raise ValueError(
            "`trends` needs an 'item_id' column to meet the elasticities: build it at level "
            "'item_id', or at the series level with `static` holding 'item_id'."
        )
    if not 0 < discount < 1:
        raise ValueError(f"`discount` must lie in (0, 1), got {discount!r}.")
    for name, value in (("overstock_weeks", overstock_weeks), ("carrying_rate", carrying_rate)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    if horizon is None:
        horizon = int(table["horizon"].iloc[0]) if "horizon" in table.columns else None
        horizon = horizon or int(table["window"].iloc[0])
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon <= 0:
        raise ValueError(f"`horizon` must be a positive whole number of periods, got {horizon!r}.")

    restock = horizon if restock_periods is None else restock_periods
    if isinstance(restock, bool) or not isinstance(restock, (int, np.integer)) or restock <= 0:
        raise ValueError(
            f"`restock_periods` must be a positive whole number of periods, got {restock!r}."
        )
    base, base_hi = _demand(table, forecasts, model, static, level, horizon, id_col, time_col)
    # Upper demand until a delivery can arrive (the horizon's, scaled to the restock periods).
    restock_hi = base_hi * min(restock, horizon) / horizon
    elasticity = _lookup(elasticities, "elasticities", "elasticity", table, level, finite=True)
    stock = (
        _lookup(on_hand, "on_hand", "on_hand", table, level, minimum=0.0)
        if on_hand is not None
        else _column(table, "on_hand")
    )
    cost = _lookup(unit_cost, "unit_cost", "unit_cost", table, level, minimum=0.0)
    regular = _lookup(price, "price", "price", table, level, minimum=0.0, strict=True)
    lift = _lookup(promo_uplift, "promo_uplift", "promo_uplift", table, level, minimum=0.0)
    lift_known = ~np.isnan(lift)
    lift = np.where(lift_known, lift, 1.0)
    cover = _column(table, "weeks_of_cover")
    if on_hand is not None and "weekly_demand" in table.columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(stock > 0, stock / table["weekly_demand"].to_numpy(float), 0.0)
        cover = np.where(np.isnan(stock), np.nan, cover)

    cap = np.where(np.isnan(stock), np.inf, stock)
    promo_demand = base * (1 - discount) ** elasticity * lift
    base_sold = np.minimum(base, cap)
    promo_sold = np.minimum(promo_demand, cap)
    uplift = promo_sold - base_sold
    # Clearing a unit now saves carrying it until it would have sold, counted up to a year.
    carried_weeks = np.minimum(np.nan_to_num(cover, nan=0.0), 52.0)
    cleared_value = np.where(
        np.isnan(stock), 0.0, uplift * cost * carrying_rate * carried_weeks / 52
    )
    promo_profit = (
        promo_sold * (regular * (1 - discount) - cost)
        - base_sold * (regular - cost)
        + cleared_value
    )
    push_sold = np.minimum(base * lift, cap)
    push_uplift = np.where(lift_known, push_sold - base_sold, np.nan)

    at_risk = ~np.isnan(stock) & (stock < restock_hi)
    elastic = elasticity <= -1
    declining = (table["trend"] == "declining").to_numpy()
    overstocked = cover >= overstock_weeks
    rising = (table["trend"] == "rising").to_numpy() | _column(table, "hot", False).astype(bool)
    # Rising items sell without a discount: they are pushed, never cut.
    promote = (
        ~at_risk
        & ~rising
        & elastic
        & ((declining & ~(promo_profit <= 0)) | (overstocked & (uplift > 0)))
    )
    push = ~at_risk & rising
    action = np.select([at_risk, promote, push], ["do_not_promote", "promote", "push"], "")

    out = pd.DataFrame({level: table[level]})
    if level != "item_id":
        out["item_id"] = table["item_id"]
    out["action"] = action
    out["trend"] = table["trend"]
    out["elasticity"] = elasticity
    out["base_units"] = base
    out["promo_units"] = np.where(action == "push", push_sold, promo_sold)
    out["uplift_units"] = np.where(action == "push", push_uplift, uplift)
    out["discount_cost"] = np.where(action == "promote", promo_sold * regular * discount, 0.0)
    out["profit_change"] = np.where(action == "push", push_uplift * (regular - cost), promo_profit)
    out["on_hand"] = stock
    out["weeks_of_cover"] = cover
    out["reason"] = _reasons(
        out, restock_hi, declining, overstocked, discount, horizon, min(restock, horizon)
    )
    out = out[out["action"] != ""]
    order = out["action"].map({a: k for k, a in enumerate(ACTIONS)})
    out = out.assign(_order=order, _gain=-out["profit_change"].fillna(-np.inf))
    out = out.sort_values(["_order", "_gain"], kind="stable").drop(columns=["_order", "_gain"])
    return like(out.reset_index(drop=True), trends)


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing column(s) {missing}; it has {list(frame.columns)}.",
            frame=name,
            column=missing[0],
            fix="pass the output of trend_table, or rename the columns.",
        )


def _column(table: pd.DataFrame, name: str, default: Any = np.nan) -> np.ndarray:
    if name in table.columns:
        return table[name].to_numpy(dtype=float if default is np.nan else None)
    return np.full(len(table), default)


def _demand(
    table: pd.DataFrame,
    forecasts: Any,
    model: str | None,
    static: Any,
    level: str,
    horizon: int,
    id_col: str,
    time_col: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected units over the horizon and their upper quantile (the expectation when unknown)."""
    if forecasts is not None:
        sums = to_pandas(
            forecast_totals(
                forecasts,
                horizon=horizon,
                model=model,
                static=static,
                level=level,
                id_col=id_col,
                time_col=time_col,
            )
        )
        sums = sums.set_index(level).reindex(table[level])
        base, high = sums["forecast"].to_numpy(float), sums["forecast_hi"].to_numpy(float)
    elif "forecast" in table.columns and table["forecast"].notna().any():
        if "horizon" in table.columns and int(table["horizon"].iloc[0]) != horizon:
            raise ValueError(
                f"the table's forecasts cover {int(table['horizon'].iloc[0])} periods, not "
                f"horizon={horizon}: pass `forecasts` or build the table with that horizon."
            )
        base, high = _column(table, "forecast"), _column(table, "forecast_hi")
    else:
        base = table["recent"].to_numpy(float) / table["window"].to_numpy(float) * horizon
        high = np.full(len(table), np.nan)
    missing = np.isnan(base)
    if missing.any():
        raise DataValidationError(
            "no forecast for some entities.",
            frame="forecasts",
            column=level,
            rows=table.loc[missing, [level]],
            fix="forecast every entity of the trend table.",
        )
    return base, np.where(np.isnan(high), base, high)


def _lookup(
    frame: Any,
    name: str,
    column: str,
    table: pd.DataFrame,
    level: str,
    *,
    minimum: float | None = None,
    finite: bool = False,
    strict: bool = False,
) -> np.ndarray:
    """Per table row, ``column`` of ``frame`` keyed by the table's entity column or ``item_id``."""
    if frame is None:
        return np.full(len(table), np.nan)
    side = to_pandas(frame, name=name)
    key = level if level in side.columns else "item_id"
    _require(side, [key, column], name)
    values = pd.to_numeric(side[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if minimum is not None:
        bad |= (values <= minimum) if strict else (values < minimum)
    if bad.any():
        bound = "" if minimum is None else (" > " if strict else " >= ") + f"{minimum:g}"
        raise DataValidationError(
            f"values must be finite numbers{bound}.",
            frame=name,
            column=column,
            rows=side.loc[bad, [key, column]],
            fix=f"correct or remove these rows of `{name}`.",
        )
    if side[key].duplicated().any():
        raise DataValidationError(
            f"one row per '{key}' expected.",
            frame=name,
            column=key,
            rows=side.loc[side[key].duplicated(keep=False), [key, column]],
            fix="keep one value per key.",
        )
    mapped = values.set_axis(side[key].astype(object)).reindex(table[key].astype(object))
    return mapped.to_numpy(dtype=float)


def _reasons(
    out: pd.DataFrame,
    restock_hi: np.ndarray,
    declining: np.ndarray,
    overstocked: np.ndarray,
    discount: float,
    horizon: int,
    restock: int,
) -> list[str]:
    reasons = []
    for k, row in enumerate(out.itertuples(index=False)):
        if row.action == "do_not_promote":
            text = (
                f"stock-out risk: {row.on_hand:,.0f} on hand vs up to {restock_hi[k]:,.0f} "
                f"expected over the next {restock} periods without a promotion"
            )
        elif row.action == "promote":
            why = "declining" if declining[k] else ""
            if overstocked[k]:
                why += (" and " if why else "") + f"{row.weeks_of_cover:,.0f} weeks of cover"
            text = (
                f"{why}; elastic ({row.elasticity:.1f}): a {discount:.0%} cut sells "
                f"{row.uplift_units:+,.0f} units over {horizon} periods"
            )
            if np.isfinite(row.profit_change):
                text += (
                    f", profit {row.profit_change:+,.0f} after {row.discount_cost:,.0f} discount"
                )
            else:
                text += "; give price and unit_cost for the profit"
        elif row.action == "push":
            text = f"{row.trend}: push while stock lasts"
            if np.isfinite(row.weeks_of_cover):
                text += f" ({row.weeks_of_cover:,.1f} weeks of cover)"
            if np.isfinite(row.uplift_units):
                text += f", {row.uplift_units:+,.0f} units expected from featuring it"
            else:
                text += "; give promo_uplift to size the gain"
        else:
            text = ""
        reasons.append(text)
    return reasons
