"""Replenishment math on demand sample paths: protection demand, order-up-to levels, orders.

Everything here works on sample paths, arrays ``(n_series, n_samples, h)`` of demand per period
(`demand_paths` draws them from a fitted forecaster). Sums over a lead time are taken path by
path, never by adding per-period quantiles, which would overstate (or understate) the spread.

Periodic review, order-up-to ``S`` (an ``(R, S)`` policy): every ``review_period`` ``R`` periods,
order up to ``S`` counting stock on hand and on order (the inventory position). An order placed
now arrives after the lead time ``L``; the next order arrives after ``R + L``, so the stock must
cover the demand of the *protection period*, the first ``L + R`` periods:

* ``order_up_to`` is the ``service_level`` quantile of protection demand (cycle service: the
  probability of no stock-out before the next order arrives), or the smallest level whose
  expected fill rate meets the target (``service_kind="fill_rate"``);
* ``safety_stock = order_up_to - E[protection demand]``;
* ``reorder_point`` is the same quantile of lead-time demand (the first ``L`` periods): the level
  to reorder at under continuous review. With normal demand per period, independent over time,
  ``safety_stock = z * sigma * sqrt(L + R)`` and, with ``R = 0``, ``z * sigma * sqrt(L)``;
* expected fill rate of a cycle, with ``D_L`` and ``D_{L+R}`` the demand over the first ``L`` and
  ``L + R`` periods: ``1 - (E[(D_{L+R} - S)^+] - E[(D_L - S)^+]) / E[D_{L+R} - D_L]``, the units
  short during the cycle over the cycle's demand (with ``R = 0``: ``1 - E[(D_L - S)^+] / E[D_L]``).

With costs instead of a service level, the cycle service level is the critical ratio
``cu / (cu + co)``: ``cu`` the cost of a unit short (``shortage_cost``, by default the lost
margin ``price - unit_cost``) and ``co = holding_cost * review_period`` (a unit too many is
carried until the next review; ``holding_cost`` per unit and period, at least one period).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas

__all__ = [
    "critical_ratio",
    "demand_paths",
    "expected_fill_rate",
    "fill_rate_level",
    "newsvendor_quantity",
    "order_quantity",
    "protection_demand",
    "replenishment_plan",
]

_PLAN_NUMBERS = (
    "unit_cost",
    "price",
    "holding_cost",
    "shortage_cost",
    "min_order_qty",
    "pack_size",
)


def demand_paths(
    forecaster: Any, h: int, *, n_samples: int = 200, seed: int = 0, dynamic: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Series ids and demand sample paths from a fitted `trendcast.Forecaster`.

    Args:
        forecaster: a fitted Forecaster whose first model has ``sample_paths`` (e.g. LightGBM).
        h: periods per path, at least the longest lead time plus the review period.
        n_samples: paths per series.
        seed: random seed of the draws.
        dynamic: the plan of the forecast periods (prices, promotions), as in
            `Forecaster.predict`; None keeps the fitted plan.

    Returns:
        ``(ids, paths)``: ids ``(n_series,)`` and paths ``(n_series, n_samples, h)``.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> from trendcast.models import LightGBM
        >>> shop = simulate_shop(n_items=3, n_stores=1, n_periods=120, reviews=False,
        ...                      future_periods=14)
        >>> fc = Forecaster([LightGBM(n_estimators=20)]).fit(
        ...     shop.data.sales, dynamic=shop.data.dynamic)
        >>> ids, paths = demand_paths(fc, 14, n_samples=50)
        >>> paths.shape
        (3, 50, 14)
    """
    _check_int("h", h, minimum=1)
    _check_int("n_samples", n_samples, minimum=1)
    paths = forecaster.sample_paths(h, n_samples=n_samples, seed=seed, dynamic=dynamic)
    return np.asarray(forecaster.arrays_.ids), np.asarray(paths, dtype=float)


