import pandas as pd
import pytest

from trendcast.app import (
    data_hash,
    fit_and_forecast,
    forecast_saved,
    list_models,
    load_saved,
    promote,
    rollback,
    train,
)
from trendcast.cli import main
from trendcast.data.simulate import simulate_shop
from trendcast.data.store import Workspace
from trendcast.forecaster import Forecaster
from trendcast.models import LightGBM, Naive, SeasonalNaive


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(
        n_items=6, n_stores=1, n_periods=300, reviews=False, seed=3, future_periods=14
    )


def _plan(shop):
    last = shop.data.sales["ds"].max()
    dynamic = shop.data.dynamic
    return dynamic.loc[dynamic["ds"] > last, ["unique_id", "ds", "price", "promo", "event"]]


def test_train_records_what_a_version_was_trained_on(shop, tmp_path):
    ws = tmp_path / "ws.duckdb"
    trained = train(shop.data, ws, "shop", models=[Naive(), SeasonalNaive()], horizon=7)
    meta = trained.version.meta
    assert trained.version.ref == "shop@1" and trained.version.kind == "forecaster"
    assert meta["data_hash"] == data_hash(shop.data)
    assert meta["span"] == {
        "first": f"{shop.data.sales['ds'].min():%Y-%m-%d}",
        "last": f"{shop.data.sales['ds'].max():%Y-%m-%d}",
        "series": 6,
        "rows": len(shop.data.sales),
    }
    assert set(meta["scores"]) == {"Naive", "SeasonalNaive"} and meta["horizon"] == 7
    assert [m["class"] for m in meta["params"]["models"]] == ["Naive", "SeasonalNaive"]
    assert {row["column"] for row in meta["covariates"]} >= {"price", "promo"}
    untrained = train(shop.data, ws, "shop", models=[Naive()], horizon=7, n_windows=0)
    assert untrained.scores is None and untrained.version.meta["scores"] is None


def test_data_hash_follows_the_rows():
    a = simulate_shop(n_items=3, n_stores=1, n_periods=60, reviews=False, seed=1).data
    b = simulate_shop(n_items=3, n_stores=1, n_periods=60, reviews=False, seed=1).data
    assert data_hash(a) == data_hash(b)
    b.sales.loc[0, "y"] += 1
    assert data_hash(a) != data_hash(b)


def test_forecast_saved_predicts_what_the_trained_forecaster_does_with_the_plan(shop, tmp_path):
    ws = tmp_path / "ws.duckdb"
    trained = train(shop.data, ws, "shop", models=[LightGBM(n_estimators=30)], horizon=7)
    plan = _plan(shop)
    cheaper = plan.assign(price=plan["price"] * 0.7)
    base = forecast_saved(ws, "shop", dynamic=plan)
    cut = forecast_saved(ws, "shop@1", dynamic=cheaper, store=False)
    expected = trained.forecaster.predict(7, dynamic=cheaper)
    pd.testing.assert_frame_equal(cut.forecasts, expected)
    assert not cut.forecasts["LightGBM"].equals(base.forecasts["LightGBM"])
    assert cut.run_id is None and base.run_id in Workspace(ws).runs()["run_id"].tolist()
    assert Workspace(ws).meta("shop_forecasts")["run_id"] == base.run_id
    longer = forecast_saved(ws, "shop", horizon=14, store=False)
    assert len(longer.forecasts) == 6 * 14


def test_load_saved_refuses_a_model_that_is_not_a_forecaster(tmp_path):
    ws = Workspace(tmp_path / "ws.duckdb")
    ws.models.save("weights", lambda folder: (folder / "w.json").write_text("{}"), kind="chronos2")
    with pytest.raises(ValueError, match="'weights@1' is a chronos2 model, not a forecaster"):
        load_saved(ws, "weights")


def test_fit_and_forecast_stores_the_input_and_the_forecasts_in_one_run(shop, tmp_path):
    ws = Workspace(tmp_path / "ws.duckdb")
    result = fit_and_forecast(shop.data, Forecaster([Naive()], freq="D"), horizon=5, workspace=ws)
    assert len(result.forecasts) == 6 * 5
    run_ids = {ws.meta(name)["run_id"] for name in ("input_sales", "forecasts")}
    assert run_ids == {result.run_id}


def test_promote_and_rollback_move_the_version_in_production(shop, tmp_path, capsys):
    ws = tmp_path / "ws.duckdb"
    train(shop.data, ws, "shop", models=[Naive()], horizon=7, n_windows=0)
    train(shop.data, ws, "shop", models=[SeasonalNaive()], horizon=7, n_windows=0, promote=False)
    listed = list_models(ws, "shop")
    assert listed.loc[listed["current"], "version"].tolist() == [1]
    assert forecast_saved(ws, "shop", store=False).forecasts.columns[2] == "Naive"
    assert promote(ws, "shop@2").ref == "shop@2"
    assert forecast_saved(ws, "shop", store=False).forecasts.columns[2] == "SeasonalNaive"
    assert rollback(ws, "shop").ref == "shop@1"
    assert forecast_saved(ws, "shop", store=False).forecasts.columns[2] == "Naive"

    assert main(["models", "list", f"--workspace={ws}"]) == 0
    printed = capsys.readouterr().out
    assert "* shop@1" in printed and "  shop@2" in printed
    assert main(["models", "promote", "shop@2", f"--workspace={ws}"]) == 0
    assert "shop@2 is now in production" in capsys.readouterr().out
    assert main(["models", "rollback", "shop", f"--workspace={ws}"]) == 0
    assert "shop@1 is in production again" in capsys.readouterr().out
    assert main(["models", "promote", "shop@9", f"--workspace={ws}"]) == 2
    assert "no model 'shop@9'" in capsys.readouterr().err


def test_a_saved_intermittent_model_forecasts_its_horizon_without_re_estimating(
    shop, tmp_path, monkeypatch
):
    from trendcast.models import TSB
    from trendcast.models.classical import StatsForecastModel

    ws = tmp_path / "ws.duckdb"
    trained = train(shop.data, ws, "shop", models=[TSB()], horizon=14, n_windows=0)
    assert trained.forecaster.models_[0].horizon_ == 14
    assert trained.version.meta["params"]["models"][0]["params"]["horizon"] == 14
    expected = trained.forecaster.predict(14)

    def refit(*args, **kwargs):
        raise AssertionError("re-estimated")

    monkeypatch.setattr(StatsForecastModel, "_states", refit)
    pd.testing.assert_frame_equal(forecast_saved(ws, "shop", store=False).forecasts, expected)
    with pytest.raises(AssertionError, match="re-estimated"):  # another horizon re-estimates
        forecast_saved(ws, "shop", horizon=7, store=False)
