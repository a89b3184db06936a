"""Small generated data shared by the tests, and a headless browser to render pages."""

import os
import shutil
import subprocess
from pathlib import Path

# The suite runs on 2 workers (pytest -n 2): one thread each keeps torch from oversubscribing.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (make test installs it)"
)


def rendered_dom(page: Path, profile: Path, *, wait_ms: int = 5000) -> str:
    """The DOM of ``page`` after headless Chromium ran its scripts for ``wait_ms``."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={wait_ms}",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


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
