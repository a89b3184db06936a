"""A day's update (new sales in, fresh forecasts out, no refit) against a refit, in seconds.

Data:
- the M5 subset (../shared/data/m5/, read as `m5_common.load_shop`: 280 item-store series with
  prices, events and SNAP days). The model is trained on the days before d_1884 and updated
  with d_1884 and d_1885, so the 28 days forecast after them have their planned prices;
- the sample shop at 3,049 series: ``simulate_shop(n_items=3049, n_stores=1, n_periods=365,
  future_periods=28, seed=0)``, trained on all days but the last two, updated with those.

Each data set goes into a fresh workspace as the shop ``input``, then:

1. refit: `trendcast.app.train` of the default line-up (9 models), without a backtest window
   (fit + save), and `forecast_saved` (28 days, stored);
2. update, twice, one new day each: `trendcast.app.update.update` (validate, store the day,
   score the stored forecasts, update the model without refitting, forecast 28 days, save the
   updated version, store the run), with its stages. The first update after a fit also derives
   the intermittent models' recursion states from the fitted history; the second is the steady
   daily cost;
3. in memory, on the fitted forecaster loaded: ``Forecaster.update`` with the first day and
   ``predict(28)`` (against the fit's own seconds, in step 1).

    .venv/bin/python benchmarks/update_timing.py [--data ../shared/data/m5] [--only m5]

Writes benchmarks/results/update_timing.csv and prints the table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from m5_common import DEFAULT_DATA, RESULTS
from m5_common import load_shop as load_m5

HORIZON = 28
OUT = RESULTS / "update_timing.csv"


def m5(data_dir: Path):
    shop = load_m5(data_dir)
    days = sorted(shop.sales["ds"].unique())
    return shop, days[-30:-28]  # d_1884, d_1885: the plan of 28 more days is known


def sample_shop():
    from trendcast.data.simulate import simulate_shop

    shop = simulate_shop(
        n_items=3049, n_stores=1, n_periods=365, future_periods=HORIZON, reviews=False, seed=0
    ).data
    return shop, sorted(shop.sales["ds"].unique())[-2:]


def run(name: str, shop, new_days, folder: Path) -> list[dict]:
    from trendcast.app import forecast_saved, load_saved, read_shop, train
    from trendcast.app.update import update
    from trendcast.data.store import Workspace

    sales = shop.sales.assign(y=shop.sales["y"].astype(float))
    history = sales[sales["ds"] < new_days[0]]
    data = read_shop(history, static=shop.static, dynamic=shop.dynamic)
    ws = Workspace(folder / f"{name}.duckdb")
    ws.write_run("import", meta={}, shop=("input", data))
    series = history["unique_id"].nunique()
    rows = []

    def row(step: str, seconds: float) -> None:
        rows.append({"data": name, "series": series, "step": step, "seconds": round(seconds, 3)})
        print(f"{name}: {step}: {seconds:.2f} s", flush=True)

    started = time.perf_counter()
    trained = train(data, ws, "shop", horizon=HORIZON, n_windows=0)
    row("refit: train, 9 models, no backtest (fit + save)", time.perf_counter() - started)
    row("  of which: fit", trained.fit_seconds)
    started = time.perf_counter()
    forecast_saved(ws, "shop")
    row("refit: forecast_saved (28 days, stored)", time.perf_counter() - started)

    for k, date in enumerate(new_days, start=1):
        started = time.perf_counter()
        done = update(ws, sales[sales["ds"] == date])
        row(f"update {k}: one new day, to stored forecasts", time.perf_counter() - started)
        for stage, seconds in done.seconds.items():
            row(f"  {stage}", seconds)

    forecaster, _ = load_saved(ws, "shop@1")
    day = sales[sales["ds"] == new_days[0]]
    started = time.perf_counter()
    forecaster.update(day).predict(HORIZON)
    row("in memory: Forecaster.update(day) + predict(28)", time.perf_counter() - started)
    started = time.perf_counter()
    forecaster.predict(HORIZON)
    row("  of which: predict(28)", time.perf_counter() - started)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the M5 files")
    parser.add_argument("--only", choices=["m5", "sample"], help="one data set only")
    args = parser.parse_args()
    sets = {"m5": lambda: m5(args.data), "sample": sample_shop}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in sets.items():
            if args.only in (None, name):
                rows += run(name, *build(), Path(tmp))
    table = pd.DataFrame(rows)
    OUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUT, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
