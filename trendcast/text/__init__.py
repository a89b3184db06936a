"""Product text: sentence embeddings (cached in the workspace), similarity and search.

torch and sentence-transformers load only when a model is first used.
"""

from trendcast.text.encoder import (
    BUNDLED_MODEL,
    HashingTfidf,
    TextEncoder,
    check_texts,
    default_encoder,
    text_extra_installed,
)
from trendcast.text.similarity import product_texts, search_catalogue, similar_products

__all__ = [
    "BUNDLED_MODEL",
    "HashingTfidf",
    "TextEncoder",
    "check_texts",
    "default_encoder",
    "product_texts",
    "search_catalogue",
    "similar_products",
    "text_extra_installed",
]
