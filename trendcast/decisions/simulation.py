"""Replays held-out demand under an ordering policy and scores it (lost sales, daily steps).

`simulate_policy` runs all series at once, day by day over the held-out days. Each day:

1. orders due that day arrive and join the stock on hand;
2. on a review day (every ``review_period`` days from the first) the policy sees the demand of
   the days before (never that day's or later) and returns an order-up-to level per series; the
   order ``order_up_to - (on hand + on order)``, rounded to packs and the minimum order, arrives
   ``lead_time`` days later (``lead_time = 0``: at once, before the day's demand);
3. demand is served from stock; what stock cannot serve is lost (not backordered);
4. what is left is carried to the next day and costs ``holding_cost`` per unit.

The simulator creates and loses nothing: ``start + arrived = end + served`` and
``demand = served + lost`` for every series, and ``ordered = arrived + still on order``.

Policies are small objects with ``order_up_to(review) -> levels``:

* `ForecastPolicy`: a quantile (or fill-rate level) of protection demand drawn from the
  forecaster's sample paths, refitted on the history up to the review;
* `MovingAverageCoverPolicy`: the last 4 weeks' mean daily demand times the weeks of cover;
* `FixedCoverPolicy`: a level set once, before the simulation, from a year's mean daily demand
  times the weeks of cover, never updated;
* `SeasonalNaiveNormalPolicy`: base stock from the seasonal naive forecast over lead time plus
  review period, plus ``z * sigma * sqrt(L + R)`` with ``sigma`` the seasonal-naive residuals'
  deviation.

Within the simulated days policies see the *demand* of past days (sales plus lost sales, as a
shop recording its stock-outs would), so their forecasts do not depend on their own stock-outs;
before them they see ``history`` as given (e.g. recorded sales, censored by past stock-outs).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm

from trendcast._frames import to_pandas
from trendcast.decisions.inventory import (
    _check_level,
    _sample_quantile,
    _window_totals,
    fill_rate_level,
    order_quantity,
)

__all__ = [
    "FixedCoverPolicy",
    "Policy",
    "compare_policies",
    "ForecastPolicy",
    "MovingAverageCoverPolicy",
    "Review",
    "SeasonalNaiveNormalPolicy",
    "SimulationResult",
    "simulate_policy",
]

DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Review:
    """What a policy sees on a review day.

    Attributes:
        ids: series ids, in the order the levels must come back in.
        dates: dates of the columns of ``history`` (daily, consecutive).
        history: demand ``(n_series, len(dates))`` up to the day before the review; NaN before
            a series' first row.
        date: the review date (the first date not in ``history``).
        start: column of ``history`` where the simulation began (before it: given history).
        lead_time: lead time per series (days).
        review_period: days until the next review.
    """

    ids: np.ndarray
    dates: np.ndarray
    history: np.ndarray
    date: pd.Timestamp
    start: int
    lead_time: np.ndarray
    review_period: int


class Policy(Protocol):
    """An ordering rule: order-up-to levels ``(n_series,)`` from what a review shows."""

    def order_up_to(self, review: Review) -> np.ndarray: ...


@dataclass
class SimulationResult:
    """Scores of one simulation.

    Attributes:
        summary: totals over series and scored days: ``fill_rate`` (served / demand),
            ``stockout_days`` (series-days with lost demand), ``lost_units``, ``served_units``,
            ``demand_units``, ``avg_on_hand`` (units on hand at day end, summed over series,
            averaged over days), ``holding_cost``, ``shortage_cost``, ``total_cost``,
            ``ordered_units``, ``orders``.
        series: the same per series (one row each, ``id_col`` first).
        daily: one row per series and day: ``demand``, ``served``, ``lost``, ``arrived``,
            ``ordered``, ``order_up_to`` (NaN on days without review), ``on_hand`` (day end),
            ``scored`` (False in the warm-up).
    """

    summary: dict[str, float]
    series: pd.DataFrame
    daily: pd.DataFrame


def simulate_policy(
    history: Any,
    demand: Any,
    policy: Policy,
    *,
    lead_time: int | np.ndarray,
    review_period: int = 7,
    start_on_hand: float | np.ndarray | Any = 0.0,
    holding_cost: float | np.ndarray = 0.0,
    shortage_cost: float | np.ndarray = 0.0,
    min_order_qty: float = 0.0,
    pack_size: float = 1.0,
    warmup: int = 0,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> SimulationResult:
    """Replays ``demand`` day by day under ``policy`` with lost sales and scores it.

    Args:
        history: long frame of daily demand before the simulated days (what the policy may
            learn from): ``id_col``, ``time_col``, ``target_col``.
        demand: long frame of the demand to serve, one row per series and simulated day, the
            same days for every series, following ``history`` without a gap.
        policy: object with ``order_up_to(review) -> array (n_series,)``.
        lead_time: days from order to arrival; one integer or one per series (in the order
            of the sorted ids).
        review_period: days between reviews (orders); the first review is the first day.
        start_on_hand: stock at the start: one number, an array per series, or a frame with
            ``id_col`` and ``on_hand``.
        holding_cost: cost per unit on hand at a day's end; scalar or per series.
        shortage_cost: cost per unit of lost demand; scalar or per series.
        min_order_qty, pack_size: order rounding (see `inventory.order_quantity`).
        warmup: first days left out of the scores (the simulation still runs them).
        id_col, time_col, target_col: column names of ``history`` and ``demand``.

    Returns:
        A `SimulationResult`.

    Example:
        >>> import pandas as pd
        >>> days = pd.date_range("2024-01-01", periods=70)
        >>> frame = pd.DataFrame({"unique_id": "a", "ds": days, "y": 2.0})
        >>> result = simulate_policy(frame[:56], frame[56:], MovingAverageCoverPolicy(
        ...     weeks_of_cover=2), lead_time=3, start_on_hand=10)
        >>> result.summary["fill_rate"], result.summary["lost_units"]
        (1.0, 0.0)
    """
    setup = _Setup.build(
        history,
        demand,
        lead_time=lead_time,
        review_period=review_period,
        start_on_hand=start_on_hand,
        holding_cost=holding_cost,
        shortage_cost=shortage_cost,
        warmup=warmup,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
    )
    record, orders = setup.replay(policy, min_order_qty=min_order_qty, pack_size=pack_size)
    return setup.score(record, orders)


def compare_policies(
    history: Any,
    demand: Any,
    policies: Mapping[str, Policy],
    *,
    lead_time: int | np.ndarray,
    review_period: int = 7,
    start_on_hand: float | np.ndarray | Any = 0.0,
    holding_cost: float | np.ndarray = 0.0,
    shortage_cost: float | np.ndarray = 0.0,
    min_order_qty: float = 0.0,
    pack_size: float = 1.0,
    warmup: int = 0,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pd.DataFrame:
    """Replays the same demand, from the same stock, under each of ``policies``.

    Args:
        policies: policy objects by name.
        history, demand, lead_time, ...: as in `simulate_policy`; the frames are read once.

    Returns:
        One row per policy: ``policy`` (its name) and the summary of `SimulationResult`.

    Example:
        >>> import pandas as pd
        >>> days = pd.date_range("2024-01-01", periods=70)
        >>> frame = pd.DataFrame({"unique_id": "a", "ds": days, "y": 2.0})
        >>> table = compare_policies(frame[:56], frame[56:], {
        ...     "1 week": MovingAverageCoverPolicy(weeks_of_cover=1),
        ...     "3 weeks": MovingAverageCoverPolicy(weeks_of_cover=3)}, lead_time=3)
        >>> table["avg_on_hand"].round(1).tolist()
        [3.9, 25.9]
    """
    setup = _Setup.build(
        history,
        demand,
        lead_time=lead_time,
        review_period=review_period,
        start_on_hand=start_on_hand,
        holding_cost=holding_cost,
        shortage_cost=shortage_cost,
        warmup=warmup,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
    )
    rows = []
    for name, policy in policies.items():
        record, orders = setup.replay(policy, min_order_qty=min_order_qty, pack_size=pack_size)
        rows.append({"policy": name, **setup.score(record, orders, daily=False).summary})
    return pd.DataFrame(rows)


@dataclass
class _Setup:
    """The demand as arrays and the settings shared by every policy replayed on it."""

    ids: np.ndarray
    dates: np.ndarray
    matrix: np.ndarray
    start: int
    lead: np.ndarray
    review_period: int
    start_stock: np.ndarray
    holding: np.ndarray
    shortage: np.ndarray
    warmup: int
    id_col: str

    @classmethod
    def build(
        cls,
        history: Any,
        demand: Any,
        *,
        lead_time: int | np.ndarray,
        review_period: int,
        start_on_hand: Any,
        holding_cost: Any,
        shortage_cost: Any,
        warmup: int,
        id_col: str,
        time_col: str,
        target_col: str,
    ) -> _Setup:
        ids, dates, matrix, start = _demand_matrix(history, demand, id_col, time_col, target_col)
        n_series, n_days = len(ids), matrix.shape[1] - start
        if not 0 <= warmup < n_days:
            raise ValueError(f"warmup must be in [0, {n_days}) days, got {warmup}.")
        if review_period < 1 or int(review_period) != review_period:
            raise ValueError(
                f"review_period must be a whole number of days >= 1, got {review_period}."
            )
        lead = np.broadcast_to(np.asarray(lead_time), (n_series,))
        if np.any(lead < 0) or np.any(lead != np.round(lead)):
            raise ValueError(
                f"lead_time must be whole days >= 0, got {np.unique(lead).tolist()}. Fix: give "
                "the delay from order to arrival."
            )
        holding = np.broadcast_to(np.asarray(holding_cost, dtype=float), (n_series,))
        shortage = np.broadcast_to(np.asarray(shortage_cost, dtype=float), (n_series,))
        if np.any(holding < 0) or np.any(shortage < 0):
            raise ValueError("holding_cost and shortage_cost must be >= 0.")
        return cls(
            ids=ids,
            dates=dates,
            matrix=matrix,
            start=start,
            lead=lead.astype(np.int64),
            review_period=int(review_period),
            start_stock=_start_stock(start_on_hand, ids, id_col),
            holding=holding,
            shortage=shortage,
            warmup=warmup,
            id_col=id_col,
        )

    def replay(
        self, policy: Policy, *, min_order_qty: float, pack_size: float
    ) -> tuple[dict[str, np.ndarray], int]:
        """Day-by-day stock, orders and sales under ``policy``; also the number of orders."""
        matrix, start, lead = self.matrix, self.start, self.lead
        n_series, n_days = len(self.ids), matrix.shape[1] - start
        on_hand = self.start_stock.copy()
        arrivals = np.zeros((n_series, n_days + int(lead.max()) + 1))
        rows = np.arange(n_series)
        record = {
            name: np.zeros((n_series, n_days))
            for name in ("served", "lost", "arrived", "ordered", "on_hand")
        }
        record["order_up_to"] = np.full((n_series, n_days), np.nan)
        orders = 0
        for day in range(n_days):
            on_hand += arrivals[:, day]
            record["arrived"][:, day] = arrivals[:, day]
            if day % self.review_period == 0:
                review = Review(
                    ids=self.ids,
                    dates=self.dates[: start + day],
                    history=matrix[:, : start + day].copy(),
                    date=pd.Timestamp(self.dates[start + day]),
                    start=start,
                    lead_time=lead.copy(),
                    review_period=self.review_period,
                )
                level = _check_levels(policy, review, n_series)
                position = on_hand + arrivals[:, day + 1 :].sum(axis=1)
                quantity = order_quantity(
                    level - position, min_order_qty=min_order_qty, pack_size=pack_size
                )
                # An order with no lead time is on the shelf before the day's demand.
                now = np.where(lead == 0, quantity, 0.0)
                arrivals[rows, day + lead] += quantity - now
                on_hand += now
                record["arrived"][:, day] += now
                record["ordered"][:, day] = quantity
                record["order_up_to"][:, day] = level
                orders += int((quantity > 0).sum())
            wanted = matrix[:, start + day]
            served = np.minimum(on_hand, wanted)
            on_hand -= served
            record["served"][:, day] = served
            record["lost"][:, day] = wanted - served
            record["on_hand"][:, day] = on_hand
        record["demand"] = matrix[:, start:]
        return record, orders

    def score(
        self, record: dict[str, np.ndarray], orders: int, *, daily: bool = True
    ) -> SimulationResult:
        return _score(
            self.ids,
            self.dates[self.start :],
            record,
            self.start_stock,
            self.holding,
            self.shortage,
            self.warmup,
            orders,
            self.id_col,
            with_daily=daily,
        )


# ------------------------------------------------------------------------------------------
# Policies
# ------------------------------------------------------------------------------------------
@dataclass
class MovingAverageCoverPolicy:
    """Order up to the last ``window`` days' mean daily demand times ``weeks_of_cover`` weeks.

    Args:
        weeks_of_cover: stock target in weeks of recent average demand.
        window: days averaged (28: the last 4 weeks).
    """

    weeks_of_cover: float
    window: int = 28

    def order_up_to(self, review: Review) -> np.ndarray:
        recent = review.history[:, -self.window :]
        return _nan_mean(recent) * DAYS_PER_WEEK * self.weeks_of_cover


@dataclass
class FixedCoverPolicy:
    """A fixed order-up-to level: mean daily demand of the ``window`` days before the
    simulation, times ``weeks_of_cover`` weeks; it never changes during the simulation.

    Args:
        weeks_of_cover: stock target in weeks of average demand.
        window: days before the simulation averaged (364: the last year).
    """

    weeks_of_cover: float
    window: int = 364

    def order_up_to(self, review: Review) -> np.ndarray:
        before = review.history[:, max(review.start - self.window, 0) : review.start]
        return _nan_mean(before) * DAYS_PER_WEEK * self.weeks_of_cover


@dataclass
class SeasonalNaiveNormalPolicy:
    """Base stock from the seasonal naive forecast with a normal safety stock.

    ``order_up_to = F + z * sigma * sqrt(P)``: ``P = L + R`` days, ``F`` the seasonal naive
    forecast summed over them (each day repeats the same weekday of the last season),
    ``z`` the normal quantile of ``service_level`` and ``sigma`` the standard deviation of the
    seasonal-naive errors ``y[t] - y[t - season_length]`` over the last ``residual_window`` days.

    Args:
        service_level: cycle service level in (0, 1).
        season_length: days per season (7: weekly pattern).
        residual_window: days of errors behind ``sigma``.
    """

    service_level: float
    season_length: int = 7
    residual_window: int = 56

    def order_up_to(self, review: Review) -> np.ndarray:
        z = norm.ppf(_check_level(self.service_level))
        season = np.nan_to_num(review.history[:, -self.season_length :])
        periods = review.lead_time + review.review_period
        full, rest = np.divmod(periods, self.season_length)
        partial = np.cumsum(np.c_[np.zeros(len(season)), season], axis=1)
        forecast = full * season.sum(axis=1) + partial[np.arange(len(season)), rest]
        window = review.history[:, -(self.residual_window + self.season_length) :]
        errors = window[:, self.season_length :] - window[:, : -self.season_length]
        sigma = np.nan_to_num(_nan_std(errors))
        # A service level under 50% can push the level below zero: no stock then.
        return np.maximum(forecast + z * sigma * np.sqrt(periods), 0.0)


@dataclass
class ForecastPolicy:
    """Order up to a level of protection demand drawn from a forecaster's sample paths.

    At a review the forecaster (a copy of ``forecaster``, unfitted) is fitted on the demand
    history up to the day before, and its first model's ``sample_paths`` give demand over the
    next ``L + R`` days, summed path by path. With ``refit_every = k`` it refits every ``k``
    reviews and reads the paths of the last fit further out in between (without the newest
    days). Fits are cached by history, so copies made by `at_service_level` share them.

    ``dynamic`` covariates reach the model only up to the day before the review, except the
    known-in-advance ones (prices, promotions, events), which the plan gives ahead.

    Args:
        forecaster: an unfitted `trendcast.Forecaster` whose first model has ``sample_paths``.
        service_level: target in (0, 1).
        service_kind: ``"cycle"`` (quantile of protection demand) or ``"fill_rate"``.
        n_samples: paths per series.
        refit_every: reviews per fit.
        horizon: periods of paths drawn per fit; None: what the reviews need. Set it to the
            longest need when replaying several lead times, so that they share the fits.
        static, dynamic: side frames passed to ``fit`` (same id and time columns).
        seed: random seed of the paths.
    """

    forecaster: Any
    service_level: float = 0.95
    service_kind: str = "cycle"
    n_samples: int = 200
    refit_every: int = 1
    horizon: int | None = None
    static: Any = None
    dynamic: Any = None
    seed: int = 0
    fits_: dict = field(default_factory=dict, init=False, repr=False)

    def at_service_level(self, service_level: float, service_kind: str | None = None):
        """A copy with another target that shares this policy's fitted forecasts."""
        twin = copy.copy(self)
        twin.service_level = service_level
        twin.service_kind = service_kind or self.service_kind
        return twin

    def order_up_to(self, review: Review) -> np.ndarray:
        level = _check_level(self.service_level)
        if self.service_kind not in ("cycle", "fill_rate"):
            raise ValueError(f"service_kind must be 'cycle' or 'fill_rate': {self.service_kind}")
        paths = self._paths(review)
        lead = np.repeat(review.lead_time[:, None], paths.shape[1], axis=1)
        total = _window_totals(paths, lead + review.review_period)
        if self.service_kind == "cycle":
            return _sample_quantile(total, np.full(len(total), level))
        return fill_rate_level(_window_totals(paths, lead), total, level)

    def _paths(self, review: Review) -> np.ndarray:
        """Paths from the review day on, from the latest fit at or before it."""
        day = len(review.dates) - review.start
        fit_day = day - day % (self.refit_every * review.review_period)
        known = review.history[:, : review.start + fit_day]
        key = hashlib.blake2b(np.ascontiguousarray(known).tobytes(), digest_size=16)
        key.update(str((review.start + fit_day, self.n_samples, self.seed)).encode())
        needed = (self.refit_every - 1) * review.review_period + int(review.lead_time.max())
        needed += review.review_period
        horizon = self.horizon or needed
        if horizon < needed:
            raise ValueError(
                f"ForecastPolicy draws {horizon} periods but its reviews need {needed} (lead "
                "time plus review period, plus the reviews between fits). Fix: raise horizon."
            )
        cache_key = (key.hexdigest(), horizon)
        if cache_key not in self.fits_:
            self.fits_[cache_key] = self._fit_paths(review, known, horizon)
        offset = day - fit_day
        return self.fits_[cache_key][:, :, offset:]

    def _fit_paths(self, review: Review, known: np.ndarray, horizon: int) -> np.ndarray:
        from trendcast.decisions.inventory import demand_paths

        fc = self.forecaster.clone()
        id_col, time_col, target_col = fc.id_col, fc.time_col, fc.target_col
        cutoff = pd.Timestamp(review.dates[known.shape[1] - 1])
        present = ~np.isnan(known)
        rows, cols = np.nonzero(present)
        frame = pd.DataFrame(
            {
                id_col: review.ids[rows],
                time_col: review.dates[: known.shape[1]][cols],
                target_col: known[present],
            }
        )
        fc.fit(frame, static=self.static, dynamic=_plan_only_after(self.dynamic, cutoff, fc))
        ids, paths = demand_paths(fc, horizon, n_samples=self.n_samples, seed=self.seed)
        order = pd.Index(ids).get_indexer(review.ids)
        return paths[order]


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def _plan_only_after(dynamic: Any, cutoff: pd.Timestamp, fc: Any) -> pd.DataFrame | None:
    """``dynamic`` with the not-known-in-advance columns blanked after ``cutoff``."""
    if dynamic is None:
        return None
    from trendcast.features.covariates import is_known_future

    frame = to_pandas(dynamic).copy()
    later = frame[fc.time_col] > cutoff
    for column in frame.columns:
        if column not in (fc.id_col, fc.time_col) and not is_known_future(column):
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values):
                values = values.astype(float)  # integers and flags cannot hold NaN
            frame[column] = values.where(~later)
    return frame


