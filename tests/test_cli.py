import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import make_series
from trendcast.cli import main
from trendcast.data.store import Workspace


@pytest.fixture
def sales_csv(tmp_path):
    path = tmp_path / "sales.csv"
    make_series(n_series=4, n_periods=120).to_csv(path, index=False)
    return path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "trendcast.cli", *map(str, args)], capture_output=True, text=True
    )


def test_help_teaches_with_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "trendcast backtest" in result.stdout


def test_bad_input_exits_non_zero_with_the_fix_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        {"sku": ["a", "a"], "date": ["2024-01-01", "2024-01-02"], "units": [1, -3]}
    ).to_csv(bad, index=False)
    result = run_cli("validate", bad, "--id-col", "sku", "--time-col", "date")
    assert result.returncode == 2
    assert "column 'y': missing" in result.stderr and "target_col='units'" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(
        "validate", bad, "--id-col", "sku", "--time-col", "date", "--target-col", "units"
    )
    assert result.returncode == 2 and "negative demand" in result.stderr
    assert "--clip-negative" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("validate", tmp_path / "nope.csv")
    assert result.returncode == 2 and "file not found" in result.stderr


def test_validate_prints_a_summary(sales_csv, capsys):
    assert main(["validate", str(sales_csv)]) == 0
    out = capsys.readouterr().out
    assert "series" in out and "4" in out and "frequency" in out


def test_backtest_and_forecast_write_files_and_workspace(sales_csv, tmp_path, capsys):
    ws = tmp_path / "ws.duckdb"
    code = main(
        [
            "backtest",
            str(sales_csv),
            "--horizon",
            "7",
            "--windows",
            "2",
            "--models",
            "naive,seasonal_naive",
            "--out",
            str(tmp_path / "bt.parquet"),
            "--scores",
            str(tmp_path / "scores.csv"),
            "--workspace",
            str(ws),
        ]
    )
    assert code == 0
    assert "Backtest scores" in capsys.readouterr().out
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert scores["model"].tolist() == ["Naive", "SeasonalNaive"]
    assert len(pd.read_parquet(tmp_path / "bt.parquet")) == 4 * 7 * 2
    code = main(
        [
            "forecast",
            str(sales_csv),
            "--horizon",
            "5",
            "--models",
            "ets",
            "--quantiles",
            "0.05,0.95",
            "--out",
            str(tmp_path / "fc.csv"),
            "--workspace",
            str(ws),
        ]
    )
    assert code == 0
    forecasts = pd.read_csv(tmp_path / "fc.csv")
    assert forecasts.columns.tolist() == ["unique_id", "ds", "ETS", "ETS-q-0.05", "ETS-q-0.95"]
    assert {"forecasts", "backtest", "scores", "input_sales"} <= set(
        Workspace(ws).catalog()["name"]
    )


def test_unknown_model_and_bad_quantiles(sales_csv, capsys):
    assert main(["forecast", str(sales_csv), "--horizon", "3", "--models", "prophet"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["forecast", str(sales_csv), "--horizon", "3", "--quantiles", "a,b"]) == 2
    assert "--quantiles" in capsys.readouterr().err


def test_forecast_with_covariates_and_explanations(tmp_path, capsys):
    assert (
        main(
            [
                "simulate",
                "--out",
                str(tmp_path),
                "--items",
                "6",
                "--stores",
                "1",
                "--days",
                "200",
                "--format",
                "parquet",
            ]
        )
        == 0
    )
    sales = tmp_path / "sales.parquet"
    dynamic = pd.read_parquet(tmp_path / "dynamic.parquet")
    past = dynamic[["unique_id", "ds", "price", "promo"]]
    past.to_parquet(tmp_path / "known.parquet")
    # Prices and promotions are known in advance, so the forecast needs their plan.
    code = main(
        [
            "forecast",
            str(sales),
            "--dynamic",
            str(tmp_path / "known.parquet"),
            "--horizon",
            "7",
            "--models",
            "lightgbm",
        ]
    )
    assert code == 2 and "no rows for some of the 7 periods" in capsys.readouterr().err
    last = past["ds"].max()
    plan = past[past["ds"] == last].copy()
    future = pd.concat([plan.assign(ds=last + pd.Timedelta(days=d)) for d in range(1, 8)])
    pd.concat([past, future]).to_parquet(tmp_path / "known.parquet")
    code = main(
        [
            "forecast",
            str(sales),
            "--dynamic",
            str(tmp_path / "known.parquet"),
            "--horizon",
            "7",
            "--models",
            "lightgbm",
            "--explain",
            str(tmp_path / "why.csv"),
        ]
    )
    assert code == 0
    why = pd.read_csv(tmp_path / "why.csv")
    assert {"unique_id", "ds", "price", "promotion", "trend and recent sales"} <= set(why.columns)
    assert len(why) == 6 * 7
