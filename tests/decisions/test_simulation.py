from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_series
from trendcast.decisions.simulation import (
    FixedCoverPolicy,
    ForecastPolicy,
    MovingAverageCoverPolicy,
    Review,
    SeasonalNaiveNormalPolicy,
    compare_policies,
    simulate_policy,
)


def split(frame, n_history):
    first_days = frame["ds"].drop_duplicates().sort_values().iloc[n_history]
    return frame[frame["ds"] < first_days], frame[frame["ds"] >= first_days]


def constant(value=2.0, days=70, ids=("a",)):
    dates = pd.date_range("2024-01-01", periods=days)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(list(ids), days),
            "ds": np.tile(dates, len(ids)),
            "y": value,
        }
    )


@dataclass
class Fixed:
    level: float

    def order_up_to(self, review: Review) -> np.ndarray:
        return np.full(len(review.ids), self.level)


@dataclass
class Spy:
    """Records what it saw and orders up to a fixed level."""

    level: float = 20.0
    seen: list = field(default_factory=list)

    def order_up_to(self, review: Review) -> np.ndarray:
        self.seen.append(review)
        return np.full(len(review.ids), self.level)


# ------------------------------------------------------------------ mechanics
def test_hand_computed_trajectory():
    history, demand = split(constant(2.0, days=70), 56)
    result = simulate_policy(
        history,
        demand,
        MovingAverageCoverPolicy(weeks_of_cover=2),
        lead_time=3,
        start_on_hand=10,
        review_period=7,
    )
    daily = result.daily
    # Day 0: position 10, order up to 28 -> 18 units, on the shelf on day 3.
    assert daily["ordered"].iloc[0] == 18
    assert daily["arrived"].iloc[:4].tolist() == [0, 0, 0, 18]
    assert daily["on_hand"].iloc[:5].tolist() == [8, 6, 4, 20, 18]
    # Day 7: position 14, order 14.
    assert daily["ordered"].iloc[7] == 14
    assert result.summary["fill_rate"] == 1.0
    assert result.summary["orders"] == 2


def test_units_are_conserved():
    frame = make_series(n_series=6, n_periods=150, seed=3)
    history, demand = split(frame, 100)
    result = simulate_policy(
        history,
        demand,
        SeasonalNaiveNormalPolicy(service_level=0.8),
        lead_time=[0, 1, 3, 5, 6, 9],
        review_period=4,
        start_on_hand=np.arange(6) * 7.0,
        pack_size=5,
        min_order_qty=10,
    )
    daily, series = result.daily, result.series
    per_series = daily.groupby("unique_id")[
        ["demand", "served", "lost", "arrived", "ordered"]
    ].sum()
    assert np.allclose(per_series["demand"], per_series["served"] + per_series["lost"])
    end = daily.groupby("unique_id")["on_hand"].last()
    assert np.allclose(
        series["start_on_hand"] + per_series["arrived"].to_numpy(),
        end.to_numpy() + per_series["served"].to_numpy(),
    )
    assert np.allclose(
        per_series["ordered"], per_series["arrived"] + series["on_order_end"].to_numpy()
    )
    assert (daily["ordered"] % 5 == 0).all()
    assert ((daily["ordered"] == 0) | (daily["ordered"] >= 10)).all()
    assert (daily["on_hand"] >= 0).all() and (daily["lost"] >= 0).all()
    assert result.summary["lost_units"] > 0  # a test that would miss lost sales is no test


def test_lost_sales_without_stock():
    history, demand = split(constant(3.0, days=40), 30)
    result = simulate_policy(history, demand, Fixed(0.0), lead_time=2, start_on_hand=0)
    assert result.summary["fill_rate"] == 0.0
    assert result.summary["stockout_days"] == 10
    assert result.summary["lost_units"] == 30.0


def test_zero_lead_time_serves_the_same_day():
    history, demand = split(constant(3.0, days=40), 30)
    result = simulate_policy(history, demand, Fixed(3.0), lead_time=0, review_period=1)
    assert result.summary["fill_rate"] == 1.0
    assert result.summary["avg_on_hand"] == 0.0


