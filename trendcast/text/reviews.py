"""Review text as a quality signal: a score per review, and its trailing mean per series.

`ReviewScorer` learns the star rating from the review text (ridge regression on frozen text
embeddings), so reviews without stars, or with text that says more than the stars, get a
score on the same 1..5 scale. `review_covariate` turns scored reviews into a dynamic covariate:
per series and period, the mean score of the reviews of the last ``window`` days and their
number, as a shopper would see them then. `trendcast.models.LightGBM` uses such columns of
``dynamic`` as of ``covariate_lag`` periods back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.errors import NotFittedError
from trendcast.text.encoder import default_encoder, fit_if_needed

__all__ = ["ReviewScorer", "review_covariate"]


class ReviewScorer:
    """Predicts a review's rating from its text: ridge regression on text embeddings.

    Args:
        encoder: text encoder with ``fit(texts)``/``encode(texts)`` (dense or scipy rows);
            `trendcast.text.default_encoder` when ``None``.
        alpha: ridge penalty.
        text_col: the review text column.
        rating_col: the rating column (numbers, e.g. 1..5 stars).

    Example:
        >>> from trendcast.text import HashingTfidf
        >>> reviews = pd.DataFrame({"text": ["love it", "awful", "love it, great", "awful, broke"],
        ...     "rating": [5, 1, 5, 1]})
        >>> scorer = ReviewScorer(encoder=HashingTfidf(), alpha=0.1).fit(reviews)
        >>> scorer.score(pd.DataFrame({"text": ["love it", "broke"]})).round(1).tolist()
        [4.9, 2.2]
    """

    def __init__(
        self,
        *,
        encoder: Any = None,
        alpha: float = 1.0,
        text_col: str = "text",
        rating_col: str = "rating",
    ):
        self.encoder = encoder
        self.alpha = alpha
        self.text_col = text_col
        self.rating_col = rating_col

    def fit(self, reviews: Any) -> ReviewScorer:
        """Learns the rating from the text of ``reviews`` (rows with a rating)."""
        if not self.alpha > 0:
            raise ValueError(f"`alpha` must be > 0, got {self.alpha!r}.")
        df = self._frame(reviews, need=(self.text_col, self.rating_col))
        rating = pd.to_numeric(df[self.rating_col], errors="coerce").to_numpy(float)
        if not np.isfinite(rating).all():
            bad = np.flatnonzero(~np.isfinite(rating))[:5].tolist()
            raise ValueError(
                f"reviews column '{self.rating_col}' must be numbers; rows {bad} are not. "
                "Leave reviews without a rating out of fit (score them afterwards)."
            )
        if len(df) < 2:
            raise ValueError(f"need at least 2 rated reviews to learn from, got {len(df)}.")
        texts = df[self.text_col].tolist()
        self.encoder_ = fit_if_needed(self.encoder or default_encoder(), texts)
        rows = self.encoder_.encode(texts)
        self.intercept_ = float(rating.mean())
        self.lower_, self.upper_ = float(rating.min()), float(rating.max())
        self.coef_ = _ridge(rows, rating - self.intercept_, self.alpha)
        return self

    def score(self, reviews: Any) -> np.ndarray:
        """Predicted ratings of ``reviews`` (clipped to the range seen in fit), one per row."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("ReviewScorer is not fitted: call fit(reviews) first.")
        df = self._frame(reviews, need=(self.text_col,))
        if df.empty:
            return np.zeros(0)
        rows = self.encoder_.encode(df[self.text_col].tolist())
        pred = self.intercept_ + np.asarray(rows @ self.coef_).ravel()
        return np.clip(pred, self.lower_, self.upper_)

    def _frame(self, reviews: Any, need: tuple[str, ...]) -> pd.DataFrame:
        df = to_pandas(reviews, name="reviews")
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(
                f"reviews has no column(s) {missing} (columns: {list(df.columns)}); pass "
                "text_col= / rating_col= naming them."
            )
        return df.reset_index(drop=True)


