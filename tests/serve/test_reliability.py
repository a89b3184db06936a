"""A server killed mid-training leaves the model in production serving after a restart."""

import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx


def _start(ws, port):
    command = [sys.executable, "-m", "trendcast.cli", "serve", "--workspace", str(ws),
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def test_a_kill_during_training_loses_nothing(served_workspace, tmp_path):
    from trendcast.data.store import Workspace

    ws = tmp_path / "killed.duckdb"
    shutil.copy(served_workspace["path"], ws)
    shutil.copytree(f"{served_workspace['path']}.models", f"{ws}.models")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = _start(ws, port)
    try:
        key = {"X-API-Key": served_workspace["keys"]["write"]}
        job = httpx.post(f"{url}/v1/models/shop/train", params={"windows": 1}, headers=key)
        assert job.status_code == 202
        time.sleep(1.0)  # inside the backtest or the fit
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    versions = Workspace(ws).models.list("shop")
    process = _start(ws, port)
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