def test_warmup_and_costs():
    history, demand = split(constant(2.0, days=44), 30)
    result = simulate_policy(
        history,
        demand,
        Fixed(0.0),
        lead_time=1,
        start_on_hand=8,
        warmup=4,
        holding_cost=0.5,
        shortage_cost=3.0,
    )
    # Stock lasts the 4 warm-up days; the 10 scored days lose 2 units each.
    assert result.summary["lost_units"] == 20.0
    assert result.summary["stockout_days"] == 10
    assert result.summary["shortage_cost"] == 60.0
    assert result.summary["holding_cost"] == 0.0
    assert result.daily["scored"].sum() == 10


def test_policy_never_sees_the_day_it_orders_for():
    frame = make_series(n_series=3, n_periods=80, seed=1)
    history, demand = split(frame, 50)
    spy = Spy()
    simulate_policy(history, demand, spy, lead_time=2, review_period=5)
    assert len(spy.seen) == 6
    truth = frame.pivot(index="unique_id", columns="ds", values="y").to_numpy()
    for review in spy.seen:
        assert pd.Timestamp(review.dates[-1]) == review.date - pd.Timedelta(days=1)
        assert review.history.shape[1] == len(review.dates)
        assert np.array_equal(review.history, truth[:, : review.history.shape[1]])
    # Changing demand after a review changes nothing the policy saw at it.
    later = demand.assign(y=np.where(demand["ds"] >= spy.seen[2].date, 999.0, demand["y"]))
    spy_again = Spy()
    simulate_policy(history, later, spy_again, lead_time=2, review_period=5)
    assert np.array_equal(spy_again.seen[2].history, spy.seen[2].history)


def test_compare_policies_replays_each_policy_alike():
    history, demand = split(make_series(n_series=4, n_periods=120, seed=5), 90)
    policies = {
        "cover": MovingAverageCoverPolicy(weeks_of_cover=1.5),
        "naive": SeasonalNaiveNormalPolicy(service_level=0.9),
    }
    settings = dict(lead_time=4, start_on_hand=30.0, holding_cost=0.1, shortage_cost=2.0)
    table = compare_policies(history, demand, policies, **settings)
    assert table["policy"].tolist() == ["cover", "naive"]
    for row, policy in zip(table.to_dict("records"), policies.values(), strict=True):
        alone = simulate_policy(history, demand, policy, **settings).summary
        assert {key: row[key] for key in alone} == alone


# ------------------------------------------------------------------ simple rules
def test_moving_average_and_fixed_cover():
    dates = pd.date_range("2024-01-01", periods=400)
    y = np.where(np.arange(400) < 372, 1.0, 4.0)  # demand jumps 4 weeks before the end
    frame = pd.DataFrame({"unique_id": "a", "ds": dates, "y": y})
    history, demand = split(frame, 386)
    review = Review(
        ids=np.array(["a"]),
        dates=dates[:386].to_numpy(),
        history=y[None, :386],
        date=dates[386],
        start=386,
        lead_time=np.array([3]),
        review_period=7,
    )
    assert MovingAverageCoverPolicy(weeks_of_cover=1).order_up_to(review)[0] == pytest.approx(
        (14 * 1 + 14 * 4) / 28 * 7
    )
    year_mean = (350 * 1 + 14 * 4) / 364
    assert FixedCoverPolicy(weeks_of_cover=2).order_up_to(review)[0] == pytest.approx(
        year_mean * 14
    )
    result = simulate_policy(history, demand, FixedCoverPolicy(weeks_of_cover=2), lead_time=1)
    levels = result.daily["order_up_to"].dropna().unique()
    assert levels.tolist() == pytest.approx([year_mean * 14])  # never updated


def test_seasonal_naive_normal_policy():
    week = np.array([1.0, 2, 3, 4, 5, 6, 7])
    history = np.tile(week, 10)[None, :]
    review = Review(
        ids=np.array(["a"]),
        dates=pd.date_range("2024-01-01", periods=70).to_numpy(),
        history=history,
        date=pd.Timestamp("2024-03-11"),
        start=70,
        lead_time=np.array([5]),
        review_period=4,
    )
    # No error: sigma 0; 9 days = one week plus Monday and Tuesday again.
    assert SeasonalNaiveNormalPolicy(service_level=0.99).order_up_to(review)[0] == 28 + 1 + 2
    noisy = history + np.r_[np.zeros(63), [0, 0, 0, 0, 0, 0, 7.0]][None, :]
    raised = SeasonalNaiveNormalPolicy(service_level=0.9).order_up_to(
        Review(**{**review.__dict__, "history": noisy})
    )[0]
    sigma = np.std(np.r_[np.zeros(55), [7.0]], ddof=1)
    assert raised == pytest.approx(28 + 1 + 2 + 7 + 1.2815516 * sigma * 3)


