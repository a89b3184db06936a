import json
import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pandas as pd
import pytest

from trendcast.data.registry import parse_ref
from trendcast.data.store import Workspace
from trendcast.errors import WorkspaceBusyError


@pytest.fixture
def workspace(tmp_path):
    return Workspace(tmp_path / "shop.duckdb")


def writer(text):
    return lambda folder: (folder / "model.json").write_text(json.dumps(text))


def test_each_save_adds_a_version_and_never_overwrites(workspace):
    first = workspace.models.save("shop", writer("one"), kind="demo", meta={"wape": 0.3})
    second = workspace.models.save("shop", writer("two"), kind="demo", meta={"wape": 0.2})
    assert (first.ref, second.ref) == ("shop@1", "shop@2")
    assert json.loads((first.path / "model.json").read_text()) == "one"
    assert workspace.models.get("shop").version == 2
    assert workspace.models.get("shop@1").meta == {"wape": 0.3}
    listed = workspace.models.list()
    assert listed[["version", "current"]].values.tolist() == [[1, False], [2, True]]


def test_promote_and_rollback_walk_the_history(workspace):
    for text in ("one", "two", "three"):
        workspace.models.save("shop", writer(text), kind="demo")
    workspace.models.save("shop", writer("four"), kind="demo", promote=False)
    assert workspace.models.get("shop").version == 3
    assert workspace.models.rollback("shop").version == 2
    assert workspace.models.promote("shop@4").version == 4
    assert workspace.models.rollback("shop").version == 2  # 3 was rolled back already
    assert workspace.models.rollback("shop").version == 1
    with pytest.raises(ValueError, match="nothing to roll back to: only version 1"):
        workspace.models.rollback("shop")
    assert workspace.models.promote("shop").version == 4  # NAME alone: the latest


def test_failed_save_registers_nothing(workspace):
    workspace.models.save("shop", writer("one"), kind="demo")

    def fail(folder):
        (folder / "model.json").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        workspace.models.save("shop", fail, kind="demo")
    assert workspace.models.list()["version"].tolist() == [1]
    assert sorted(p.name for p in (workspace.models_dir / "shop").iterdir()) == ["v1"]
    assert workspace.models.save("shop", writer("two"), kind="demo").version == 2


def test_unknown_models_and_refs_get_clear_errors(workspace):
    with pytest.raises(FileNotFoundError, match="no workspace"):
        workspace.models.get("shop")
    workspace.models.save("shop", writer("one"), kind="demo")
    with pytest.raises(KeyError, match=r"no model 'other'.*shop \(versions 1..1\)"):
        workspace.models.get("other")
    with pytest.raises(KeyError, match="no model 'shop@7'"):
        workspace.models.get("shop@7")
    with pytest.raises(ValueError, match="NAME@VERSION"):
        parse_ref("shop@latest")
    assert parse_ref("shop@12") == ("shop", 12)


def test_readers_open_read_only_and_create_nothing(workspace):
    workspace.write("sales", pd.DataFrame({"y": [1.0]}))
    before = workspace.path.stat().st_mtime_ns
    assert workspace.models.list().empty and workspace.runs().empty
    assert workspace.read("sales")["y"].tolist() == [1.0]
    assert workspace.path.stat().st_mtime_ns == before
    con = duckdb.connect(str(workspace.path), read_only=True)
    tables = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert ("_models",) not in tables
    con.close()


def test_a_run_stores_inputs_and_results_together_with_its_id(workspace, seasonal_sales):
    from trendcast.data.validate import validate

    data = validate(seasonal_sales)
    run_id = workspace.write_run(
        "forecast",
        meta={"model": "shop@1"},
        shop=("input", data),
        results={"forecasts": pd.DataFrame({"y": [1.0]})},
    )
    catalog = workspace.catalog().set_index("name")
    assert {json.loads(m)["run_id"] for m in catalog["meta"]} == {run_id}
    assert workspace.read_shop("input").freq == data.freq
    runs = workspace.runs()
    assert runs["run_id"].tolist() == [run_id]
    assert json.loads(runs["tables"][0]) == ["input_sales", "forecasts"]


def holding(workspace, seconds: float) -> subprocess.Popen:
    """Another process that holds the workspace's lock for ``seconds``, once it says so."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(workspace.path)!r})
                print("holding", flush=True)
                time.sleep({seconds})
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_writer_is_told_which_process_holds_the_workspace(workspace, monkeypatch):
    monkeypatch.setenv("TRENDCAST_LOCK_WAIT", "0.3")
    workspace.write("sales", pd.DataFrame({"y": [1.0]}))
    holder = holding(workspace, 60)
    try:
        with pytest.raises(WorkspaceBusyError, match=f"PID {holder.pid}.*kill {holder.pid}"):
            workspace.write("other", pd.DataFrame({"y": [2.0]}))
        with pytest.raises(WorkspaceBusyError, match="time.sleep"):
            workspace.read("sales")
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the lock goes with the process
        try:
            workspace.write("other", pd.DataFrame({"y": [2.0]}))
            break
        except WorkspaceBusyError:
            time.sleep(0.1)
    assert workspace.read("other")["y"].tolist() == [2.0]
    assert os.path.exists(workspace.path)


def test_a_second_writer_waits_for_the_lock_and_loses_nothing(workspace, monkeypatch):
    monkeypatch.setenv("TRENDCAST_LOCK_WAIT", "20")
    workspace.write("sales", pd.DataFrame({"y": [1.0]}))
    holder = holding(workspace, 1.5)
    try:
        started = time.monotonic()
        workspace.append("sales", pd.DataFrame({"y": [2.0]}))  # waits, then writes
        assert time.monotonic() - started > 0.5
    finally:
        holder.kill()
        holder.wait()
    assert workspace.read("sales")["y"].tolist() == [1.0, 2.0]


def test_a_command_on_a_busy_workspace_stops_before_it_computes(workspace, tmp_path, monkeypatch,
                                                                 capsys):  # fmt: skip
    from trendcast.cli import EXIT_BUSY, main

    monkeypatch.setenv("TRENDCAST_LOCK_WAIT", "0.3")
    workspace.write("sales", pd.DataFrame({"y": [1.0]}))
    sales = tmp_path / "sales.csv"
    sales.write_text("unique_id,ds,y\na,2024-01-01,1\n")  # one row: validation would refuse it
    holder = holding(workspace, 60)
    try:
        code = main(["validate", str(sales), "--workspace", str(workspace.path)])
    finally:
        holder.kill()
        holder.wait()
    error = capsys.readouterr().err
    assert code == EXIT_BUSY and f"PID {holder.pid}" in error
    assert "single row" not in error  # stopped before reading the data
