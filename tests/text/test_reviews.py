import numpy as np
import pandas as pd
import pytest

from trendcast.errors import NotFittedError
from trendcast.text import HashingTfidf
from trendcast.text.reviews import ReviewScorer, review_covariate

GOOD = ["love it", "excellent quality", "highly recommend"]
BAD = ["awful, broke quickly", "poor quality", "waste of money"]


def rated(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.5
    text = [rng.choice(GOOD if g else BAD) for g in good]
    return pd.DataFrame({"text": text, "rating": np.where(good, 5, 1)})


def test_scorer_learns_the_rating_from_the_words():
    scorer = ReviewScorer(encoder=HashingTfidf(), alpha=0.1).fit(rated())
    score = scorer.score(pd.DataFrame({"text": ["love it", "poor quality"]}))
    assert score[0] > 4.5 and score[1] < 1.5
    assert scorer.score(pd.DataFrame({"text": []})).size == 0


def test_scorer_refuses_bad_input():
    with pytest.raises(ValueError, match="must be numbers"):
        ReviewScorer(encoder=HashingTfidf()).fit(rated().assign(rating=[np.nan] * 120))
    with pytest.raises(ValueError, match="no column"):
        ReviewScorer(encoder=HashingTfidf()).fit(rated().drop(columns="rating"))
    with pytest.raises(NotFittedError, match="not fitted"):
        ReviewScorer().score(rated())


def test_covariate_is_the_trailing_mean_of_past_reviews_only():
    reviews = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-20", "2024-01-02"]),
            "review_score": [5.0, 1.0, 4.0, 2.0],
        }
    )
    index = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b", "c"],
            "ds": pd.to_datetime(
                ["2023-12-31", "2024-01-02", "2024-01-05", "2024-01-20", "2024-01-02", "2024-01-02"]
            ),
        }
    )
    out = review_covariate(reviews, index, window=10)
    np.testing.assert_allclose(out["review_score"], [np.nan, 5.0, 3.0, 4.0, 2.0, np.nan])
    assert out["review_score_count"].tolist() == [0, 1, 2, 1, 1, 0]
    with pytest.raises(ValueError, match="window"):
        review_covariate(reviews, index, window=0)
