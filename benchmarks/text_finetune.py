"""Cold start with frozen, LoRA-tuned and fully fine-tuned all-MiniLM-L6-v2.

Same data, splits and score as ``benchmarks/cold_start.py`` (WAPE of the 8-week totals of the
test launches, forecast before their first sale from established products only):

* ``frozen ridge``: ``ColdStart(method="ridge")`` on frozen MiniLM embeddings, its settings
  (ridge penalty, time of year, market index, training products) chosen on the two validation
  folds from the grid of ``cold_start.py``;
* ``LoRA`` and ``full``: ``ColdStart(method="finetuned")`` with those same settings, the text
  part a `FineTunedTextRegressor` (LoRA rank 8 on the query and value projections, or every
  weight) fine-tuned on the residual of the category-and-price ridge, with early stopping on a
  seeded 20% of the training texts. Fine-tuning is costly on a CPU, so these are fitted on
  the validation folds too only with ``--valid`` (``valid_wape`` is empty otherwise).

With ``--grid`` the fine-tuning settings too are chosen on the validation folds: learning rate
and most epochs (``FINETUNE_GRID``, early stopping within them) per mode; every point's
validation WAPE is printed and the chosen one scores the test once.

Reported per method: validation WAPE (mean of the folds), test WAPE, seconds to fit on the
test fold (one torch thread on a CPU), and the size of what must be stored beside the base
model (ridge coefficients; adapters and head; the whole encoder and head).

Run: ``.venv/bin/python benchmarks/text_finetune.py --dataset shop --out
benchmarks/results/text_finetune_shop.csv`` (and ``--dataset retail``); ``--epochs``,
``--max-seq-length`` trade accuracy for time. On a GPU: ``--device cuda --grid``;
``--settings alpha=100.0,yearly=True,market_window=8,train_on=all`` takes the frozen ridge's
settings as given instead of searching ``RIDGE_GRID``; ``--text-model PATH`` reads the model
from a folder.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cold_start import (  # noqa: E402
    DEFAULT_DATA,
    N_PERIODS,
    RIDGE_GRID,
    SHOP_END,
    SHOP_WINDOW,
    TEST_WEEKS,
    VALID_FOLDS,
    grid_point,
    online_retail,
    sample_shop,
    split,
    wape,
)

# Most epochs (early stopping within) and learning rate per mode, for ``--grid``.
FINETUNE_GRID = {
    "lora": list(itertools.product((2, 6), (2e-4, 5e-4, 2e-3))),
    "full": list(itertools.product((2, 6), (2e-5, 5e-5, 1e-4))),
}


def fit_predict(fold: dict, static, cat_cols, settings: dict, **model) -> tuple:
    """Early-life paths of the fold's launches and the seconds the fit took."""
    from trendcast.models.coldstart import ColdStart

    params = {k: v for k, v in settings.items() if k != "train_on"}
    train = fold["train_launches" if settings.get("train_on") == "launches" else "train"]
    cs = ColdStart(
        n_periods=N_PERIODS,
        text_cols=("title", "description"),
        cat_cols=cat_cols,
        price_col="price",
        **params,
        **model,
    )
    start = time.perf_counter()
    cs.fit(train, static[static["unique_id"].isin(train["unique_id"].unique())])
    seconds = time.perf_counter() - start
    fc = cs.predict(fold["new"])
    paths = fc.pivot(index="unique_id", columns="step", values="ColdStart")
    return paths.reindex(fold["actual"].index).to_numpy(float), seconds, cs


def artefact_bytes(cs, workdir: Path) -> int:
    """Bytes to store beside the base model: the ridge coefficients, or the saved weights."""
    if cs.method == "ridge":
        return int(np.asarray(cs.coef_).nbytes + 8)
    path = cs.finetune_.save(workdir / f"{cs.finetune_.mode}.safetensors")
    return path.stat().st_size + int(np.asarray(cs.coef_).nbytes + 8)


