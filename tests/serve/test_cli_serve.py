"""trendcast keys and trendcast serve from the command line."""

import signal
import socket
import subprocess
import sys
import time

import httpx

from trendcast.cli import main


def test_keys_are_created_shown_once_listed_and_revoked(served_workspace, tmp_path, capsys):
    import shutil

    ws = tmp_path / "keys.duckdb"
    shutil.copy(served_workspace["path"], ws)
    assert main(["keys", "create", "erp", "--workspace", str(ws), "--read-only"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("tc_") and len(token) > 40
    assert main(["keys", "list", "--workspace", str(ws)]) == 0
    listed = capsys.readouterr().out
    assert "erp" in listed and "read" in listed and token not in listed
    assert main(["keys", "create", "erp", "--workspace", str(ws)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["keys", "revoke", "erp", "--workspace", str(ws)]) == 0
    assert main(["keys", "revoke", "erp", "--workspace", str(ws)]) == 2


def test_serve_answers_on_its_port_and_stops_on_a_signal(served_workspace, tmp_path):
    import shutil

    ws = tmp_path / "served.duckdb"
    shutil.copy(served_workspace["path"], ws)
    shutil.copytree(f"{served_workspace['path']}.models", f"{ws}.models")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "trendcast.cli", "serve", "--workspace", str(ws),
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, health = time.time() + 60, None
        while time.time() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.json()["models"] == ["shop"]
        body = httpx.get(f"http://127.0.0.1:{port}/v1/forecasts", params={"limit": 1}).json()
        assert body["model"] == "shop@1"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    missing = main(["serve", "--workspace", str(tmp_path / "none.duckdb")])
    assert missing == 2
