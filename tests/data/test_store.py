import subprocess
import sys
import textwrap

import pandas as pd
import polars as pl
import pytest

from trendcast.data.io import atomic_write, read_frame, write_frame
from trendcast.data.store import Workspace
from trendcast.data.validate import DataValidationError, validate


class Exploding:
    """Pretends to be a polars frame and fails while being converted, mid-transaction."""

    __module__ = "polars.fake"

    def to_pandas(self):
        raise RuntimeError("disk full")


@pytest.fixture
def workspace(tmp_path):
    return Workspace(tmp_path / "shop.duckdb")


def test_write_read_and_catalog(workspace):
    workspace.write("sales", pd.DataFrame({"unique_id": ["a"], "y": [1.0]}), meta={"h": 7})
    workspace.write("forecasts", pl.DataFrame({"unique_id": ["a"], "ETS": [2.0]}), kind="result")
    assert workspace.read("forecasts")["ETS"].tolist() == [2.0]
    catalog = workspace.catalog()
    assert catalog["name"].tolist() == ["forecasts", "sales"]
    assert catalog.set_index("name").loc["sales", "rows"] == 1
    assert workspace.meta("sales") == {"h": 7}


def test_failed_write_keeps_previous_state(workspace):
    workspace.write("sales", pd.DataFrame({"y": [1.0, 2.0]}))
    with pytest.raises(RuntimeError, match="disk full"):
        workspace.write_many({"sales": pd.DataFrame({"y": [9.0]}), "other": Exploding()})
    assert workspace.read("sales")["y"].tolist() == [1.0, 2.0]
    assert workspace.catalog()["name"].tolist() == ["sales"]


