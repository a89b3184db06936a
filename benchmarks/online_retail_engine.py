"""Weekly product demand of the UCI Online Retail shop: trendcast's forecasters next to peers.

Data: ../shared/data/online_retail/online_retail_full_541909.parquet (all 541,909 order lines,
2010-12-01 .. 2011-12-09; no invoice or stock code columns, so a product is its Description).

Preparation, with every removed line counted and printed:

1. Cancellations and the orders they reverse. Without invoice numbers, negative quantities are
   the cancellations and returns. Each negative line with a known customer cancels the latest
   earlier (or same-time) unmatched positive line of the same Description, customer and
   absolute quantity; both lines of such a pair are removed. Negative lines left unmatched
   (partial returns, anonymous customers, orders placed before the data starts) stay in, and
   ``from_transactions`` keeps them out of demand (they only feed ``returned_units``).
2. ``from_transactions(freq="W-MON")``: weekly demand (sum of positive quantities), weeks labelled
   by their Monday, zero-filled from each product's first sale. It excludes lines without a
   Description, with a price <= 0 (adjustments, samples) and returns of never-sold products.
3. The partial first week (starting Mon 2010-11-29, data from Wed 12-01) and the partial last
   week (starting Mon 2011-12-05, data up to Fri 12-09) are dropped: 52 complete weeks remain.
4. The last 8 complete weeks (2011-10-10 .. 2011-11-28) are the test; products kept are those
   whose first sale week lies 20 or more weeks before the test start (a first sale in the dropped
   partial week counts from that week). Products silent in the test stay in (their actuals are 0).

No model sees prices: they are not known in advance here, and none of these models uses past
prices either.

Scores (trendcast.evaluation.metrics, forecasts clipped at 0): pooled WAPE; MASE (seasonality 1,
scale from each product's training history); scaled pinball loss over QUANTILES; coverage of the
90% interval (0.05 .. 0.95); MASE, pinball and coverage are means over products. Products with no
sale in the training weeks (sold only in the dropped first week) have no scale: they count in
WAPE and coverage, not in MASE and the scaled pinball loss.
Peers give intervals: quantile q is their (1 - 2q) interval bound, the median their point forecast.

Each method runs in its own process: ``seconds`` is the wall time of fit + forecast (data loading
and library imports excluded, numba compilation included), ``peak_mb`` the process's peak
resident memory and ``data_mb`` that peak after loading the prepared training frame. Children
get OMP_NUM_THREADS = the usable cores (unless set), so LightGBM does not oversubscribe them.

Run: ``.venv-bench/bin/python benchmarks/online_retail_engine.py [--data DIR]`` (``make bench-env``
creates .venv-bench). Writes benchmarks/results/online_retail_engine.csv and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from m5_common import peak_mb  # benchmarks/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "online_retail"
FILE = "online_retail_full_541909.parquet"
RESULTS = ROOT / "benchmarks" / "results"
FREQ = "W-MON"
HORIZON = 8
MIN_WEEKS = 20
QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
LEVELS = sorted({round(abs(1 - 2 * q) * 100) for q in QUANTILES if q != 0.5})  # 50, 80, 90
# Conformal windows. statsforecast shrinks them per series to (n - 1) // h, which can leave the
# first window 1 to 3 weeks of history: WindowAverage(4) then gives NaN intervals (411 products).
# So each series gets min(SF_WINDOWS, (n - SF_FIRST_WINDOW) // h) windows, at least 4 weeks
# before the first: 2 windows for 20-27 weeks of history, 3 for 28-35, 4 for 36-43, 5 for 44.
# mlforecast refuses series shorter than n_windows * h + 1 instead of shrinking, so it gets 2
# windows (3 would need 25 weeks for every product).
SF_WINDOWS = 5
SF_FIRST_WINDOW = 4
ML_WINDOWS = 2

METHODS = {
    # name: (library, model, configuration)
    "statsforecast.Naive": ("statsforecast", "Naive", "Naive(), its own normal intervals"),
    "statsforecast.WindowAverage": (
        "statsforecast",
        "WindowAverage",
        f"WindowAverage(window_size=4), conformal h={HORIZON} n_windows 2..{SF_WINDOWS} by length",
    ),
    "statsforecast.AutoETS": (
        "statsforecast",
        "AutoETS",
        "AutoETS(season_length=1) (model ZZZ), its own intervals",
    ),
    "statsforecast.CrostonClassic": (
        "statsforecast",
        "CrostonClassic",
        f"CrostonClassic(), conformal h={HORIZON} n_windows 2..{SF_WINDOWS} by length",
    ),
    "statsforecast.TSB": (
        "statsforecast",
        "TSB",
        f"TSB(alpha_d=0.1, alpha_p=0.1), conformal h={HORIZON} n_windows 2..{SF_WINDOWS} by length",
    ),
    "statsforecast.ADIDA": (
        "statsforecast",
        "ADIDA",
        f"ADIDA(), conformal h={HORIZON} n_windows 2..{SF_WINDOWS} by length",
    ),
    "statsforecast.IMAPA": (
        "statsforecast",
        "IMAPA",
        f"IMAPA(), conformal h={HORIZON} n_windows 2..{SF_WINDOWS} by length",
    ),
    "mlforecast.LGBM_default": (
        "mlforecast",
        "default",
        "LGBMRegressor(verbosity=-1, random_state=0); lags [1, 2, 4, 8]; date month; "
        f"conformal h={HORIZON} n_windows={ML_WINDOWS}",
    ),
    "mlforecast.LGBM_tuned": (
        "mlforecast",
        "tuned",
        "LGBMRegressor(objective=tweedie, n_estimators=300, learning_rate=0.05, "
        "num_leaves=31, min_child_samples=50, verbosity=-1, random_state=0); lags 1-8, 12; "
        "RollingMean 4, 8 of lag 1; date month, week; "
        f"conformal h={HORIZON} n_windows={ML_WINDOWS}",
    ),
    "trendcast.LightGBM": ("trendcast", "lightgbm", "Forecaster([LightGBM()])"),
    "trendcast.default": ("trendcast", "default", "Forecaster() default line-up"),
}


# ---------------------------------------------------------------------------------- data


def remove_cancellations(lines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drops each cancellation with the order line it reverses; see the module docstring."""
    qty = lines["Quantity"].to_numpy()
    negative = qty < 0
    known = lines["CustomerID"].notna().to_numpy() & lines["Description"].notna().to_numpy()
    key = (
        pd.DataFrame({"p": lines["Description"], "c": lines["CustomerID"], "q": np.abs(qty)})
        .groupby(["p", "c", "q"], sort=False, dropna=False)
        .ngroup()
        .to_numpy()
    )
    wanted = set(key[negative & known])
    # In time order; at equal times an order comes before its cancellation.
    order = np.lexsort((np.arange(qty.size), negative, lines["InvoiceDate"].to_numpy()))
    open_orders: dict[int, list[int]] = {}
    removed = np.zeros(qty.size, dtype=bool)
    for i in order[np.isin(key[order], list(wanted)) & known[order]]:
        if not negative[i]:
            open_orders.setdefault(key[i], []).append(i)
        elif open_orders.get(key[i]):
            removed[[i, open_orders[key[i]].pop()]] = True
    counts = {
        "negative_lines": int(negative.sum()),
        "negative_lines_anonymous": int((negative & ~known).sum()),
        "cancellations_matched": int((removed & negative).sum()),
        "orders_reversed": int((removed & ~negative).sum()),
        "units_reversed": int(qty[removed & ~negative].sum()),
        "negative_lines_unmatched": int((negative & ~removed).sum()),
    }
    return lines.loc[~removed], counts


