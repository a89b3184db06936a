"""Training and saving a forecaster versus forecasting from the saved one, on the sample shop.

Runs the two commands a shop runs, each in its own process as a shop would:

    trendcast train sales.csv --static ... --dynamic ... --workspace ws.duckdb --name shop
    trendcast forecast --workspace ws.duckdb --model shop --dynamic plan.csv

then the second again with every planned price cut by 20%, and times each (wall clock, process
start and imports included). It also loads the saved forecaster in this process and times each
model's predict, to show where forecasting from a saved model spends its time.

    .venv/bin/python benchmarks/saved_model_timing.py [--items 50 --stores 2 --days 730]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).parent / "results" / "saved_model_timing.csv"
HORIZON = 28


def _run(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trendcast.cli", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--stores", type=int, default=2)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        shop, ws = Path(tmp) / "shop", Path(tmp) / "ws.duckdb"
        size = ["--items", str(args.items), "--stores", str(args.stores), "--days", str(args.days)]
        _run("simulate", "--out", str(shop), *size, "--plan-days", str(HORIZON))
        sales = pd.read_csv(shop / "sales.csv", parse_dates=["ds"])
        dynamic = pd.read_csv(shop / "dynamic.csv", parse_dates=["ds"])
        plan = dynamic.loc[
            dynamic["ds"] > sales["ds"].max(), ["unique_id", "ds", "price", "promo", "event"]
        ]
        plan.to_csv(Path(tmp) / "plan.csv", index=False)
        plan.assign(price=plan["price"] * 0.8).to_csv(Path(tmp) / "cheaper.csv", index=False)

        files = [f"--static={shop / 'static.csv'}", f"--dynamic={shop / 'dynamic.csv'}"]
        train = _run("train", str(shop / "sales.csv"), *files, f"--workspace={ws}",
                     "--name=shop", f"--horizon={HORIZON}")  # fmt: skip
        rows = [{"step": "trendcast train (backtest 1 window, fit, save)", "seconds": train}]
        totals = {}
        for name in ("plan", "cheaper"):
            out = Path(tmp) / f"{name}_forecast.csv"
            seconds = _run("forecast", f"--workspace={ws}", "--model=shop",
                           f"--dynamic={Path(tmp) / f'{name}.csv'}", f"--out={out}")  # fmt: skip
            rows.append(
                {"step": f"trendcast forecast --model shop (plan: {name})", "seconds": seconds}
            )
            totals[name] = pd.read_csv(out)["LightGBM"].sum()

        from trendcast.app import load_saved

        started = time.perf_counter()
        forecaster, _ = load_saved(ws, "shop")
        rows.append({"step": "load the saved forecaster", "seconds": time.perf_counter() - started})
        for model in forecaster.models_:
            started = time.perf_counter()
            model.predict(HORIZON, forecaster.quantiles)
            rows.append(
                {"step": f"predict {model.alias}", "seconds": time.perf_counter() - started}
            )

    table = pd.DataFrame(rows)
    table["share of train"] = table["seconds"] / train
    RESULTS.parent.mkdir(exist_ok=True)
    table.to_csv(RESULTS, index=False, float_format="%.3f")
    print(f"sample shop: {args.items} items x {args.stores} stores x {args.days} days")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    change = totals["cheaper"] / totals["plan"] - 1
    print(
        f"LightGBM total forecast, prices cut 20%: {change:+.1%} ({totals['plan']:.0f} -> {totals['cheaper']:.0f})"
    )


if __name__ == "__main__":
    main()
