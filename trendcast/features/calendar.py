"""Calendar features of target dates."""

from __future__ import annotations

import numpy as np
import pandas as pd


def calendar_features(dates: np.ndarray, freq: str) -> dict[str, np.ndarray]:
    """Day of week, day of month, week of year and month, as fit the frequency."""
    index = pd.DatetimeIndex(dates)
    features = {"month": index.month.to_numpy(np.float32)}
    if freq != "MS":
        features["week_of_year"] = index.isocalendar().week.to_numpy(np.float32)
    if freq == "D":
        features["day_of_week"] = index.dayofweek.to_numpy(np.float32)
        features["day_of_month"] = index.day.to_numpy(np.float32)
    return features
