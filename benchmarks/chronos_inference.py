"""How long the shipped Chronos-2 takes to forecast the M5 subset: 280 series x 28 days.

Fits ``Chronos2(num_threads=N)`` zero-shot on d_1..d_1885 of the M5 subset
(../shared/data/m5/tiny_m5_280series.parquet) and times ``predict(28)`` with the 9 M5 quantiles,
three times each, with the price, event and SNAP covariates and without them, for N = 2 and 1.
Run it on a quiet machine: ``.venv/bin/python benchmarks/chronos_inference.py``.
"""

from __future__ import annotations

import time

from m5_common import DEFAULT_DATA, HORIZON, M5_QUANTILES, load_shop, split


def main() -> None:
    from trendcast.data.arrays import Covariates, SeriesArrays
    from trendcast.models.chronos import Chronos2

    shop = load_shop(DEFAULT_DATA)
    train, _, _ = split(shop)
    series = SeriesArrays.from_frame(train, "D")
    with_covariates = Covariates(shop.static, shop.dynamic)
    for threads in (2, 1):
        for label, covariates in (("with covariates", with_covariates), ("none", Covariates())):
            model = Chronos2(num_threads=threads).fit(series, covariates)
            seconds = []
            for _ in range(3):
                started = time.perf_counter()
                model.predict(HORIZON, M5_QUANTILES)
                seconds.append(time.perf_counter() - started)
            times = ", ".join(f"{s:.2f}" for s in seconds)
            print(
                f"{threads} thread(s), {label:<15} predict {series.n_series} x {HORIZON}: {times} s"
            )


if __name__ == "__main__":
    main()
