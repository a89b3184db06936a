"""Baselines on the real M5 subset: trendcast's models next to statsforecast's, one split.

Data: ../shared/data/m5/tiny_m5_280series.parquet (28 items x 10 stores, d_1..d_1913).
Split: train d_1..d_1885, test d_1886..d_1913 (28 days), as in the M5 accuracy competition.
Scores: bottom-level WRMSSE with M5 dollar weights (d_1858..d_1885), MASE (mean over series,
seasonality 1), pooled WAPE, M5 weighted scaled pinball loss (WSPL) over the 9 M5 quantiles and
the coverage of the 95% interval (0.025..0.975). Forecasts are clipped at 0.

Each method runs in its own process, so its wall time (fit + forecast, data loading excluded) and
peak memory (max RSS; ``data_mb`` is the peak after loading the data, before fitting) are its own.

Run: ``make bench-m5`` or ``.venv/bin/python benchmarks/m5_baselines.py [--data DIR]``.
Writes benchmarks/results/m5_baselines.csv and prints a Markdown table.
"""

from __future__ import annotations

from pathlib import Path

from m5_common import (
    HORIZON,
    M5_QUANTILES,
    load,
    parse_args,
    record,
    run_all,
    statsforecast_forecast,
    write_results,
)

METHODS = {
    # name: (library, model)
    "trendcast.Naive": ("trendcast", "naive"),
    "trendcast.SeasonalNaive": ("trendcast", "seasonal_naive"),
    "trendcast.MovingAverage": ("trendcast", "moving_average"),
    "trendcast.ETS": ("trendcast", "ets"),
    "trendcast.Croston": ("trendcast", "croston"),
    "trendcast.TSB": ("trendcast", "tsb"),
    "trendcast.ADIDA": ("trendcast", "adida"),
    "trendcast.IMAPA": ("trendcast", "imapa"),
    "statsforecast.Naive": ("statsforecast", "Naive"),
    "statsforecast.SeasonalNaive": ("statsforecast", "SeasonalNaive"),
    "statsforecast.WindowAverage": ("statsforecast", "WindowAverage"),
    "statsforecast.AutoETS": ("statsforecast", "AutoETS"),
    "statsforecast.CrostonClassic": ("statsforecast", "CrostonClassic"),
    "statsforecast.TSB": ("statsforecast", "TSB"),
    "statsforecast.ADIDA": ("statsforecast", "ADIDA"),
    "statsforecast.IMAPA": ("statsforecast", "IMAPA"),
}


def run_method(name: str, data_dir: Path, out: Path) -> None:
    """Fits and forecasts one method; writes its forecasts and timing next to ``out``."""
    library, model = METHODS[name]
    train, _, _ = load(data_dir)
    if library == "trendcast":
        record(out, lambda: _trendcast(model, train))
    else:
        record(out, lambda: statsforecast_forecast(model, train))


def _trendcast(model: str, train):
    from trendcast.forecaster import Forecaster, models_by_name

    forecaster = Forecaster(models_by_name([model], "D"), quantiles=M5_QUANTILES)
    return forecaster.fit(train).predict(HORIZON), forecaster.models_[0].alias


def main() -> None:
    args = parse_args(__doc__)
    if args.method:
        run_method(args.method, args.data, args.out)
        return
    write_results(run_all(__file__, METHODS, args.data), "m5_baselines.csv")


if __name__ == "__main__":
    main()
