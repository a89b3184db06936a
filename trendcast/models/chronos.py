"""Chronos-2 as a trendcast model: zero-shot, or fine-tuned (fully or with LoRA) on the user's data.

The architecture and the fine-tuning loop are those of the ``chronos-forecasting`` package; this
module is the glue: it turns series and their dynamic covariates into Chronos-2 inputs, finds
weights by name, and saves fine-tuned weights in a workspace.

Weights are found, in order, as:

1. ``"trendcast-chronos2-small"``: the small model pretrained by trendcast and shipped inside the
   package (see its MODEL_CARD.md); works offline;
2. a model saved in the given `Workspace` under that name (e.g. a fine-tuned adapter);
3. a local folder (a Chronos-2 or Chronos-Bolt checkpoint, or a LoRA adapter saved by this class);
4. a model-hub name such as ``"amazon/chronos-2"`` or ``"amazon/chronos-bolt-small"`` (needs hub
   access the first time).

Known-future covariates (prices, promotions, events: columns named as
`trendcast.features.covariates.is_known_future` says) go in as Chronos-2 future covariates; other
dynamic columns (views, stock) as past-only covariates. Chronos-Bolt takes no covariates and
ignores them.

`update` keeps the weights (zero-shot or fine-tuned) and takes the extended history: forecasts
read their context from it, and the new dynamic rows replace the fitted ones.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast._torch import torch_device, torch_threads
from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.features.covariates import SequenceCovariates, apply_plan, sequence_covariates
from trendcast.models.base import Model, Prediction, default_horizon, new_values

SHIPPED_MODEL = "trendcast-chronos2-small"
WEIGHTS_DIR = Path(__file__).parent / "weights"
_BASE_FILE = "trendcast_base.json"  # written next to an adapter: which weights it adapts
_SAVED_WEIGHTS = "weights"  # the fine-tuned weights' folder inside a saved model


def resolve_weights(model: str | Path, workspace: Any = None) -> str:
    """Where the weights named ``model`` are: a local folder, or a hub name left as it is.

    Raises:
        ValueError: for a plain name (no ``/``) that is neither shipped, saved nor a folder.
    """
    name = str(model)
    if name == SHIPPED_MODEL:
        return str(WEIGHTS_DIR / SHIPPED_MODEL)
    saved: list[str] = []
    if workspace is not None:
        from trendcast.data.store import as_workspace

        registry = as_workspace(workspace).models
        if "/" not in name and registry.has(name.partition("@")[0]):
            return str(registry.path(name))
        saved = sorted(registry.list()["name"].unique())
    if Path(name).exists() or "/" in name:
        return name
    raise ValueError(
        f"no Chronos weights named {name!r}: not the shipped {SHIPPED_MODEL!r}, not a folder, "
        f"and not saved in the workspace (saved: {saved or 'none'}; pass workspace=... to look "
        "there). Hub names look like 'amazon/chronos-2'."
    )


def load_pipeline(model: str | Path = SHIPPED_MODEL, *, workspace: Any = None, device: str = "cpu"):
    """A ``chronos`` pipeline (Chronos-2 or Chronos-Bolt) for the weights named ``model``.

    A LoRA adapter saved by `Chronos2.save_weights` loads on top of its base weights, merged.
    """
    try:
        from chronos import BaseChronosPipeline
        from chronos.chronos2 import Chronos2Pipeline
    except ImportError as err:
        raise ImportError(
            "Chronos models need the neural extra: pip install 'trendcast[neural]'"
        ) from err
    path = resolve_weights(model, workspace)
    base_file = Path(path) / _BASE_FILE
    if base_file.exists():
        from peft import PeftModel

        base = load_pipeline(json.loads(base_file.read_text())["base"], device=device)
        merged = PeftModel.from_pretrained(base.model, path).merge_and_unload()
        return Chronos2Pipeline(model=merged.to(device))
    try:
        pipeline = BaseChronosPipeline.from_pretrained(path, device_map=device)
    except OSError as err:
        raise OSError(
            f"could not load Chronos weights {model!r}: not {SHIPPED_MODEL!r}, not a model saved "
            "in the workspace, not a local folder, and the model hub could not provide it. Use "
            f"{SHIPPED_MODEL!r} offline, or a local copy of a Chronos-2/Chronos-Bolt checkpoint."
        ) from err
    return pipeline


def chronos_inputs(
    data: SeriesArrays,
    covariates: SequenceCovariates,
    *,
    context_length: int | None = None,
    with_future: bool = False,
) -> list[dict]:
    """Chronos-2 input dicts: each series' target and covariates (last ``context_length`` values).

    With ``with_future``, the known-future covariates' values over the horizon are included
    (for prediction); otherwise they stay inside the history (for training).
    """
    inputs = []
    for i in range(data.n_series):
        start, end = data.indptr[i], data.indptr[i + 1]
        if context_length:
            start = max(start, end - context_length)
        item: dict = {"target": data.values[start:end].astype(np.float32)}
        if covariates.names:
            item["past_covariates"] = {
                n: covariates.history[n][start:end] for n in covariates.names
            }
        if with_future and covariates.known_future:
            item["future_covariates"] = {
                n: covariates.future[n][i] for n in covariates.known_future
            }
        inputs.append(item)
    return inputs


def prepared_inputs(data: SeriesArrays, covariates: SequenceCovariates, horizon: int) -> list[dict]:
    """Training inputs: whole histories, with the known-future covariates marked as such."""
    from chronos.chronos2.preprocess import from_list_of_dicts

    known = covariates.known_future or None
    return from_list_of_dicts(
        chronos_inputs(data, covariates), horizon, known_covariates_names=known
    )


def loss_recorder(log: list[dict]):
    """A ``transformers`` callback that appends every logged loss, with its step, to ``log``."""
    from transformers import TrainerCallback

    class Record(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            log.append({"step": state.global_step, **(logs or {})})

    return Record()


class Chronos2(Model):
    """Chronos-2 forecasts, zero-shot or fine-tuned on the data given to `fit`.

    Args:
        model: weights: ``"trendcast-chronos2-small"`` (shipped, default), a name saved in
            ``workspace``, a local folder, or a hub name (module docstring).
        finetune: ``None`` (zero-shot), ``"lora"`` (low-rank adapters on the attention and output
            layers, via ``peft``) or ``"full"`` (all weights).
        steps: fine-tuning steps (batches).
        learning_rate: fine-tuning learning rate (default 1e-4 full, 1e-3 LoRA).
        batch_size: series per fine-tuning batch (covariates count as series).
        horizon: periods the fine-tuning targets (default 28 days, 8 weeks, 3 months). The last
            ``horizon`` periods of each series are held out: the weights that forecast them best,
            checked every ``eval_every`` steps, are kept (early stopping).
        context_length: periods of history the model reads (default: the model's own).
        use_covariates: whether to pass the dynamic covariates in.
        workspace: a `Workspace` (or path) where named models are looked up.
        device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.
        num_threads: torch CPU threads while fitting and forecasting (None: torch's default,
            all cores); 1 is faster on a machine busy with other work.
        seed: seed of the fine-tuning run.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> sales = simulate_shop(n_items=4, n_stores=1, n_periods=120, reviews=False).data.sales
        >>> fc = Forecaster([Chronos2()], quantiles=[0.1, 0.9]).fit(sales)
        >>> fc.predict(7).columns.tolist()
        ['unique_id', 'ds', 'Chronos2', 'Chronos2-q-0.1', 'Chronos2-q-0.9']
    """

    alias = "Chronos2"
    supports_future_covariates = True

    def __init__(
        self,
        model: str = SHIPPED_MODEL,
        *,
        finetune: str | None = None,
        steps: int = 300,
        learning_rate: float | None = None,
        batch_size: int = 64,
        horizon: int | None = None,
        eval_every: int = 50,
        context_length: int | None = None,
        use_covariates: bool = True,
        workspace: Any = None,
        device: str = "auto",
        num_threads: int | None = None,
        seed: int = 0,
        alias: str = "Chronos2",
    ):
        if finetune not in (None, "lora", "full"):
            raise ValueError(f"finetune must be None, 'lora' or 'full', got {finetune!r}.")
        self.model, self.finetune, self.steps = model, finetune, steps
        self.learning_rate, self.batch_size, self.horizon = learning_rate, batch_size, horizon
        self.eval_every, self.context_length = eval_every, context_length
        self.use_covariates, self.workspace, self.device = use_covariates, workspace, device
        self.num_threads, self.seed, self.alias = num_threads, seed, alias

    def _fit(self, data: SeriesArrays, covariates: Covariates) -> None:
        with torch_threads(self.num_threads):
            self._fit_model(data, covariates)

    def _fit_model(self, data: SeriesArrays, covariates: Covariates) -> None:
        if (data.lengths < 2).any():
            short = data.ids[data.lengths < 2][:3]
            raise ValueError(
                f"{self.alias}: {int((data.lengths < 2).sum())} series have fewer than 2 periods "
                f"of history (e.g. {list(short)}). Forecast new products with ColdStart, or "
                "leave them out."
            )
        device = str(torch_device(self.device))
        self.pipeline_ = load_pipeline(self.model, workspace=self.workspace, device=device)
        self.data_ = data
        self.covariates_ = covariates if self.use_covariates else Covariates()
        self.takes_covariates_ = type(self.pipeline_).__name__ == "Chronos2Pipeline"
        self.history_: list[dict] = []
        if self.finetune:
            self._finetune(data)

    def _finetune(self, data: SeriesArrays) -> None:
        if not self.takes_covariates_:
            raise ValueError(
                f"{self.alias}: fine-tuning needs a Chronos-2 model; {self.model!r} is "
                f"{type(self.pipeline_).__name__}."
            )
        horizon = self.horizon or default_horizon(data.freq)
        long_enough = data.lengths > 2 * horizon
        if not long_enough.any():
            raise ValueError(
                f"{self.alias}: fine-tuning needs series longer than {2 * horizon} periods (twice "
                f"the horizon {horizon}); the longest has {int(data.lengths.max())}. Use the "
                "model zero-shot (finetune=None) or a shorter horizon."
            )
        full = data.head(data.lengths, select=long_enough)
        seen = data.head(data.lengths - horizon, select=long_enough)
        covariates = self._sequence_covariates(full)
        validation = prepared_inputs(full, covariates, horizon)
        training = prepared_inputs(seen, self._sequence_covariates(seen), horizon)
        default_rate = 1e-3 if self.finetune == "lora" else 1e-4
        with tempfile.TemporaryDirectory() as scratch:
            self.pipeline_ = self.pipeline_.fit(
                training,
                prediction_length=horizon,
                validation_inputs=validation,
                finetune_mode=self.finetune,
                learning_rate=self.learning_rate or default_rate,
                num_steps=self.steps,
                batch_size=self.batch_size,
                output_dir=scratch,
                callbacks=[loss_recorder(self.history_)],
                remove_printer_callback=True,
                seed=self.seed,
                data_seed=self.seed,
                logging_steps=self.eval_every,
                eval_steps=self.eval_every,
                save_steps=self.eval_every,
                min_past=min(horizon, int(seen.lengths.min())),
            )

    def _update(self, data: SeriesArrays, dynamic: pd.DataFrame | None) -> None:
        new_values(self.data_, data)
        if dynamic is not None and self.covariates_.dynamic is not None:
            columns = self.covariates_.columns
            extended = apply_plan(self.covariates_.dynamic, dynamic, columns)
            self.covariates_ = dataclasses.replace(self.covariates_, dynamic=extended)
        self.data_ = data

    def _sequence_covariates(
        self, data: SeriesArrays, h: int = 0, plan: pd.DataFrame | None = None
    ) -> SequenceCovariates:
        if not self.takes_covariates_:
            return SequenceCovariates([], [], {}, {})
        covariates = self.covariates_
        if plan is not None and self.use_covariates:
            planned = apply_plan(covariates.dynamic, plan, covariates.columns)
            covariates = dataclasses.replace(covariates, dynamic=planned)
        return sequence_covariates(data, covariates, h, owner=self.alias)

    def _predict(
        self, h: int, quantiles: tuple[float, ...], plan: pd.DataFrame | None = None
    ) -> Prediction:
        import torch

        covariates = self._sequence_covariates(self.data_, h, plan)
        inputs = chronos_inputs(
            self.data_, covariates, context_length=self.context_length, with_future=True
        )
        if not self.takes_covariates_:
            inputs = [torch.as_tensor(item["target"]) for item in inputs]
        own = [float(q) for q in self.pipeline_.quantiles]
        levels = sorted(set(quantiles) | set(own))
        with torch.no_grad(), torch_threads(self.num_threads):
            forecasts, _ = self.pipeline_.predict_quantiles(
                inputs, prediction_length=h, quantile_levels=levels
            )
        # One (h, levels) block per series (Chronos-2 returns a list, Chronos-Bolt a tensor).
        stacked = np.stack(
            [np.asarray(f, dtype=np.float64).reshape(h, len(levels)) for f in forecasts]
        )
        # The mean, not the median, is the point forecast: demand is skewed, and the median of an
        # intermittent series is often 0. Each of the model's own levels carries the probability
        # mass half-way to its neighbours.
        edges = np.concatenate([[0.0], own, [1.0]])
        mass = (edges[2:] - edges[:-2]) / 2
        mean = stacked[..., [levels.index(q) for q in own]] @ (mass / mass.sum())
        grid = stacked[..., [levels.index(q) for q in quantiles]] if quantiles else None
        return Prediction(mean, grid)

    def _saved_state(self, folder: Path) -> dict:
        """The state without the pipeline: fine-tuned weights go to ``weights/`` (safetensors);
        zero-shot weights are named (``model``) and found again when loading."""
        state = {k: v for k, v in vars(self).items() if k != "pipeline_"}
        if "pipeline_" in vars(self) and self.finetune:
            self.save_weights(folder / _SAVED_WEIGHTS)
        return state

    def _restore_state(self, state: dict, folder: Path) -> None:
        self.__dict__.update(state)
        if "data_" in state:
            weights = folder / _SAVED_WEIGHTS if self.finetune else self.model
            device = str(torch_device(self.device))
            self.pipeline_ = load_pipeline(weights, workspace=self.workspace, device=device)

    def save_weights(self, path: str | Path) -> Path:
        """Writes the fine-tuned weights (adapter or full) to the folder ``path``."""
        if not self.finetune:
            raise ValueError(
                f"{self.alias}: only fine-tuned models are saved; this one is zero-shot."
            )
        path = Path(path)
        self.pipeline_.save_pretrained(path)
        if self.finetune == "lora":  # the adapter holds the changes only; name its base
            (path / _BASE_FILE).write_text(json.dumps({"base": str(self.model)}))
        return path

    def save_to(self, workspace: Any, name: str) -> Path:
        """Saves the fine-tuned weights in ``workspace`` as a new version of ``name`` (promoted):
        ``Chronos2(name, workspace=...)`` (or ``name@VERSION``) loads them back."""
        from trendcast.data.store import as_workspace

        meta = {"base": str(self.model), "finetune": self.finetune, "steps": self.steps}
        return (
            as_workspace(workspace)
            .models.save(name, self.save_weights, kind="chronos2", meta=meta)
            .path
        )
