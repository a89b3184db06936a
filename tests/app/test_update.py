"""Daily updates on a workspace: new days stored once, earlier forecasts scored as by hand,
forecasts moved forward without refitting, drift alerts, scheduled re-training, and a kill
at any point leaving a workspace the next update carries on from."""

import shutil

import numpy as np
import pandas as pd
import pytest

from trendcast.app import forecast_saved, load_saved, read_shop, train
from trendcast.app.update import update
from trendcast.cli import main
from trendcast.data.simulate import simulate_shop
from trendcast.data.store import Workspace
from trendcast.data.validate import DataValidationError
from trendcast.models import ETS, MovingAverage, SeasonalNaive

H = 7
HELD_OUT = 6  # days held out of training, given to the updates


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_items=15, n_stores=2, n_periods=150, reviews=False, seed=4).data


@pytest.fixture(scope="module")
def days(shop):
    return sorted(shop.sales["ds"].unique())[-HELD_OUT:]


def day(shop, date, factor: float = 1.0) -> pd.DataFrame:
    rows = shop.sales[shop.sales["ds"] == date]
    return rows.assign(y=rows["y"] * factor)


@pytest.fixture(scope="module")
def trained(shop, days, tmp_path_factory):
    """A workspace with the shop before the held-out days, a model trained on it (cheap
    baselines) and its forecasts stored: copied by each test."""
    folder = tmp_path_factory.mktemp("trained")
    data = read_shop(shop.sales[shop.sales["ds"] < days[0]], static=shop.static)
    ws = Workspace(folder / "ws.duckdb")
    ws.write_run("import", meta={}, shop=("input", data))
    train(data, ws, "shop", models=[MovingAverage(window=7), SeasonalNaive()], horizon=H)
    forecast_saved(ws, "shop")
    return folder


@pytest.fixture
def ws(trained, tmp_path):
    for path in trained.iterdir():
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, tmp_path / path.name)
    return Workspace(tmp_path / "ws.duckdb")


def test_an_update_scores_the_stored_forecasts_forecasts_again_and_repeats_as_a_no_op(
    ws, shop, days
):
    stored = ws.read("shop_forecasts")
    done = update(ws, day(shop, days[0]))
    assert (done.model, done.previous, done.appended, done.repeated) == ("shop@2", "shop@1", 30, 0)

    # One row per run x model x step x group, as computed by hand from the stored forecasts.
    actual = day(shop, days[0]).astype({"unique_id": str})
    rows = stored.astype({"unique_id": str}).merge(actual, on=["unique_id", "ds"])
    rows = rows.merge(shop.static.astype({"unique_id": str}), on="unique_id")
    accuracy = done.accuracy
    assert set(accuracy["step"]) == {1} and accuracy["run_id"].nunique() == 1
    groups = 1 + rows["store_id"].nunique() + rows["cat_id"].nunique()
    assert len(accuracy) == 2 * groups
    for model in ("MovingAverage", "SeasonalNaive"):
        for group_col, group, part in [
            ("all", "all", rows),
            *[("store_id", s, rows[rows["store_id"] == s]) for s in rows["store_id"].unique()],
            *[("cat_id", c, rows[rows["cat_id"] == c]) for c in rows["cat_id"].unique()],
        ]:
            (row,) = accuracy[
                (accuracy["model"] == model)
                & (accuracy["group_col"] == group_col)
                & (accuracy["group"] == str(group))
            ].itertuples()
            y, forecast = part["y"], part[model]
            inside = (part[f"{model}-q-0.1"] <= y) & (y <= part[f"{model}-q-0.9"])
            assert row.n == len(part) and row.actual == pytest.approx(y.sum())
            assert row.wape == pytest.approx((forecast - y).abs().sum() / y.sum())
            assert row.bias == pytest.approx(forecast.sum() / y.sum() - 1)
            assert row.coverage_80 == pytest.approx(inside.mean())
            assert row.origin == days[0] - pd.Timedelta(days=1)
    pd.testing.assert_frame_equal(ws.read("shop_accuracy"), accuracy)
    assert done.alerts.empty  # the day's true sales: nothing drifted

    # The same day again: every row is stored, nothing is written.
    before = {name: ws.read(name) for name in ("input_sales", "shop_accuracy", "shop_forecasts")}
    history = ws.history()
    again = update(ws, day(shop, days[0]))
    assert (again.appended, again.repeated, again.run_id, again.model) == (0, 30, None, "shop@2")
    for name, frame in before.items():
        pd.testing.assert_frame_equal(ws.read(name), frame)
    pd.testing.assert_frame_equal(ws.history(), history)

    # The new forecasts start the day after the new one, from a version updated, not refit.
    latest = ws.read("shop_forecasts")
    assert latest["ds"].min() == days[0] + pd.Timedelta(days=1) and len(latest) == 30 * H
    version = ws.models.get("shop")
    assert version.ref == "shop@2" and version.meta["update_of"] == "shop@1"
    assert version.meta["fitted"] == "shop@1" and version.meta["span"]["last"] == (
        f"{days[0]:%Y-%m-%d}"
    )
    assert ws.read_shop("input").sales["ds"].max() == days[0]

    # The next day scores both kept runs: the first at step 2, the update's at step 1.
    second = update(ws, day(shop, days[1]))
    runs = {row.run_id: row.step for row in second.accuracy.itertuples()}
    assert sorted(runs.values()) == [1, 2] and done.run_id in runs
    assert len(ws.read("shop_accuracy")) == len(accuracy) + len(second.accuracy)


