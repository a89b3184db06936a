"""A tiny sentence model saved on disk, and no network for Hugging Face."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

WORDS = "red blue wool scarf beach towel summer winter kitchen knife premium basic".split()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer BERT with 32 dimensions and a 30-word vocabulary, saved as a sentence model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(root / "hf")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(root / "hf")
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 5.4
        from sentence_transformers.models import Pooling, Transformer
    word = Transformer(str(root / "hf"), max_seq_length=16)
    pooling = Pooling(32, pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(root / "st"))
    return str(root / "st")
