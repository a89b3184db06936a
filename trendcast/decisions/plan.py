"""From a shop's data and stock to decisions: what to order, what to charge, what to promote.

These functions join the pieces a shop would otherwise wire by hand: they fit the default
forecaster once, read series-level forecasts, stock and costs up to the item level where prices
are set, and call the decision tools (`inventory`, `pricing`, `trends`, `promotions`). The
command line (``trendcast plan``, ``price``, ``trends``) and the demo call them.

Example:
    >>> from trendcast.data.simulate import sample_stock, simulate_shop
    >>> shop = simulate_shop(n_items=8, n_stores=2, n_periods=400, seed=2, future_periods=14)
    >>> stock = sample_stock(shop.data)
    >>> forecaster = fit_forecaster(shop.data, n_estimators=60)
    >>> forecasts = forecaster.predict(14)
    >>> orders = order_list(forecaster, stock, lead_time=3, review_period=7)
    >>> bool((orders["order_qty"] >= 0).all())
    True
    >>> prices = price_list(shop.data, forecasts, stock)
    >>> len(prices.best), bool(prices.best["best_price"].gt(0).all())
    (8, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trendcast.data.contract import ShopData
from trendcast.data.plans import current_prices
from trendcast.decisions.elasticity import estimate_elasticities
from trendcast.decisions.inventory import demand_paths, replenishment_plan
from trendcast.decisions.pricing import best_price, settle_prices
from trendcast.decisions.promotions import promotion_candidates
from trendcast.decisions.trends import trend_table
from trendcast.forecaster import Forecaster

__all__ = [
    "PriceList",
    "buyer_view",
    "fit_forecaster",
    "item_position",
    "order_list",
    "price_list",
    "promotion_list",
]

ITEM = "item_id"


def fit_forecaster(
    data: ShopData,
    *,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
    progress: bool = False,
    **lightgbm: object,
) -> Forecaster:
    """The default forecaster (global LightGBM) fitted on the shop, ready for decisions.

    Args:
        data: the validated shop (`trendcast.validate`); its ``dynamic`` frame must hold the
            plan (prices, promotions, events) of the periods to forecast.
        quantiles: forecast quantiles.
        progress: show a progress bar.
        **lightgbm: settings of `trendcast.models.LightGBM`.
    """
    from trendcast.models import LightGBM

    cols = data.columns
    forecaster = Forecaster(
        [LightGBM(**lightgbm)],
        freq=data.freq,
        quantiles=quantiles,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
        progress=progress,
    )
    return forecaster.fit(data)


def order_list(
    forecaster: Forecaster,
    stock: pd.DataFrame,
    *,
    lead_time: int = 7,
    review_period: int = 7,
    service_level: float = 0.95,
    service_kind: str = "cycle",
    on_order: pd.DataFrame | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    dynamic: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """What to order now for every series in ``stock``, from the forecaster's demand paths.

    Args:
        forecaster: a fitted `Forecaster` whose first model draws sample paths (LightGBM).
        stock: one row per series: id, ``on_hand``; optional ``unit_cost``, ``min_order_qty``,
            ``pack_size`` (see `trendcast.decisions.inventory.replenishment_plan`).
        lead_time: periods from order to arrival.
        review_period: periods until the next order.
        service_level: cycle service level (or fill rate, with ``service_kind="fill_rate"``).
        service_kind: ``"cycle"`` or ``"fill_rate"``.
        on_order: ordered stock not yet arrived: id and ``quantity``.
        n_samples: demand paths per series.
        seed: seed of the paths.
        dynamic: the plan of the coming periods (prices, promotions), as in
            `Forecaster.predict`; None keeps the one the forecaster was fitted with.

    Returns:
        `replenishment_plan`'s frame, one row per ``stock`` row.
    """
    ids, paths = demand_paths(
        forecaster, lead_time + review_period, n_samples=n_samples, seed=seed, dynamic=dynamic
    )
    return replenishment_plan(
        paths,
        ids,
        stock,
        lead_time=lead_time,
        review_period=review_period,
        service_level=service_level,
        service_kind=service_kind,
        on_order=on_order,
        id_col=forecaster.data_.columns.id_col,
        seed=seed,
    )


def buyer_view(
    orders: pd.DataFrame,
    data: ShopData,
    stock: pd.DataFrame,
    *,
    periods: int,
    recent: int = 13,
    cap: float = 2.0,
) -> pd.DataFrame:
    """The order list as a buyer reads it: title, unit cost and order value, cover, and a
    check on every order far above what the product sold of late.

    Args:
        orders: `order_list`'s frame.
        data: the shop the forecaster was fitted on (titles in ``static``, prices in
            ``dynamic``, recent demand in ``sales``).
        stock: the stock frame; its ``unit_cost`` gives the order value.
        periods: the periods the order covers (lead time plus review period).
        recent: periods of history the check looks back on.
        cap: an order above ``cap`` times what the busiest of the ``recent`` periods would
            need over ``periods`` is flagged in ``check``.

    Returns:
        The orders with ``title`` (where the shop has titles), ``price`` (the last one, where
        the shop has prices), ``unit_cost`` and ``order_value`` (NaN without a cost),
        ``cover_periods`` (stock on hand and on order plus the order, over mean demand per
        period), ``recent_max`` (most sold in one of the ``recent`` periods) and ``check``.
    """
    cols = data.columns
    ids = orders[cols.id_col]
    out = orders.copy()
    if data.static is not None and "title" in data.static.columns:
        out.insert(1, "title", ids.map(data.static.set_index(cols.id_col)["title"]).to_numpy())
    if data.dynamic is not None and "price" in data.dynamic.columns:
        last_price = data.dynamic.dropna(subset=["price"]).groupby(cols.id_col, observed=True)
        out["price"] = ids.map(last_price["price"].last()).to_numpy()
    cost = stock.set_index(cols.id_col)["unit_cost"] if "unit_cost" in stock.columns else None
    out["unit_cost"] = ids.map(cost).to_numpy(float) if cost is not None else float("nan")
    out["order_value"] = out["order_qty"] * out["unit_cost"]
    per_period = out["demand_mean"] / periods
    held = out["inventory_position"] + out["order_qty"]
    out["cover_periods"] = (held / per_period.where(per_period > 0)).round(1)
    sales = data.sales.sort_values(list(cols.key))
    window = sales[sales.groupby(cols.id_col, observed=True).cumcount(ascending=False) < recent]
    recent_max = window.groupby(cols.id_col, observed=True)[cols.target_col].max()
    out["recent_max"] = ids.map(recent_max).to_numpy(float)
    limit = cap * out["recent_max"] * periods
    over = out["order_qty"] > limit
    ratio = out["order_qty"] / (out["recent_max"] * periods)
    out["check"] = ""
    out.loc[over, "check"] = [
        f"order is {r:.1f}x the busiest of the last {recent} periods over {periods}: check"
        if np.isfinite(r)
        else f"nothing sold in the last {recent} periods: check"
        for r in ratio[over]
    ]
    return out


def item_position(
    data: ShopData, forecasts: pd.DataFrame, stock: pd.DataFrame, *, model: str = "LightGBM"
) -> pd.DataFrame:
    """Where each item stands now: price, forecast demand, unit cost and stock, over its stores.

    Args:
        data: the shop; ``static`` maps series to ``item_id`` and ``dynamic`` has ``price``.
        forecasts: `Forecaster.predict` output; its horizon is the period the figures cover.
        stock: one row per series: id, ``on_hand`` and (needed to price for profit)
            ``unit_cost``.
        model: forecast column to read.

    Returns:
        One row per item: ``item_id``, ``price`` (mean over its series of the last price before
        the forecast), ``demand`` (forecast units over the horizon, all stores), ``unit_cost``
        (mean, where the stock has it), ``on_hand`` (all stores).
    """
    cols = data.columns
    if data.static is None or ITEM not in data.static or data.dynamic is None:
        raise ValueError(
            "Item-level decisions need `static` with an 'item_id' column per series and "
            "`dynamic` with the 'price' column: pass both."
        )
    _require(stock, [cols.id_col, "on_hand"], "stock")
    _require(forecasts, [cols.id_col, model], "forecasts")
    _require(data.dynamic, [cols.id_col, cols.time_col, "price"], "dynamic")
    unknown = sorted(
        set(stock[cols.id_col].astype(str)) - set(data.static[cols.id_col].astype(str))
    )
    if unknown:
        raise ValueError(
            f"`stock` names series the sales do not have: {unknown[:5]}"
            f"{' ...' if len(unknown) > 5 else ''}. Fix: give stock only for series in the sales."
        )
    item_of = data.static.set_index(cols.id_col)[ITEM]
    per_series = pd.DataFrame(
        {
            "price": current_prices(data),
            "demand": forecasts.groupby(cols.id_col, observed=True)[model].sum(),
        }
    )
    costs = ["unit_cost"] if "unit_cost" in stock.columns else []
    per_series = per_series.join(stock.set_index(cols.id_col)[["on_hand", *costs]])
    per_series[ITEM] = item_of.reindex(per_series.index).to_numpy()
    sums = {"price": ("price", "mean"), "demand": ("demand", "sum")}
    if costs:
        sums["unit_cost"] = ("unit_cost", "mean")
    return per_series.groupby(ITEM).agg(**sums, on_hand=("on_hand", "sum")).reset_index()


@dataclass
class PriceList:
    """Elasticities per item and the recommended price per item (see `price_list`)."""

    elasticities: pd.DataFrame
    best: pd.DataFrame


def price_list(
    data: ShopData,
    forecasts: pd.DataFrame,
    stock: pd.DataFrame,
    *,
    model: str = "LightGBM",
    bounds: tuple[float, float] = (0.8, 1.2),
    objective: str = "profit",
    limit_to_stock: bool = False,
    progress: bool = False,
) -> PriceList:
    """Price elasticities from the history and the best price per item for the forecast period.

    Args:
        data: the shop, with ``static`` (``item_id``, ``cat_id``) and ``dynamic`` (``price``).
        forecasts: `Forecaster.predict` output; demand at the current price over its horizon.
        stock: one row per series: id, ``on_hand`` and, for ``objective="profit"``,
            ``unit_cost``.
        model: forecast column to read.
        bounds: lowest and highest price as multiples of the current price.
        objective: ``"profit"`` or ``"revenue"``.
        limit_to_stock: cap sales at the stock on hand (no replenishment in the period).
        progress: show a progress bar while the elasticities are estimated.

    Returns:
        A `PriceList`: ``elasticities`` (`estimate_elasticities`) and ``best`` (`best_price`
        with `settle_prices`' ``action``, ``new_price`` and ``reason``: a price changes only
        on a negative, certain elasticity and a gain beyond its uncertainty).
    """
    cols = data.columns
    elasticities = estimate_elasticities(
        data.sales,
        data.dynamic,
        data.static,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
        progress=progress,
    )
    current = item_position(data, forecasts, stock, model=model)
    best = best_price(
        elasticities,
        current,
        bounds=bounds,
        objective=objective,
        stock_col="on_hand" if limit_to_stock else None,
    )
    return PriceList(elasticities=elasticities, best=settle_prices(best, elasticities))


def promotion_list(
    data: ShopData,
    forecasts: pd.DataFrame,
    stock: pd.DataFrame,
    elasticities: pd.DataFrame,
    *,
    model: str = "LightGBM",
    discount: float = 0.15,
    lead_time: int = 7,
    window: int = 28,
) -> pd.DataFrame:
    """Items to promote, to push without a discount, and not to promote, with the economics.

    Args:
        data: the shop, with ``static`` (``item_id``) and ``dynamic`` (``price``).
        forecasts: `Forecaster.predict` output; its horizon is the promotion's.
        stock: one row per series: id, ``on_hand``, ``unit_cost``.
        elasticities: `estimate_elasticities` output.
        model: forecast column to read.
        discount: price cut of a promotion.
        lead_time: periods until reordered stock arrives: a promotion is ruled out where the
            stock does not cover the upper forecast until then.
        window: periods of the trend comparison windows.

    Returns:
        `promotion_candidates` at the item level.
    """
    cols = data.columns
    horizon = int(forecasts.groupby(cols.id_col, observed=True).size().max())
    trends = trend_table(
        data.sales,
        static=data.static,
        dynamic=data.dynamic,
        forecasts=forecasts,
        model=model,
        on_hand=stock[[cols.id_col, "on_hand"]],
        level=ITEM,
        window=window,
        horizon=horizon,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
    )
    position = item_position(data, forecasts, stock, model=model)
    return promotion_candidates(
        trends,
        elasticities=elasticities,
        forecasts=forecasts,
        model=model,
        static=data.static,
        unit_cost=position[[ITEM, "unit_cost"]],
        price=position[[ITEM, "price"]],
        discount=discount,
        restock_periods=lead_time,
        id_col=cols.id_col,
        time_col=cols.time_col,
    )


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"`{name}` lacks the column(s) {missing}; it has {list(frame.columns)}. Fix: add "
            "them (see the README's data contract)."
        )