def test_other_values_for_stored_days_are_refused_unless_replaced(ws, shop, days, tmp_path):
    first = update(ws, day(shop, days[0]), refit_every="2d")
    assert first.refit is None  # fitted one day ago: not due
    other = day(shop, days[0]).assign(y=lambda d: d["y"] + 1)
    with pytest.raises(DataValidationError, match="another value") as error:
        update(ws, other)
    assert "replace=True" in error.value.render("python")
    other.to_csv(tmp_path / "other.csv", index=False)
    code = main(["update", "--workspace", str(ws.path), "--sales", str(tmp_path / "other.csv")])
    assert code == 2

    rows = len(ws.read("shop_accuracy"))
    done = update(ws, other, replace=True)
    assert done.replaced == 30 and done.appended == 0
    stored = ws.read_shop("input").sales
    np.testing.assert_array_equal(stored.loc[stored["ds"] == days[0], "y"], other["y"])
    accuracy = ws.read("shop_accuracy")
    assert len(accuracy) == rows  # scored again, not twice
    total = accuracy.query("group_col == 'all' and model == 'SeasonalNaive'")["actual"]
    assert total.iloc[0] == other["y"].sum()
    # The day was taken by shop@2; it is taken again, with the new values, from shop@1.
    forecaster, version = load_saved(ws, "shop")
    assert version.meta["update_of"] == "shop@2" and version.meta["fitted"] == "shop@1"
    held = forecaster.data_.sales
    np.testing.assert_array_equal(held.loc[held["ds"] == days[0], "y"], other["y"])


def test_a_kill_mid_update_leaves_the_previous_state_and_the_next_update_carries_on(
    ws, shop, days, monkeypatch
):
    import trendcast.data.store as store

    tables = {name: ws.read(name) for name in ("input_sales", "shop_forecasts")}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:  # inside the run's transaction, after its writes
        patch.setattr(store, "_prune", killed)
        with pytest.raises(KeyboardInterrupt):
            update(ws, day(shop, days[0]))
    assert ws.models.get("shop").ref == "shop@1"  # the saved update was never promoted
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(ws.read(name), frame)
    assert "shop_accuracy" not in set(ws.catalog()["name"])

    with monkeypatch.context() as patch:  # after the run, before the promotion
        patch.setattr(type(ws.models), "promote", killed)
        with pytest.raises(KeyboardInterrupt):
            update(ws, day(shop, days[0]))
    assert ws.models.get("shop").ref == "shop@1"
    assert ws.read_shop("input").sales["ds"].max() == days[0]
    done = update(ws, day(shop, days[1]))  # the model in production catches up
    forecaster, version = load_saved(ws, "shop")
    assert version.ref == done.model and forecaster.arrays_.last_ds.min() == days[1]
    assert ws.read("shop_forecasts")["ds"].min() == days[1] + pd.Timedelta(days=1)


