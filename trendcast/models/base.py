"""The model contract: plain objects with ``fit(arrays) -> self`` and ``predict(h, quantiles)``.

Every model's ``__init__`` only stores keyword hyperparameters (`get_params`, `set_params`,
`clone`); learned state ends in ``_``; `save` writes a folder of safe formats (JSON, npz,
Parquet, LightGBM text, safetensors) that `load` reads back into a model predicting exactly the
same. `trendcast.models.checks` tests all of this on any model class.

`Model.update` takes new periods of the fitted series without refitting: each model moves its
state forward with the parameters it learnt (its class docstring says what that means for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast._params import Estimator
from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.data.contract import Columns, quantile_column
from trendcast.errors import NotFittedError

# The classes a saved model may hold, by name, with their modules: nothing else is loaded.
SAVED_CLASSES = {
    "Naive": "trendcast.models.baselines",
    "SeasonalNaive": "trendcast.models.baselines",
    "MovingAverage": "trendcast.models.baselines",
    "ETS": "trendcast.models.classical",
    "Croston": "trendcast.models.classical",
    "TSB": "trendcast.models.classical",
    "ADIDA": "trendcast.models.classical",
    "IMAPA": "trendcast.models.classical",
    "LightGBM": "trendcast.models.gbm",
    "LSTM": "trendcast.models.lstm",
    "Chronos2": "trendcast.models.chronos",
    "Ensemble": "trendcast.models.ensemble",
    "SeriesArrays": "trendcast.data.arrays",
    "Covariates": "trendcast.data.arrays",
    "Columns": "trendcast.data.contract",
    "DynamicLookup": "trendcast.features.covariates",
    "Workspace": "trendcast.data.store",
}


def default_horizon(freq: str) -> int:
    """The horizon models train and validate for unless told: 28 days, 8 weeks, 3 months."""
    return {"D": 28, "MS": 3}.get(freq, 8)


@dataclass
class Prediction:
    """A model's forecasts for every series.

    Attributes:
        mean: point forecasts, shape (n_series, h).
        quantiles: quantile forecasts, shape (n_series, h, len(levels)), non-decreasing along the
            last axis; None when no quantiles were asked for.
    """

    mean: np.ndarray
    quantiles: np.ndarray | None = None


class Model(Estimator):
    """Base class. Subclasses set ``alias`` and implement `_fit` and `_predict`.

    ``__init__`` only stores hyperparameters; learned state ends in ``_``. Models that use
    static or dynamic covariates read them from the ``covariates`` given to `fit`.

    Capabilities (class flags, so callers need not probe for methods):
        supports_future_covariates: reads known-in-advance covariates at the forecast periods,
            so `predict` takes a ``plan`` of them (``_predict(h, quantiles, plan)``).
        supports_sample_paths: has ``sample_paths(h, n_samples, seed=...)``.
        supports_contributions: has ``contributions(h)`` (per-forecast explanations).
    """

    alias: str = "Model"
    supports_future_covariates: bool = False
    supports_sample_paths: bool = False
    supports_contributions: bool = False

    def fit(self, data: SeriesArrays, covariates: Covariates | None = None) -> Model:
        """Learns from every series of ``data`` (and the side frames in ``covariates``).

        Returns:
            ``self``, fitted.
        """
        self._fit(data, covariates or Covariates())
        self.n_series_ = data.n_series
        return self

    def predict(
        self, h: int, quantiles: Sequence[float] = (), *, plan: pd.DataFrame | None = None
    ) -> Prediction:
        """Forecasts the next ``h`` periods of every fitted series.

        Args:
            h: periods to forecast.
            quantiles: levels in (0, 1); the quantile axis follows this order.
            plan: validated dynamic rows (id, period, known-in-advance columns) for the
                forecast periods that replace the plan given at fit; only models with
                ``supports_future_covariates`` read it.

        Returns:
            A `Prediction`; means and quantiles are never negative.
        """
        if not hasattr(self, "n_series_"):
            raise NotFittedError(
                f"{self.alias} is not fitted yet: call fit(...) before predict(...)."
            )
        if h < 1:
            raise ValueError(f"horizon h must be a positive number of periods, got {h}.")
        quantiles = tuple(quantiles)
        if self.supports_future_covariates:
            prediction = self._predict(h, quantiles, plan)
        else:
            prediction = self._predict(h, quantiles)
        # Demand is never negative; clipping at zero keeps quantiles in their order.
        prediction.mean = np.maximum(prediction.mean, 0.0)
        if prediction.quantiles is not None:
            prediction.quantiles = np.maximum(prediction.quantiles, 0.0)
        return prediction

    def update(self, data: SeriesArrays, dynamic: pd.DataFrame | None = None) -> Model:
        """Takes new periods of the fitted series without re-estimating anything learnt.

        Args:
            data: the fitted series, in the same order, each its fitted history followed by
                the periods observed since (none for a series without news).
            dynamic: validated dynamic rows (id, period, columns of the fit) observed or
                planned since the fit; they replace the fitted rows for the same series and
                period. Models that read no covariates ignore them.

        Returns:
            ``self``, updated. The update rebinds the model's state rather than changing it in
            place, so a shallow copy updated leaves the original as it was.
        """
        if not hasattr(self, "n_series_"):
            raise NotFittedError(
                f"{self.alias} is not fitted yet: call fit(...) before update(...)."
            )
        if data.n_series != self.n_series_:
            raise ValueError(
                f"{self.alias} was fitted on {self.n_series_} series; update got "
                f"{data.n_series}. Give the same series, in the same order, extended."
            )
        self._update(data, dynamic)
        return self

    def save(self, path: str | Path) -> Path:
        """Writes the model, fitted or not, to the folder ``path`` (replaced whole, atomically);
        `load` reads it back."""
        from trendcast.data.io import atomic_folder
        from trendcast.data.saved import write_state

        return atomic_folder(
            path, lambda tmp: write_state(tmp, self, kind="model", allowed=SAVED_CLASSES)
        )

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        raise NotImplementedError

    def _predict(self, h: int, quantiles: tuple[float, ...]) -> Prediction:
        # Models with ``supports_future_covariates`` take a third argument: the plan or None.
        raise NotImplementedError

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        raise NotImplementedError(
            f"{self.alias} ({type(self).__name__}) cannot take new periods without refitting: "
            "refit it, or give its class an `_update`."
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


def load(path: str | Path) -> Model:
    """Reads a model saved with `Model.save`.

    Raises:
        trendcast.data.saved.SavedStateError: the folder is missing, truncated, edited, of an
            unknown format version or holds something else than a model.
    """
    from trendcast.data.saved import SavedStateError, read_state

    model = read_state(path, kind="model", allowed=SAVED_CLASSES)
    if not isinstance(model, Model):
        raise SavedStateError(f"{path} holds a {type(model).__name__}, not a model.")
    return model


def new_values(old: SeriesArrays, new: SeriesArrays) -> list[np.ndarray]:
    """Each series' periods in ``new`` past its end in ``old`` (the same series, extended).

    Raises:
        ValueError: the series differ, or one is shorter than it was.
    """
    if not np.array_equal(old.ids, new.ids) or old.freq != new.freq:
        raise ValueError(
            "update takes the fitted series, in the same order and frequency, extended; got "
            "other series. Refit to forecast a different set."
        )
    grown = new.lengths - old.lengths
    if (grown < 0).any():
        shorter = new.ids[grown < 0][:3].tolist()
        raise ValueError(
            f"update got series shorter than they were fitted, e.g. {shorter}: give the "
            "fitted history followed by the new periods."
        )
    starts = new.indptr[:-1] + old.lengths
    return [new.values[a:b] for a, b in zip(starts, new.indptr[1:], strict=True)]


def normal_quantiles(
    mean: np.ndarray, sigma: np.ndarray, quantiles: tuple[float, ...]
) -> np.ndarray:
    """Quantiles (n, h, k) of normal forecast distributions with the given mean and sigma (n, h)."""
    from scipy.special import ndtri  # scipy.stats alone takes seconds to import

    z = ndtri(np.asarray(quantiles, dtype=float))
    return mean[..., None] + sigma[..., None] * z


def predictions_to_frame(
    data: SeriesArrays,
    predictions: dict[str, Prediction],
    h: int,
    quantiles: Sequence[float],
    columns: Columns,
) -> pd.DataFrame:
    """Long frame (id, ds, one column per model, ``{alias}-q-{q}`` per quantile) of predictions."""
    out = {
        columns.id_col: np.repeat(data.ids, h),
        columns.time_col: data.future_dates(h),
    }
    for alias, prediction in predictions.items():
        out[alias] = prediction.mean.reshape(-1)
        for k, q in enumerate(quantiles):
            out[quantile_column(alias, q)] = prediction.quantiles[:, :, k].reshape(-1)
    return pd.DataFrame(out)
