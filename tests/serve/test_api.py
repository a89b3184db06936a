"""The REST API on a real server: reads, keys, uploads, jobs, errors and metrics."""

import io
import time

import httpx
import pandas as pd
import pytest

from trendcast.data.store import Workspace


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def test_health_and_openapi(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["models"] == ["shop"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/forecasts/{series_id}", "/v1/whatif", "/v1/data/{frame}"} <= set(paths)


def test_one_series_forecast_is_the_stored_one_with_its_model_and_data(client, served_workspace):
    ws = Workspace(served_workspace["path"])
    version = ws.models.get("shop")
    stored = ws.read("shop_forecasts")
    series = str(stored["unique_id"].iloc[0])
    body = client.get(f"/v1/forecasts/{series}").json()
    assert body["model"] == "shop@1" and body["data_hash"] == version.meta["data_hash"]
    rows = pd.DataFrame(body["forecasts"])
    expected = stored[stored["unique_id"] == series].reset_index(drop=True)
    assert len(rows) == 14
    pd.testing.assert_series_equal(rows["LightGBM"], expected["LightGBM"])
    assert rows["ds"].tolist() == expected["ds"].dt.strftime("%Y-%m-%d").tolist()
    missing = client.get("/v1/forecasts/NO_SUCH_SERIES")
    assert missing.status_code == 404 and "NO_SUCH_SERIES" in missing.json()["error"]


def test_a_group_and_a_list_of_series(client, served_workspace):
    static = served_workspace["shop"].data.static
    store = str(static["store_id"].iloc[0])
    members = set(static.loc[static["store_id"] == store, "unique_id"])
    body = client.get("/v1/forecasts", params={"group": f"store_id:{store}"}).json()
    assert {r["unique_id"] for r in body["forecasts"]} == members
    two = sorted(members)[:2]
    body = client.get("/v1/forecasts", params={"series": ",".join(two)}).json()
    assert sorted({r["unique_id"] for r in body["forecasts"]}) == two
    assert client.get("/v1/forecasts", params={"group": "store_id:NOPE"}).status_code == 404


def test_what_if_a_price_cut_raises_the_forecast_of_that_series_only(client, served_workspace):
    stored = Workspace(served_workspace["path"]).read("shop_forecasts")
    series = str(stored["unique_id"].iloc[0])
    dates = stored.loc[stored["unique_id"] == series, "ds"].dt.strftime("%Y-%m-%d")
    plan = [{"unique_id": series, "ds": d, "price": 0.01} for d in dates]
    body = client.post("/v1/whatif", json={"plan": plan}).json()
    cheap = pd.DataFrame(body["forecasts"])
    assert set(cheap["unique_id"]) == {series}
    before = stored.loc[stored["unique_id"] == series, "LightGBM"].sum()
    assert cheap["LightGBM"].sum() > before
    late = client.post("/v1/whatif", json={"plan": [{**plan[0], "ds": "2099-01-01"}]})
    assert late.status_code == 400 and "forecast periods" in late.json()["error"]


def test_decisions_and_the_trending_answer(client):
    orders = client.get("/v1/decisions/orders", params={"limit": 3}).json()
    assert orders["rows"] == 12 and len(orders["items"]) == 3
    assert {"order_qty", "order_up_to"} <= set(orders["items"][0])
    answer = client.get("/v1/trending", params={"direction": "rising"}).json()
    assert answer["answer"].endswith(".") and isinstance(answer["items"], list)
    absent = client.get("/v1/decisions/prices")
    assert absent.status_code == 404 and "trendcast price" in absent.json()["error"]


def test_writes_need_a_write_key(client, served_workspace):
    keys = served_workspace["keys"]
    assert client.post("/v1/models/shop/promote").status_code == 401
    refused = client.post("/v1/models/shop/promote", headers={"X-API-Key": keys["read"]})
    assert refused.status_code == 403 and "write" in refused.json()["error"]
    wrong = client.post("/v1/models/shop/promote", headers={"X-API-Key": keys["write"] + "x"})
    assert wrong.status_code == 401
    done = client.post(
        "/v1/models/shop/promote", params={"version": 1},
        headers={"Authorization": f"Bearer {keys['write']}"},
    )  # fmt: skip
    assert done.status_code == 200 and done.json() == {"model": "shop@1"}
    # The keys are stored as hashes only.
    stored = Workspace(served_workspace["path"]).read("api_keys")
    assert keys["write"] not in stored.to_string() and len(stored["sha256"].iloc[0]) == 64


def test_a_bad_upload_is_refused_with_the_fix_and_nothing_stored(client, served_workspace):
    ws = Workspace(served_workspace["path"])
    before = ws.read("input_sales")
    write = {"X-API-Key": served_workspace["keys"]["write"]}
    bad = "unique_id,ds,y\nx,2024-01-01,1\nx,2024-01-01,2\n"  # a repeated (id, date)
    reply = client.post(
        "/v1/data/sales", content=bad, headers={**write, "content-type": "text/csv"}
    )
    assert reply.status_code == 422
    problem = reply.json()["problems"][0]
    assert problem["column"] == "ds" and problem["n_rows"] == 2 and problem["fix"]
    assert "Traceback" not in reply.text
    garbage = client.post("/v1/data/sales", content=b"PAR1 not parquet", headers=write)
    assert garbage.status_code == 422 and "Parquet" in garbage.json()["error"]
    pd.testing.assert_frame_equal(ws.read("input_sales"), before)


def test_an_upload_appends_valid_days_in_one_run(client, served_workspace):
    ws = Workspace(served_workspace["path"])
    sales = ws.read("input_sales")
    last = sales["ds"].max()
    new = sales[sales["ds"] == last].assign(ds=last + pd.Timedelta(days=1))
    buffer = io.BytesIO()
    new.to_parquet(buffer)
    write = {"X-API-Key": served_workspace["keys"]["write"]}
    reply = client.post("/v1/data/sales", content=buffer.getvalue(), headers=write)
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == len(sales) + len(new)
    assert ws.read("input_sales")["ds"].max() == last + pd.Timedelta(days=1)
    # The plan moves on a day too, as CSV this time.
    dynamic = ws.read("input_dynamic")
    end = dynamic["ds"].max()
    day = dynamic[dynamic["ds"] == end].assign(ds=end + pd.Timedelta(days=1))
    csv = {**write, "content-type": "text/csv"}
    reply = client.post("/v1/data/dynamic", content=day.to_csv(index=False), headers=csv)
    assert reply.status_code == 200, reply.text
    assert ws.read("input_dynamic")["ds"].max() == end + pd.Timedelta(days=1)


def test_an_upload_over_the_limit_is_413(served_workspace):
    from tests.serve.conftest import Server
    from trendcast.serve import create_app

    small = Server(create_app(served_workspace["path"], max_upload_mb=0.001))
    try:
        reply = httpx.post(
            f"{small.url}/v1/data/sales", content=b"x" * 5000,
            headers={"X-API-Key": served_workspace["keys"]["write"]},
        )  # fmt: skip
        assert reply.status_code == 413
    finally:
        small.stop()


def test_a_training_job_runs_in_the_background_and_reports(client, served_workspace):
    write = {"X-API-Key": served_workspace["keys"]["write"]}
    job = client.post("/v1/models/shop/train", params={"windows": 0}, headers=write).json()
    assert job["status"] in ("queued", "running")
    deadline = time.time() + 120
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert job["result"]["model"] == "shop@2"
    # The new version serves at once, and the previous one comes back on a roll back.
    served = client.get("/v1/forecasts", params={"limit": 1})
    assert served.json().get("model") == "shop@2", served.text
    back = client.post("/v1/models/shop/rollback", headers=write).json()
    assert back == {"model": "shop@1"}
    assert client.get("/v1/forecasts", params={"limit": 1}).json()["model"] == "shop@1"


def test_metrics_count_requests_by_route(client):
    client.get("/health")
    text = client.get("/metrics").text
    assert 'trendcast_requests_total{method="GET",route="/health",status="200"}' in text
    assert "trendcast_request_seconds_bucket" in text
    assert 'trendcast_forecast_age_seconds{model="shop"}' in text


def test_an_internal_error_shows_no_trace(served_workspace, monkeypatch):
    from fastapi.testclient import TestClient

    from trendcast.serve import create_app
    from trendcast.serve.state import ServerState

    def broken(self, name=None):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(ServerState, "served", broken)
    reply = TestClient(create_app(served_workspace["path"]), raise_server_exceptions=False).get(
        "/v1/forecasts/x"
    )
    assert reply.status_code == 500 and "secret" not in reply.text
    assert reply.json()["error"] == "internal error"


def test_a_model_that_cannot_forecast_leaves_the_server_up_saying_why(
    served_workspace, tmp_path, monkeypatch
):
    from fastapi.testclient import TestClient

    from tests.serve.conftest import copy_workspace
    from trendcast.serve import create_app, state

    ws = copy_workspace(served_workspace, tmp_path)
    Workspace(ws).delete("shop_forecasts")  # the server must forecast at start

    def no_plan(*args, **kwargs):
        raise ValueError("the model reads ['event'] at the forecast periods: add the plan")

    monkeypatch.setattr(state, "forecast_saved", no_plan)
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        assert client.get("/health").status_code == 200
        reply = client.get("/v1/forecasts")
        assert reply.status_code == 400 and "add the plan" in reply.json()["error"]
