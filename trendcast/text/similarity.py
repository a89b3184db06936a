"""Products like this one, and search over the catalogue by meaning, from title and description.

Both take the static frame (one row per series or per item, with ``title`` and ``description``)
and return its product rows, best first, with a ``score`` (cosine similarity of the text
embeddings, in [-1, 1]) and a ``rank`` (1 = best).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.text.encoder import cosine, default_encoder, fit_if_needed

__all__ = ["product_texts", "search_catalogue", "similar_products"]

TEXT_COLS = ("title", "description")


def product_texts(
    catalogue: Any,
    *,
    id_col: str | None = None,
    text_cols: tuple[str, ...] = TEXT_COLS,
    skip_empty: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per product and its text: the non-missing ``text_cols`` joined by ``". "``.

    Args:
        catalogue: static frame (pandas or polars) with ``id_col`` and ``text_cols``.
        id_col: the product id; by default ``item_id`` when the frame has it (a per-store
            static frame then gives each item once), else ``unique_id``.
        text_cols: text columns, at least one present; a missing or non-string value in one
            of them is skipped, a row with no text in any of them is an error.
        skip_empty: leave rows with no text out instead (their products are then absent).

    Returns:
        ``(products, texts)``: the first row of each product, in order of first appearance,
        and its text. Rows of one product must carry the same text.
    """
    df = to_pandas(catalogue, name="catalogue")
    if id_col is None:
        id_col = "item_id" if "item_id" in df.columns else "unique_id"
    if id_col not in df.columns:
        raise ValueError(
            f"catalogue has no id column '{id_col}' (columns: {list(df.columns)}); pass "
            "id_col= the column naming each product."
        )
    present = [c for c in text_cols if c in df.columns]
    if not present:
        raise ValueError(
            f"catalogue has none of the text columns {list(text_cols)} (columns: "
            f"{list(df.columns)}); pass text_cols= the columns holding product text."
        )
    if df.empty:
        raise ValueError("catalogue is empty: it needs at least one product row.")
    missing_id = np.flatnonzero(df[id_col].isna().to_numpy())
    if missing_id.size:
        raise ValueError(
            f"catalogue column '{id_col}' is missing in {missing_id.size} rows (positions "
            f"{missing_id[:5].tolist()}): give every product an id."
        )
    joined = [
        ". ".join(v.strip().rstrip(".") for v in values if isinstance(v, str) and v.strip())
        for values in zip(*(df[c].tolist() for c in present), strict=True)
    ]
    text = pd.Series(joined, index=df.index, dtype=object)
    empty = text == ""
    if skip_empty:
        df, text = df[~empty], text[~empty]
    elif empty.any():
        rows = df.loc[empty, id_col].astype(str).tolist()
        raise ValueError(
            f"{len(rows)} catalogue rows have no text in {present}: {id_col} {rows[:5]}"
            f"{' ...' if len(rows) > 5 else ''}. Fill in a title or leave those rows out."
        )
    per_id = pd.DataFrame({"id": df[id_col].to_numpy(), "text": text.to_numpy()})
    n_texts = per_id.groupby("id", sort=False, observed=True)["text"].nunique()
    if (n_texts > 1).any():
        ids = n_texts.index[n_texts > 1].astype(str).tolist()
        raise ValueError(
            f"{len(ids)} products have different texts on different rows: {id_col} {ids[:5]}. "
            "Give each product one title and description, or pass id_col='unique_id'."
        )
    first = ~df[id_col].duplicated().to_numpy()
    products = df.loc[first].reset_index(drop=True)
    return products, text[first].tolist()


