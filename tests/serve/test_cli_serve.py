"""trendcast keys and trendcast serve from the command line."""

import signal

import httpx

from tests.serve.conftest import copy_workspace, serve_process
from trendcast.cli import main


def test_keys_are_created_shown_once_listed_and_revoked(served_workspace, tmp_path, capsys):
    ws = copy_workspace(served_workspace, tmp_path)
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
    process, url = serve_process(copy_workspace(served_workspace, tmp_path))
    try:
        assert httpx.get(f"{url}/health").json()["models"] == ["shop"]
        body = httpx.get(f"{url}/v1/forecasts", params={"limit": 1}).json()
        assert body["model"] == "shop@1"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    missing = main(["serve", "--workspace", str(tmp_path / "none.duckdb")])
    assert missing == 2