def run(label, sales, static, cats, encoder, *, end, window, args) -> list[dict]:
    from trendcast.text.finetune import FineTunedTextRegressor

    folds = [split(sales, static, end - shift * window, window) for shift in VALID_FOLDS]
    test = split(sales, static, end, window)
    print(f"{label}: {len(test['actual'])} test launches from {test['cutoff']:%Y-%m-%d}")

    def valid_wape(settings: dict, **model) -> float:
        paths = [fit_predict(f, static, cats, settings, **model)[0] for f in folds]
        scores = [wape(p.sum(1), f["actual"].values) for p, f in zip(paths, folds, strict=True)]
        return float(np.mean(scores))

    frozen = {"method": "ridge", "encoder": encoder}
    grid = [args.settings] if args.settings else RIDGE_GRID
    valid, best = min(((valid_wape(s, **frozen), s) for s in grid), key=lambda s: s[0])
    print(f"  frozen ridge settings: {best} (validation WAPE {valid:.3f})", flush=True)
    workdir = Path(tempfile.mkdtemp())
    results = []
    line_up = {"frozen ridge": (frozen, valid)}

    def finetuned(mode: str, epochs: int, learning_rate: float | None) -> dict:
        regressor = FineTunedTextRegressor(
            model=args.text_model,
            mode=mode,
            epochs=epochs,
            learning_rate=learning_rate,
            max_seq_length=args.max_seq_length,
            head_alpha=best["alpha"],
            seed=0,
            device=args.device,
        )
        return {"method": "finetuned", "finetune": regressor}

    for mode in args.modes:
        if args.grid:
            scored = []
            for epochs, lr in FINETUNE_GRID[mode]:
                scored.append((valid_wape(best, **finetuned(mode, epochs, lr)), epochs, lr))
                print(f"  {mode} epochs={epochs} lr={lr}: validation WAPE {scored[-1][0]:.3f}")
            fold_wape, epochs, lr = min(scored)
            line_up[f"MiniLM {mode} epochs={epochs} lr={lr}"] = (
                finetuned(mode, epochs, lr),
                fold_wape,
            )
        else:
            model = finetuned(mode, args.epochs, None)
            line_up[f"MiniLM {mode}"] = (model, valid_wape(best, **model) if args.valid else None)
    for name, (model, fold_wape) in line_up.items():
        paths, seconds, cs = fit_predict(test, static, cats, best, **model)
        row = {
            "dataset": label,
            "method": name,
            "settings": ", ".join(f"{k}={v}" for k, v in best.items()),
            "valid_wape": None if fold_wape is None else round(fold_wape, 3),
            "test_wape": round(wape(paths.sum(axis=1), test["actual"].values), 3),
            "fit_seconds": round(seconds, 1),
            "device": args.device,  # of the encoder, frozen or fine-tuned
            "artefact_kb": round(artefact_bytes(cs, workdir) / 1024, 1),
            "best_epoch": getattr(getattr(cs, "finetune_", None), "best_epoch_", None),
            "n_train_texts": cs.ids_.size,
        }
        results.append(row)
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("shop", "retail"), required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=None, help="workspace for the embeddings")
    parser.add_argument("--modes", default="lora,full", help="fine-tuning modes to compare")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--valid", action="store_true", help="also fine-tune on the folds")
    parser.add_argument("--grid", action="store_true", help="choose FINETUNE_GRID on the folds")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--text-model", default="all-MiniLM-L6-v2", help="model name or folder")
    parser.add_argument(
        "--settings", type=_settings, default=None, help="frozen ridge settings, k=v,..."
    )
    parser.add_argument("--out", type=Path, default=None, help="write the table to this CSV")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from trendcast.text import TextEncoder

    encoder = TextEncoder(model=args.text_model, workspace=args.cache, device=args.device).fit()
    if args.dataset == "shop":
        sales, static, cats, _ = sample_shop()
        results = run(
            "sample shop", sales, static, cats, encoder, end=SHOP_END, window=SHOP_WINDOW, args=args
        )
    else:
        sales, static, cats, _ = online_retail(args.data)
        n_weeks = sales["ds"].nunique()
        results = run(
            "Online Retail", sales, static, cats, encoder, end=n_weeks, window=TEST_WEEKS, args=args
        )
    table = pd.DataFrame(results)
    print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


def _settings(text: str) -> dict:
    """``--settings``: one point of ``RIDGE_GRID``."""
    try:
        return grid_point(text, RIDGE_GRID)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


if __name__ == "__main__":
    main()
