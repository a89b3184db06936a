"""The main job on the built-in sample shop: simulate, train and save, forecast, decide, report,
through the same use cases as the command line (`trendcast.app`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trendcast.app.forecasting import train
from trendcast.data.io import write_frame
from trendcast.data.simulate import sample_stock, simulate_shop
from trendcast.data.store import Workspace
from trendcast.decisions.plan import order_list, price_list, promotion_list
from trendcast.decisions.trends import trend_table
from trendcast.evaluation.explain import group_importance
from trendcast.report.decisions import order_section, price_section, promotion_section
from trendcast.report.html import write_report
from trendcast.report.trends import write_trend_report

DEMO_QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)


@dataclass
class DemoResult:
    """What the demo produced: scores, the winning model and where the files are."""

    scores: pd.DataFrame
    best_model: str
    files: dict[str, Path]
    summary: dict[str, object]
    model: str  # the saved forecaster, NAME@VERSION in the workspace


def run_demo(
    out_dir: str | Path = "trendcast-demo",
    *,
    n_items: int = 60,
    n_stores: int = 3,
    n_periods: int = 3 * 365,
    horizon: int = 28,
    n_windows: int = 3,
    seed: int = 0,
    progress: bool = True,
) -> DemoResult:
    """Runs the whole pipeline on a simulated shop and writes its outputs to ``out_dir``.

    Then it turns the forecasts into decisions for the shop's (simulated) stock: what to order
    (lead time and review period of a week, 95% cycle service), the best price per item within
    +-20%, promotion candidates and the trend report.

    Outputs: ``trendcast.duckdb`` (workspace with the shop, backtest, scores, forecasts and
    decisions of one run, and the forecaster saved as model ``sample``), ``forecasts.parquet``, ``backtest.parquet``, ``scores.csv``, ``orders.csv``,
    ``prices.csv``, ``promotions.csv``, ``report.html`` and ``trends.html``.
    """
    out = Path(out_dir)
    # The shop's plan for the forecast days (prices, promotions, events) is known in advance.
    shop = simulate_shop(
        n_items=n_items, n_stores=n_stores, n_periods=n_periods, seed=seed, future_periods=horizon
    )
    data = shop.data
    sales = data.sales
    workspace = Workspace(out / "trendcast.duckdb")
    # Backtest, fit and save as the model a shop would keep: `trendcast forecast --model sample`.
    trained = train(
        data,
        workspace,
        "sample",
        quantiles=DEMO_QUANTILES,
        horizon=horizon,
        n_windows=n_windows,
        progress=progress,
    )
    forecaster, backtest, scores = trained.forecaster, trained.backtest, trained.scores
    best = str(scores["WAPE"].idxmin())
    forecasts = forecaster.predict(horizon)
    drivers = group_importance(forecaster.models_[0].feature_importance())

    stock = sample_stock(data, seed=seed)
    orders = order_list(forecaster, stock, seed=seed)
    prices = price_list(data, forecasts, stock)
    promotions = promotion_list(data, forecasts, stock, prices.elasticities)
    trends = trend_table(
        sales,
        static=data.static,
        dynamic=data.dynamic,
        forecasts=forecasts,
        model=forecaster.default_alias_,
        on_hand=stock,
        level="item_id",
        horizon=horizon,
    )

    summary = {
        "series": sales["unique_id"].nunique(),
        "periods": len(sales),
        "from": sales["ds"].min().date(),
        "to": sales["ds"].max().date(),
        "zero share": round(float((sales["y"] == 0).mean()), 3),
    }
    decisions = {
        "stock": stock,
        "orders": orders,
        "elasticities": prices.elasticities,
        "prices": prices.best,
        "promotions": promotions,
        "trends": trends,
    }
    workspace.write_run(
        "demo",
        meta={"model": trained.version.ref, "horizon": horizon, "windows": n_windows},
        shop=("sample", data),
        results={"backtest": backtest, "forecasts": forecasts, "scores": scores.reset_index()},
        decisions=decisions,
    )
    files = {
        "workspace": workspace.path,
        "forecasts": write_frame(forecasts, out / "forecasts.parquet"),
        "backtest": write_frame(backtest, out / "backtest.parquet"),
        "scores": write_frame(scores.reset_index(), out / "scores.csv"),
        "orders": write_frame(orders, out / "orders.csv"),
        "prices": write_frame(prices.best, out / "prices.csv"),
        "promotions": write_frame(promotions, out / "promotions.csv"),
        "trends": write_trend_report(
            out / "trends.html",
            trends,
            history=sales,
            static=data.static,
            title="trendcast demo: what's trending",
        ),
    }
    notes = [
        f"Sample shop: {summary['series']} series ({n_items} items x {n_stores} stores), "
        f"daily from {summary['from']} to {summary['to']}, {summary['zero share']:.0%} zero days.",
        f"Backtest: {n_windows} windows of {horizon} days before the end; forecasts: the next "
        f"{horizon} days.",
        "Decisions below use a simulated stock on hand (up to six weeks of cover) and unit "
        "costs; the trend report is trends.html.",
    ]
    files["report"] = write_report(
        out / "report.html",
        title="trendcast demo: sample shop",
        history=sales,
        forecasts=forecasts,
        backtest=backtest,
        scores=scores,
        best_model=best,
        quantiles=DEMO_QUANTILES,
        notes=notes,
        drivers=drivers,
        sections=[
            order_section(orders),
            price_section(prices.best, prices.elasticities),
            promotion_section(promotions),
        ],
    )
    return DemoResult(
        scores=scores, best_model=best, files=files, summary=summary, model=trained.version.ref
    )
