"""Demand classes of Syntetos and Boylan (2005): smooth, erratic, intermittent, lumpy.

ADI is the average interval between non-zero demands, CV² the squared coefficient of variation
of the non-zero demand sizes; the cut-offs 1.32 and 0.49 are the published ones.
"""

from __future__ import annotations

import numpy as np

from trendcast.data.arrays import SeriesArrays

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def demand_classes(data: SeriesArrays) -> np.ndarray:
    """The class of each series (an array of names from `CLASSES`)."""
    owner = np.repeat(np.arange(data.n_series), data.lengths)
    positive = data.values > 0
    counts = np.bincount(owner, weights=positive, minlength=data.n_series)
    sizes = np.where(positive, data.values, 0.0)
    total = np.bincount(owner, weights=sizes, minlength=data.n_series)
    squares = np.bincount(owner, weights=sizes**2, minlength=data.n_series)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(counts > 0, data.lengths / counts, np.inf)
        mean = total / counts
        cv2 = np.where(counts > 1, (squares / counts - mean**2) / mean**2, 0.0)
    sparse = adi >= ADI_CUTOFF
    variable = cv2 >= CV2_CUTOFF
    return np.asarray(CLASSES, dtype=object)[2 * sparse + variable]
