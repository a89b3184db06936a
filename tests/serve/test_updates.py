"""Daily updates through the server: the API call and the inbox of the day's files."""

import time

import httpx
import pandas as pd
import pytest

from tests.serve.conftest import Server, copy_workspace


@pytest.fixture
def copy(served_workspace, tmp_path):
    return copy_workspace(served_workspace, tmp_path)


def _next_day(ws):
    """The day after the stored sales, and the plan of the day after the plan's last."""
    from trendcast.data.store import Workspace

    data = Workspace(ws).read_shop("input")
    last, end = data.sales["ds"].max(), data.dynamic["ds"].max()
    sales = data.sales[data.sales["ds"] == last].assign(ds=last + pd.Timedelta(days=1))
    plan = data.dynamic[data.dynamic["ds"] == end].assign(ds=end + pd.Timedelta(days=1))
    return sales, plan


def test_an_update_call_moves_the_forecasts_a_day_on(copy, served_workspace):
    from trendcast.serve import create_app

    server = Server(create_app(copy))
    try:
        before = httpx.get(f"{server.url}/v1/forecasts", params={"limit": 1}).json()
        day, plan = _next_day(copy)
        key = {"X-API-Key": served_workspace["keys"]["write"]}
        files = {"sales": ("day.csv", day.to_csv(index=False), "text/csv"),
                 "dynamic": ("plan.csv", plan.to_csv(index=False), "text/csv")}  # fmt: skip
        job = httpx.post(f"{server.url}/v1/update", files=files, headers=key)
        assert job.status_code == 202, job.text
        job = job.json()
        deadline = time.time() + 120
        while job["status"] in ("queued", "running") and time.time() < deadline:
            time.sleep(0.3)
            job = httpx.get(f"{server.url}/v1/jobs/{job['id']}").json()
        assert job["status"] == "done", job
        assert job["result"]["appended"] == len(day) and job["result"]["previous"] == "shop@1"
        after = httpx.get(f"{server.url}/v1/forecasts", params={"limit": 1}).json()
        assert after["model"] == job["result"]["model"] != before["model"]
        first = lambda body: pd.Timestamp(body["forecasts"][0]["ds"])  # noqa: E731
        # Forecasts start the day after the newest sales (the stored shop may have been a day
        # ahead of the model already: the update catches the model up too).
        assert first(after) == day["ds"].max() + pd.Timedelta(days=1) > first(before)
        refused = httpx.post(f"{server.url}/v1/update", content=b"unique_id,ds,y\n")
        assert refused.status_code == 401
    finally:
        server.stop()


def test_the_inbox_applies_good_files_and_sets_bad_ones_aside(copy, served_workspace, tmp_path):
    from trendcast.data.store import Workspace
    from trendcast.serve.state import process_inbox

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    day, plan = _next_day(copy)
    day.to_csv(inbox / "2022-a.csv", index=False)
    plan.to_csv(inbox / "2022-a.dynamic.csv", index=False)
    (inbox / "2022-b.csv").write_text("unique_id,ds,y\nNO_SUCH,2030-01-01,1\n")
    results = process_inbox(copy, inbox)
    assert [r["file"] for r in results] == ["2022-a.csv", "2022-b.csv"]
    assert "error" not in results[0] and results[0]["appended"] > 0
    assert "NO_SUCH" in results[1]["error"]
    assert (inbox / "done" / "2022-a.csv").exists() and (
        inbox / "done" / "2022-a.dynamic.csv"
    ).exists()
    assert (inbox / "failed" / "2022-b.csv").exists()
    assert "NO_SUCH" in (inbox / "failed" / "2022-b.csv.error.txt").read_text()
    assert Workspace(copy).models.get("shop").ref == results[0]["model"]


def test_a_schedule_needs_a_folder_and_a_time_of_day(copy, tmp_path):
    from trendcast.serve import create_app

    with pytest.raises(ValueError, match="not a folder"):
        create_app(copy, inbox=str(tmp_path / "missing"))
    (tmp_path / "inbox").mkdir()
    with pytest.raises(ValueError, match="time of day"):
        create_app(copy, inbox=str(tmp_path / "inbox"), update_at="6 am")
