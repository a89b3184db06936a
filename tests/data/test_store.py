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
    with pytest.raises(DataValidationError, match=".csv or .parquet"):
        read_frame(tmp_path / "sales.xlsx")


def test_append_adds_rows_without_rewriting_and_keeps_state_on_failure(workspace):
    workspace.append("cache", pd.DataFrame({"key": ["a"], "value": [1.0]}))
    workspace.append("cache", pd.DataFrame({"value": [2.0], "key": ["b"]}))  # matched by name
    assert workspace.read("cache")["key"].tolist() == ["a", "b"]
    assert workspace.catalog().set_index("name").loc["cache", "rows"] == 2
    with pytest.raises(Exception, match="(?i)column"):
        workspace.append("cache", pd.DataFrame({"other": [3.0]}))
    assert workspace.read("cache")["key"].tolist() == ["a", "b"]
