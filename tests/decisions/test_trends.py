"""Trend labels against the simulator's truth and against series whose trend is known by design;
the query, the report and the errors."""

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from tests.conftest import needs_chromium, rendered_dom
from trendcast.data.simulate import simulate_shop
from trendcast.decisions.trends import forecast_totals, trend_table, trending
from trendcast.report.trends import read_trend_json, trend_json, write_trend_report

WINDOW = 28
SEASON = 364


def true_phase(truth: pd.DataFrame, start: pd.Timestamp, as_of: pd.Timestamp) -> pd.Series:
    """Per item: rising / declining / stable when the truth's life-cycle x trend factor over the
    last 28 days is above 1.1 / below 1 / 1.1 / between those times its value over the
    comparison window (a year earlier when the item was on sale then, else the 28 days before).
    """
    truth = truth.drop_duplicates("item_id").set_index("item_id")
    day = (as_of - start).days
    recent = np.arange(day - WINDOW + 1, day + 1, dtype=float)
    launch = (truth["launch_ds"] - start).dt.days.fillna(0).to_numpy()[:, None]
    end = (truth["end_ds"] - start).dt.days.fillna(np.inf).to_numpy()[:, None]
    earlier = np.where(launch <= day - SEASON - WINDOW + 1, recent - SEASON, recent - WINDOW)

    def factor(days):
        ramp = truth["ramp_days"].to_numpy()[:, None]
        fade = truth["fade_days"].to_numpy()[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(ramp > 0, 1 - np.exp(-np.clip((days - launch + 1) / ramp, 0, 50)), 1)
            down = np.where(fade > 0, np.clip((end - days) / fade, 0, 1), 1)
        grown = np.exp(truth["trend_per_year"].to_numpy()[:, None] * days / 365.25)
        return grown * up * down * ((days >= launch) & (days < end))

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = factor(recent).mean(axis=1) / factor(earlier).mean(axis=1)
    phase = np.select([ratio > 1.1, ratio < 1 / 1.1], ["rising", "declining"], "stable")
    return pd.Series(phase, index=truth.index)


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=150, n_stores=2, n_periods=600, seed=7, reviews=False)


@pytest.fixture(scope="module")
def item_table(shop):
    data = shop.data
    return trend_table(data.sales, static=data.static, dynamic=data.dynamic, level="item_id")


def flat_sales(n_series=40, n_periods=420, rate=30.0, seed=0, start="2023-01-02"):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:02d}" for i in range(n_series)], n_periods),
            "ds": np.tile(pd.date_range(start, periods=n_periods, freq="D"), n_series),
            "y": rng.poisson(rate, n_series * n_periods).astype(float),
        }
    )


def test_labels_agree_with_the_simulators_life_cycle(shop):
    """Pooled over three report dates, item-level labels match the true phase."""
    data, start = shop.data, shop.data.sales["ds"].min()
    hits = {"rising": [0, 0], "declining": [0, 0]}
    for day in (420, 500, 599):
        as_of = start + pd.Timedelta(days=day)
        table = trend_table(
            data.sales[data.sales["ds"] <= as_of],
            static=data.static,
            dynamic=data.dynamic[data.dynamic["ds"] <= as_of],
            level="item_id",
        )
        launched = shop.truth.series["launch_ds"].fillna(start) <= as_of
        phase = true_phase(shop.truth.series[launched], start, as_of)
        truth = phase.reindex(table["item_id"]).to_numpy()
        for label, counts in hits.items():
            predicted = table["trend"].to_numpy() == label
            counts[0] += int(predicted.sum())
            counts[1] += int((predicted & (truth == label)).sum())
    assert hits["declining"][0] >= 20 and hits["rising"][0] >= 4
    assert hits["declining"][1] / hits["declining"][0] >= 0.75
    assert hits["rising"][1] / hits["rising"][0] >= 0.65


def test_flat_rate_is_stable_not_a_trend():
    # Poisson at 30 a day: 840 units per 28-day window, where noise alone moves a window by ~5%.
    table = trend_table(flat_sales(rate=30.0), window=WINDOW)
    assert not table["trend"].isin(["rising", "declining"]).any()
    assert (table["trend"] == "stable").mean() >= 0.9
    assert (table["basis"] == "last year").all()