def weekly_demand(raw: pd.DataFrame):
    """Order lines to weekly demand per Description, cancellations removed.

    Returns:
        ``(data, report, facts, weeks, complete)``: the shop (`from_transactions`), its report,
        the cancellation figures, every week in the data and the complete weeks among them.
    """
    from trendcast.data.adapters import from_transactions

    lines, facts = remove_cancellations(raw)
    data, report = from_transactions(
        lines,
        time_col="InvoiceDate",
        product_col="Description",
        quantity_col="Quantity",
        price_col="UnitPrice",
        customer_col="CustomerID",
        freq=FREQ,
    )
    weeks = pd.DatetimeIndex(np.sort(data.sales["ds"].unique()))
    complete = weeks[
        int(report.partial_first_period) : weeks.size - int(report.partial_last_period)
    ]
    return data, report, facts, weeks, complete


def prepare(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Train and test frames (unique_id, ds, y) and the figures of every preparation step."""
    raw = pd.read_parquet(path)
    data, report, facts, weeks, complete = weekly_demand(raw)
    sales = data.sales.assign(y=data.sales["y"].astype(float))
    test_start = complete[-HORIZON]
    first_sale = sales.groupby("unique_id")["ds"].min()  # series start at the first sale
    kept = first_sale.index[first_sale <= test_start - pd.Timedelta(weeks=MIN_WEEKS)]
    in_weeks = sales["ds"].between(complete[0], complete[-1])
    selected = sales[in_weeks & sales["unique_id"].isin(kept)].reset_index(drop=True)
    train = selected[selected["ds"] < test_start].reset_index(drop=True)
    test = selected[selected["ds"] >= test_start].reset_index(drop=True)
    lengths = train.groupby("unique_id").size()
    facts = {"lines_in": len(raw), **facts, "lines_after_matching": report.rows_in}
    facts.update(
        **{f"excluded_{k}": v for k, v in report.excluded.items() if v},
        demand_lines=report.demand_lines,
        units_ordered=int(report.units_ordered),
        products_with_demand=report.products,
        weeks_in_data=int(weeks.size),
        partial_weeks_dropped=int(weeks.size - complete.size),
        sales_rows_in_partial_weeks=int((~in_weeks).sum()),
        products_kept=int(kept.size),
        products_too_new=int(first_sale.size - kept.size),
        train_weeks=f"{complete[0]:%Y-%m-%d} .. {test_start - pd.Timedelta(weeks=1):%Y-%m-%d}",
        test_weeks=f"{test_start:%Y-%m-%d} .. {complete[-1]:%Y-%m-%d}",
        train_length_min_max=f"{lengths.min()} .. {lengths.max()}",
        products_unsold_in_train=int((train.groupby("unique_id")["y"].sum() == 0).sum()),
        train_rows=len(train),
        test_rows=len(test),
        test_units=int(test["y"].sum()),
    )
    return train, test, facts


# ---------------------------------------------------------------------------------- methods


def run_method(name: str, train_path: Path, out: Path) -> None:
    """Fits and forecasts one method; writes its forecasts and figures next to ``out``."""
    library, model, _ = METHODS[name]
    train = pd.read_parquet(train_path)
    data_mb = peak_mb()
    try:
        forecast = {"statsforecast": _statsforecast, "mlforecast": _mlforecast}.get(
            library, _trendcast
        )(model)
    except ImportError as error:  # a trendcast model not written yet
        out.with_suffix(".json").write_text(json.dumps({"status": f"not available: {error}"}))
        return
    started = time.perf_counter()
    forecasts, aliases = forecast(train)
    seconds = time.perf_counter() - started
    forecasts.to_parquet(out)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "status": "ok",
                "aliases": aliases,
                "seconds": seconds,
                "peak_mb": peak_mb(),
                "data_mb": data_mb,
            }
        )
    )


def _statsforecast(model: str):
    from statsforecast import StatsForecast
    from statsforecast import models as sf
    from statsforecast.utils import ConformalIntervals

    def build(windows: int):
        intervals = ConformalIntervals(h=HORIZON, n_windows=windows)
        return {
            "Naive": lambda: sf.Naive(),
            "WindowAverage": lambda: sf.WindowAverage(
                window_size=4, prediction_intervals=intervals
            ),
            "AutoETS": lambda: sf.AutoETS(season_length=1),
            "CrostonClassic": lambda: sf.CrostonClassic(prediction_intervals=intervals),
            "TSB": lambda: sf.TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=intervals),
            "ADIDA": lambda: sf.ADIDA(prediction_intervals=intervals),
            "IMAPA": lambda: sf.IMAPA(prediction_intervals=intervals),
        }[model]()

    def forecast(train: pd.DataFrame):
        lengths = train.groupby("unique_id")["ds"].transform("size")
        # Each group of series gets its own number of conformal windows (see SF_WINDOWS); models
        # with their own intervals run once. No fallback model: a failing fit must show.
        windows = np.minimum(SF_WINDOWS, (lengths - SF_FIRST_WINDOW) // HORIZON)
        if model in ("Naive", "AutoETS"):
            windows[:] = SF_WINDOWS
        parts = [
            StatsForecast([build(int(w))], freq=FREQ, n_jobs=1).forecast(
                df=train[windows == w], h=HORIZON, level=LEVELS
            )
            for w in sorted(windows.unique())
        ]
        alias = str(build(SF_WINDOWS))
        return _to_quantiles(pd.concat(parts, ignore_index=True), alias), [alias]

    return forecast


def _mlforecast(model: str):
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.utils import PredictionIntervals

    if model == "default":
        engine = MLForecast(
            models={"LGBM": lgb.LGBMRegressor(verbosity=-1, random_state=0)},
            freq=FREQ,
            lags=[1, 2, 4, 8],
            date_features=["month"],
        )
    else:
        regressor = lgb.LGBMRegressor(
            objective="tweedie",
            n_estimators=300,
            learning_rate=0.05,
            num_leaves=31,
            min_child_samples=50,  # LightGBM's min_data_in_leaf
            verbosity=-1,
            random_state=0,
        )
        engine = MLForecast(
            models={"LGBM": regressor},
            freq=FREQ,
            lags=[*range(1, 9), 12],
            lag_transforms={1: [RollingMean(window_size=4), RollingMean(window_size=8)]},
            date_features=["month", "week"],
        )

    def forecast(train: pd.DataFrame):
        intervals = PredictionIntervals(n_windows=ML_WINDOWS, h=HORIZON)
        engine.fit(train, prediction_intervals=intervals)
        return _to_quantiles(engine.predict(HORIZON, level=LEVELS), "LGBM"), ["LGBM"]

    return forecast


def _trendcast(model: str):
    from trendcast import Forecaster

    if model == "lightgbm":
        from trendcast.models import LightGBM

        forecaster = Forecaster([LightGBM()], quantiles=QUANTILES)
    else:
        forecaster = Forecaster(quantiles=QUANTILES)

    def forecast(train: pd.DataFrame):
        out = forecaster.fit(train).predict(HORIZON)
        default = getattr(forecaster, "default_alias_", None)
        aliases = [default] if default else [m.alias for m in forecaster.models_]
        columns = [c for c in out.columns if c not in ("unique_id", "ds")]
        out[columns] = np.maximum(out[columns], 0.0)
        return out, aliases

    return forecast


def _to_quantiles(out: pd.DataFrame, alias: str) -> pd.DataFrame:
    """Interval bounds as quantile columns (``{alias}-q-{q}``), clipped at 0."""
    from trendcast.data.contract import quantile_column

    out = out.reset_index() if "unique_id" not in out.columns else out
    for q in QUANTILES:
        level = round(abs(1 - 2 * q) * 100)
        source = alias if q == 0.5 else f"{alias}-{'lo' if q < 0.5 else 'hi'}-{level}"
        out[quantile_column(alias, q)] = out[source]
    keep = [alias] + [quantile_column(alias, q) for q in QUANTILES]
    out = out[["unique_id", "ds", *keep]].copy()
    out[keep] = np.maximum(out[keep], 0.0)  # demand is never negative
    return out


# ---------------------------------------------------------------------------------- scores


def score(forecasts: pd.DataFrame, alias: str, train, test) -> dict[str, float]:
    from trendcast.evaluation import metrics

    df = test.merge(forecasts, on=["unique_id", "ds"], how="left")
    m = [alias]
    return {
        "WAPE": float(metrics.wape(df, m, pooled=True).iloc[0][alias]),
        "MASE": float(metrics.mase(df, m, 1, train)[alias].mean()),
        "SPL": float(metrics.scaled_pinball_loss(df, m, list(QUANTILES), train)[alias].mean()),
        "coverage90": float(metrics.coverage(df, m, interval=(0.05, 0.95))[alias].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the data")
    parser.add_argument("--method", help=argparse.SUPPRESS)  # child-process mode
    parser.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        run_method(args.method, args.train, args.out)
        return
    if not (args.data / FILE).exists():
        sys.exit(f"{FILE} not found in {args.data}: pass --data pointing to it.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    train, test, facts = prepare(args.data / FILE)
    print(
        "\n".join(
            f"{k:<32} {v:,}" if isinstance(v, int) else f"{k:<32} {v}" for k, v in facts.items()
        )
    )
    train_path = RESULTS / ".online_retail_train.parquet"
    train.to_parquet(train_path)
    # OpenMP (LightGBM) otherwise starts more threads than this machine's cores, which made
    # LightGBM's fits about 20 times slower on a 2-core machine.
    env = {"OMP_NUM_THREADS": str(_cores()), **os.environ}
    rows = []
    for name, (_, _, config) in METHODS.items():
        out = RESULTS / f".online_retail_{name}.parquet"
        command = [sys.executable, __file__, "--method", name, "--train", str(train_path)]
        done = subprocess.run(
            [*command, "--out", str(out)], capture_output=True, text=True, env=env
        )
        info = out.with_suffix(".json")
        if done.returncode or not info.exists():
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            result = {"status": f"failed: {lines[-1]}"}
            print(done.stderr, file=sys.stderr)
        else:
            result = json.loads(info.read_text())
        if result["status"] != "ok":
            rows.append({"method": name, "status": result["status"], "config": config})
            print(f"{name:<34} {result['status']}", flush=True)
        else:
            forecasts = pd.read_parquet(out)
            figures = {k: result[k] for k in ("seconds", "peak_mb", "data_mb")}
            for alias in result["aliases"]:
                several = len(result["aliases"]) > 1 or name == "trendcast.default"
                row_name = f"{name}:{alias}" if several else name
                scores = score(forecasts, alias, train, test)
                rows.append({"method": row_name, **scores, **figures, "status": "ok"})
                rows[-1]["config"] = config
                print(f"{row_name:<34} WAPE {scores['WAPE']:.3f}  {figures['seconds']:.1f} s")
        for path in (out, info):
            path.unlink(missing_ok=True)
    train_path.unlink()
    table = pd.DataFrame(rows)
    table["date"] = pd.Timestamp.now().strftime("%Y-%m-%d")
    table["machine"] = f"{platform.machine()} {platform.python_version()}, {_cores()} cores"
    table.to_csv(RESULTS / "online_retail_engine.csv", index=False)
    shown = table.drop(columns=["config", "date", "machine"])
    shown["status"] = shown["status"].str.slice(0, 40)
    print(shown.round(3).to_string(index=False))


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
