"""Global LSTM encoder-decoder with quantile (pinball) loss, across all series at once.

The classic sequence-model baseline. One network learns from windows of every series:

* the **encoder** LSTM reads a context window of ``context_length`` periods: the target divided
  by the window's scale (its mean absolute value, floored), a 0/1 flag of observed periods, the
  known-future covariates, calendar features and the log of the scale;
* the **decoder** LSTM starts from the encoder's state and reads, at each of the ``horizon``
  periods to forecast, the known-future covariates (prices, promotions, events), calendar
  features, the log scale and the step's position; a linear head on its output (and on its
  input) gives a non-crossing grid of quantiles (`QUANTILE_GRID`), multiplied back by the scale.

Covariates: only known-future dynamic columns are used (see
`trendcast.features.covariates.is_known_future`); behaviour and availability, unknown over the
horizon, are ignored. 0/1 columns (promotions, event flags) enter as they are; other columns
(prices) are divided by their series' mean absolute value so that every series sees numbers
near 1. Missing values (the price of an item not yet on sale) become 0 with a 0/1 availability
flag next to each column.

Periods before a series' first sale (not yet listed) and before its first row are treated
alike: unobserved, flagged 0 in the encoder and never a training target. Series shorter than
the context are thus left-padded when forecasting.

Training windows are drawn uniformly (seeded) among all (series, forecast origin) pairs whose
context holds at least ``min_context = max(1, min(context_length, horizon) // 2)`` periods
after the first sale. The last ``horizon`` periods of each series are held out: one window per
series forecasting them (at most 4,096 series, drawn at random) is the validation set of early
stopping, and the weights of the epoch with the lowest validation loss are kept (no refit; the
held-out periods still serve as context when forecasting). When no series is long enough to
hold them out, every window trains and all ``epochs`` run.

`update` keeps the network and its scales as trained and takes the extended history: forecasts
read their context window from it, and the new dynamic rows replace the fitted ones.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast._progress import progress_bar
from trendcast._torch import torch_device, torch_threads
from trendcast.data.arrays import Covariates, SeriesArrays, period_index
from trendcast.features.covariates import apply_plan, sequence_covariates
from trendcast.models.base import Model, Prediction, default_horizon, new_values

#: Quantile levels the network forecasts; others are interpolated linearly between them.
QUANTILE_GRID = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
_CONTEXT = {"D": 112, "MS": 24}
_WEEKLY_CONTEXT = 52
_PERIODS_PER_YEAR = {"D": 365.25, "W": 365.25 / 7, "M": 12.0}
_MIN_SCALE_SHARE = 0.1
_PREDICT_BATCH = 4096
_MAX_VALID = 4096


_WEIGHTS_FILE = "network.safetensors"


class LSTM(Model):
    """Global LSTM encoder-decoder forecaster with quantile (pinball) loss.

    Args:
        context_length: periods the encoder reads (default: 112 days, 52 weeks, 24 months).
        horizon: periods the decoder forecasts at once, and the periods held out for early
            stopping (default: 28 days, 8 weeks, 3 months). Longer forecasts roll forward:
            the mean forecast of one block becomes the context of the next, so the quantiles
            of later blocks ignore the uncertainty of the earlier ones (too narrow).
        hidden_size: LSTM units of encoder and decoder.
        num_layers: stacked LSTM layers of encoder and decoder.
        dropout: dropout between stacked layers (none with one layer).
        epochs: most epochs; each is ``steps_per_epoch`` batches of windows drawn at random.
        steps_per_epoch: optimiser steps per epoch.
        batch_size: windows per step.
        learning_rate: Adam step size.
        patience: epochs without a lower validation loss before training stops.
        seed: seeds window sampling and weight initialisation; the same seed gives identical
            forecasts on the CPU (CUDA kernels may differ in the last bits).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        num_threads: torch CPU threads while fitting and forecasting (restored afterwards).
            One by default: small LSTM steps gain nothing from more, and on a busy machine
            OpenMP threads waiting on each other slow training down a hundredfold.
        progress: show a progress bar over the epochs.
        alias: the model's name in forecast frames.

    Forecasts: ``Prediction.mean`` is the mean of the forecast distribution, the integral of
    the piecewise-linear quantile function through `QUANTILE_GRID` (flat below 0.01 and above
    0.99). Requested quantile levels are interpolated linearly on the grid; levels outside it
    take the nearest end (0.01 or 0.99).

    After fitting, ``history_`` holds the mean training and validation pinball loss per epoch
    and ``best_epoch_`` the epoch whose weights are kept.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> shop = simulate_shop(n_items=4, n_stores=1, n_periods=80, reviews=False,
        ...                      future_periods=7)
        >>> model = LSTM(horizon=7, context_length=14, hidden_size=8, epochs=2,
        ...              steps_per_epoch=3, batch_size=16, device="cpu")
        >>> fc = Forecaster([model]).fit(shop.data.sales, dynamic=shop.data.dynamic)
        >>> bool(fc.predict(7)["LSTM"].ge(0).all())
        True
    """

    supports_future_covariates = True

    def __init__(
        self,
        *,
        context_length: int | None = None,
        horizon: int | None = None,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        epochs: int = 100,
        steps_per_epoch: int = 50,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        patience: int = 10,
        seed: int = 0,
        device: str = "auto",
        num_threads: int = 1,
        progress: bool = False,
        alias: str = "LSTM",
    ):
        self.context_length, self.horizon = context_length, horizon
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.batch_size, self.learning_rate, self.patience = batch_size, learning_rate, patience
        self.seed, self.device, self.num_threads = seed, device, num_threads
        self.progress, self.alias = progress, alias

    # ------------------------------------------------------------------ fitting

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        import torch

        self._resolve(data)
        self.data_, self.covariates_ = data, covariates
        self._prepare_covariates(data, covariates)
        values = data.values
        self.first_sale_ = _first_sales(data)
        observed = np.abs(values[values > 0])
        self.min_scale_ = max(_MIN_SCALE_SHARE * (observed.mean() if observed.size else 1.0), 1e-6)
        train, valid = self._windows(data)

        self.device_ = torch_device(self.device)
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            self.net_ = _network(torch, *self._input_sizes(), self._net_sizes()).to(self.device_)
            self._train(torch, train, valid)
        del self._row_features

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        new_values(self.data_, data)
        # A series that had not sold yet may have now: its periods from then on are observed.
        self.first_sale_ = _first_sales(data)
        if dynamic is not None and self.covariates_.dynamic is not None:
            columns = self.covariates_.columns
            extended = apply_plan(self.covariates_.dynamic, dynamic, columns)
            self.covariates_ = dataclasses.replace(self.covariates_, dynamic=extended)
        self.data_ = data

    def _resolve(self, data: SeriesArrays) -> None:
        freq = data.freq
        weekly = freq.startswith("W")
        self.horizon_ = int(self.horizon or default_horizon(freq))
        self.context_ = int(self.context_length or (_WEEKLY_CONTEXT if weekly else _CONTEXT[freq]))
        if self.horizon_ < 1 or self.context_ < 1:
            raise ValueError(
                f"{self.alias}: `horizon` and `context_length` must be positive, got "
                f"{self.horizon_} and {self.context_}."
            )
        self.min_context_ = max(1, min(self.context_, self.horizon_) // 2)
        span = period_index(np.array([data.last_ds.max()]), freq)[0] - np.min(
            period_index(data.last_ds, freq) - data.lengths + 1
        )
        # Yearly features only when the history covers each part of the year twice.
        self.yearly_ = bool(span >= 2 * _PERIODS_PER_YEAR[freq[0]])

    def _prepare_covariates(self, data: SeriesArrays, covariates: Covariates) -> None:
        """Known-future covariate features of every history row, and their per-series scales."""
        sequence = sequence_covariates(data, covariates, 0, owner=self.alias)
        self.covariate_names_ = list(sequence.known_future)
        series = np.repeat(np.arange(data.n_series), data.lengths)
        scales = np.ones((data.n_series, len(self.covariate_names_)), dtype=np.float32)
        for k, name in enumerate(self.covariate_names_):
            x = sequence.history[name]
            finite = np.isfinite(x)
            if np.isin(x[finite], (0.0, 1.0)).all():
                continue  # a 0/1 flag: as it is
            size = np.abs(x[finite]).astype(np.float64)
            sums = np.bincount(series[finite], weights=size, minlength=data.n_series)
            counts = np.bincount(series[finite], minlength=data.n_series)
            overall = size.mean() if size.size and size.mean() > 0 else 1.0
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = sums / counts
            scales[:, k] = np.where((counts > 0) & (mean > 0), mean, overall)
        self.covariate_scale_ = scales
        # Features of every history row, for training windows only (dropped after fitting).
        self._row_features = self._covariate_features(sequence.history, series)

    def _covariate_features(self, raw: dict[str, np.ndarray], series: np.ndarray) -> np.ndarray:
        """Rows (len(series), 2 * n_covariates): each scaled value (0 where missing), its flag."""
        out = np.zeros((len(series), 2 * len(self.covariate_names_)), dtype=np.float32)
        for k, name in enumerate(self.covariate_names_):
            x = raw[name]
            finite = np.isfinite(x)
            out[:, 2 * k] = np.where(finite, x / self.covariate_scale_[series, k], 0.0)
            out[:, 2 * k + 1] = finite
        return out

    def _windows(self, data: SeriesArrays) -> tuple[dict, np.ndarray]:
        """Where training windows may start (per series) and the validation windows' series.

        Returns:
            ``{"first", "counts"}``: each series' earliest forecast origin and how many origins
            it has; the series with a validation window (origin at ``length - horizon``).
        """
        h, lengths = self.horizon_, data.lengths
        first = self.first_sale_ + self.min_context_
        needed = self.min_context_ + h
        if not (lengths - self.first_sale_ >= needed).any():
            longest = int((lengths - self.first_sale_).max(initial=0))
            raise ValueError(
                f"{self.alias}: no series is long enough to train on: one needs at least "
                f"{needed} periods from its first sale ({self.min_context_} of context and a "
                f"horizon of {h}); the longest has {longest}. Pass a smaller `horizon` (and "
                "`context_length`) or give more history."
            )
        valid = np.flatnonzero(lengths - self.first_sale_ >= needed + h)
        last = lengths - h - (h if valid.size else 0)
        counts = np.maximum(last - first + 1, 0)
        return {"first": first, "counts": counts}, valid

    def _input_sizes(self) -> tuple[int, int]:
        covariates = 2 * len(self.covariate_names_)
        calendar = _calendar(np.zeros(1, dtype=np.int64), self.data_.freq, self.yearly_).shape[-1]
        # Encoder: scaled target, observed flag, covariates, calendar, log scale.
        # Decoder: covariates, calendar, log scale, position in the horizon.
        return 2 + covariates + calendar + 1, covariates + calendar + 2

    def _net_sizes(self) -> dict:
        return {
            "hidden": self.hidden_size,
            "layers": self.num_layers,
            "dropout": self.dropout,
            "n_quantiles": len(QUANTILE_GRID),
        }

    def _train(self, torch, train: dict, valid: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        cumulative = np.cumsum(train["counts"])
        total = int(cumulative[-1])
        levels = torch.tensor(QUANTILE_GRID, dtype=torch.float32, device=self.device_)
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        valid_batch = None
        if valid.size > _MAX_VALID:
            valid = np.sort(rng.choice(valid, _MAX_VALID, replace=False))
        if valid.size:
            origin = self.data_.lengths[valid] - self.horizon_
            valid_batch = self._tensors(torch, *self._gather(valid, origin))
        self.history_ = {"train": [], "valid": []}
        best, best_state, waited = np.inf, None, 0
        self.best_epoch_ = self.epochs
        with progress_bar(self.epochs, self.alias, enabled=self.progress) as advance:
            for epoch in range(1, self.epochs + 1):
                self.net_.train()
                losses = []
                for _ in range(self.steps_per_epoch):
                    draw = rng.integers(0, total, self.batch_size)
                    series = np.searchsorted(cumulative, draw, side="right")
                    before = cumulative[series] - train["counts"][series]
                    origin = train["first"][series] + draw - before
                    encoder, decoder, target, scale = self._tensors(
                        torch, *self._gather(series, origin)
                    )
                    loss = _pinball(self.net_(encoder, decoder), target, levels)
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.net_.parameters(), 10.0)
                    optimizer.step()
                    losses.append(loss.item())
                self.history_["train"].append(float(np.mean(losses)))
                label = f"train {self.history_['train'][-1]:.4f}"
                if valid_batch is not None:
                    self.net_.eval()
                    with torch.no_grad():
                        encoder, decoder, target, scale = valid_batch
                        loss = _pinball(self.net_(encoder, decoder), target, levels).item()
                    self.history_["valid"].append(loss)
                    label += f" valid {loss:.4f}"
                    if loss < best:
                        best, waited, self.best_epoch_ = loss, 0, epoch
                        best_state = copy.deepcopy(self.net_.state_dict())
                    else:
                        waited += 1
                advance(label)
                if valid_batch is not None and waited >= self.patience:
                    break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.net_.eval()

    def _gather(self, series: np.ndarray, origin: np.ndarray):
        """Training/validation windows: targets (B, C + H), NaN where unobserved; covariate
        features (B, C + H, F); periods (B, C + H). ``origin``: in-series position of each
        window's first forecast period."""
        data, width = self.data_, self.context_ + self.horizon_
        offsets = origin[:, None] - self.context_ + np.arange(width)
        lengths = data.lengths[series, None]
        exists = (offsets >= 0) & (offsets < lengths)
        rows = np.where(exists, data.indptr[series, None] + offsets, 0)
        observed = exists & (offsets >= self.first_sale_[series, None])
        y = np.where(observed, data.values[rows], np.nan)
        features = self._row_features[rows] * exists[..., None]
        start = period_index(data.last_ds[series], data.freq) - data.lengths[series] + 1
        return y, features, start[:, None] + offsets

    def _tensors(self, torch, y: np.ndarray, features: np.ndarray, periods: np.ndarray):
        """Encoder and decoder inputs, scaled targets and scales of windows (numpy -> torch).

        ``y`` covers the context and, when training, the horizon; ``features`` and ``periods``
        cover the context and the periods to forecast.
        """
        c = self.context_
        context = y[:, :c]
        observed = np.isfinite(context)
        # Mean absolute value of the observed context (the floor where none is observed).
        total = np.abs(np.where(observed, context, 0.0)).sum(axis=1)
        scale = np.maximum(total / np.maximum(observed.sum(axis=1), 1), self.min_scale_)
        log_scale = np.log1p(scale)[:, None, None] * np.ones((1, periods.shape[1], 1))
        calendar = _calendar(periods, self.data_.freq, self.yearly_)
        steps = periods.shape[1] - c
        position = np.broadcast_to(
            (np.arange(1, steps + 1) / self.horizon_)[None, :, None], (len(y), steps, 1)
        )
        encoder = np.concatenate(
            [
                np.nan_to_num(context / scale[:, None])[..., None],
                observed[..., None],
                features[:, :c],
                calendar[:, :c],
                log_scale[:, :c],
            ],
            axis=-1,
        )
        decoder = np.concatenate(
            [features[:, c:], calendar[:, c:], log_scale[:, c:], position], axis=-1
        )
        target = y[:, c:] / scale[:, None] if y.shape[1] > c else np.zeros((len(y), 0))

        def tensor(a: np.ndarray):
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device_)

        return tensor(encoder), tensor(decoder), tensor(target), scale

    def _saved_state(self, folder: Path) -> dict:
        """The state with the network's weights written to ``network.safetensors``."""
        state = dict(vars(self))
        if "net_" in state:
            from safetensors.torch import save_file

            weights = state.pop("net_").state_dict()
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in weights.items()},
                str(folder / _WEIGHTS_FILE),
            )
            state["device_"] = str(state["device_"])
        return state

    def _restore_state(self, state: dict, folder: Path) -> None:
        self.__dict__.update(state)
        if "device_" in state:
            import torch
            from safetensors.torch import load_file

            # Saved on a GPU or not, the weights load on this machine's device.
            self.device_ = torch_device(self.device)
            self.net_ = _network(torch, *self._input_sizes(), self._net_sizes())
            self.net_.load_state_dict(load_file(str(folder / _WEIGHTS_FILE)))
            self.net_.to(self.device_).eval()

    # --------------------------------------------------------------- forecasting

    def _predict(
        self, h: int, quantiles: tuple[float, ...], plan: pd.DataFrame | None = None
    ) -> Prediction:
        import torch

        data, c = self.data_, self.context_
        tail = data.tail(c)
        covariates = self.covariates_
        if plan is not None:
            planned = apply_plan(covariates.dynamic, plan, covariates.columns)
            covariates = dataclasses.replace(covariates, dynamic=planned)
        sequence = sequence_covariates(tail, covariates, h, owner=self.alias)
        # The last `c` periods of each series and the `h` to forecast, as in training windows.
        offsets = data.lengths[:, None] - c + np.arange(c + h)
        series = np.repeat(np.arange(data.n_series)[:, None], c + h, axis=1)
        exists = offsets >= 0
        history = exists[:, :c]
        observed = history & (offsets[:, :c] >= self.first_sale_[:, None])
        rows = np.where(history, data.indptr[:-1, None] + offsets[:, :c], 0)
        y = np.full((data.n_series, c + h), np.nan)
        y[:, :c] = np.where(observed, data.values[rows], np.nan)
        # Covariates: the history rows of the tail (right-aligned), then the future ones.
        place = np.arange(c)[None, :] >= (c - tail.lengths)[:, None]
        raw = {}
        for name in self.covariate_names_:
            grid = np.full((data.n_series, c + h), np.nan, dtype=np.float32)
            grid[:, :c][place] = sequence.history[name]
            grid[:, c:] = sequence.future[name]
            raw[name] = grid.reshape(-1)
        features = self._covariate_features(raw, series.reshape(-1))
        features = features.reshape(data.n_series, c + h, -1)
        start = period_index(data.last_ds, data.freq) - data.lengths + 1
        periods = start[:, None] + offsets

        grid = np.empty((data.n_series, h, len(QUANTILE_GRID)))
        with torch_threads(self.num_threads), torch.no_grad():
            for step in range(0, h, self.horizon_):
                block = slice(step, step + c + min(self.horizon_, h - step))
                for part in range(0, data.n_series, _PREDICT_BATCH):
                    rows_ = slice(part, part + _PREDICT_BATCH)
                    encoder, decoder, _, scale = self._tensors(
                        torch, y[rows_, block][:, :c], features[rows_, block], periods[rows_, block]
                    )
                    out = self.net_(encoder, decoder).cpu().numpy().astype(np.float64)
                    grid[rows_, step : block.stop - c] = out * scale[:, None, None]
                # The mean forecast is the context of the next block.
                mean_block = grid[:, step : block.stop - c] @ _mean_weights()
                y[:, c + step : block.stop] = np.maximum(mean_block, 0.0)
        mean = grid @ _mean_weights()
        if not quantiles:
            return Prediction(mean)
        return Prediction(mean, _interpolate(grid, quantiles))


