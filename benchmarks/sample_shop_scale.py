"""Speed and memory at M5 size: trendcast's LightGBM next to mlforecast on the sample shop.

Data: ``simulate_shop(n_items=10_163, n_stores=3, n_periods=1941, seed=0, reviews=False,
future_periods=28)``: 30,489 item-store series of daily sales (as many as M5), 1,941 days, plus
the planned prices, promotions and events of the 28 days to forecast. The parent simulates the
shop once and saves ``sales``, ``static`` and ``dynamic`` as zstd Parquet in a temporary folder.

Methods (each in its own process, reading those files):
- ``trendcast.LightGBM(M=...)``: ``Forecaster([LightGBM(max_train_periods=M)],
  quantiles=(0.1, 0.5, 0.9))`` fitted with the static and dynamic frames, then ``predict(28)``.
  trendcast trains LightGBM on one thread by default (``n_jobs=1``); the ``n_jobs=2`` row uses
  both cores.
- ``mlforecast(M=...)``: LGBMRegressor (tweedie, learning rate 0.1, 31 leaves, as many rounds as
  trendcast's early stopping chose for the same M, else 300) on lags 1-7, 14, 21, 28, rolling
  means and deviations over 7, 28 and 91 days of lag 1, day of week, day, month and ISO week,
  price, promotion and event code (dynamic), item/store/dept/cat (static categories), trained on
  the same last M days; quantiles 0.1/0.9 from conformal intervals (2 windows of 28 days). The
  frame preparation (merging the covariates, cutting the span) is part of its time.

Measures: ``seconds`` for fit + 28-day probabilistic forecast (data loading excluded),
``peak_mb`` (the child's VmHWM; for a stopped child, its VmHWM when stopped), ``data_mb`` (its
peak after loading the files), ``rounds`` (boosting rounds of the final model) and ``load``
(1-minute load average when the method starts; the machine is shared). A method is stopped
after ``--time-limit`` seconds ("timed out") or when its resident memory passes 12 GiB
("killed (memory)"); it is skipped when an estimate (linear in the number of series, from runs
on a tenth of the shop) says it would clearly pass 12 GiB.

Run: ``.venv-bench/bin/python benchmarks/sample_shop_scale.py`` (about half an hour on 2 cores);
``--n-items 1016`` runs a tenth of the shop, ``--only NAME ...`` some methods, ``--profile``
profiles ``trendcast.LightGBM(M=365)`` with cProfile instead. Writes
benchmarks/results/sample_shop_scale.csv and prints the table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from m5_common import RESULTS, peak_mb, write_results

HORIZON = 28
QUANTILES = (0.1, 0.5, 0.9)
LIMIT_MB = 12 * 1024
STATIC = ["item_id", "store_id", "dept_id", "cat_id"]
LONGEST_WINDOW = 91  # mlforecast needs this many earlier days for the first training row

# name: (library, M, LightGBM threads)
METHODS = {
    "trendcast.LightGBM(M=365)": ("trendcast", 365, 1),
    "trendcast.LightGBM(M=730)": ("trendcast", 730, 1),
    "trendcast.LightGBM(M=365, n_jobs=2)": ("trendcast", 365, 2),
    "mlforecast(M=365)": ("mlforecast", 365, 1),
    "mlforecast(M=730)": ("mlforecast", 730, 1),
}
# Peak MiB per 1,000 series above the interpreter's BASE_MB, measured on a tenth of the shop
# (3,048 series): memory grows in proportion to the rows. At full size mlforecast peaked ~15%
# below these estimates. trendcast at M=365: 386 since it streams its features into LightGBM
# (610 before, when it passed 12 GiB 71 s in); M=730 not measured since (810 before).
MB_PER_1000_SERIES = {("trendcast", 365): 386, ("trendcast", 730): 810}
MB_PER_1000_SERIES |= {("mlforecast", 365): 315, ("mlforecast", 730): 460}
BASE_MB = 250


# ----------------------------------------------------------------------------------------------
# Child: one method
# ----------------------------------------------------------------------------------------------
def trendcast_run(data: dict, m: int, jobs: int, rounds: int | None):
    from trendcast import Forecaster
    from trendcast.models import LightGBM

    forecaster = Forecaster([LightGBM(max_train_periods=m, n_jobs=jobs)], quantiles=QUANTILES)
    forecaster.fit(data["sales"], static=data["static"], dynamic=data["dynamic"])
    return forecaster.predict(HORIZON), sum(forecaster.models_[0].rounds_.values())


def mlforecast_run(data: dict, m: int, jobs: int, rounds: int | None):
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd
    from mlforecast.utils import PredictionIntervals

    sales, static, dynamic = data["sales"], data["static"], data["dynamic"]
    last = sales["ds"].max()  # every series ends on the same day
    start = last - pd.Timedelta(days=m + LONGEST_WINDOW - 1)
    dynamic = dynamic.loc[dynamic["ds"] >= start, ["unique_id", "ds", "price", "promo"]].assign(
        event=dynamic["event"].cat.codes.astype("int16")
    )
    static = static[["unique_id", *STATIC]].astype({c: "category" for c in STATIC})
    df = (
        sales[sales["ds"] >= start]
        .merge(static, on="unique_id")
        .merge(dynamic[dynamic["ds"] <= last], on=["unique_id", "ds"])
    )
    model = lgb.LGBMRegressor(
        objective="tweedie",
        n_estimators=rounds or 300,
        learning_rate=0.1,
        num_leaves=31,
        verbosity=-1,
        random_state=0,
        n_jobs=jobs,
    )
    windows = [7, 28, LONGEST_WINDOW]
    engine = MLForecast(
        models={"LGBM": model},
        freq="D",
        lags=[*range(1, 8), 14, 21, 28],
        lag_transforms={1: [*map(RollingMean, windows), *map(RollingStd, windows)]},
        date_features=["dayofweek", "day", "month", "week"],
    )
    # Rows without a full 91-day window are dropped (dropna), leaving the last M days.
    engine.fit(df, static_features=STATIC, prediction_intervals=PredictionIntervals(2, HORIZON))
    out = engine.predict(HORIZON, level=[80], X_df=dynamic[dynamic["ds"] > last])
    return out, engine.models_["LGBM"].n_estimators


def child(name: str, folder: Path, rounds: int | None, out: Path, profile: bool) -> None:
    library, m, jobs = METHODS[name]
    data = {k: pd.read_parquet(folder / f"{k}.parquet") for k in ("sales", "static", "dynamic")}
    data_mb = peak_mb()
    run = {"trendcast": trendcast_run, "mlforecast": mlforecast_run}[library]
    started = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        forecasts, rounds = profiler.runcall(run, data, m, jobs, rounds)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    else:
        forecasts, rounds = run(data, m, jobs, rounds)
    seconds = time.perf_counter() - started
    series = forecasts["unique_id"].nunique()
    out.write_text(
        json.dumps(
            {"seconds": seconds, "peak_mb": peak_mb(), "data_mb": data_mb, "rounds": rounds}
            | {"status": "ok" if series == len(data["static"]) else f"ok, {series} series"}
        )
    )


# ----------------------------------------------------------------------------------------------
# Parent: simulate once, then one watched process per method
# ----------------------------------------------------------------------------------------------
def simulate(folder: Path, n_items: int) -> int:
    from trendcast.data.simulate import simulate_shop

    shop = simulate_shop(
        n_items=n_items, n_stores=3, n_periods=1941, seed=0, reviews=False, future_periods=28
    ).data
    for name in ("sales", "static", "dynamic"):
        getattr(shop, name).to_parquet(folder / f"{name}.parquet", compression="zstd")
    n_series = len(shop.static)
    del shop
    gc.collect()
    return n_series


def watch(command: list[str], time_limit: float) -> tuple[str | None, float]:
    """Runs ``command``; stops it past ``time_limit`` seconds or LIMIT_MB resident.

    Returns what went wrong (None when it ran to the end) and the highest resident MiB it
    reached while watched (its VmHWM), so that a stopped run still reports its peak so far.
    """
    process = subprocess.Popen(command)
    started, peak = time.perf_counter(), 0.0
    while process.poll() is None:
        time.sleep(0.5)
        if time.perf_counter() - started > time_limit:
            process.kill()
            process.wait()
            return f"timed out (> {time_limit:.0f} s)", peak
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        kib = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()[1:]
               if line.startswith("Vm")}  # fmt: skip
        peak = max(peak, kib.get("VmHWM", 0) / 1024)
        if kib.get("VmRSS", 0) / 1024 > LIMIT_MB:
            process.kill()
            process.wait()
            return f"killed (memory > {LIMIT_MB / 1024:.0f} GiB)", peak
    code = process.returncode
    return None if code == 0 else ("killed (OOM)" if code == -9 else f"failed ({code})"), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=10_163)
    parser.add_argument("--time-limit", type=float, default=1500.0, help="seconds per method")
    parser.add_argument("--only", nargs="+", choices=METHODS, help="run only these methods")
    parser.add_argument("--profile", action="store_true", help="cProfile trendcast at M=365")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # name folder rounds out
    args = parser.parse_args()
    if args.child:
        name, folder, rounds, out = args.child
        child(name, Path(folder), int(rounds) or None, Path(out), args.profile)
        return
    names = ["trendcast.LightGBM(M=365)"] if args.profile else (args.only or list(METHODS))
    rows, rounds_by_m = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        n_series = simulate(folder, args.n_items)
        print(f"simulated {n_series} series in {time.perf_counter() - started:.0f} s", flush=True)
        for name in names:
            library, m, jobs = METHODS[name]
            row = {"method": name, "load": round(os.getloadavg()[0], 2)}
            estimate = BASE_MB + MB_PER_1000_SERIES[library, m] * n_series / 1000
            if estimate > 1.25 * LIMIT_MB:
                rows.append(row | {"status": f"skipped: ~{estimate / 1024:.0f} GiB estimated"})
                continue
            out = folder / "result.json"
            rounds = rounds_by_m.get(m, 0) if library == "mlforecast" else 0
            command = [sys.executable, __file__, "--child", name, tmp, str(rounds), str(out)]
            status, peak = watch(command + ["--profile"] * args.profile, args.time_limit)
            if status is None:
                row |= json.loads(out.read_text())
                out.unlink()
                if library == "trendcast" and jobs == 1:
                    rounds_by_m[m] = row["rounds"]
            rows.append(row if status is None else row | {"status": status, "peak_mb": peak})
            print(
                f"{name:<36} {rows[-1]['status']}  {rows[-1].get('seconds', 0):.0f} s", flush=True
            )
    if args.profile:
        return
    columns = ["method", "seconds", "peak_mb", "data_mb", "rounds", "status", "load"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["rounds"] = table["rounds"].astype("Int64")
    if args.n_items != 10_163:  # a scaled-down trial: printed, not saved
        print(table.to_string(index=False))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_results(table, "sample_shop_scale.csv")


if __name__ == "__main__":
    main()
