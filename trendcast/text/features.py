"""Product text as numeric static features for the global forecasters.

`text_features` adds to a static frame a few numeric columns from the products' text: the
leading principal components of their sentence embeddings (PCA by numpy's SVD), and, given
sales, the demand level of the ``k`` established products whose text is closest. Numeric
static columns are features of `trendcast.models.LightGBM`, so the frame returned can be passed
as its ``static`` as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.text.encoder import default_encoder, fit_if_needed, nearest
from trendcast.text.similarity import TEXT_COLS, product_texts

__all__ = ["text_features"]


def text_features(
    static: Any,
    *,
    encoder: Any = None,
    n_components: int = 8,
    sales: Any = None,
    k: int = 0,
    min_history: int = 56,
    text_cols: tuple[str, ...] = TEXT_COLS,
    product_col: str | None = None,
    prefix: str = "text",
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> Any:
    """``static`` with numeric text columns: embedding components and neighbours' demand.

    Args:
        static: one row per series with ``id_col`` and ``text_cols`` (pandas or polars).
        encoder: text encoder with ``fit(texts)``/``encode(texts)`` (dense or scipy rows);
            `trendcast.text.default_encoder` when ``None``.
        n_components: principal components kept, as ``{prefix}_pc1`` ... (fewer when there
            are fewer distinct products). The components are those of the products' embeddings
            (one per product, centred), so each product's columns are its coordinates.
        sales: long frame ``id_col, time_col, target_col`` of the history (only what is known
            when forecasting: give the training sales). With ``k > 0``, adds
            ``{prefix}_knn_level``: the mean ``log(1 + demand per period)`` of the ``k``
            products with the closest text among those with at least ``min_history`` periods
            of sales (a product's own rows never count).
        k: neighbours for ``{prefix}_knn_level``; 0 leaves it out.
        min_history: periods of sales (per series, first to last row) for a product to count
            as established.
        text_cols: text columns, joined (see `trendcast.text.product_texts`).
        product_col: the product id shared by a product's series (e.g. one per store);
            ``item_id`` when the frame has it, else ``id_col``.
        prefix: prefix of the new column names.
        id_col, time_col, target_col: column names.

    Returns:
        ``static`` (same frame type) with the new columns.

    Example:
        >>> from trendcast.text import HashingTfidf
        >>> static = pd.DataFrame({"unique_id": ["a", "b", "c"],
        ...     "title": ["Red wool scarf", "Blue wool scarf", "Beach towel"]})
        >>> out = text_features(static, encoder=HashingTfidf(), n_components=2)
        >>> out.columns.tolist()
        ['unique_id', 'title', 'text_pc1', 'text_pc2']
    """
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"`n_components` must be a positive integer, got {n_components!r}.")
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"`k` must be an integer >= 0, got {k!r}.")
    if k and sales is None:
        raise ValueError("k > 0 needs `sales` (the history) to measure neighbours' demand.")
    df = to_pandas(static, name="static")
    if id_col not in df.columns:
        raise ValueError(f"static has no column '{id_col}' (columns: {list(df.columns)}).")
    key = product_col or ("item_id" if "item_id" in df.columns else id_col)
    clash = [c for c in df.columns if c.startswith(f"{prefix}_")]
    if clash:
        raise ValueError(
            f"static already has columns {clash} starting with '{prefix}_'; drop them or pass "
            "another prefix."
        )
    products, texts = product_texts(df, id_col=key, text_cols=text_cols)
    rows = fit_if_needed(encoder or default_encoder(), texts).encode(texts)
    dense = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, np.float64)
    centred = dense - dense.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    keep = int(min(n_components, np.sum(s > 1e-9 * max(s.max(initial=0.0), 1e-300))))
    scores = u[:, :keep] * s[:keep]
    # SVD signs are arbitrary: flip each component so that the first product scores >= 0.
    signs = np.where(scores[0] < 0, -1.0, 1.0) if keep else np.ones(0)
    columns = {f"{prefix}_pc{j + 1}": scores[:, j] * signs[j] for j in range(keep)}
    if k:
        columns[f"{prefix}_knn_level"] = _neighbour_level(
            df, products, key, rows, sales, k, min_history, id_col, time_col, target_col
        )
    per_product = pd.DataFrame(columns, index=products[key].to_numpy())
    added = per_product.reindex(df[key].to_numpy())
    added.index = df.index
    return like(pd.concat([df, added], axis=1), static)


def _neighbour_level(
    df, products, key, rows, sales, k, min_history, id_col, time_col, target_col
) -> np.ndarray:
    """Mean log level of the ``k`` closest established products (other than each itself)."""
    hist = to_pandas(sales, name="sales")
    for col in (id_col, time_col, target_col):
        if col not in hist.columns:
            raise ValueError(f"sales has no column '{col}' (columns: {list(hist.columns)}).")
    y = pd.to_numeric(hist[target_col], errors="coerce")
    if y.isna().any() or (y < 0).any():
        raise ValueError(
            f"sales column '{target_col}' must be numbers >= 0; fix the missing or negative "
            "values (trendcast.validate reports them)."
        )
    to_product = pd.Series(df[key].to_numpy(), index=df[id_col].to_numpy())
    hist = hist.assign(_product=hist[id_col].map(to_product), _y=y.to_numpy(float))
    per_series = hist.groupby(id_col, observed=True).agg(
        product=("_product", "first"), n=("_y", "size"), level=("_y", "mean")
    )
    established = per_series[(per_series["n"] >= min_history) & per_series["product"].notna()]
    level = np.log1p(established.groupby("product")["level"].mean())
    index = pd.Index(products[key])
    members = index.get_indexer(level.index)
    if members.size == 0:
        raise ValueError(
            f"no product has {min_history} periods of sales to serve as a neighbour; lower "
            "min_history or give more history."
        )
    own = np.full(len(index), -1)
    own[members] = np.arange(members.size)  # a product is not its own neighbour
    picked, sims = nearest(rows, rows[members], k, exclude=own)
    values = level.to_numpy(float)[picked]
    valid = sims > -np.inf
    return np.where(
        valid.any(axis=1), (values * valid).sum(1) / np.maximum(valid.sum(1), 1), np.nan
    )
