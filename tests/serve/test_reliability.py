"""A server killed mid-training leaves the model in production serving after a restart."""

import signal
import time

import httpx

from tests.serve.conftest import copy_workspace, serve_process


def test_a_kill_during_training_loses_nothing(served_workspace, tmp_path):
    from trendcast.data.store import Workspace

    ws = copy_workspace(served_workspace, tmp_path)
    process, url = serve_process(ws)
    try:
        key = {"X-API-Key": served_workspace["keys"]["write"]}
        job = httpx.post(f"{url}/v1/models/shop/train", params={"windows": 1}, headers=key)
        assert job.status_code == 202
        time.sleep(1.0)  # inside the backtest or the fit
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    versions = Workspace(ws).models.list("shop")
    process, url = serve_process(ws)
    try:
        served = httpx.get(f"{url}/v1/forecasts", params={"limit": 1}, timeout=30).json()
        # The version in production is whole: the one before, or the new one if it landed.
        assert served["model"] in {f"shop@{v}" for v in versions["version"]}
        assert served["forecasts"]
        listed = httpx.get(f"{url}/v1/models").json()["models"]
        assert [m["version"] for m in listed if m["current"]] == [int(served["model"][5:])]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