def review_covariate(
    reviews: Any,
    index: Any,
    *,
    score_col: str = "review_score",
    window: int = 90,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> Any:
    """Per row of ``index``: mean ``score_col`` and count of the series' last ``window`` days.

    Args:
        reviews: one row per review with ``id_col``, ``time_col`` and ``score_col`` (e.g.
            `ReviewScorer.score` or the rating itself).
        index: the (series, period) rows to fill, e.g. the ``dynamic`` frame.
        score_col: the score column of ``reviews``; also the name of the mean in the output.
        window: days counted back from each row's date (the review day included, later days
            not).
        id_col, time_col: column names.

    Returns:
        ``index`` (same frame type) with ``score_col`` (NaN where the series had no review in
        the window) and ``{score_col}_count``.

    Example:
        >>> rev = pd.DataFrame({"unique_id": ["a", "a"], "review_score": [5.0, 3.0],
        ...     "ds": pd.to_datetime(["2024-01-01", "2024-01-05"])})
        >>> idx = pd.DataFrame({"unique_id": "a",
        ...     "ds": pd.to_datetime(["2024-01-03", "2024-01-06", "2024-01-09"])})
        >>> review_covariate(rev, idx, window=6)["review_score"].tolist()
        [5.0, 4.0, 3.0]
    """
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"`window` must be a positive number of days, got {window!r}.")
    rev = to_pandas(reviews, name="reviews")
    out = to_pandas(index, name="index")
    for frame, name, cols in (
        (rev, "reviews", (id_col, time_col, score_col)),
        (out, "index", (id_col, time_col)),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} has no column(s) {missing} (columns: {list(frame.columns)}).")
    score = pd.to_numeric(rev[score_col], errors="coerce").to_numpy(float)
    if not np.isfinite(score).all():
        raise ValueError(f"reviews column '{score_col}' has missing or non-numeric values.")
    rev_day = pd.to_datetime(rev[time_col]).dt.normalize().to_numpy("datetime64[D]")
    at = pd.to_datetime(out[time_col]).dt.normalize().to_numpy("datetime64[D]")
    mean = np.full(len(out), np.nan)
    count = np.zeros(len(out))
    rev_ids = rev[id_col].astype(str).to_numpy()
    out_ids = out[id_col].astype(str).to_numpy()
    order = np.lexsort((rev_day, rev_ids))
    rev_ids, rev_day, score = rev_ids[order], rev_day[order], score[order]
    starts = np.flatnonzero(np.r_[True, rev_ids[1:] != rev_ids[:-1]])
    bounds = dict(
        zip(rev_ids[starts], zip(starts, np.r_[starts[1:], len(rev_ids)], strict=True), strict=True)
    )
    for uid, rows in pd.Series(np.arange(len(out))).groupby(out_ids):
        if uid not in bounds:
            continue
        lo, hi = bounds[uid]
        days, cum = rev_day[lo:hi], np.r_[0.0, np.cumsum(score[lo:hi])]
        when = at[rows.to_numpy()]
        last = np.searchsorted(days, when, side="right")
        first = np.searchsorted(days, when - np.timedelta64(window - 1, "D"), side="left")
        n = last - first
        count[rows.to_numpy()] = n
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[rows.to_numpy()] = np.where(n > 0, (cum[last] - cum[first]) / n, np.nan)
    out = out.assign(**{score_col: mean, f"{score_col}_count": count})
    return like(out, index)


def _ridge(rows: Any, target: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients: iterative (LSQR) for sparse rows, the normal equations otherwise."""
    from scipy import sparse

    if sparse.issparse(rows):
        from scipy.sparse.linalg import lsqr

        return lsqr(rows, target, damp=float(np.sqrt(alpha)), atol=1e-10, btol=1e-10)[0]
    rows = np.asarray(rows, float)
    if rows.shape[1] > rows.shape[0]:
        dual = np.linalg.solve(rows @ rows.T + alpha * np.eye(rows.shape[0]), target)
        return rows.T @ dual
    return np.linalg.solve(rows.T @ rows + alpha * np.eye(rows.shape[1]), rows.T @ target)
