"""A tiny sentence model saved on disk, and no network for Hugging Face."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

WORDS = "red blue wool scarf beach towel summer winter kitchen knife premium basic".split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer BERT with 32 dimensions and a 17-word vocabulary, saved as a sentence model.

    transformers 5 ignores ``vocab_file`` in ``BertTokenizerFast``, leaving every word unknown;
    there the vocabulary is given as a mapping.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny")
    tokens = [*SPECIAL, *WORDS]
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(tokens) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    if tokenizer("red")["input_ids"][1] != tokens.index("red"):
        tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)})
    tokenizer.save_pretrained(root / "hf")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokens),
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
