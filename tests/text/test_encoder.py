import subprocess
import sys
import warnings

import numpy as np
import pytest

from trendcast.data.store import Workspace
from trendcast.errors import NotFittedError
from trendcast.text import HashingTfidf, TextEncoder, check_texts, default_encoder
from trendcast.text.encoder import BUNDLED_MODEL


def test_tiny_model_loads_by_path_and_gives_unit_rows(tiny_model):
    enc = TextEncoder(model=tiny_model, batch_size=2)
    rows = enc.encode(["red wool scarf", "summer beach towel", "kitchen knife"])
    assert rows.shape == (3, 32) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    assert enc.model_id_.startswith("path:")
    # Deterministic: a fresh encoder gives the same vectors, whatever the batch.
    again = TextEncoder(model=tiny_model, batch_size=64).encode(["kitchen knife", "red wool scarf"])
    np.testing.assert_allclose(again, rows[[2, 0]], atol=1e-5)


def test_workspace_cache_means_nothing_is_encoded_twice(tiny_model, tmp_path):
    ws = Workspace(tmp_path / "shop.duckdb")
    texts = ["red wool scarf", "winter scarf", "red wool scarf", "basic kitchen knife"]
    first = TextEncoder(model=tiny_model, workspace=ws)
    rows = first.encode(texts)
    assert first.n_encoded_ == 3  # the repeated text is encoded once
    table = ws.read("text_embeddings")
    assert len(table) == 3 and set(table["dim"]) == {32}

    second = TextEncoder(model=tiny_model, workspace=tmp_path / "shop.duckdb")
    again = second.encode(texts)
    assert second.n_encoded_ == 0
    np.testing.assert_array_equal(again, rows)
    # Only the new text is encoded, and the cache grows by one row.
    second.encode(["premium beach towel", "winter scarf"])
    assert second.n_encoded_ == 1 and len(ws.read("text_embeddings")) == 4


def test_cache_keys_depend_on_the_model(tiny_model, tmp_path):
    ws = Workspace(tmp_path / "ws.duckdb")
    TextEncoder(model=tiny_model, workspace=ws).encode(["red scarf"])
    other = TextEncoder(model=tiny_model, workspace=ws, prefix="passage: ")
    other.encode(["red scarf"])
    assert other.n_encoded_ == 1


def test_long_texts_are_truncated_to_the_model_window(tiny_model):
    enc = TextEncoder(model=tiny_model)
    short = enc.encode(["red wool scarf " * 5])
    # Everything past the 16-token window (and past 8 characters per token) is cut off.
    long = enc.encode(["red wool scarf " * 5 + "kitchen knife " * 200_000])
    np.testing.assert_allclose(short, long, atol=1e-5)
    assert enc.max_chars_ == 8 * 16


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["ok", None], r"\[1\] None"),
        (["ok", float("nan")], r"\[1\] nan"),
        (["ok", "   "], "missing, empty or non-string"),
        (["ok", 3], r"\[1\] 3"),
        ("one string", "wrap it"),
    ],
)
def test_bad_texts_are_refused_with_their_positions(texts, message):
    with pytest.raises(ValueError, match=message):
        check_texts(texts)


def test_bad_settings_are_refused(tiny_model):
    with pytest.raises(ValueError, match="batch_size"):
        TextEncoder(model=tiny_model, batch_size=0).encode(["red"])
    with pytest.raises(ValueError, match="model"):
        TextEncoder(model="").fit()


def test_bundled_minilm_loads_offline_and_ranks_by_meaning():
    enc = TextEncoder()
    rows = enc.encode(["warm wool winter scarf", "knitted scarf for cold days", "beach towel"])
    assert enc.model_id_ == BUNDLED_MODEL and rows.shape == (3, 384)
    sims = rows @ rows.T
    assert sims[0, 1] > sims[0, 2] + 0.2


def test_the_english_model_warns_once_on_texts_in_other_scripts():
    enc = TextEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["red wool scarf", "mañana café mug", "Шарф red wool scarf and hat"])
    with pytest.warns(UserWarning, match="multilingual"):
        enc.encode(["红色羊毛围巾", "蓝色羊毛围巾", "red wool scarf"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["沙滩毛巾"])
    with pytest.warns(UserWarning, match="multilingual"):
        TextEncoder(max_tokens=32).encode(["红色羊毛围巾"])


def test_default_encoder_is_the_sentence_model_here():
    assert isinstance(default_encoder(), TextEncoder)


def test_hashing_tfidf_weights_rare_words_and_is_stable():
    corpus = ["wool scarf red", "wool scarf blue", "wool hat green", "beach towel"]
    tf = HashingTfidf(n_features=1024).fit(corpus)
    rows = tf.encode(corpus)
    np.testing.assert_allclose(np.sqrt(rows.multiply(rows).sum(axis=1)).A.ravel(), 1.0, rtol=1e-5)
    sims = (rows @ rows.T).toarray()
    assert sims[0, 1] > sims[0, 2] > sims[0, 3]
    # Same vectors in another process: the hash is not Python's salted hash().
    code = (
        "from trendcast.text import HashingTfidf;"
        "m = HashingTfidf(n_features=1024).fit(['wool scarf red']).encode(['wool scarf red']);"
        "print(sorted(m.indices.tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(tf.encode(["wool scarf red"]).indices.tolist()))
    with pytest.raises(NotFittedError, match="not fitted"):
        HashingTfidf().encode(["x"])


def test_hashing_tfidf_reads_chinese_by_characters():
    # red wool scarf, blue wool scarf, beach towel, stainless steel cup
    corpus = ["红色羊毛围巾", "蓝色羊毛围巾", "沙滩毛巾", "不锈钢水杯"]
    rows = HashingTfidf(n_features=1024).fit(corpus).encode(corpus)
    sims = (rows @ rows.T).toarray()
    assert sims[0, 1] > sims[0, 2] > sims[0, 3] == 0.0


def test_import_trendcast_stays_light():
    code = (
        "import sys, trendcast, trendcast.text, trendcast.models.coldstart;"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_without_the_text_extra_the_hashing_tfidf_stands_in(monkeypatch):
    import trendcast.text.encoder as encoder

    monkeypatch.setattr(encoder, "text_extra_installed", lambda: False)
    assert isinstance(encoder.default_encoder(), HashingTfidf)
    with pytest.raises(ImportError, match=r"trendcast\[text\]"):
        TextEncoder().fit()
