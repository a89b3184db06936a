"""Calendar features of target dates."""

from __future__ import annotations

import numpy as np
import pandas as pd


def calendar_features(
    dates: np.ndarray, freq: str, *, yearly: bool = True
) -> dict[str, np.ndarray]:
    """Day of week and day of month (daily data); week of year and month when ``yearly``.

    Yearly features need history that covers each part of the year more than once; on shorter
    history a model meets week numbers it never saw and extrapolates from noise.
    """
    index = pd.DatetimeIndex(dates)
    features = {}
    if yearly:
        features["month"] = index.month.to_numpy(np.float32)
        if freq != "MS":
            features["week_of_year"] = index.isocalendar().week.to_numpy(np.float32)
    if freq == "D":
        features["day_of_week"] = index.dayofweek.to_numpy(np.float32)
        features["day_of_month"] = index.day.to_numpy(np.float32)
    return features