def _demand_matrix(
    history: Any, demand: Any, id_col: str, time_col: str, target_col: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Ids, daily dates, demand ``(n_series, n_dates)`` (NaN before a series starts) and the
    column where ``demand`` begins."""
    past, future = to_pandas(history, name="history"), to_pandas(demand, name="demand")
    for name, frame in (("history", past), ("demand", future)):
        missing = [c for c in (id_col, time_col, target_col) if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}.")
        bad = frame[frame[target_col].isna() | (frame[target_col] < 0)]
        if len(bad):
            raise ValueError(f"{name}[{target_col!r}] must be >= 0 and not missing:\n{bad.head()}")
    ids = np.sort(pd.unique(future[id_col].to_numpy()))
    unknown = np.setdiff1d(ids, past[id_col].to_numpy())
    if len(unknown):
        raise ValueError(
            f"demand has {len(unknown)} series without history: {unknown[:5].tolist()}. Fix: "
            "give their past demand in history (policies need it), or leave them out."
        )
    extra = np.setdiff1d(past[id_col].to_numpy(), ids)
    if len(extra):
        raise ValueError(
            f"history has series with no demand to serve: {extra[:5].tolist()}. Fix: add their "
            "held-out demand or drop them from history."
        )
    future_days = pd.DatetimeIndex(np.sort(future[time_col].unique()))
    first = future_days[0]
    if past[time_col].max() >= first:
        raise ValueError(
            f"history reaches {past[time_col].max():%Y-%m-%d} but demand starts {first:%Y-%m-%d}:"
            " history must end before the simulated days."
        )
    dates = pd.date_range(past[time_col].min(), future_days[-1], freq="D")
    start = int(dates.get_loc(first))
    if len(future_days) != len(dates) - start:
        raise ValueError(
            "demand must cover every day from its first to its last, the day after history "
            f"ends; it has {len(future_days)} of {len(dates) - start} days."
        )
    both = pd.concat([past[[id_col, time_col, target_col]], future[[id_col, time_col, target_col]]])
    repeated = both[both.duplicated([id_col, time_col], keep=False)]
    if len(repeated):
        raise ValueError(f"Several rows for the same series and day:\n{repeated.head()}")
    matrix = np.full((len(ids), len(dates)), np.nan)
    row = np.searchsorted(ids, both[id_col].to_numpy())
    col = (
        (both[time_col].to_numpy("datetime64[D]") - dates[0].to_datetime64())
        .astype("timedelta64[D]")
        .astype(np.int64)
    )
    matrix[row, col] = both[target_col].to_numpy(float)
    holes = np.isnan(matrix[:, start:]).any(axis=1)
    if holes.any():
        raise ValueError(
            f"demand lacks days for series {ids[holes][:5].tolist()}: every series needs every "
            "simulated day (0 where nothing was wanted)."
        )
    return ids, dates.to_numpy(), matrix, start


def _start_stock(start_on_hand: Any, ids: np.ndarray, id_col: str) -> np.ndarray:
    if isinstance(start_on_hand, (int, float, np.ndarray, list, tuple)):
        stock = np.broadcast_to(np.asarray(start_on_hand, dtype=float), (len(ids),)).copy()
    else:
        frame = to_pandas(start_on_hand, name="start_on_hand")
        if id_col not in frame.columns or "on_hand" not in frame.columns:
            raise ValueError(f"start_on_hand needs columns {id_col!r} and 'on_hand'.")
        unknown = ~frame[id_col].isin(ids)
        if unknown.any():
            raise ValueError(
                "start_on_hand gives stock for series never sold (not in demand): "
                f"{frame.loc[unknown, id_col].unique()[:5].tolist()}. Fix: drop those rows or "
                "add their demand."
            )
        stock = frame.set_index(id_col)["on_hand"].reindex(ids).to_numpy(float)
        if np.isnan(stock).any():
            raise ValueError(
                f"start_on_hand has no row for series {ids[np.isnan(stock)][:5].tolist()}. "
                "Fix: add them (0 if nothing is in stock)."
            )
    if np.any(stock < 0):
        raise ValueError("start_on_hand must be >= 0.")
    return stock


def _check_levels(policy: Policy, review: Review, n_series: int) -> np.ndarray:
    level = np.asarray(policy.order_up_to(review), dtype=float)
    if level.shape != (n_series,) or np.isnan(level).any() or (level < 0).any():
        bad = review.ids[np.isnan(level) | (level < 0)] if level.shape == (n_series,) else []
        raise ValueError(
            f"{type(policy).__name__} returned order-up-to levels of shape {level.shape} "
            f"(need ({n_series},)) or NaN or negative values, for {list(bad)[:5]}."
        )
    return level


def _score(
    ids: np.ndarray,
    dates: np.ndarray,
    record: dict[str, np.ndarray],
    start_stock: np.ndarray,
    holding: np.ndarray,
    shortage: np.ndarray,
    warmup: int,
    orders: int,
    id_col: str,
    *,
    with_daily: bool,
) -> SimulationResult:
    scored = slice(warmup, None)
    n_series, n_days = record["demand"].shape
    demand = record["demand"][:, scored].sum(axis=1)
    served = record["served"][:, scored].sum(axis=1)
    lost = record["lost"][:, scored].sum(axis=1)
    on_hand = record["on_hand"][:, scored].mean(axis=1)
    series = pd.DataFrame(
        {
            id_col: ids,
            "fill_rate": np.divide(served, demand, out=np.ones(n_series), where=demand > 0),
            "stockout_days": (record["lost"][:, scored] > 0).sum(axis=1),
            "lost_units": lost,
            "served_units": served,
            "demand_units": demand,
            "avg_on_hand": on_hand,
            "holding_cost": holding * record["on_hand"][:, scored].sum(axis=1),
            "shortage_cost": shortage * lost,
            "ordered_units": record["ordered"].sum(axis=1),
            "start_on_hand": start_stock,
            "end_on_hand": record["on_hand"][:, -1],
            "on_order_end": record["ordered"].sum(axis=1) - record["arrived"].sum(axis=1),
        }
    )
    series["total_cost"] = series["holding_cost"] + series["shortage_cost"]
    total_demand = float(demand.sum())
    summary = {
        "fill_rate": float(served.sum()) / total_demand if total_demand > 0 else 1.0,
        "stockout_days": int(series["stockout_days"].sum()),
        "lost_units": float(lost.sum()),
        "served_units": float(served.sum()),
        "demand_units": total_demand,
        "avg_on_hand": float(on_hand.sum()),
        "holding_cost": float(series["holding_cost"].sum()),
        "shortage_cost": float(series["shortage_cost"].sum()),
        "total_cost": float(series["total_cost"].sum()),
        "ordered_units": float(series["ordered_units"].sum()),
        "orders": orders,
    }
    if not with_daily:
        return SimulationResult(summary=summary, series=series, daily=pd.DataFrame())
    daily = pd.DataFrame(
        {
            id_col: np.repeat(ids, n_days),
            "ds": np.tile(dates, n_series),
            **{name: values.reshape(-1) for name, values in record.items()},
        }
    )
    daily["scored"] = np.tile(np.arange(n_days) >= warmup, n_series)
    return SimulationResult(summary=summary, series=series, daily=daily)


def _nan_mean(values: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(values)).sum(axis=1)
    sums = np.nansum(values, axis=1)
    return np.divide(sums, counts, out=np.zeros(len(values)), where=counts > 0)


def _nan_std(values: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(values)).sum(axis=1)
    mean = _nan_mean(values)
    squares = np.nansum((values - mean[:, None]) ** 2, axis=1)
    return np.sqrt(np.divide(squares, counts - 1, out=np.zeros(len(values)), where=counts > 1))
