import re
import shutil

import pandas as pd
import pytest

from tests.conftest import make_series
from trendcast.app import workspace_report
from trendcast.cli import main
from trendcast.data.store import Workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A workspace of two forecast runs, a backtest and an order plan, from the CLI."""
    folder = tmp_path_factory.mktemp("built")
    sales = folder / "sales.csv"
    make_series(n_series=4, n_periods=120).to_csv(sales, index=False)
    ws = folder / "ws.duckdb"
    common = [str(sales), "--workspace", str(ws)]
    for horizon in ("5", "7"):
        args = ["forecast", *common, "--horizon", horizon, "--models", "naive,seasonal_naive"]
        assert main(args) == 0
    backtest = ["backtest", *common, "--horizon", "7", "--windows", "2"]
    assert main([*backtest, "--models", "naive,seasonal_naive"]) == 0
    assert main(["plan", *common, "--samples", "200"]) == 0
    return ws


@pytest.fixture
def ws(built, tmp_path):
    """A copy of the built workspace, for tests that change it."""
    return shutil.copy(built, tmp_path / "ws.duckdb")


def _forecast_runs(ws):
    runs = Workspace(ws).runs()
    return runs.loc[runs["command"] == "forecast", "run_id"].tolist()


def test_show_lists_the_tables_and_the_runs(built, capsys):
    assert main(["show", "--workspace", str(built)]) == 0
    out = capsys.readouterr().out
    for name in ("forecasts", "backtest", "scores", "orders", "input_sales"):
        assert re.search(rf"│ {name}\s+│", out), name
    for run in Workspace(built).runs().itertuples():
        assert run.run_id in out
    assert "Latest runs" in out and "last 20 runs" in out
    assert re.search(r"│ input_sales\s+│ shop\s+│\s+480 │", out)  # rows of the table


def test_show_prints_the_first_rows_and_names_the_columns_left_out(built, capsys):
    assert main(["show", "forecasts", "--workspace", str(built), "--rows", "3"]) == 0
    out = capsys.readouterr().out
    first = Workspace(built).read("forecasts").iloc[0]
    assert "forecasts: 28 rows x" in out and "first 3 of 28 rows" in out
    assert len(re.findall(r"│ s0\d ", out)) == 3 and f"{first['ds']:%Y-%m-%d}" in out
    # The order list is wider than the 120 columns of a pipe: the rest is named, not squashed.
    assert main(["show", "orders", "--workspace", str(built)]) == 0
    out = capsys.readouterr().out
    columns = Workspace(built).read("orders").columns
    hidden = re.search(r"(\d+) more columns not shown: (.*?)\. Pick", out, re.S)
    assert hidden and int(hidden[1]) > 0
    assert hidden[2].split()[-1] == columns[-1] and max(map(len, out.splitlines())) <= 120
    args = ["show", "orders", "--workspace", str(built)]
    assert main([*args, "--columns", "unique_id,order_qty", "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "order_qty" in out and "safety_stock" in out.split("not shown")[-1]
    assert main([*args, "--transpose"]) == 0
    out = capsys.readouterr().out
    assert all(f"│ {c} " in out for c in columns) and "not shown" not in out
    assert main([*args, "--columns", "unique_id,nope"]) == 2
    assert "no column ['nope'] in 'orders'; its columns: unique_id" in capsys.readouterr().err


def test_export_writes_the_table_as_csv_parquet_and_excel(built, tmp_path, capsys):
    stored = Workspace(built).read("forecasts")
    for suffix in ("csv", "parquet", "xlsx"):
        out = tmp_path / f"fc.{suffix}"
        assert main(["export", "forecasts", "--workspace", str(built), "--out", str(out)]) == 0
        back = {
            "csv": lambda p: pd.read_csv(p, parse_dates=["ds"]),
            "parquet": pd.read_parquet,
            "xlsx": pd.read_excel,
        }[suffix](out)
        pd.testing.assert_frame_equal(back, stored, check_dtype=suffix == "parquet")
    assert str(tmp_path / "fc.xlsx") in capsys.readouterr().out
    assert main(["export", "forecasts", "--workspace", str(built), "--out", "fc.json"]) == 2
    assert ".csv, .parquet or .xlsx" in capsys.readouterr().err


def test_a_missing_table_or_run_is_an_error_naming_those_that_exist(built, tmp_path, capsys):
    out = str(tmp_path / "x.csv")
    assert main(["export", "forecast", "--workspace", str(built), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "no table 'forecast'" in err and "'forecasts'" in err and "'orders'" in err
    assert "Traceback" not in err
    assert main(["show", "forecast", "--workspace", str(built)]) == 2
    assert "'forecasts'" in capsys.readouterr().err
    assert main(["show", "forecasts", "--workspace", str(built), "--run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "keeps no version of run 'nope'" in err
    assert all(run in err for run in _forecast_runs(built))
    assert main(["show", "--workspace", str(tmp_path / "none.duckdb")]) == 2
    assert "no workspace at" in capsys.readouterr().err


def test_an_earlier_runs_results_stay_readable_and_exportable(built, tmp_path, capsys):
    first, second = _forecast_runs(built)
    assert len(Workspace(built).read("forecasts")) == 4 * 7  # the second run's
    args = ["show", "forecasts", "--workspace", str(built), "--run", first]
    assert main(args) == 0
    out = " ".join(capsys.readouterr().out.split())  # as read, without rich's line breaks
    assert "forecasts: 20 rows x 10 columns, result, written" in out
    assert f"by run {first} (forecast); an earlier run's version" in out
    out_file = tmp_path / "first.parquet"
    args = ["export", "forecasts", "--workspace", str(built), "--run", first]
    assert main([*args, "--out", str(out_file)]) == 0
    assert len(pd.read_parquet(out_file)) == 4 * 5
    assert f"forecasts of run {first}: {out_file}" in capsys.readouterr().out
    assert main(["runs", "--workspace", str(built), "--table", "forecasts"]) == 0
    out = capsys.readouterr().out
    assert out.index(second) < out.index(first)  # newest first
    assert "plan" not in out and "backtest" not in out
    assert main(["runs", "--workspace", str(built), "--last", "1"]) == 0
    out = capsys.readouterr().out
    assert "plan" in out and first not in out


def test_keep_prunes_to_the_stated_number_and_says_so(ws, capsys):
    first, second = _forecast_runs(ws)
    assert main(["runs", "--workspace", str(ws), "--keep", "1"]) == 0
    out = capsys.readouterr().out
    # One version of forecasts and three of the input (of four runs) go.
    assert "keeps each table's last 1 runs' versions from now on; 4 older versions dropped" in out
    history = Workspace(ws).history()
    assert history.groupby("name").size().max() == 1 and Workspace(ws).keep_runs == 1
    # The first forecast run keeps nothing and leaves the list; the second keeps forecasts.
    assert first not in out and "input_sales (dropped)" in out.split(second)[1]
    assert main(["show", "forecasts", "--workspace", str(ws), "--run", first]) == 2
    assert "keeps no version of run" in capsys.readouterr().err
    # The setting holds for the runs that follow.
    sales = ws.with_name("sales.csv")
    make_series(n_series=4, n_periods=100).to_csv(sales, index=False)
    args = ["forecast", str(sales), "--workspace", str(ws), "--horizon", "3", "--models", "naive"]
    assert main(args) == 0
    assert Workspace(ws).history("forecasts")["run_id"].tolist() == [_forecast_runs(ws)[-1]]


def test_report_shows_the_sections_whose_tables_exist_and_says_which_are_left_out(
    built, tmp_path, capsys
):
    out = tmp_path / "report.html"
    assert main(["report", "--workspace", str(built), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    page = out.read_text()
    for heading in (
        "Backtest scores",
        "Forecasts of the best-selling series",
        "Total demand in the backtest windows",
        "What to order",
    ):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "<h2>Prices</h2>" not in page and "<h2>Promotions</h2>" not in page
    assert "Left out: prices: no prices or elasticities table" in page
    assert "left out promotions" in printed and "shows orders" in printed
    assert f"run {Workspace(built).meta('orders')['run_id']}" in page
    assert "Shop &#x27;input&#x27;: 4 series, D from" in page


def test_report_of_a_workspace_with_decisions_only(tmp_path):
    ws = Workspace(tmp_path / "ws.duckdb")
    orders = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "inventory_position": [1.0, 5.0],
            "demand_mean": [4.0, 2.0],
            "safety_stock": [1.0, 1.0],
            "order_up_to": [6.0, 4.0],
            "order_qty": [5.0, 0.0],
            "expected_fill_rate": [0.9, 1.0],
            "stockout_probability": [0.05, 0.0],
        }
    )
    with pytest.raises(FileNotFoundError, match="no workspace"):
        workspace_report(ws, tmp_path / "r.html")
    ws.write("notes", pd.DataFrame({"text": ["x"]}))
    with pytest.raises(ValueError, match=r"nothing to report.*\['notes'\]"):
        workspace_report(ws, tmp_path / "r.html")
    ws.write_run("plan", meta={}, results={"orders": orders})
    report = workspace_report(ws, tmp_path / "r.html")
    page = report.path.read_text()
    assert "<h2>What to order</h2>" in page and "1 of 2 series need an order now" in page
    assert "Backtest scores" not in page and "plotly" not in page
    assert [line.split(":")[0] for line in report.left_out] == [
        "forecast plots",
        "backtest scores and plots",
        "prices",
        "promotions",
    ]


def test_help_shows_the_workspace_commands():
    from trendcast.cli import _EXAMPLES

    assert (
        "trendcast import orders.csv --workspace ws.duckdb --freq W   # an order log" in _EXAMPLES
    )
    for command in ("show", "runs", "export", "report"):
        assert f"trendcast {command} " in _EXAMPLES
