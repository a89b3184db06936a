"""Gradient boosting on the real M5 subset: trendcast's LightGBM next to mlforecast and statsforecast.

Data: ../shared/data/m5/tiny_m5_280series.parquet (28 items x 10 stores, d_1..d_1913).
Split: train d_1..d_1885, test d_1886..d_1913 (28 days), as in the M5 accuracy competition. As in
M5, the test days' sell prices, events and SNAP flags are known in advance and given to the
methods that use covariates (trendcast LightGBM, tuned mlforecast).
Scores: as benchmarks/m5_baselines.py: bottom-level WRMSSE with M5 dollar weights
(d_1858..d_1885), MASE (mean over series, seasonality 1), pooled WAPE, M5 weighted scaled
pinball loss (WSPL) over the 9 M5 quantiles and the coverage of the 95% interval (0.025..0.975).
Forecasts are clipped at 0.

Methods:
- trendcast.LightGBM: ``Forecaster([LightGBM()])`` fitted with the static hierarchy and the
  dynamic covariates; "not available" when ``trendcast.models`` has no LightGBM.
- trendcast.default: ``Forecaster()`` with its default line-up, scored on the column named by
  ``default_alias_``; skipped with a note when the Forecaster does not name one.
- mlforecast.default: LightGBM with default settings on lags 1, 7, 14, 28, day of week and
  month; conformal intervals over 2 windows of 28 days.
- mlforecast.tuned: an M5-style set-up (tweedie loss, lags 1..14, 21, 28, rolling means and
  standard deviations, calendar, price, event, SNAP and hierarchy features); conformal intervals
  over 3 windows.
- statsforecast: SeasonalNaive, AutoETS, CrostonClassic, TSB, ADIDA, IMAPA as in m5_baselines.

Each method runs in its own process, so its wall time (fit + forecast, data loading excluded) and
peak memory (max RSS; ``data_mb`` is the peak after loading the data, before fitting) are its own.

Run: ``make bench-m5-engine`` or ``.venv-bench/bin/python benchmarks/m5_engine.py [--data DIR]``.
Writes benchmarks/results/m5_engine.csv and prints the table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from m5_common import (
    HORIZON,
    M5_QUANTILES,
    TEST_START,
    Unavailable,
    interval_levels,
    intervals_to_quantiles,
    load_shop,
    parse_args,
    record,
    run_all,
    split,
    statsforecast_forecast,
    write_results,
)

STATIC = ["item_id", "dept_id", "cat_id", "store_id"]


def trendcast_lightgbm(train, shop):
    try:
        from trendcast.models import LightGBM
    except ImportError:
        raise Unavailable("not available: trendcast.models has no LightGBM") from None
    from trendcast.forecaster import Forecaster

    forecaster = Forecaster([LightGBM()], quantiles=M5_QUANTILES)
    forecaster.fit(train, static=shop.static, dynamic=shop.dynamic)
    return _clipped(forecaster.predict(HORIZON), forecaster.models_[0].alias)


def trendcast_default(train, shop):
    from trendcast.forecaster import Forecaster

    forecaster = Forecaster(quantiles=M5_QUANTILES)
    forecaster.fit(train, static=shop.static, dynamic=shop.dynamic)
    alias = getattr(forecaster, "default_alias_", None)
    if alias is None:
        raise Unavailable("skipped: the Forecaster names no default model (no default_alias_)")
    return _clipped(forecaster.predict(HORIZON), alias)


def _clipped(forecasts: pd.DataFrame, alias: str):
    columns = [c for c in forecasts.columns if c == alias or c.startswith(f"{alias}-q-")]
    forecasts = forecasts[["unique_id", "ds", *columns]].copy()
    forecasts[columns] = forecasts[columns].clip(lower=0.0)
    return forecasts, alias


def mlforecast_default(train, shop):
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.utils import PredictionIntervals

    engine = MLForecast(
        models={"LGBM": lgb.LGBMRegressor(verbosity=-1, random_state=0)},
        freq="D",
        lags=[1, 7, 14, 28],
        date_features=["dayofweek", "month"],
    )
    engine.fit(train, prediction_intervals=PredictionIntervals(n_windows=2, h=HORIZON))
    out = engine.predict(HORIZON, level=interval_levels())
    return intervals_to_quantiles(out, "LGBM"), "LGBM"


def mlforecast_tuned(train, shop):
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd
    from mlforecast.utils import PredictionIntervals

    model = lgb.LGBMRegressor(
        objective="tweedie",
        tweedie_variance_power=1.1,
        n_estimators=500,
        learning_rate=0.05,
        num_leaves=127,
        min_data_in_leaf=100,
        feature_fraction=0.8,
        bagging_fraction=0.8,
        bagging_freq=1,
        verbosity=-1,
        random_state=0,
    )
    rolling = [RollingMean(7), RollingStd(7), RollingMean(28), RollingStd(28)]
    engine = MLForecast(
        models={"LGBM": model},
        freq="D",
        lags=[*range(1, 15), 21, 28],
        lag_transforms={1: rolling, 28: rolling},
        date_features=["dayofweek", "month", "day", "week"],  # week: ISO week
    )
    # Hierarchy as pandas categories (LightGBM splits on them as categorical); the event as an
    # integer code (-1 = none), numeric like price and SNAP. Prices are NaN before an item's
    # first sale week, which LightGBM handles as missing.
    static = shop.static[["unique_id", *STATIC]].astype({c: "category" for c in STATIC})
    dynamic = shop.dynamic[["unique_id", "ds", "price", "snap"]].assign(
        event_name_1=shop.dynamic["event_name_1"].cat.codes.astype("int16")
    )
    df = train.merge(static, on="unique_id").merge(dynamic, on=["unique_id", "ds"])
    future = dynamic[dynamic["ds"] >= TEST_START]
    # The first conformal window trains on d_1..d_1801, far more than the 56 days that the
    # rolling features on lag 28 need.
    engine.fit(
        df, static_features=STATIC, prediction_intervals=PredictionIntervals(n_windows=3, h=HORIZON)
    )
    out = engine.predict(HORIZON, level=interval_levels(), X_df=future)
    return intervals_to_quantiles(out, "LGBM"), "LGBM"


def _statsforecast(model: str):
    return lambda train, shop: statsforecast_forecast(model, train)


METHODS = {
    "trendcast.LightGBM": trendcast_lightgbm,
    "trendcast.default": trendcast_default,
    "mlforecast.default": mlforecast_default,
    "mlforecast.tuned": mlforecast_tuned,
    **{
        f"statsforecast.{m}": _statsforecast(m)
        for m in ("SeasonalNaive", "AutoETS", "CrostonClassic", "TSB", "ADIDA", "IMAPA")
    },
}


def run_method(name: str, data_dir: Path, out: Path) -> None:
    """Fits and forecasts one method; writes its forecasts and timing next to ``out``."""
    shop = load_shop(data_dir)
    train, _, _ = split(shop)
    record(out, lambda: METHODS[name](train, shop))


def main() -> None:
    args = parse_args(__doc__)
    if args.method:
        run_method(args.method, args.data, args.out)
        return
    table = run_all(__file__, METHODS, args.data, keep_going=True)
    if "note" not in table:
        table["note"] = ""
    write_results(table, "m5_engine.csv")


if __name__ == "__main__":
    main()