def test_thin_data_is_unclear_not_stable():
    table = trend_table(flat_sales(rate=0.3), window=WINDOW)
    assert (table["trend"] == "unclear").all()


def test_steps_up_and_down_are_rising_and_declining():
    sales = flat_sales(n_series=4, rate=20.0)
    recent = sales["ds"] > sales["ds"].max() - pd.Timedelta(days=WINDOW)
    rng = np.random.default_rng(1)
    up, down = sales["unique_id"].eq("s00") & recent, sales["unique_id"].eq("s01") & recent
    sales.loc[up, "y"] = rng.poisson(40.0, up.sum())
    sales.loc[down, "y"] = rng.poisson(8.0, down.sum())
    table = trend_table(sales).set_index("unique_id")
    assert table.loc["s00", "trend"] == "rising" and table.loc["s01", "trend"] == "declining"
    assert table.loc["s00", "growth_lo"] > 0.5 and table.loc["s01", "growth_hi"] < -0.4
    assert table["hot"].tolist() == [True, False, False, False]  # the rising best seller
    assert table.loc["s00", "labels"] == "rising, hot mover"
    assert set(table.loc[["s02", "s03"], "trend"]) <= {"stable", "unclear"}


def test_seasonal_rise_is_not_a_trend():
    """A yearly peak that repeats last year's is not rising, though it grows on the last window."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2022-01-03", "2024-04-20", freq="D")
    season = 1 + 0.7 * np.cos(2 * np.pi * (days.dayofyear.to_numpy() - 196) / 365.25)
    y = rng.poisson(20.0 * season[None, :].repeat(10, axis=0)).ravel().astype(float)
    sales = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(10)], len(days)),
            "ds": np.tile(days, 10),
            "y": y,
        }
    )
    table = trend_table(sales)
    assert (table["growth_previous"] > 0.3).all()  # spring climbs towards the July peak
    assert (table["basis"] == "last year").all()
    assert not table["trend"].isin(["rising", "declining"]).any()


def test_stock_outs_are_not_read_as_declines():
    sales = flat_sales(n_series=3, rate=20.0)
    dynamic = sales[["unique_id", "ds"]].assign(in_stock=1)
    gone = (sales["unique_id"] == "s00") & (sales["ds"] > sales["ds"].max() - pd.Timedelta(days=14))
    sales.loc[gone, "y"] = 0.0
    dynamic.loc[gone, "in_stock"] = 0
    blind = trend_table(sales).set_index("unique_id")
    aware = trend_table(sales, dynamic=dynamic).set_index("unique_id")
    assert blind.loc["s00", "trend"] == "declining"
    assert aware.loc["s00", "trend"] != "declining"
    assert aware.loc["s00", "recent"] == blind.loc["s00", "recent"]  # volumes stay as sold
    # Row order and rows past the sales (a plan) do not matter; duplicates are refused.
    future = dynamic.assign(ds=dynamic["ds"] + pd.Timedelta(days=1000))
    shuffled = pd.concat([dynamic, future]).sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(trend_table(sales, dynamic=shuffled), aware.reset_index())
    with pytest.raises(ValueError, match="dynamic[\\s\\S]*duplicate"):
        trend_table(sales, dynamic=pd.concat([dynamic, dynamic.tail(2)]))


def test_launch_against_peers():
    sales = flat_sales(n_series=6, rate=10.0)
    start = sales["ds"].max() - pd.Timedelta(days=99)
    rng = np.random.default_rng(3)
    launches = []
    for name, rate in (("hit", 40.0), ("flop", 2.0), ("par", 10.0)):
        ds = pd.date_range(start, sales["ds"].max(), freq="D")
        launches.append(
            pd.DataFrame({"unique_id": name, "ds": ds, "y": rng.poisson(rate, len(ds))})
        )
    table = trend_table(pd.concat([sales, *launches], ignore_index=True)).set_index("unique_id")
    assert table.loc["hit", "launch"] == "above expectation"
    assert table.loc["flop", "launch"] == "below expectation"
    assert table.loc["par", "launch"] == "as expected"
    assert (table.loc[["hit", "flop", "par"], "basis"] == "previous window").all()
    assert (table.loc[["hit", "flop", "par"], "age"] == 100).all()
    assert (table.drop(index=["hit", "flop", "par"])["launch"] == "").all()


def test_launches_against_the_products_whose_text_is_alike():
    """Premium products sell 40 a day, basic ones 4, all in one category: against the
    category's median a premium launch looks like a hit and a basic one like a flop; against
    the products that read alike both sell as expected."""
    from trendcast.text import HashingTfidf

    rng = np.random.default_rng(5)
    last = pd.Timestamp("2024-02-24")
    words = {"premium": 40.0, "basic": 4.0}
    frames, static = [], []
    for quality, rate in words.items():
        for i, noun in enumerate(["scarf", "towel", "lamp", "mug", "candle"]):
            for name, days in ((f"{quality}_{noun}", 420), (f"new_{quality}_{noun}", 100)):
                if name.startswith("new") and i > 0:
                    continue  # one launch per quality
                ds = pd.date_range(end=last, periods=days, freq="D")
                frames.append(
                    pd.DataFrame({"unique_id": name, "ds": ds, "y": rng.poisson(rate, days)})
                )
                static.append({"unique_id": name, "cat_id": "HOME", "title": f"{quality} {noun}"})
    sales, static = pd.concat(frames, ignore_index=True), pd.DataFrame(static)
    by_category = trend_table(sales, static=static).set_index("unique_id")["launch"]
    assert by_category["new_premium_scarf"] == "above expectation"
    assert by_category["new_basic_scarf"] == "below expectation"
    # The 3 closest texts to "premium scarf": the premium scarf, the basic scarf ("scarf" is the
    # rarer word) and a premium towel, whose median rate is the premium one. (With 2 or all 10
    # peers the median would sit between the qualities.)
    table = trend_table(
        sales, static=static, launch_peers="text", k_peers=3, encoder=HashingTfidf()
    )
    table = table.set_index("unique_id")
    assert (table.loc[["new_premium_scarf", "new_basic_scarf"], "launch"] == "as expected").all()
    assert "the 3 established products most like it" in table.loc["new_basic_scarf", "reason"]
    expected = table.loc[["new_premium_scarf", "new_basic_scarf"], "launch_expected"]
    np.testing.assert_allclose(expected, [40.0, 4.0], rtol=0.15)
    assert table["launch_expected"].isna().sum() == len(table) - 2
    with pytest.raises(ValueError, match="launch_peers"):
        trend_table(sales, static=static, launch_peers="brand")
    with pytest.raises(ValueError, match="level='unique_id' or 'item_id'"):
        trend_table(sales, static=static, level="cat_id", launch_peers="text")
    with pytest.raises(ValueError, match="pass static"):
        trend_table(sales, launch_peers="text")
    with pytest.raises(ValueError, match="add them or use launch_peers='category'"):
        trend_table(sales, static=static.drop(columns="title"), launch_peers="text")
    # A product without text: no launch label for it, a warning naming it, the rest unchanged.
    untitled = static.assign(title=static["title"].where(static["unique_id"] != "new_basic_scarf"))
    with pytest.warns(UserWarning, match="new_basic_scarf"):
        partial = trend_table(
            sales, static=untitled, launch_peers="text", k_peers=3, encoder=HashingTfidf()
        ).set_index("unique_id")
    assert partial.loc["new_basic_scarf", "launch"] == ""
    assert partial.loc["new_premium_scarf", "launch"] == "as expected"


def test_forecast_stock_cover_and_labels():
    sales = flat_sales(n_series=3, rate=10.0)
    future = pd.date_range(sales["ds"].max() + pd.Timedelta(days=1), periods=35, freq="D")
    forecasts = pd.DataFrame(
        {"unique_id": np.repeat(["s00", "s01", "s02"], 35), "ds": np.tile(future, 3)}
    ).assign(**{"M": 12.0, "M-q-0.1": 8.0, "M-q-0.9": 16.0})
    on_hand = pd.DataFrame({"unique_id": ["s00", "s01", "s02"], "on_hand": [50.0, 2500.0, 5000.0]})
    table = trend_table(sales, forecasts=forecasts, on_hand=on_hand, horizon=28)
    table = table.set_index("unique_id")
    assert table["forecast"].tolist() == [336.0] * 3
    assert (
        table["forecast_lo"].tolist() == [224.0] * 3
        and table["forecast_hi"].tolist() == [448.0] * 3
    )
    np.testing.assert_allclose(table["weeks_of_cover"], [50 / 84, 2500 / 84, 5000 / 84])
    assert table["stock"].tolist() == ["", "slow mover", "dead stock"]
    assert np.allclose(table["forecast_change"], 12.0 / (table["recent"] / 28) - 1)
    assert "forecast 336 (224-448) over the next 28 periods" in table.loc["s00", "reason"]
    totals = forecast_totals(forecasts, horizon=28)
    assert totals["forecast"].tolist() == [336.0] * 3


def test_levels_sum_series_and_weekly_data_work(shop):
    data = shop.data
    by_series = trend_table(data.sales, static=data.static)
    by_cat = trend_table(data.sales, static=data.static, level="cat_id")
    assert sorted(by_cat["cat_id"]) == sorted(data.static["cat_id"].unique())
    per_cat = by_series.groupby("cat_id")["recent"].sum()
    np.testing.assert_allclose(by_cat.set_index("cat_id")["recent"], per_cat.loc[by_cat["cat_id"]])
    assert {"item_id", "store_id", "cat_id"} <= set(by_series.columns)
    weekly = simulate_shop(n_items=30, n_stores=1, n_periods=120, freq="W-SUN", seed=2)
    table = trend_table(weekly.data.sales, window=4)
    assert len(table) == weekly.data.sales["unique_id"].nunique()
    assert (table["basis"] == "last year").mean() > 0.5


def test_polars_in_polars_out():
    pl = pytest.importorskip("polars")
    table = trend_table(pl.from_pandas(flat_sales(n_series=3)))
    assert isinstance(table, pl.DataFrame) and table.height == 3


def test_trending_filters_and_ranks(item_table, shop):
    top = trending(item_table, direction="declining", min_volume=20, top=5)
    assert 0 < len(top) <= 5 and (top["trend"] == "declining").all()
    assert (top["recent"] >= 20).all() and top["rank"].tolist() == list(range(1, len(top) + 1))
    assert top["growth_hi"].is_monotonic_increasing  # most conservative decline first
    everything = trending(item_table, direction="declining", top=1000)
    assert len(everything) == (item_table["trend"] == "declining").sum()
    food = trending(item_table, direction="declining", category="FOODS", top=1000)
    assert (food["cat_id"] == "FOODS").all()
    assert (
        len(food)
        == ((item_table["trend"] == "declining") & (item_table["cat_id"] == "FOODS")).sum()
    )
    series = trend_table(shop.data.sales, static=shop.data.static)
    in_s2 = trending(series, direction="declining", store="S2", top=1000)
    assert len(in_s2) and (in_s2["store_id"] == "S2").all()
    assert all(r.startswith("declining: ") for r in in_s2["reason"])


def test_trending_with_a_forecast_horizon():
    sales = flat_sales(n_series=3, rate=20.0)
    recent = sales["ds"] > sales["ds"].max() - pd.Timedelta(days=WINDOW)
    sales.loc[recent & sales["unique_id"].isin(["s00", "s01"]), "y"] *= 2
    future = pd.date_range(sales["ds"].max() + pd.Timedelta(days=1), periods=14, freq="D")
    forecasts = pd.DataFrame(
        {"unique_id": np.repeat(["s00", "s01", "s02"], 14), "ds": np.tile(future, 3)}
    )
    forecasts["M"] = np.repeat([60.0, 30.0, 20.0], 14)  # s00 keeps climbing, s01 falls back
    table = trend_table(sales, forecasts=forecasts, horizon=14)
    ahead = trending(table, horizon=14)
    assert ahead["unique_id"].tolist() == ["s00"]
    with pytest.raises(ValueError, match="horizon=7"):
        trending(table, horizon=7)


def test_bad_input_gets_clear_errors(item_table):
    sales = flat_sales(n_series=2)
    with pytest.raises(ValueError, match="unknown category 'TOYS'.*FOODS"):
        trending(item_table, category="TOYS")
    with pytest.raises(ValueError, match="`direction`"):
        trending(item_table, direction="up")
    on_hand = pd.DataFrame({"unique_id": ["s00", "s01"], "on_hand": [5.0, -3.0]})
    with pytest.raises(ValueError, match="on_hand.*>= 0[\\s\\S]*s01"):
        trend_table(sales, on_hand=on_hand)
    for bad in (0, -4):
        with pytest.raises(ValueError, match="`horizon` must be a positive"):
            trend_table(sales, horizon=bad)
        with pytest.raises(ValueError, match="`window` must be a positive"):
            trend_table(sales, window=bad)
    with pytest.raises(ValueError, match="needs `static`"):
        trend_table(sales, level="cat_id")
    negative = sales.assign(y=sales["y"].where(sales.index != 3, -1.0))
    with pytest.raises(ValueError, match="'y'"):
        trend_table(negative)
    forecasts = pd.DataFrame(
        {"unique_id": ["s00"], "ds": [sales["ds"].max() + pd.Timedelta(days=1)], "M": [1.0]}
    )
    with pytest.raises(ValueError, match="cover horizon=28"):
        trend_table(sales, forecasts=forecasts)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.tags, self.scripts = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.scripts.append(dict(attrs))
        if tag not in ("meta", "circle", "polyline", "br"):
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"


@pytest.fixture(scope="module")
def report(tmp_path_factory, shop, item_table):
    path = tmp_path_factory.mktemp("trends") / "trends.html"
    return write_trend_report(
        path, item_table, history=shop.data.sales, static=shop.data.static, title="Shop <7>"
    )


def test_report_is_valid_and_self_contained(report, item_table):
    page = report.read_text()
    parser = _Tags()
    parser.feed(page)
    assert parser.open == ["html"] or parser.open == []  # everything closed inside <html>
    assert not parser.scripts and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "Shop &lt;7&gt;" in page
    n_declining = int((item_table["trend"] == "declining").sum())
    assert f"Declining ({n_declining})" in page
    shown = min(n_declining, 25) + min(int((item_table["trend"] == "rising").sum()), 25)
    assert page.count("<polyline") >= shown
    assert not list(report.parent.glob(".*.tmp"))  # the atomic write left no temporary file


def test_json_round_trips(item_table):
    text = trend_json(item_table)
    assert json.loads(text)["data"][0]["item_id"] == item_table["item_id"].iloc[0]
    back = read_trend_json(text)
    pd.testing.assert_frame_equal(
        back, item_table, check_dtype=False, check_datetimelike_compat=True
    )


@needs_chromium
def test_report_renders_in_headless_chromium(report, item_table, tmp_path):
    dom = rendered_dom(report, tmp_path, wait_ms=2000)
    assert "<h2>Declining (" in dom
    assert dom.count("<svg") >= int((item_table["trend"] == "declining").sum().clip(max=25))
    assert "<polyline" in dom and "declining: " in dom


def test_reads_forecaster_output(shop):
    from trendcast import Forecaster
    from trendcast.models import SeasonalNaive

    sales = shop.data.sales
    forecasts = Forecaster([SeasonalNaive()], quantiles=(0.1, 0.5, 0.9)).fit(sales).predict(28)
    table = trend_table(sales, static=shop.data.static, forecasts=forecasts, level="cat_id")
    totals = forecasts.merge(shop.data.static[["unique_id", "cat_id"]], on="unique_id")
    expected = totals.groupby("cat_id")[["SeasonalNaive", "SeasonalNaive-q-0.9"]].sum()
    np.testing.assert_allclose(table.set_index("cat_id")["forecast"], expected["SeasonalNaive"])
    np.testing.assert_allclose(
        table.set_index("cat_id")["forecast_hi"], expected["SeasonalNaive-q-0.9"]
    )
    assert (table["forecast_lo"] <= table["forecast"]).all()
