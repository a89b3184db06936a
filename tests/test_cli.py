import re
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
    assert "column 'y': missing" in result.stderr and "--target-col units" in result.stderr
    assert "target_col=" not in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(
        "validate", bad, "--id-col", "sku", "--time-col", "date", "--target-col", "units"
    )
    assert result.returncode == 2 and "negative demand" in result.stderr
    assert "--clip-negative" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("validate", tmp_path / "nope.csv")
    assert result.returncode == 2 and "file not found" in result.stderr


def test_debug_shows_the_traceback_before_or_after_the_command(tmp_path):
    from trendcast.data.validate import DataValidationError

    nope = str(tmp_path / "nope.csv")
    for argv in (["--debug", "validate", nope], ["validate", nope, "--debug"]):
        with pytest.raises(DataValidationError, match="file not found"):
            main(argv)
    assert main(["validate", nope]) == 2
    with pytest.raises(KeyError, match="no model 'shop' to promote"):
        main(["models", "promote", "shop", "--workspace", str(tmp_path / "w.duckdb"), "--debug"])


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
    capsys.readouterr()
    assert main(["forecast", str(sales_csv), "--horizon", "2", "--models", "naive,ets"]) == 0
    printed = capsys.readouterr().out
    assert "Naive-q-0.9" in printed.splitlines()[0] and "ETS" not in printed.splitlines()[0]
    assert "(4 more columns, the other models'" in printed


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
                "--plan-days",
                "0",
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


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory):
    """A small simulated shop written by the CLI: sales, side files, the plan and stock."""
    out = tmp_path_factory.mktemp("shop")
    args = ["simulate", "--out", out, "--items", "12", "--stores", "2", "--days", "420"]
    assert main([*map(str, args), "--format", "parquet"]) == 0
    return out


