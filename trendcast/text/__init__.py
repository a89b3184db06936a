"""Product text: sentence embeddings (cached in the workspace), similarity and search, text
features for the global forecasters, review scores, and an encoder fine-tuned to predict
demand from text.

torch, sentence-transformers and peft load only when a model is first used.
"""

from trendcast.text.encoder import (
    BUNDLED_MODEL,
    HashingTfidf,
    TextEncoder,
    check_texts,
    default_encoder,
    text_extra_installed,
)
from trendcast.text.features import text_features
from trendcast.text.finetune import FineTunedTextRegressor
from trendcast.text.reviews import ReviewScorer, review_covariate
from trendcast.text.similarity import product_texts, search_catalogue, similar_products

__all__ = [
    "BUNDLED_MODEL",
    "FineTunedTextRegressor",
    "ReviewScorer",
    "HashingTfidf",
    "TextEncoder",
    "check_texts",
    "default_encoder",
    "product_texts",
    "review_covariate",
    "search_catalogue",
    "similar_products",
    "text_features",
    "text_extra_installed",
]
