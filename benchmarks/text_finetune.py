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

Reported per method: validation WAPE (mean of the folds), test WAPE, seconds to fit on the
test fold (one torch thread), and the size of what must be stored beside the base model
(ridge coefficients; adapters and head; the whole encoder and head).

Run: ``.venv/bin/python benchmarks/text_finetune.py --dataset shop --out
benchmarks/results/text_finetune_shop.csv`` (and ``--dataset retail``); ``--epochs``,
``--max-seq-length`` trade accuracy for time.
"""

from __future__ import annotations

import argparse
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
    online_retail,
    sample_shop,
    split,
    wape,
)


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
    scored = []
    for settings in RIDGE_GRID:
        per_fold = [
            wape(
                fit_predict(f, static, cats, settings, method="ridge", encoder=encoder)[0].sum(1),
                f["actual"].values,
            )
            for f in folds
        ]
        scored.append((float(np.mean(per_fold)), settings))
    valid, best = min(scored, key=lambda s: s[0])
    print(f"  frozen ridge chosen on validation: {best} (WAPE {valid:.3f})", flush=True)
    workdir = Path(tempfile.mkdtemp())
    results = []
    line_up = {"frozen ridge": {"method": "ridge", "encoder": encoder}}
    for mode in args.modes:
        regressor = FineTunedTextRegressor(
            mode=mode,
            epochs=args.epochs,
            max_seq_length=args.max_seq_length,
            head_alpha=best["alpha"],
            seed=0,
        )
        line_up[f"MiniLM {mode}"] = {"method": "finetuned", "finetune": regressor}
    for name, model in line_up.items():
        fold_wape = valid if name == "frozen ridge" else None
        if name != "frozen ridge" and args.valid:
            per_fold = [
                wape(fit_predict(f, static, cats, best, **model)[0].sum(1), f["actual"].values)
                for f in folds
            ]
            fold_wape = float(np.mean(per_fold))
        paths, seconds, cs = fit_predict(test, static, cats, best, **model)
        row = {
            "dataset": label,
            "method": name,
            "settings": ", ".join(f"{k}={v}" for k, v in best.items()),
            "valid_wape": None if fold_wape is None else round(fold_wape, 3),
            "test_wape": round(wape(paths.sum(axis=1), test["actual"].values), 3),
            "fit_seconds": round(seconds, 1),
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
    parser.add_argument("--out", type=Path, default=None, help="write the table to this CSV")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from trendcast.text import TextEncoder

    cache = args.cache or Path(tempfile.mkdtemp()) / "text_finetune.duckdb"
    encoder = TextEncoder(workspace=cache).fit()
    if args.dataset == "shop":
        sales, static, cats = sample_shop()
        results = run(
            "sample shop", sales, static, cats, encoder, end=SHOP_END, window=SHOP_WINDOW, args=args
        )
    else:
        sales, static, cats = online_retail(args.data)
        n_weeks = sales["ds"].nunique()
        results = run(
            "Online Retail", sales, static, cats, encoder, end=n_weeks, window=TEST_WEEKS, args=args
        )
    table = pd.DataFrame(results)
    print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
