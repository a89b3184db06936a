"""Pretraining trendcast's own small Chronos-2: a corpus of many simulated catalogues (plus any
real series given), a seeded training run, and the weights written with a model card.

The architecture and training loop are ``chronos-forecasting``'s; the run starts from random
weights and uses the package's full fine-tuning loop (AdamW, linear decay, quantile loss; bf16
and TF32 on a recent GPU). ``benchmarks/pretrain_chronos.py`` runs it on the corpus that built
the shipped weights.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trendcast.data.arrays import Covariates, SeriesArrays
from trendcast.features.covariates import sequence_covariates

# The M5 uncertainty levels are among the model's own, so they need no interpolation.
QUANTILES = [
    0.005, 0.025, 0.05, 0.1, 0.165, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.6, 0.7, 0.75, 0.8, 0.835, 0.9, 0.95, 0.975, 0.995,
]  # fmt: skip

SIZES = {
    # ~20k parameters: for tests and quick experiments.
    "tiny": dict(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2),
    # ~1.3M parameters: pretraining fits in about an hour on 2 CPU cores.
    "small": dict(d_model=128, d_kv=32, d_ff=512, num_layers=4, num_heads=4),
    # ~4M parameters, for a GPU.
    "base": dict(d_model=192, d_kv=32, d_ff=768, num_layers=6, num_heads=6),
}
PREDICTION_LENGTH = 32  # two output patches: 28 days or 8 weeks fit inside


@dataclass
class CorpusPart:
    """Series for pretraining, with the name of their source (for the model card)."""

    source: str
    data: SeriesArrays
    covariates: Covariates


def new_pipeline(size: str = "small", *, context_length: int = 512, seed: int = 0):
    """A Chronos-2 pipeline with random weights (seeded) of the given size."""
    import torch
    from chronos.chronos2 import Chronos2Model, Chronos2Pipeline
    from chronos.chronos2.config import Chronos2CoreConfig

    config = Chronos2CoreConfig(
        **SIZES[size],
        dropout_rate=0.1,
        chronos_config=dict(
            context_length=context_length,
            input_patch_size=16,
            input_patch_stride=16,
            output_patch_size=16,
            quantiles=QUANTILES,
            use_reg_token=True,
            use_arcsinh=True,  # counts span orders of magnitude
            max_output_patches=4,
            time_encoding_scale=context_length,
        ),
    )
    config.architectures = ["Chronos2Model"]
    config.chronos_pipeline_class = "Chronos2Pipeline"  # how BaseChronosPipeline finds it
    torch.manual_seed(seed)
    return Chronos2Pipeline(model=Chronos2Model(config))


def simulated_corpus(n_shops: int = 48, *, seed: int = 0) -> list[CorpusPart]:
    """Many sample-shop catalogues of varied size, length, frequency and seed.

    A quarter are weekly; the rest daily. Every shop brings its prices, promotions and events
    (known in advance) and its behaviour and stock signals (past only).
    """
    from trendcast.data.simulate import simulate_shop

    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_shops):
        weekly = k % 4 == 3
        shop = simulate_shop(
            n_items=int(rng.integers(15, 50)),
            n_stores=int(rng.integers(1, 4)),
            n_periods=int(rng.integers(100, 260) if weekly else rng.integers(300, 1100)),
            freq="W-SUN" if weekly else "D",
            start=str(np.datetime64("2015-01-05") + int(rng.integers(0, 2500))),
            seed=int(rng.integers(1 << 31)),
            reviews=False,
        ).data
        parts.append(
            CorpusPart(
                f"simulated shop {k} ({shop.freq})",
                SeriesArrays.from_frame(shop.sales, shop.freq),
                Covariates(shop.static, shop.dynamic),
            )
        )
    return parts


def corpus_inputs(parts: list[CorpusPart]) -> list[dict]:
    """Chronos-2 training inputs of every part (each part keeps its own covariates)."""
    from trendcast.models.chronos import prepared_inputs

    inputs = []
    for part in parts:
        covariates = sequence_covariates(part.data, part.covariates)
        inputs += prepared_inputs(part.data, covariates, PREDICTION_LENGTH)
    return inputs


def pretrain(
    parts: list[CorpusPart],
    output: str | Path,
    *,
    size: str = "small",
    steps: int = 8000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    validation_share: float = 0.05,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Pretrains a Chronos-2 of ``size`` on ``parts`` and writes it, with its card, to ``output``.

    A ``validation_share`` of the series (drawn with ``seed``) is held out; the loss on their
    last ``PREDICTION_LENGTH`` periods, checked 20 times in the run, picks the weights kept.
    The folder is written beside ``output`` first and moved in place whole.

    Returns:
        The run's summary (also in ``output/training.json``): sizes, steps, seconds, losses.
    """
    import torch

    from trendcast._torch import torch_device
    from trendcast.models.chronos import loss_recorder

    device = torch_device(device).type
    inputs = corpus_inputs(parts)
    rng = np.random.default_rng(seed)
    held = rng.random(len(inputs)) < validation_share
    training = [x for x, h in zip(inputs, held, strict=True) if not h]
    validation = [x for x, h in zip(inputs, held, strict=True) if h and x["context"].shape[-1] > 64]
    pipeline = new_pipeline(size, seed=seed)
    pipeline.model.to(device)
    n_parameters = sum(p.numel() for p in pipeline.model.parameters())
    log: list[dict] = []
    evaluate_every = max(steps // 20, 50)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        trained = pipeline.fit(
            training,
            prediction_length=PREDICTION_LENGTH,
            validation_inputs=validation,
            learning_rate=learning_rate,
            num_steps=steps,
            batch_size=batch_size,
            output_dir=scratch,
            min_past=8,
            callbacks=[loss_recorder(log)],
            seed=seed,
            data_seed=seed,
            logging_steps=evaluate_every,
            eval_steps=evaluate_every,
            save_steps=evaluate_every,
            warmup_steps=min(500, steps // 10),
        )
    seconds = time.perf_counter() - started
    summary = {
        "size": size,
        "parameters": n_parameters,
        "steps": max(row["step"] for row in log),
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu x{os.cpu_count()}",
        "seconds": round(seconds, 1),
        "training_series": len(training),
        "validation_series": len(validation),
        "sources": _sources(parts),
        "loss": [
            {k: v for k, v in row.items() if k in ("step", "loss", "eval_loss")}
            for row in log
            if "loss" in row or "eval_loss" in row
        ],
    }
    _write(trained, Path(output), summary)
    return summary


def _sources(parts: list[CorpusPart]) -> list[dict]:
    out: dict[str, dict] = {}
    for part in parts:
        name = part.source.split(" (")[0].rstrip("0123456789 ")
        entry = out.setdefault(name, {"source": name, "series": 0, "observations": 0})
        entry["series"] += part.data.n_series
        entry["observations"] += int(part.data.lengths.sum())
    return list(out.values())


def _write(pipeline, output: Path, summary: dict) -> None:
    from trendcast.data.io import atomic_folder

    def write(folder: Path) -> None:
        pipeline.model.to("cpu")
        pipeline.save_pretrained(folder)
        (folder / "training.json").write_text(json.dumps(summary, indent=1))
        (folder / "MODEL_CARD.md").write_text(model_card(summary))

    atomic_folder(output, write)


def model_card(summary: dict) -> str:
    """The model card: what the weights are, how they were made, what they are for."""
    sources = "\n".join(
        f"| {s['source']} | {s['series']:,} | {s['observations']:,} |" for s in summary["sources"]
    )
    by_step: dict[int, dict] = {}
    for row in summary["loss"]:
        by_step.setdefault(row["step"], {}).update(row)
    losses = "\n".join(
        f"| {step} | {row.get('loss', float('nan')):.3f} | {row.get('eval_loss', float('nan')):.3f} |"
        for step, row in by_step.items()
    )
    return f"""# trendcast-chronos2-small

A small Chronos-2 (the architecture of Amazon's ``chronos-forecasting``) pretrained by trendcast
from random weights on simulated shop catalogues and real retail series. It forecasts daily or
weekly demand with quantiles, reads known-future covariates (prices, promotions, events) and
past-only ones (views, stock), and is meant as a starting point: use it zero-shot, or fine-tune
it on your own data (``Chronos2(finetune="lora")``).

Not for: series far from retail demand; long horizons beyond 64 periods (the model unrolls
further, less accurately). Amazon's own Chronos-2 weights, where a model hub is reachable, load
through the same class (``Chronos2("amazon/chronos-2")``).

## Size
{summary["size"]}: {summary["parameters"]:,} parameters, context 512 periods, patches of 16,
{len(QUANTILES)} quantile levels from 0.005 to 0.995.

## Corpus
| source | series | observations |
|---|---:|---:|
{sources}

{summary["training_series"]:,} series trained on, {summary["validation_series"]:,} held out for
validation. No M5 day from d_1886 on and no Online Retail week of the last 8 was used: those are
the benchmarks' test windows.

## Training
{summary["steps"]:,} steps of {summary["batch_size"]} series, AdamW at {summary["learning_rate"]}
with warm-up and linear decay, seed {summary["seed"]}, on {summary["device"]} in
{summary["seconds"]:,.0f} s. The weights kept are those with the lowest validation loss.

| step | training loss | validation loss |
|---:|---:|---:|
{losses}

Reproduce: ``python benchmarks/pretrain_chronos.py --steps {summary["steps"]} --batch-size {summary["batch_size"]} --seed {summary["seed"]}``.
"""