def _first_sales(data: SeriesArrays) -> np.ndarray:
    """Position in each series of its first sale (its length when it never sold)."""
    sold = np.flatnonzero(data.values > 0)
    first_row = np.append(sold, len(data.values))[np.searchsorted(sold, data.indptr[:-1])]
    return np.minimum(first_row, data.indptr[1:]) - data.indptr[:-1]


def _calendar(periods: np.ndarray, freq: str, yearly: bool) -> np.ndarray:
    """Calendar features (..., k) of integer periods (`period_index` numbers): day of week
    one-hot for daily data, and the position in the year (sine, cosine) when ``yearly``."""
    periods = np.asarray(periods, dtype=np.int64)
    parts = []
    if freq == "D":
        # Period 0 is 1970-01-01, a Thursday (day of week 3, Monday being 0).
        parts.append(np.eye(7, dtype=np.float32)[(periods + 3) % 7])
    if yearly:
        if freq == "MS":
            angle = 2 * np.pi * (periods % 12) / 12
        else:
            angle = 2 * np.pi * periods / _PERIODS_PER_YEAR[freq[0]]
        parts.append(np.stack([np.sin(angle), np.cos(angle)], axis=-1).astype(np.float32))
    if not parts:
        return np.zeros((*periods.shape, 0), dtype=np.float32)
    return np.concatenate(parts, axis=-1)


