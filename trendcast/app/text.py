"""Use cases on product text: review scores as a covariate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trendcast.data.contract import ShopData


@dataclass
class ReviewCovariates:
    """The dynamic frame with ``review_score`` and how well text predicts held-out ratings."""

    frame: Any
    held_out_error: float  # mean absolute error, in stars, on a fifth of the written reviews
    mean_rating_error: float  # the same for the mean rating alone
    n_reviews: int


def review_covariates(data: ShopData, *, encoder: Any = None, window: int = 28) -> ReviewCovariates:
    """Scores every review from its text (`trendcast.text.reviews.ReviewScorer`) and turns the
    scores into ``review_score``, the mean over each series' last ``window`` days, on the rows
    of the dynamic frame (or of the sales without one). A review without text keeps its
    rating as its score. The text model is first checked on a held-out fifth of the reviews."""
    from trendcast.text.reviews import ReviewScorer, review_covariate

    cols = data.columns
    if data.reviews is None:
        raise ValueError("reviews learns from rated reviews: pass --reviews FILE.")
    reviews = data.reviews.reset_index(drop=True)
    written = reviews[reviews["text"].str.strip() != ""]
    if len(written) < 5:
        raise ValueError("reviews learns the rating from review text: give at least 5 with text.")
    held_out = np.random.default_rng(0).permutation(written.index)[: len(written) // 5]
    learn = written.drop(index=held_out)
    check = ReviewScorer(encoder=encoder).fit(learn).score(written.loc[held_out])
    truth = written.loc[held_out, "rating"].to_numpy()
    score = reviews["rating"].to_numpy(dtype=float)
    score[written.index] = ReviewScorer(encoder=encoder).fit(written).score(written)
    index = data.dynamic if data.dynamic is not None else data.sales[[cols.id_col, cols.time_col]]
    frame = review_covariate(
        reviews.assign(review_score=score),
        index,
        window=window,
        id_col=cols.id_col,
        time_col=cols.time_col,
    )
    return ReviewCovariates(
        frame,
        held_out_error=float(np.abs(check - truth).mean()),
        mean_rating_error=float(np.abs(learn["rating"].mean() - truth).mean()),
        n_reviews=len(reviews),
    )