def test_trends_lists_labels_with_reasons_and_writes_reports(shop_dir, tmp_path, capsys):
    files = [f"--{name}={shop_dir / f'{name}.parquet'}" for name in ("static", "dynamic", "stock")]
    out = [f"--html={tmp_path / 't.html'}", f"--json={tmp_path / 't.json'}"]
    args = [str(shop_dir / "sales.parquet"), *files, *out, f"--out={tmp_path / 't.csv'}"]
    assert main(["trends", *args, "--direction", "declining"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 24 and f"{(table['trend'] == 'declining').sum()} declining" in printed
    assert "<svg" in (tmp_path / "t.html").read_text()
    assert (tmp_path / "t.json").read_text().startswith("{")
    assert main(["trends", *args, "--category", "TOYS"]) == 2
    assert "TOYS" in capsys.readouterr().err
    by_text = [*args[:-1], f"--out={tmp_path / 'text.csv'}", "--launch-peers=text", "--k-peers=5"]
    assert main(["trends", *by_text]) == 0
    text_table = pd.read_csv(tmp_path / "text.csv")
    launches = text_table[text_table["launch"].notna()]
    assert len(launches) and launches["reason"].str.contains("5 established products").all()
    same = text_table.columns.drop(["launch", "launch_expected", "labels", "reason"])
    pd.testing.assert_frame_equal(text_table[same], table[same])


def test_price_recommends_prices_within_bounds_and_lists_promotions(shop_dir, tmp_path, capsys):
    files = [f"--{name}={shop_dir / f'{name}.parquet'}" for name in ("static", "dynamic", "stock")]
    out = {name: tmp_path / f"{name}.csv" for name in ("out", "elasticities", "promotions")}
    args = [str(shop_dir / "sales.parquet"), *files, "--bounds", "0.9,1.1"]
    assert main(["price", *args, *(f"--{k}={v}" for k, v in out.items())]) == 0
    assert "items;" in capsys.readouterr().out
    prices = pd.read_csv(out["out"])
    assert len(prices) == 12 and prices["change"].between(-0.1 - 1e-9, 0.1 + 1e-9).all()
    assert (pd.read_csv(out["elasticities"])["elasticity"] < 0).all()
    assert set(pd.read_csv(out["promotions"])["action"]) <= {"promote", "push", "do_not_promote"}
    assert main(["price", *args[:-2], "--bounds", "1.2"]) == 2
    assert "--bounds takes 2 numbers" in capsys.readouterr().err


def test_plan_orders_whole_packs_and_counts_stock_on_order(shop_dir, tmp_path, capsys):
    stock = pd.read_parquet(shop_dir / "stock.parquet").assign(on_hand=0.0, pack_size=6.0)
    stock.to_csv(tmp_path / "stock.csv", index=False)
    first = stock["unique_id"].iloc[0]
    pd.DataFrame({"unique_id": [first], "quantity": [1000.0]}).to_csv(
        tmp_path / "on_order.csv", index=False
    )
    files = [f"--{name}={shop_dir / f'{name}.parquet'}" for name in ("static", "dynamic")]
    args = [str(shop_dir / "sales.parquet"), *files, f"--stock={tmp_path / 'stock.csv'}"]
    out = tmp_path / "orders.csv"
    assert main(["plan", *args, f"--on-order={tmp_path / 'on_order.csv'}", f"--out={out}"]) == 0
    assert "series to order" in capsys.readouterr().out
    orders = pd.read_csv(out).set_index("unique_id")
    assert len(orders) == 24 and (orders["order_qty"] % 6 == 0).all()
    assert orders.loc[first, "order_qty"] == 0  # the 1,000 units on order cover it
    others = orders.drop(index=first)
    assert (others["order_qty"] >= others["order_up_to"]).all()  # nothing on hand
    assert main(["plan", *args, "--service-level", "1.5"]) == 2
    assert "service_level" in capsys.readouterr().err


def test_search_similar_and_coldstart_from_product_text(shop_dir, tmp_path, capsys):
    static = pd.read_parquet(shop_dir / "static.parquet")
    catalogue = tmp_path / "static.csv"
    static.to_csv(catalogue, index=False)
    assert main(["search", str(catalogue), "warm wool clothes for winter", "--k", "3"]) == 0
    assert "score" in capsys.readouterr().out
    # No model at all: TF-IDF, whatever the network.
    hashing = ["search", str(catalogue), "thermal", "--k", "3", "--text-model", "hashing"]
    assert main(hashing) == 0
    top = capsys.readouterr().out.splitlines()[1]
    assert "Thermal" in top and float(top.split()[-1]) > 0
    out = tmp_path / "similar.csv"
    first = static["item_id"].iloc[0]
    assert main(["similar", str(catalogue), first, "--k", "2", "--out", str(out)]) == 0
    similar = pd.read_csv(out)
    assert len(similar) == 2 and first not in set(similar["item_id"])
    assert similar["score"].is_monotonic_decreasing
    assert main(["similar", str(catalogue), "NO_SUCH_ITEM"]) == 2
    assert "NO_SUCH_ITEM" in capsys.readouterr().err

    new = static.drop_duplicates("item_id").head(2).assign(unique_id=["NEW_1", "NEW_2"])
    new.to_csv(tmp_path / "new.csv", index=False)
    sales = str(shop_dir / "sales.parquet")
    args = ["coldstart", sales, f"--static={catalogue}", f"--new={tmp_path / 'new.csv'}"]
    assert main([*args, "--method", "category_mean", "--out", str(tmp_path / "c.csv")]) == 0
    forecasts = pd.read_csv(tmp_path / "c.csv", parse_dates=["ds"])
    assert len(forecasts) == 2 * 8 and (forecasts["ColdStart"] >= 0).all()
    assert (forecasts["ColdStart-q-0.1"] <= forecasts["ColdStart-q-0.9"]).all()
    assert "(0.1 to 0.9 quantiles)" in capsys.readouterr().out
    # Launched the day after the sales end, one row per day.
    first_day = pd.read_parquet(shop_dir / "sales.parquet")["ds"].max() + pd.Timedelta(days=1)
    assert forecasts.groupby("unique_id")["ds"].min().eq(first_day).all()
    out = tmp_path / "c2.csv"
    assert main([*args, "--method", "category_mean", "--horizon", "2w", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 2 * 14


def test_reviews_scores_text_and_writes_the_covariate_for_forecast(shop_dir, tmp_path, capsys):
    sales, dynamic = str(shop_dir / "sales.parquet"), shop_dir / "dynamic.parquet"
    side = [f"--dynamic={dynamic}", f"--reviews={shop_dir / 'reviews.parquet'}"]
    out = tmp_path / "dynamic_reviews.parquet"
    assert main(["reviews", sales, *side, f"--out={out}"]) == 0
    printed = capsys.readouterr().out
    found = re.search(r"error ([\d.]+) stars \(the mean rating alone: ([\d.]+)\)", printed)
    error, mean_only = map(float, found.groups())
    assert error < 0.8 * mean_only  # the review text says how many stars
    covariates = pd.read_parquet(out)
    assert len(covariates) == len(pd.read_parquet(dynamic))
    scores = covariates["review_score"].dropna()
    assert len(scores) and scores.between(1, 5).all()
    assert (covariates["review_score_count"] >= 0).all()
    forecast = ["forecast", sales, f"--dynamic={out}", "--models=lightgbm", "--horizon=7"]
    assert main(forecast) == 0
    assert main(["reviews", sales, f"--out={out}"]) == 2
    assert "--reviews" in capsys.readouterr().err
    # The window as a span: 3 months are 92 days, a wider average than 90 (more rows scored).
    assert main(["reviews", sales, *side, f"--out={out}", "--window", "3m"]) == 0
    assert "in the last 92 days" in capsys.readouterr().out
    assert pd.read_parquet(out)["review_score"].notna().sum() >= len(scores)


def test_finetune_saves_chronos_by_name_and_forecast_uses_it(shop_dir, tmp_path, capsys):
    pytest.importorskip("chronos")
    sales, dynamic = shop_dir / "sales.parquet", f"--dynamic={shop_dir / 'dynamic.parquet'}"
    ws = tmp_path / "ws.duckdb"
    tune = ["finetune", str(sales), dynamic, f"--workspace={ws}", "--name=shop_lora"]
    assert main([*tune, "--steps=4"]) == 0
    assert "Saved as 'shop_lora@1'" in capsys.readouterr().out
    assert (Workspace(ws).models.path("shop_lora") / "adapter_model.safetensors").exists()
    out = tmp_path / "fc.csv"
    forecast = ["forecast", str(sales), dynamic, "--horizon=14", "--models=chronos2"]
    assert main([*forecast, "--chronos=shop_lora", f"--workspace={ws}", f"--out={out}"]) == 0
    forecasts = pd.read_csv(out)
    assert len(forecasts) == 24 * 14 and (forecasts["Chronos2"] >= 0).all()
    assert main([*forecast, "--models=ensemble", f"--workspace={ws}", f"--out={out}"]) == 0
    assert (pd.read_csv(out)["Ensemble"] >= 0).all()
    assert main([*forecast, "--chronos=unknown_name", f"--workspace={ws}"]) != 0
    assert "no Chronos weights named 'unknown_name'" in capsys.readouterr().err
    static = f"--static={shop_dir / 'static.parquet'}"
    assert main([*tune, static, "--segment=cat_id=FOODS", "--steps=2"]) == 0
    assert main([*tune, static, "--segment=cat_id=SHOES", "--steps=2"]) == 2
    assert "no series has cat_id=SHOES" in capsys.readouterr().err


def _plans(shop_dir, tmp_path):
    """The planned prices, promotions and events of the forecast periods, and the same plan
    with every price cut by 30%."""
    dynamic = pd.read_parquet(shop_dir / "dynamic.parquet")
    last = pd.read_parquet(shop_dir / "sales.parquet")["ds"].max()
    plan = dynamic.loc[dynamic["ds"] > last, ["unique_id", "ds", "price", "promo", "event"]]
    plan.to_csv(tmp_path / "plan.csv", index=False)
    plan.assign(price=plan["price"] * 0.7).to_csv(tmp_path / "cheaper.csv", index=False)
    return tmp_path / "plan.csv", tmp_path / "cheaper.csv"


def test_train_then_forecast_from_the_saved_model_in_a_new_process(shop_dir, tmp_path, capsys):
    ws = tmp_path / "ws.duckdb"
    files = [f"--{name}={shop_dir / f'{name}.parquet'}" for name in ("static", "dynamic")]
    train = ["train", str(shop_dir / "sales.parquet"), *files, f"--workspace={ws}"]
    assert main([*train, "--name=shop", "--horizon=14", "--models=lightgbm,naive"]) == 0
    printed = capsys.readouterr().out
    assert "Saved shop@1 (in production)" in printed
    assert "known in advance" in printed and "read 28 periods back" in printed
    saved = Workspace(ws).models.get("shop")
    assert saved.meta["horizon"] == 14 and saved.meta["span"]["series"] == 24
    assert set(saved.meta["scores"]) == {"LightGBM", "Naive"}
    files_before = {p: p.stat().st_mtime_ns for p in saved.path.rglob("*")}

    plan, cheaper = _plans(shop_dir, tmp_path)
    for name, plan_file in (("base", plan), ("cheaper", cheaper)):
        result = run_cli(
            "forecast", f"--workspace={ws}", "--model=shop", f"--dynamic={plan_file}",
            f"--out={tmp_path / name}.csv",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "from shop@1" in result.stdout
    base, cut = (pd.read_csv(tmp_path / f"{name}.csv") for name in ("base", "cheaper"))
    assert len(base) == 24 * 14 and list(base.columns[:2]) == ["unique_id", "ds"]
    # The price cut moves the model that reads prices, and only it.
    assert cut["LightGBM"].sum() > base["LightGBM"].sum()
    pd.testing.assert_series_equal(base["Naive"], cut["Naive"])
    # Forecasting read the saved model and wrote nothing into it: no refit, no new version.
    assert {p: p.stat().st_mtime_ns for p in saved.path.rglob("*")} == files_before
    assert Workspace(ws).models.list("shop")["version"].tolist() == [1]
    stored = Workspace(ws).read("shop_forecasts")
    assert len(stored) == len(cut) and Workspace(ws).meta("shop_forecasts")["model"] == "shop@1"


def test_forecast_from_a_saved_model_refuses_options_that_would_change_it(
    shop_dir, tmp_path, capsys
):
    ws = tmp_path / "ws.duckdb"
    sales = str(shop_dir / "sales.parquet")
    assert main(["train", sales, "--name=shop", "--horizon=7", "--models=naive"]) == 2
    assert "pass --workspace" in capsys.readouterr().err
    args = ["train", sales, f"--workspace={ws}", "--name=shop", "--horizon=7", "--models=naive"]
    assert main([*args, "--windows=0"]) == 0
    capsys.readouterr()
    assert main(["forecast", sales, f"--workspace={ws}", "--model=shop", "--models=ets"]) == 2
    err = capsys.readouterr().err
    assert "the sales file, --models cannot be used with --model" in err
    assert main(["forecast", f"--workspace={ws}", "--model=nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["forecast", "--model=shop"]) == 2
    assert "pass --workspace" in capsys.readouterr().err


def test_orders_and_prices_from_the_saved_model_follow_the_plan(shop_dir, tmp_path, capsys):
    ws = tmp_path / "ws.duckdb"
    files = [f"--{name}={shop_dir / f'{name}.parquet'}" for name in ("static", "dynamic")]
    train = ["train", str(shop_dir / "sales.parquet"), *files, f"--workspace={ws}"]
    assert main([*train, "--name=shop", "--horizon=14", "--models=lightgbm", "--windows=0"]) == 0
    plan, cheaper = _plans(shop_dir, tmp_path)
    stock = f"--stock={shop_dir / 'stock.parquet'}"
    saved = [f"--workspace={ws}", "--model=shop", stock]
    orders = {}
    for name, plan_file in (("base", plan), ("cheaper", cheaper)):
        out = tmp_path / f"orders_{name}.csv"
        assert main(["plan", *saved, f"--dynamic={plan_file}", f"--out={out}"]) == 0
        orders[name] = pd.read_csv(out)
    assert "deciding from shop@1, no refit" in capsys.readouterr().out
    # Cheaper prices sell more, so the order-up-to levels rise.
    assert orders["cheaper"]["order_up_to"].sum() > orders["base"]["order_up_to"].sum()
    assert Workspace(ws).meta("orders")["model"] == "shop@1"
    assert main(["price", *saved, f"--dynamic={plan}", f"--out={tmp_path / 'p.csv'}"]) == 0
    assert (pd.read_csv(tmp_path / "p.csv")["best_price"] > 0).all()
    trend_args = [f"--workspace={ws}", "--model=shop", f"--dynamic={cheaper}", "--horizon=14"]
    assert main(["trends", *trend_args, f"--out={tmp_path / 't.csv'}"]) == 0
    trends = pd.read_csv(tmp_path / "t.csv")
    assert len(trends) == 24 and trends["forecast"].notna().all()
    assert Workspace(ws).meta("trends")["model"] == "shop@1"
    assert main(["plan", str(shop_dir / "sales.parquet"), *saved]) == 2
    assert "cannot be used with --model" in capsys.readouterr().err
    assert main(["plan", "--model=shop", stock]) == 2
    assert "pass --workspace" in capsys.readouterr().err


def test_dynamic_files_at_other_grains_are_joined_and_said(shop_dir, tmp_path, capsys):
    dynamic = pd.read_parquet(shop_dir / "dynamic.parquet")
    events = dynamic[["ds", "event"]].drop_duplicates("ds")
    events.to_csv(tmp_path / "events.csv", index=False)
    dynamic.drop(columns="event").to_parquet(tmp_path / "dynamic.parquet")
    out = tmp_path / "fc.csv"
    args = ["forecast", str(shop_dir / "sales.parquet"), f"--static={shop_dir / 'static.parquet'}"]
    files = [f"--dynamic={tmp_path / 'dynamic.parquet'}", f"--dynamic={tmp_path / 'events.csv'}"]
    assert main([*args, *files, "--horizon=7", "--models=lightgbm", f"--out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "note: dynamic[1]: ['event'] given per date, the same for every series" in printed
    assert re.search(r"event\s+│ known in advance", printed)
    assert len(pd.read_csv(out)) == 24 * 7


def test_a_shop_from_its_order_log_to_orders_with_the_cli_alone(tmp_path, capsys):
    from tests.app.test_imports import order_log

    log, ws = tmp_path / "orders.csv", str(tmp_path / "shop.duckdb")
    order_log(n_weeks=40, repriced=True).to_csv(log, index=False)
    assert main(["import", str(log), "--workspace", ws, "--freq", "W"]) == 0
    out = capsys.readouterr().out
    assert "product=StockCode" in out and "non-product lines: POST" in out
    assert "netted (80,995 units taken off demand)" in out
    assert 'category "all"' in out

    orders = tmp_path / "orders_out.csv"
    assert main(["plan", "--workspace", ws, "--lead-time", "2w", "--out", str(orders)]) == 0
    out = capsys.readouterr().out
    assert "no plan for the next 3 periods: each series keeps its last price" in out
    assert "no --stock: nothing is on hand" in out
    assert "lead time 2, review every 1 periods of W-MON" in out
    table = pd.read_csv(orders, dtype={"unique_id": str})
    assert sorted(table["unique_id"]) == ["00123", "0123", "85123A"]
    assert {"title", "order_value", "cover_periods", "recent_max", "check"} <= set(table.columns)
    assert (table["order_qty"] > 0).all()

    assert main(["backtest", "--workspace", ws, "--horizon", "4 weeks", "--models", "naive"]) == 2
    assert "horizon is a number of periods or a span such as 7d" in capsys.readouterr().err
    assert main(["backtest", "--workspace", ws, "--horizon", "4w", "--models", "naive"]) == 0
    assert "Backtest scores" in capsys.readouterr().out
    assert Workspace(ws).read("backtest").groupby("cutoff").size().max() == 3 * 4
    assert main(["trends", "--workspace", ws]) == 0
    assert "3 entities as of" in capsys.readouterr().out
    # No cost in the log: pricing for profit says what to pass, before any fitting.
    assert main(["price", "--workspace", ws]) == 2
    assert "--margin 0.4" in capsys.readouterr().err
    prices, elasticities = tmp_path / "prices.csv", tmp_path / "elasticities.csv"
    command = ["price", "--workspace", ws, "--margin", "0.4", "--out", str(prices)]
    assert main([*command, "--elasticities", str(elasticities)]) == 0
    assert "unit costs assumed at 60% of the last price" in capsys.readouterr().out
    # The log's price steps are read with an elasticity of -2 inside every interval.
    estimates = pd.read_csv(elasticities)
    assert ((estimates["lower"] < -2) & (estimates["upper"] > -2)).all()
    table = pd.read_csv(prices, dtype={"item_id": str})
    assert set(table["action"]) <= {"change", "keep"}
    kept = table[table["action"] == "keep"]
    assert (kept["new_price"] == kept["price"]).all()
    runs = Workspace(ws).runs()["command"].tolist()
    assert runs == ["import", "plan", "backtest", "trends", "price"]
    # The workspace's shop keeps its own side data.
    assert main(["plan", "--workspace", ws, "--dynamic", str(log)]) == 2
    assert "go with a sales file" in capsys.readouterr().err