def test_drift_alerts_fire_on_shifted_sales_and_say_by_how_much(ws, trained, shop, days):
    tripled = update(ws, day(shop, days[0], 3.0)).alerts
    level = tripled[(tripled["kind"] == "level") & (tripled["group_col"] == "all")].iloc[0]
    fit_end = days[0] - pd.Timedelta(days=1)
    window = shop.sales[(shop.sales["ds"] > fit_end - pd.Timedelta(days=28))]
    baseline = window[window["ds"] <= fit_end].groupby("ds")["y"].sum().mean()
    assert level["baseline"] == pytest.approx(baseline)
    assert level["value"] == pytest.approx(3 * day(shop, days[0])["y"].sum())
    assert level["change"] == pytest.approx(level["value"] / baseline - 1)
    assert f"x{level['value'] / baseline:.2f}" in level["message"]
    assert set(tripled["group_col"]) >= {"all", "store_id", "cat_id"}
    pd.testing.assert_frame_equal(ws.read("alerts"), tripled)

    # Sales falling to a quarter make the model's WAPE much worse than in its backtest.
    update(ws, day(shop, days[1], 0.25))
    alerts = ws.read("alerts")
    drift = alerts[alerts["kind"] == "accuracy"].iloc[0]
    assert drift["alias"] == "MovingAverage" and drift["change"] > 0.2
    assert drift["baseline"] == ws.models.get("shop@1").meta["scores"]["MovingAverage"]["WAPE"]
    assert "WAPE" in drift["message"] and len(alerts) > len(tripled)


def test_scheduled_refits_are_promoted_only_when_better(ws, trained, shop, days, tmp_path):
    two = shop.sales[shop.sales["ds"].isin(days[:2])]
    done = update(ws, two, refit_every="2d")
    refit = done.refit
    assert refit.reason.startswith("schedule") and refit.version.ref == "shop@2"
    assert refit.window == (f"{days[1]:%Y-%m-%d}",) * 2
    # The baselines re-estimate nothing: a refit forecasts as the update does, no better.
    assert refit.candidate_wape == refit.current_wape and not refit.promoted
    assert done.model == "shop@3" and ws.models.get("shop").meta["update_of"] == "shop@1"

    # ETS re-estimated on three more (tripled) days forecasts the last three better here.
    folder = tmp_path / "ets"
    folder.mkdir()
    ets = Workspace(folder / "ws.duckdb")
    data = read_shop(shop.sales[shop.sales["ds"] < days[0]], static=shop.static)
    train(data, ets, "shop", models=[ETS()], horizon=H)
    new = shop.sales[shop.sales["ds"] >= days[0]]
    done = update(ets, new.assign(y=new["y"] * 3), refit_every="6d")
    refit = done.refit
    assert refit.window == (f"{days[3]:%Y-%m-%d}", f"{days[5]:%Y-%m-%d}")
    assert refit.promoted and refit.candidate_wape < refit.current_wape
    assert done.model == refit.version.ref == ets.models.get("shop").ref
    assert "fitted" not in ets.models.get("shop").meta  # a fit of its own
    assert ets.read("shop_forecasts")["ds"].min() == days[5] + pd.Timedelta(days=1)


def test_the_command_stores_new_dynamic_rows_once(tmp_path, capsys):
    planned = simulate_shop(
        n_items=4, n_stores=1, n_periods=90, reviews=False, seed=2, future_periods=H
    ).data
    sales, dynamic = planned.sales, planned.dynamic
    last = sales["ds"].max()
    data = read_shop(sales[sales["ds"] < last], static=planned.static, dynamic=dynamic)
    ws = Workspace(tmp_path / "ws.duckdb")
    train(data, ws, "shop", models=[SeasonalNaive()], horizon=H, n_windows=0)
    sales[sales["ds"] == last].to_csv(tmp_path / "day.csv", index=False)
    plan = dynamic.loc[dynamic["ds"] >= last, ["unique_id", "ds", "price", "promo"]]
    plan.assign(price=plan["price"] * 0.9).to_csv(tmp_path / "plan.csv", index=False)
    command = ["update", "--workspace", str(ws.path), "--sales", str(tmp_path / "day.csv")]
    command += ["--dynamic", str(tmp_path / "plan.csv"), "--out", str(tmp_path / "fc.csv")]

    assert main(command) == 0
    out = capsys.readouterr().out
    assert "4 new rows" in out and "shop@2 forecasts 4 series" in out
    stored = ws.read_shop("input").dynamic.merge(plan, on=["unique_id", "ds"])
    np.testing.assert_allclose(stored["price_x"], stored["price_y"] * 0.9, rtol=1e-6)
    assert pd.read_csv(tmp_path / "fc.csv", parse_dates=["ds"])["ds"].min() > last
    runs = len(ws.runs())
    assert main(command) == 0  # read back from CSV, the same rows change nothing
    assert "nothing new" in capsys.readouterr().out and len(ws.runs()) == runs
