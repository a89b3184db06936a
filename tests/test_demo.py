"""The main job on a tiny shop: every output is written, the decisions are in the report."""

import pandas as pd

from trendcast.app import forecast_saved
from trendcast.data.store import Workspace
from trendcast.demo import run_demo


def test_demo_writes_forecasts_decisions_and_reports(tmp_path):
    result = run_demo(
        tmp_path, n_items=6, n_stores=2, n_periods=400, horizon=14, n_windows=1, progress=False
    )
    assert all(path.exists() for path in result.files.values())
    orders = pd.read_csv(result.files["orders"])
    assert len(orders) == 12 and (orders["order_qty"] >= 0).all()
    assert (orders["order_up_to"] >= orders["demand_mean"]).all()  # 95% service needs a buffer
    prices = pd.read_csv(result.files["prices"])
    assert prices["change"].abs().max() <= 0.2 + 1e-9  # within the +-20% bounds
    page = result.files["report"].read_text()
    assert all(f"<h2>{h}</h2>" in page for h in ("What to order", "Prices", "Promotions"))
    assert "<svg" in result.files["trends"].read_text()
    stored = set(Workspace(result.files["workspace"]).catalog()["name"])
    assert {"orders", "prices", "elasticities", "promotions", "trends", "stock"} <= stored
    # One run holds the shop, the results and the decisions, made by the saved model.
    runs = Workspace(result.files["workspace"]).runs()
    assert runs["command"].tolist() == ["demo"] and result.model == "sample@1"
    assert Workspace(result.files["workspace"]).meta("orders")["model"] == "sample@1"
    saved = forecast_saved(result.files["workspace"], "sample", store=False).forecasts
    pd.testing.assert_frame_equal(saved, pd.read_parquet(result.files["forecasts"]))