def similar_products(
    catalogue: Any,
    item: Any,
    k: int = 5,
    *,
    encoder: Any = None,
    id_col: str | None = None,
    text_cols: tuple[str, ...] = TEXT_COLS,
    same: str | None = None,
) -> Any:
    """The ``k`` products whose text is closest to ``item``'s ("products like this one").

    Args:
        catalogue: static frame (pandas or polars) with an id and ``title``/``description``.
        item: id of the product to start from (a value of ``id_col``).
        k: how many products to return (fewer if the catalogue is smaller).
        encoder: an object with ``fit(texts)`` and ``encode(texts)`` giving unit rows;
            `default_encoder` when ``None``. An unfitted encoder is fitted on the catalogue.
        id_col: product id column; see `product_texts`.
        text_cols: text columns; see `product_texts`.
        same: optional column (e.g. ``"cat_id"``): only products sharing ``item``'s value.

    Returns:
        The product rows (same frame type as ``catalogue``), best first, without ``item``
        itself, with ``score`` (cosine similarity) and ``rank``.

    Example:
        >>> from trendcast.text import HashingTfidf
        >>> cat = pd.DataFrame({"item_id": ["a", "b", "c"],
        ...     "title": ["Red wool scarf", "Beach towel", "Blue wool scarf"]})
        >>> similar_products(cat, "a", k=1, encoder=HashingTfidf())["item_id"].tolist()
        ['c']
    """
    _check_k(k)
    products, texts = product_texts(catalogue, id_col=id_col, text_cols=text_cols)
    key = id_col or _id_col(products)
    matches = np.flatnonzero(products[key].astype(str).to_numpy() == str(item))
    if matches.size == 0:
        raise ValueError(
            f"item {item!r} is not in the catalogue's '{key}' column ({len(products)} products, "
            f"e.g. {products[key].astype(str).head(3).tolist()})."
        )
    if same is not None and same not in products.columns:
        raise ValueError(f"`same={same!r}` is not a catalogue column ({list(products.columns)}).")
    rows = fit_if_needed(encoder or default_encoder(), texts).encode(texts)
    scores = cosine(rows[matches[:1]], rows)[0]
    keep = np.ones(len(products), dtype=bool)
    keep[matches[0]] = False
    if same is not None:
        keep &= (products[same] == products[same].iloc[matches[0]]).to_numpy()
    return like(_top(products, scores, keep, k), catalogue)


def search_catalogue(
    catalogue: Any,
    query: str,
    k: int = 5,
    *,
    encoder: Any = None,
    id_col: str | None = None,
    text_cols: tuple[str, ...] = TEXT_COLS,
) -> Any:
    """The ``k`` products whose text best matches ``query`` by meaning (semantic search).

    Args:
        catalogue: static frame (pandas or polars) with an id and ``title``/``description``.
        query: what the person looks for, e.g. ``"winter kitchen items"``.
        k: how many products to return (fewer if the catalogue is smaller).
        encoder: as in `similar_products`. With `HashingTfidf` only shared words count.
        id_col: product id column; see `product_texts`.
        text_cols: text columns; see `product_texts`.

    Returns:
        The product rows (same frame type as ``catalogue``), best first, with ``score``
        (cosine similarity to the query) and ``rank``.

    Example:
        >>> from trendcast.text import HashingTfidf
        >>> cat = pd.DataFrame({"item_id": ["a", "b"], "title": ["Wool scarf", "Beach towel"]})
        >>> found = search_catalogue(cat, "towel for the beach", k=1, encoder=HashingTfidf())
        >>> found["item_id"].tolist()
        ['b']
    """
    _check_k(k)
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"`query` must be a non-empty string, got {query!r}.")
    products, texts = product_texts(catalogue, id_col=id_col, text_cols=text_cols)
    enc = fit_if_needed(encoder or default_encoder(), texts)
    scores = cosine(enc.encode([query]), enc.encode(texts))[0]
    return like(_top(products, scores, np.ones(len(products), dtype=bool), k), catalogue)


def _top(products: pd.DataFrame, scores: np.ndarray, keep: np.ndarray, k: int) -> pd.DataFrame:
    candidates = np.flatnonzero(keep)
    # Stable sort: equal scores keep catalogue order, so results are reproducible.
    order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
    out = products.iloc[order].reset_index(drop=True)
    return out.assign(score=scores[order], rank=np.arange(1, len(order) + 1))


def _check_k(k: Any) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"`k` must be a positive integer, got {k!r}.")


def _id_col(df: pd.DataFrame) -> str:
    return "item_id" if "item_id" in df.columns else "unique_id"