def protection_demand(
    paths: np.ndarray,
    *,
    lead_time: int | np.ndarray | None = None,
    review_period: int = 0,
    lead_time_pmf: Sequence[float] | Mapping[int, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Demand over lead time plus review period, one total per sample path.

    Args:
        paths: demand paths ``(n_series, n_samples, h)``.
        lead_time: periods from order to arrival; one integer or one per series.
        review_period: periods between orders (0 for continuous review).
        lead_time_pmf: instead of ``lead_time``, the probability of each lead time: a sequence
            (index = lead time) or a mapping ``{lead time: probability}``. One lead time is
            drawn per path, so totals mix demand and lead-time uncertainty.
        seed: random seed of the lead-time draws.

    Returns:
        Totals ``(n_series, n_samples)``: each path's sum over its first ``L + R`` periods.

    Example:
        >>> import numpy as np
        >>> paths = np.ones((2, 3, 10))
        >>> protection_demand(paths, lead_time=3, review_period=2)[0].tolist()
        [5.0, 5.0, 5.0]
    """
    paths = _check_paths(paths)
    lead = _lead_times(paths, lead_time, lead_time_pmf, seed)
    return _window_totals(paths, lead + _check_int("review_period", review_period, minimum=0))


def critical_ratio(
    *,
    unit_cost: float | np.ndarray | None = None,
    price: float | np.ndarray | None = None,
    holding_cost: float | np.ndarray | None = None,
    shortage_cost: float | np.ndarray | None = None,
    review_period: int = 1,
) -> np.ndarray:
    """Cycle service level that balances shortage and holding costs: ``cu / (cu + co)``.

    Args:
        unit_cost, price: purchase cost and selling price per unit; their difference is the
            cost of a unit short when ``shortage_cost`` is not given.
        holding_cost: cost of holding one unit for one period.
        shortage_cost: cost of one unit of unmet demand (lost margin plus any goodwill).
        review_period: periods a unit too many waits for the next review (at least one counts).

    Returns:
        The service level(s) in (0, 1).

    Example:
        >>> float(critical_ratio(shortage_cost=9.0, holding_cost=0.5, review_period=2))
        0.9
    """
    if holding_cost is None:
        raise ValueError(
            "Costs need holding_cost (per unit and period). Fix: pass holding_cost, or pass "
            "service_level instead of costs."
        )
    if shortage_cost is None:
        if price is None or unit_cost is None:
            raise ValueError(
                "Costs need shortage_cost, or price and unit_cost (the lost margin is the "
                "shortage cost). Fix: pass them, or pass service_level instead of costs."
            )
        shortage_cost = np.asarray(price, dtype=float) - np.asarray(unit_cost, dtype=float)
    under = np.asarray(shortage_cost, dtype=float)
    over = np.asarray(holding_cost, dtype=float) * max(review_period, 1)
    if np.any(under <= 0) or np.any(over <= 0):
        raise ValueError(
            "The shortage cost (or price - unit_cost) and the holding cost must be positive; "
            f"got shortage {under.tolist()} and holding {over.tolist()} per review period."
        )
    return under / (under + over)


def newsvendor_quantity(
    samples: np.ndarray,
    *,
    price: float | np.ndarray,
    unit_cost: float | np.ndarray,
    salvage: float | np.ndarray = 0.0,
    shortage_cost: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Quantity to buy once (perishable or one-shot goods): the critical-ratio quantile.

    Under-buying loses ``cu = price - unit_cost + shortage_cost`` per unit; over-buying loses
    ``co = unit_cost - salvage``. The best quantity is the smallest ``q`` with
    ``P(demand <= q) >= cu / (cu + co)``. Demand over several periods must be one total per
    path (see `protection_demand`); adding per-period quantiles would be wrong.

    Args:
        samples: demand samples, ``(n_samples,)`` or ``(n_series, n_samples)``.
        price, unit_cost, salvage, shortage_cost: per unit; scalars or one per series.

    Returns:
        The quantity (a scalar array for 1-D samples, else one per series).

    Example:
        >>> import numpy as np
        >>> demand = np.arange(1, 101, dtype=float)  # uniform on 1..100
        >>> float(newsvendor_quantity(demand, price=10.0, unit_cost=3.0))
        70.0
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim not in (1, 2) or samples.shape[-1] == 0 or np.isnan(samples).any():
        raise ValueError(
            "samples must be a non-empty (n_samples,) or (n_series, n_samples) array without "
            f"NaN; got shape {samples.shape}."
        )
    under = np.asarray(price, dtype=float) - np.asarray(unit_cost, dtype=float)
    under = under + np.asarray(shortage_cost, dtype=float)
    over = np.asarray(unit_cost, dtype=float) - np.asarray(salvage, dtype=float)
    if np.any(under <= 0) or np.any(over < 0):
        raise ValueError(
            "Need price + shortage_cost > unit_cost >= salvage; got under-buying cost "
            f"{under.tolist()} and over-buying cost {over.tolist()} per unit."
        )
    ratio = np.broadcast_to(under / (under + over), samples.shape[:-1])
    return _sample_quantile(samples, ratio)


def replenishment_plan(
    paths: np.ndarray,
    ids: Sequence[Any] | np.ndarray,
    inventory: Any,
    *,
    lead_time: int | None = None,
    review_period: int = 1,
    lead_time_pmf: Sequence[float] | Mapping[int, float] | None = None,
    on_order: Any = None,
    service_level: float | None = None,
    service_kind: str = "cycle",
    unit_cost: float | None = None,
    price: float | None = None,
    holding_cost: float | None = None,
    shortage_cost: float | None = None,
    min_order_qty: float = 0.0,
    pack_size: float = 1.0,
    quantiles: Sequence[float] = (0.5, 0.9, 0.95),
    id_col: str = "unique_id",
    seed: int = 0,
) -> Any:
    """What to order now, per series, from demand sample paths and stock.

    Args:
        paths: demand paths ``(n_series, n_samples, h)`` with ``h >= L + R``.
        ids: the series id of each row of ``paths`` (see `demand_paths`).
        inventory: one row per series to plan: ``id_col`` and ``on_hand``. Optional columns
            ``unit_cost``, ``price``, ``holding_cost``, ``shortage_cost``, ``min_order_qty``,
            ``pack_size`` override the keywords of the same name for their series.
        lead_time: periods from order to arrival (or give ``lead_time_pmf``).
        review_period: periods until the next order can be placed.
        lead_time_pmf: lead-time probabilities, see `protection_demand`.
        on_order: stock ordered but not arrived: ``id_col`` and ``quantity`` (any number of
            rows per series). It counts in the inventory position.
        service_level: target in (0, 1); without it, costs set it (see `critical_ratio`).
        service_kind: ``"cycle"`` (probability of no stock-out per cycle) or ``"fill_rate"``
            (share of demand served from stock).
        unit_cost, price, holding_cost, shortage_cost: per unit (holding: per unit and period).
        min_order_qty: smallest order when ordering at all.
        pack_size: orders are whole packs (rounded up).
        quantiles: protection-demand quantiles to report.
        id_col: id column of ``inventory`` and ``on_order``.
        seed: random seed of lead-time draws.

    Returns:
        One row per ``inventory`` row, same frame type: ``demand_mean``, ``demand-q-{q}``,
        ``service_level``, ``safety_stock``, ``reorder_point``, ``order_up_to``,
        ``inventory_position``, ``order_qty``, ``expected_fill_rate``,
        ``stockout_probability``.

    Example:
        >>> import numpy as np, pandas as pd
        >>> paths = np.random.default_rng(0).poisson(4.0, size=(1, 500, 14)).astype(float)
        >>> stock = pd.DataFrame({"unique_id": ["a"], "on_hand": [10.0]})
        >>> plan = replenishment_plan(paths, ["a"], stock, lead_time=5, review_period=2,
        ...                           service_level=0.95, pack_size=6)
        >>> int(plan["order_qty"].iloc[0]) % 6, bool(plan["order_up_to"].iloc[0] > 28)
        (0, True)
    """
    paths = _check_paths(paths)
    ids = np.asarray(ids)
    if len(ids) != paths.shape[0]:
        raise ValueError(f"ids has {len(ids)} entries but paths has {paths.shape[0]} series.")
    stock = to_pandas(inventory)
    _require_columns(stock, [id_col, "on_hand"], "inventory")
    rows = _series_rows(stock[id_col], ids, id_col, "inventory")
    on_hand = _nonnegative(stock, "on_hand", "inventory")
    review_period = _check_int("review_period", review_period, minimum=0)
    if service_kind not in ("cycle", "fill_rate"):
        raise ValueError(f"service_kind must be 'cycle' or 'fill_rate', got {service_kind!r}.")
    given = {
        "unit_cost": unit_cost,
        "price": price,
        "holding_cost": holding_cost,
        "shortage_cost": shortage_cost,
        "min_order_qty": min_order_qty,
        "pack_size": pack_size,
    }
    numbers = {name: _per_series(stock, name, given[name]) for name in _PLAN_NUMBERS}
    if np.any(numbers["pack_size"] <= 0):
        raise ValueError("pack_size must be positive: 1 means single units.")
    if service_level is None:
        level = critical_ratio(
            unit_cost=numbers["unit_cost"],
            price=numbers["price"],
            holding_cost=numbers["holding_cost"],
            shortage_cost=numbers["shortage_cost"],
            review_period=review_period,
        )
    else:
        level = _check_level(service_level)
    level = np.broadcast_to(np.asarray(level, dtype=float), (len(stock),))
    on_order_units = _on_order(on_order, stock[id_col], ids, id_col)

    chosen = paths[rows]
    lead = _lead_times(chosen, lead_time, lead_time_pmf, seed)
    lead_demand = _window_totals(chosen, lead)
    total = _window_totals(chosen, lead + review_period)
    if service_kind == "cycle":
        order_up_to = _sample_quantile(total, level)
    else:
        order_up_to = fill_rate_level(lead_demand, total, level)
    position = on_hand + on_order_units
    order_qty = order_quantity(
        order_up_to - position,
        min_order_qty=numbers["min_order_qty"],
        pack_size=numbers["pack_size"],
    )
    mean = total.mean(axis=1)
    out = pd.DataFrame({id_col: stock[id_col].to_numpy(), "demand_mean": mean})
    for q in quantiles:
        out[f"demand-q-{q:g}"] = np.quantile(total, _check_level(q, "quantiles"), axis=1)
    out["service_level"] = level
    out["safety_stock"] = order_up_to - mean
    out["reorder_point"] = _sample_quantile(lead_demand, level)
    out["order_up_to"] = order_up_to
    out["inventory_position"] = position
    out["order_qty"] = order_qty
    out["expected_fill_rate"] = expected_fill_rate(lead_demand, total, position + order_qty)
    out["stockout_probability"] = (total > (position + order_qty)[:, None]).mean(axis=1)
    return like(out, inventory)


def order_quantity(
    shortfall: np.ndarray, *, min_order_qty: float | np.ndarray = 0.0, pack_size: float = 1.0
) -> np.ndarray:
    """Units to order to close ``shortfall`` (order-up-to minus position): whole packs, at
    least ``min_order_qty`` when ordering, nothing when the shortfall is not positive."""
    shortfall = np.asarray(shortfall, dtype=float)
    wanted = np.maximum(shortfall, min_order_qty)
    # A tiny tolerance keeps 12.000000001 / 6 from becoming three packs.
    packs = np.ceil(wanted / pack_size - 1e-9)
    return np.where(shortfall > 0, packs * pack_size, 0.0)


def expected_fill_rate(lead_demand: np.ndarray, total: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """Expected share of a cycle's demand served, per series, with ``stock`` covering it.

    Args:
        lead_demand: demand over the lead time per path ``(n_series, n_samples)``.
        total: demand over lead time plus review period, same paths.
        stock: inventory position after ordering ``(n_series,)``.
    """
    stock = np.asarray(stock, dtype=float)[:, None]
    short_total = np.maximum(total - stock, 0.0).mean(axis=1)
    short_lead = np.maximum(lead_demand - stock, 0.0).mean(axis=1)
    cycle = (total - lead_demand).mean(axis=1)
    # Continuous review (R = 0): the cycle is the lead time itself.
    continuous = cycle <= 0
    short = np.where(continuous, short_total, short_total - short_lead)
    demand = np.where(continuous, total.mean(axis=1), cycle)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(demand > 0, 1.0 - short / demand, 1.0)


def fill_rate_level(
    lead_demand: np.ndarray, total: np.ndarray, target: np.ndarray, *, tolerance: float = 1e-3
) -> np.ndarray:
    """Smallest order-up-to level whose expected fill rate meets ``target``, per series.

    Bisection on all series at once (the fill rate rises with the level); integer demand gets
    whole-unit levels.
    """
    target = np.broadcast_to(np.asarray(target, dtype=float), (total.shape[0],))
    low = np.zeros(total.shape[0])
    high = total.max(axis=1) + 1.0
    while np.any(high - low > tolerance):
        middle = (low + high) / 2
        enough = expected_fill_rate(lead_demand, total, middle) >= target
        high = np.where(enough, middle, high)
        low = np.where(enough, low, middle)
    if np.all(total == np.round(total)):
        whole = np.ceil(low)
        reaches = expected_fill_rate(lead_demand, total, whole) >= target
        return np.where(reaches, whole, np.ceil(high))
    return high


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def _check_paths(paths: np.ndarray) -> np.ndarray:
    paths = np.asarray(paths, dtype=float)
    if paths.ndim != 3 or 0 in paths.shape:
        raise ValueError(
            f"paths must be (n_series, n_samples, h) with no empty axis; got {paths.shape}."
        )
    if np.isnan(paths).any() or (paths < 0).any():
        raise ValueError("paths must hold demand: no NaN and no negative values.")
    return paths


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")
    return int(value)


def _check_level(level: Any, name: str = "service_level") -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(
            f"{name} must lie strictly between 0 and 1 (e.g. 0.95 for 95%), got {level}."
        )
    return level


def _lead_times(
    paths: np.ndarray,
    lead_time: int | np.ndarray | None,
    lead_time_pmf: Sequence[float] | Mapping[int, float] | None,
    seed: int,
) -> np.ndarray:
    """Lead time per path ``(n_series, n_samples)``: fixed, per series, or drawn from a pmf."""
    n_series, n_samples, horizon = paths.shape
    if (lead_time is None) == (lead_time_pmf is None):
        raise ValueError("Give exactly one of lead_time and lead_time_pmf.")
    if lead_time_pmf is not None:
        if isinstance(lead_time_pmf, Mapping):
            values = np.array(list(lead_time_pmf), dtype=float)
            probabilities = np.array(list(lead_time_pmf.values()), dtype=float)
        else:
            probabilities = np.asarray(lead_time_pmf, dtype=float)
            values = np.arange(len(probabilities), dtype=float)
        if (
            len(values) == 0
            or np.any(values < 0)
            or np.any(values != np.round(values))
            or np.any(probabilities < 0)
            or not np.isclose(probabilities.sum(), 1.0)
        ):
            raise ValueError(
                "lead_time_pmf must give non-negative whole lead times with probabilities "
                f">= 0 summing to 1; got lead times {values.tolist()} and probabilities "
                f"{probabilities.tolist()}."
            )
        rng = np.random.default_rng(seed)
        lead = rng.choice(values.astype(np.int64), size=(n_series, n_samples), p=probabilities)
    else:
        lead = np.broadcast_to(np.asarray(lead_time), (n_series,))
        bad = (lead < 0) | (lead != np.round(lead))
        if bad.any():
            raise ValueError(
                "lead_time must be whole periods >= 0; got "
                f"{np.unique(lead[bad]).tolist()}. Fix: give the delay from order to arrival."
            )
        lead = np.repeat(lead.astype(np.int64)[:, None], n_samples, axis=1)
    return lead


def _window_totals(paths: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Sum of each path's first ``periods`` values; ``periods`` is ``(n_series, n_samples)``."""
    horizon = paths.shape[2]
    if periods.max(initial=0) > horizon:
        raise ValueError(
            f"The paths cover {horizon} periods but lead time plus review period reaches "
            f"{int(periods.max())}. Fix: draw paths over at least that many periods."
        )
    cumulative = np.concatenate([np.zeros(paths.shape[:2] + (1,)), paths.cumsum(axis=2)], 2)
    return np.take_along_axis(cumulative, periods[..., None], axis=2)[..., 0]


def _sample_quantile(samples: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Smallest sample value ``v`` with ``P(X <= v) >= level``, per row (inverted CDF)."""
    ordered = np.sort(samples, axis=-1)
    n = ordered.shape[-1]
    position = np.clip(np.ceil(np.asarray(level) * n - 1e-9).astype(np.int64) - 1, 0, n - 1)
    return np.take_along_axis(ordered, np.asarray(position)[..., None], axis=-1)[..., 0]


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing}; it has {list(frame.columns)}. Fix: add them "
            "(or rename with id_col=...)."
        )


def _series_rows(frame_ids: pd.Series, ids: np.ndarray, id_col: str, name: str) -> np.ndarray:
    """Row of ``ids`` holding each of ``frame_ids``; unknown or repeated ids are errors."""
    repeated = frame_ids[frame_ids.duplicated()]
    if len(repeated):
        raise ValueError(
            f"{name} has several rows for {id_col} {repeated.unique()[:5].tolist()}: give one."
        )
    position = pd.Index(ids).get_indexer(frame_ids)
    if (position < 0).any():
        unknown = frame_ids[position < 0].unique()
        raise ValueError(
            f"{name} has {len(unknown)} {id_col}(s) with no demand forecast (never sold, or not "
            f"in the forecasts): {unknown[:5].tolist()}. Fix: forecast them (they need sales "
            "history) or plan them apart, e.g. with a cold-start forecast."
        )
    return position


def _nonnegative(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    bad = np.isnan(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{name}[{column!r}] must be numbers >= 0; bad rows:\n{frame[bad].head(5)}"
        )
    return values


def _per_series(stock: pd.DataFrame, name: str, value: float | None) -> np.ndarray | None:
    """A per-series column of ``stock`` when present, else the keyword's value."""
    if name in stock.columns:
        return _nonnegative(stock, name, "inventory")
    if value is None:
        return None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}.")
    return np.full(len(stock), float(value))


def _on_order(on_order: Any, frame_ids: pd.Series, ids: np.ndarray, id_col: str) -> np.ndarray:
    """Units on order per planned series (0 where nothing is on order)."""
    if on_order is None:
        return np.zeros(len(frame_ids))
    pending = to_pandas(on_order)
    _require_columns(pending, [id_col, "quantity"], "on_order")
    quantity = _nonnegative(pending, "quantity", "on_order")
    unknown = ~pending[id_col].isin(frame_ids)
    if unknown.any():
        raise ValueError(
            f"on_order has {id_col}(s) not in inventory: "
            f"{pending.loc[unknown, id_col].unique()[:5].tolist()}. Fix: add them to inventory "
            "(with on_hand 0 if none is in stock)."
        )
    totals = pd.Series(quantity).groupby(pending[id_col].to_numpy()).sum()
    return totals.reindex(frame_ids.to_numpy()).fillna(0.0).to_numpy()