# ------------------------------------------------------------------ forecast policy
def test_forecast_policy_refits_without_peeking():
    from trendcast import Forecaster, simulate_shop
    from trendcast.models import LightGBM

    shop = simulate_shop(
        n_items=4, n_stores=1, n_periods=200, seed=2, reviews=False, future_periods=14
    )
    sales = shop.data.sales
    history, demand = split(sales, 186)
    fitted = []

    class Recording(Forecaster):
        def fit(self, df, *, static=None, dynamic=None):
            fitted.append((df["ds"].max(), dynamic))
            return super().fit(df, static=static, dynamic=dynamic)

    policy = ForecastPolicy(
        Recording([LightGBM(n_estimators=20, min_data_in_leaf=10)]),
        service_level=0.9,
        n_samples=100,
        refit_every=2,
        static=shop.data.static,
        dynamic=shop.data.dynamic,
    )
    result = simulate_policy(
        history, demand, policy, lead_time=3, review_period=4, start_on_hand=20
    )
    review_days = pd.date_range(demand["ds"].min(), periods=14)[::4]
    assert [day for day, _ in fitted] == [
        review_days[0] - pd.Timedelta(days=1),
        review_days[2] - pd.Timedelta(days=1),
    ]
    cutoff, dynamic = fitted[0]
    later = dynamic[dynamic["ds"] > cutoff]
    assert later["views"].isna().all() and later["price"].notna().all()
    levels = result.daily["order_up_to"].dropna().to_numpy()
    assert np.all(levels > 0)
    # A copy at a higher level reuses the fits and orders more.
    higher = policy.at_service_level(0.99)
    again = simulate_policy(history, demand, higher, lead_time=3, review_period=4, start_on_hand=20)
    assert len(fitted) == 2
    assert np.all(again.daily["order_up_to"].dropna().to_numpy() >= levels)
    short = ForecastPolicy(Forecaster([LightGBM()]), horizon=5)
    with pytest.raises(ValueError, match="raise horizon"):
        simulate_policy(history, demand, short, lead_time=3, review_period=4)


# ------------------------------------------------------------------ bad input
def test_bad_input_is_explained():
    history, demand = split(constant(2.0, days=40, ids=("a", "b")), 30)
    with pytest.raises(ValueError, match="lead_time must be whole days"):
        simulate_policy(history, demand, Fixed(1.0), lead_time=-1)
    stock = pd.DataFrame({"unique_id": ["a", "b", "zz"], "on_hand": [1.0, 1.0, 5.0]})
    with pytest.raises(ValueError, match=r"never sold.*\['zz'\]"):
        simulate_policy(history, demand, Fixed(1.0), lead_time=1, start_on_hand=stock)
    with pytest.raises(ValueError, match=r"no row for series \['b'\]"):
        simulate_policy(history, demand, Fixed(1.0), lead_time=1, start_on_hand=stock[:1])
    with pytest.raises(ValueError, match="without history"):
        simulate_policy(history[history["unique_id"] == "a"], demand, Fixed(1.0), lead_time=1)
    with pytest.raises(ValueError, match="every day"):
        simulate_policy(
            history, demand[demand["ds"] != demand["ds"].iloc[3]], Fixed(1.0), lead_time=1
        )
    with pytest.raises(ValueError, match="lacks days"):
        simulate_policy(history, demand.iloc[1:], Fixed(1.0), lead_time=1)
    with pytest.raises(ValueError, match="history must end before"):
        simulate_policy(history, pd.concat([history.tail(2), demand]), Fixed(1.0), lead_time=1)
    with pytest.raises(ValueError, match="negative values"):
        simulate_policy(history, demand, Fixed(-1.0), lead_time=1)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        simulate_policy(history, demand, SeasonalNaiveNormalPolicy(service_level=1.2), lead_time=1)
