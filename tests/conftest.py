"""Small generated data shared by the tests."""

import numpy as np
import pandas as pd
import pytest


def make_series(
    n_series: int = 20,
    n_periods: int = 200,
    *,
    season: int = 7,
    amplitude: float = 4.0,
    level: float = 10.0,
    seed: int = 0,
    start: str = "2023-01-02",
    freq: str = "D",
) -> pd.DataFrame:
    """Poisson counts around a level with a known seasonal cycle."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_periods)
    phase = rng.uniform(0, 2 * np.pi, n_series)[:, None]
    mean = level + amplitude * np.sin(2 * np.pi * t / season + phase)
    y = rng.poisson(np.clip(mean, 0, None)).astype(float)
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:02d}" for i in range(n_series)], n_periods),
            "ds": np.tile(pd.date_range(start, periods=n_periods, freq=freq), n_series),
            "y": y.ravel(),
        }
    )


@pytest.fixture
def seasonal_sales() -> pd.DataFrame:
    return make_series()