def _mean_weights() -> np.ndarray:
    """Weights w with ``mean = quantiles @ w``: the integral over (0, 1) of the piecewise-linear
    quantile function through the grid, flat beyond its ends."""
    levels = np.asarray(QUANTILE_GRID)
    weights = np.zeros(len(levels))
    gaps = np.diff(levels)
    weights[:-1] += gaps / 2
    weights[1:] += gaps / 2
    weights[0] += levels[0]
    weights[-1] += 1 - levels[-1]
    return weights


def _interpolate(grid: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """Quantiles (n, h, k) at the requested levels, linear between grid levels, clamped."""
    levels = np.asarray(QUANTILE_GRID)
    q = np.clip(np.asarray(quantiles, dtype=float), levels[0], levels[-1])
    upper = np.clip(np.searchsorted(levels, q, side="left"), 1, len(levels) - 1)
    lower = upper - 1
    weight = (q - levels[lower]) / (levels[upper] - levels[lower])
    return grid[..., lower] * (1 - weight) + grid[..., upper] * weight


def _pinball(prediction, target, levels):
    """Mean pinball loss of quantile forecasts (B, H, K) against targets (B, H)."""
    error = target.unsqueeze(-1) - prediction
    return (levels * error).maximum((levels - 1) * error).mean()


def _network(torch, encoder_size: int, decoder_size: int, sizes: dict) -> Any:
    """The encoder-decoder network (built here so that torch loads only when fitting)."""
    nn = torch.nn

    class EncoderDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            dropout = sizes["dropout"] if sizes["layers"] > 1 else 0.0
            lstm = {"hidden_size": sizes["hidden"], "num_layers": sizes["layers"]}
            self.encoder = nn.LSTM(encoder_size, batch_first=True, dropout=dropout, **lstm)
            self.decoder = nn.LSTM(decoder_size, batch_first=True, dropout=dropout, **lstm)
            self.head = nn.Linear(sizes["hidden"] + decoder_size, sizes["n_quantiles"])

        def forward(self, encoder, decoder):
            _, state = self.encoder(encoder)
            out, _ = self.decoder(decoder, state)
            raw = self.head(torch.cat([out, decoder], dim=-1))
            # The lowest quantile, then positive steps: quantiles never cross.
            lowest = raw[..., :1]
            steps = nn.functional.softplus(raw[..., 1:])
            return torch.cat([lowest, lowest + steps.cumsum(-1)], dim=-1)

    return EncoderDecoder()
