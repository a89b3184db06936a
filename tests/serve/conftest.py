"""A small trained workspace and a real server over it on a free loopback port."""

import socket
import threading
import time

import pytest


@pytest.fixture(scope="package")
def served_workspace(tmp_path_factory):
    """A workspace with a saved forecaster ``shop`` (LightGBM and Naive, 14 days ahead),
    the shop stored as ``input``, an order list, a trend table, and a write and a read key."""
    from trendcast import simulate_shop
    from trendcast.app import train
    from trendcast.app.keys import create_key
    from trendcast.cli import main
    from trendcast.data.store import Workspace
    from trendcast.models import LightGBM, Naive

    folder = tmp_path_factory.mktemp("served")
    ws = folder / "shop.duckdb"
    shop = simulate_shop(n_items=6, n_stores=2, n_periods=240, seed=2, future_periods=14,
                         reviews=False)  # fmt: skip
    Workspace(ws).write_run("import", meta={}, shop=("input", shop.data))
    train(shop.data, ws, "shop", models=[LightGBM(n_estimators=40), Naive()], horizon=14,
          n_windows=0)  # fmt: skip
    assert main(["plan", "--workspace", str(ws), "--model", "shop", "--lead-time", "7"]) == 0
    assert main(["trends", "--workspace", str(ws)]) == 0
    keys = {"write": create_key(ws, "writer"), "read": create_key(ws, "reader", scope="read")}
    return {"path": ws, "shop": shop, "keys": keys}


class Server:
    """uvicorn serving an app in a thread, on a port the OS picked."""

    def __init__(self, app):
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def stop(self):
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="package")
def server(served_workspace):
    from trendcast.serve import create_app

    running = Server(create_app(served_workspace["path"]))
    yield running
    running.stop()


def copy_workspace(served_workspace, folder, name="copy.duckdb"):
    """A copy of the served workspace and its saved models, for a test that changes them."""
    import shutil

    ws = folder / name
    shutil.copy(served_workspace["path"], ws)
    shutil.copytree(f"{served_workspace['path']}.models", f"{ws}.models")
    return ws


def serve_process(ws):
    """``trendcast serve`` on ``ws`` in its own process on a free port, once it answers."""
    import subprocess
    import sys

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "trendcast.cli", "serve", "--workspace", str(ws),
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            return process, f"http://127.0.0.1:{port}"
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")