def test_crash_mid_write_keeps_previous_state(workspace):
    workspace.write("sales", pd.DataFrame({"y": [1.0, 2.0]}))
    script = textwrap.dedent(
        f"""
        import os
        import pandas as pd
        from trendcast.data.store import Workspace

        class Crash:
            __module__ = "polars.fake"
            def to_pandas(self):
                os._exit(9)  # the process dies inside the open transaction

        Workspace({str(workspace.path)!r}).write_many(
            {{"sales": pd.DataFrame({{"y": [9.0] * 1000}}), "other": Crash()}}
        )
        """
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    assert workspace.read("sales")["y"].tolist() == [1.0, 2.0]
    assert "other" not in workspace.catalog()["name"].tolist()


def test_shop_round_trip(workspace, seasonal_sales):
    static = pd.DataFrame({"unique_id": seasonal_sales["unique_id"].unique(), "cat_id": "FOODS"})
    data = validate(seasonal_sales.iloc[5:], static=static, fill_gaps=False)
    workspace.write_shop("shop", data)
    back = workspace.read_shop("shop")
    pd.testing.assert_frame_equal(back.sales, data.sales)
    pd.testing.assert_frame_equal(back.static, data.static)
    assert back.freq == "D" and back.dynamic is None


def test_bad_names_and_missing_tables(workspace):
    with pytest.raises(ValueError, match="not allowed"):
        workspace.write("drop table x; --", pd.DataFrame({"y": [1]}))
    with pytest.raises(FileNotFoundError, match="trendcast demo"):
        workspace.read("sales")
    workspace.write("sales", pd.DataFrame({"y": [1]}))
    with pytest.raises(KeyError, match="no table 'forecast'"):
        workspace.read("forecast")


def test_atomic_file_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.csv"
    write_frame(pd.DataFrame({"y": [1]}), path)

    def fail(tmp):
        tmp.write_text("half written")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, fail)
    assert read_frame(path)["y"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_written_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        csv = write_frame(pd.DataFrame({"y": [1]}), tmp_path / "shared.csv")
        os.umask(0o077)
        private = write_frame(pd.DataFrame({"y": [1]}), tmp_path / "private.csv")
    finally:
        os.umask(old)
    assert csv.stat().st_mode & 0o777 == 0o644  # a teammate or a web server can read it
    assert private.stat().st_mode & 0o777 == 0o600


def test_read_frame_errors(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        read_frame(tmp_path / "missing.csv")
    with pytest.raises(DataValidationError, match=".csv, .parquet or .xlsx"):
        read_frame(tmp_path / "sales.json")


def test_append_adds_rows_without_rewriting_and_keeps_state_on_failure(workspace):
    workspace.append("cache", pd.DataFrame({"key": ["a"], "value": [1.0]}))
    workspace.append("cache", pd.DataFrame({"value": [2.0], "key": ["b"]}))  # matched by name
    assert workspace.read("cache")["key"].tolist() == ["a", "b"]
    assert workspace.catalog().set_index("name").loc["cache", "rows"] == 2
    with pytest.raises(Exception, match="(?i)column"):
        workspace.append("cache", pd.DataFrame({"other": [3.0]}))
    assert workspace.read("cache")["key"].tolist() == ["a", "b"]


def _physical_tables(workspace) -> set[str]:
    import duckdb

    con = duckdb.connect(str(workspace.path), read_only=True)
    try:
        return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


def _orders(k: int) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": ["a", "b"], "order_qty": [float(k), float(k + 1)]})


def test_an_earlier_runs_tables_stay_readable_after_a_new_run(workspace):
    first = workspace.write_run("plan", meta={"k": 1}, results={"orders": _orders(1)})
    second = workspace.write_run("plan", meta={"k": 2}, results={"orders": _orders(2)})
    pd.testing.assert_frame_equal(workspace.read("orders"), _orders(2))
    pd.testing.assert_frame_equal(workspace.read("orders", run=first), _orders(1))
    pd.testing.assert_frame_equal(workspace.read("orders", run=second), _orders(2))
    history = workspace.history("orders")
    assert history["run_id"].tolist() == [second, first]
    assert history["current"].tolist() == [True, False]
    assert history["command"].tolist() == ["plan", "plan"]
    assert workspace.read("orders", run=first, limit=1)["order_qty"].tolist() == [1.0]
    with pytest.raises(KeyError, match=f"no version of run 'nope'.*{second}, {first}"):
        workspace.read("orders", run="nope")
    # A plain write replaces the table; the runs' versions stay as they were.
    workspace.write("orders", _orders(9))
    pd.testing.assert_frame_equal(workspace.read("orders", run=second), _orders(2))
    assert not workspace.history("orders")["current"].any()
    # Appending to a run's table leaves that run's version whole.
    third = workspace.write_run("plan", meta={}, results={"orders": _orders(3)})
    workspace.append("orders", _orders(4))
    assert len(workspace.read("orders")) == 4
    pd.testing.assert_frame_equal(workspace.read("orders", run=third), _orders(3))


def test_each_table_keeps_the_last_runs_and_drops_the_older_in_the_run(workspace):
    assert workspace.keep_runs == 20  # the default, before anything is written
    workspace.write_run("plan", meta={}, results={"orders": _orders(0)})
    assert workspace.set_keep_runs(3) == 0
    runs = [
        workspace.write_run("plan", meta={}, results={"orders": _orders(k)}) for k in (1, 2, 3, 4)
    ]
    assert workspace.keep_runs == 3
    assert workspace.history("orders")["run_id"].tolist() == runs[::-1][:3]
    for k, run in enumerate(runs[1:], start=2):
        pd.testing.assert_frame_equal(workspace.read("orders", run=run), _orders(k))
    with pytest.raises(KeyError, match="keeps no version"):
        workspace.read("orders", run=runs[0])
    # A run none of whose tables is kept leaves the list; the archive of each kept one stays.
    assert workspace.runs()["run_id"].tolist() == runs[1:]
    archived = {t for t in _physical_tables(workspace) if t.startswith("_run_")}
    assert len(archived) == 2
    assert workspace.set_keep_runs(1) == 2
    assert workspace.history()["run_id"].tolist() == [runs[-1]]
    assert not {t for t in _physical_tables(workspace) if t.startswith("_run_")}
    with pytest.raises(ValueError, match="1 or more"):
        workspace.set_keep_runs(0)


def test_a_failed_run_leaves_the_tables_and_their_history_as_they_were(workspace):
    first = workspace.write_run("plan", meta={}, results={"orders": _orders(1)})
    second = workspace.write_run("plan", meta={}, results={"orders": _orders(2)})
    before = _physical_tables(workspace)
    with pytest.raises(RuntimeError, match="disk full"):
        workspace.write_run("plan", meta={}, results={"orders": _orders(3), "other": Exploding()})
    assert _physical_tables(workspace) == before
    assert workspace.history("orders")["run_id"].tolist() == [second, first]
    assert workspace.runs()["run_id"].tolist() == [first, second]
    pd.testing.assert_frame_equal(workspace.read("orders"), _orders(2))
    pd.testing.assert_frame_equal(workspace.read("orders", run=first), _orders(1))
    with pytest.raises(ValueError, match="once"):
        workspace.write_run(
            "plan", meta={}, results={"orders": _orders(1)}, decisions={"orders": _orders(1)}
        )


def test_an_unchanged_input_is_stored_once_for_all_its_runs(workspace, seasonal_sales):
    data = validate(seasonal_sales)
    runs = [
        workspace.write_run("plan", meta={}, shop=("input", data), results={"orders": _orders(k)})
        for k in range(3)
    ]
    assert {t for t in _physical_tables(workspace) if "input_sales" in t} == {"input_sales"}
    assert len({t for t in _physical_tables(workspace) if "orders" in t}) == 3
    for run in runs:
        pd.testing.assert_frame_equal(workspace.read("input_sales", run=run), data.sales)
    changed = validate(seasonal_sales.assign(y=seasonal_sales["y"] + 1))
    workspace.write_run("plan", meta={}, shop=("input", changed))
    pd.testing.assert_frame_equal(workspace.read("input_sales", run=runs[0]), data.sales)
    pd.testing.assert_frame_equal(workspace.read_shop("input").sales, changed.sales)


def test_a_new_shop_without_a_side_frame_is_never_read_with_the_old_one(workspace, seasonal_sales):
    static = pd.DataFrame({"unique_id": seasonal_sales["unique_id"].unique(), "cat_id": "FOODS"})
    first = workspace.write_run(
        "import", meta={}, shop=("input", validate(seasonal_sales, static=static))
    )
    workspace.write_run("plan", meta={}, shop=("input", validate(seasonal_sales)))
    assert workspace.read_shop("input").static is None
    assert "input_static" not in set(workspace.catalog()["name"])
    pd.testing.assert_frame_equal(workspace.read("input_static", run=first), static)
    workspace.write_shop("input", validate(seasonal_sales, static=static))
    workspace.write_shop("input", validate(seasonal_sales))
    assert workspace.read_shop("input").static is None


def test_a_table_a_run_wrote_before_runs_kept_history_is_kept_when_replaced(workspace):
    # As such a workspace holds it: the run id in the catalog, no history.
    workspace.write("orders", _orders(1), kind="result", meta={"run_id": "20240101T000000-aaaaaa"})
    assert workspace.read("orders", run="20240101T000000-aaaaaa")["order_qty"].tolist() == [
        1.0,
        2.0,
    ]
    workspace.write_run("plan", meta={}, results={"orders": _orders(2)})
    pd.testing.assert_frame_equal(
        workspace.read("orders", run="20240101T000000-aaaaaa"), _orders(1)
    )


def test_a_run_killed_mid_write_leaves_the_tables_and_their_history_as_they_were(workspace):
    first = workspace.write_run("plan", meta={}, results={"orders": _orders(1)})
    second = workspace.write_run("plan", meta={}, results={"orders": _orders(2)})
    before = _physical_tables(workspace)
    script = textwrap.dedent(
        f"""
        import os
        import pandas as pd
        from trendcast.data.store import Workspace

        class Crash:
            __module__ = "polars.fake"
            def to_pandas(self):
                os._exit(9)  # dies after orders moved aside and was replaced, uncommitted

        Workspace({str(workspace.path)!r}).write_run(
            "plan", meta={{}}, results={{"orders": pd.DataFrame({{"q": [0.0]}}), "other": Crash()}}
        )
        """
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    assert _physical_tables(workspace) == before
    assert workspace.history("orders")["run_id"].tolist() == [second, first]
    pd.testing.assert_frame_equal(workspace.read("orders"), _orders(2))
    pd.testing.assert_frame_equal(workspace.read("orders", run=first), _orders(1))


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(tmp_path):
    from trendcast.data.io import write_frame

    frame = pd.DataFrame(
        {
            "unique_id": ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1+1", "-2", "SKU-1", None],
            "order_qty": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    back = pd.read_csv(write_frame(frame, tmp_path / "orders.csv"), dtype={"unique_id": str})
    assert back["unique_id"].tolist()[:5] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)", "'+1+1", "'-2", "SKU-1",
    ]  # fmt: skip
    assert back["order_qty"].tolist() == frame["order_qty"].tolist()  # numbers as they are
    assert frame["unique_id"].iloc[0].startswith("=")  # the caller's frame is untouched
    parquet = pd.read_parquet(write_frame(frame, tmp_path / "orders.parquet"))
    pd.testing.assert_frame_equal(parquet, frame)
    # Excel too: openpyxl would store the first id as a formula.
    import openpyxl

    from trendcast.app.workspace import export_table

    Workspace(tmp_path / "ws.duckdb").write("orders", frame)
    book = openpyxl.load_workbook(
        export_table(tmp_path / "ws.duckdb", "orders", tmp_path / "o.xlsx")
    )
    cells = [cell for row in book.active.iter_rows(min_row=2) for cell in row[:1]]
    assert [c.data_type for c in cells[:5]] == ["s"] * 5 and cells[0].value.startswith("'=")
