import numpy as np
import pandas as pd
import polars as pl
import pytest

from trendcast.text import HashingTfidf
from trendcast.text.features import text_features


def catalogue() -> pd.DataFrame:
    """Two stores per item; wool items sell 10 a day, beach items 1."""
    titles = [
        "red wool scarf",
        "blue wool scarf",
        "wool hat",
        "beach towel",
        "beach ball",
        "new wool",
    ]
    rows = [
        {"unique_id": f"i{i}_S{s}", "item_id": f"i{i}", "store_id": f"S{s}", "title": t}
        for i, t in enumerate(titles)
        for s in (1, 2)
    ]
    return pd.DataFrame(rows)


def history(static: pd.DataFrame, days: int = 60) -> pd.DataFrame:
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    frames = []
    for uid, title in zip(static["unique_id"], static["title"], strict=True):
        n = 5 if title == "new wool" else days  # the new item is too young to be a neighbour
        level = 10.0 if "wool" in title else 1.0
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds[-n:], "y": level}))
    return pd.concat(frames, ignore_index=True)


def test_components_are_per_product_and_centred():
    static = catalogue()
    out = text_features(static, encoder=HashingTfidf(), n_components=3)
    pcs = [f"text_pc{j}" for j in (1, 2, 3)]
    assert out.columns.tolist() == [*static.columns, *pcs]
    per_item = out.groupby("item_id")[pcs].nunique()
    assert (per_item == 1).all().all()  # both stores of an item get the same values
    first = out.drop_duplicates("item_id")[pcs].to_numpy()
    np.testing.assert_allclose(first.mean(axis=0), 0.0, atol=1e-9)
    assert first[0, 0] >= 0


def test_knn_level_is_the_log_level_of_the_closest_established_products():
    static = catalogue()
    out = text_features(
        static, encoder=HashingTfidf(), n_components=2, sales=history(static), k=1, min_history=30
    )
    level = out.drop_duplicates("item_id").set_index("title")["text_knn_level"]
    assert level["new wool"] == pytest.approx(np.log1p(10.0))
    assert level["beach towel"] == pytest.approx(np.log1p(1.0))  # the ball, not itself
    assert level["red wool scarf"] == pytest.approx(np.log1p(10.0))


def test_knn_level_when_each_series_is_its_own_product():
    static = catalogue().query("store_id == 'S1'").drop(columns=["item_id", "store_id"])
    out = text_features(
        static, encoder=HashingTfidf(), n_components=2, sales=history(static), k=1, min_history=30
    )
    level = out.set_index("title")["text_knn_level"]
    assert level["new wool"] == pytest.approx(np.log1p(10.0))
    assert level["beach towel"] == pytest.approx(np.log1p(1.0))


def test_polars_in_polars_out_and_bad_input():
    static = catalogue()
    out = text_features(pl.from_pandas(static), encoder=HashingTfidf(), n_components=2)
    assert isinstance(out, pl.DataFrame)
    with pytest.raises(ValueError, match="n_components"):
        text_features(static, encoder=HashingTfidf(), n_components=0)
    with pytest.raises(ValueError, match="needs `sales`"):
        text_features(static, encoder=HashingTfidf(), k=3)
    with pytest.raises(ValueError, match="already has columns"):
        text_features(static.assign(text_pc1=1.0), encoder=HashingTfidf())
    with pytest.raises(ValueError, match="min_history"):
        text_features(static, encoder=HashingTfidf(), sales=history(static), k=2, min_history=999)
