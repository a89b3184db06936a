import numpy as np
import pandas as pd
import pytest

from trendcast.data.simulate import simulate_shop
from trendcast.text import (
    HashingTfidf,
    TextEncoder,
    product_texts,
    search_catalogue,
    similar_products,
)

CATALOGUE = pd.DataFrame(
    {
        "item_id": list("abcdef"),
        "title": [
            "Cast iron casserole dish",
            "Beach towel",
            "Sunglasses",
            "Wool scarf",
            "Stainless kitchen knife set",
            "Garden hose",
        ],
        "description": [
            "Slow-cook hearty stews on cold winter evenings.",
            "Soft cotton for sunny days at the sea.",
            "UV protection for summer.",
            "Keeps you warm in the snow.",
            "Sharp knives for every cook.",
            "Water your lawn in summer.",
        ],
        "cat_id": ["home", "bath", "fashion", "fashion", "home", "garden"],
    }
)


def test_minilm_search_and_neighbours_follow_meaning():
    enc = TextEncoder().fit()  # fitted, so every call shares it and its cached vectors
    found = search_catalogue(CATALOGUE, "winter kitchen items", k=2, encoder=enc)
    assert found["item_id"].tolist() == ["a", "e"]
    beach = search_catalogue(CATALOGUE, "something for a hot day at the beach", k=1, encoder=enc)
    assert beach["item_id"].tolist() == ["b"]
    like = similar_products(CATALOGUE, "a", k=3, encoder=enc)
    assert like["item_id"].iloc[0] == "e" and "a" not in like["item_id"].tolist()
    assert enc.n_encoded_ == 6 + 2  # six products and two queries, each once


def test_results_are_ranked_rows_of_the_catalogue():
    out = similar_products(CATALOGUE, "c", k=10, encoder=HashingTfidf())
    assert len(out) == 5 and "c" not in out["item_id"].tolist()
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert np.all(np.diff(out["score"]) <= 0)
    assert out.columns.tolist() == [*CATALOGUE.columns, "score", "rank"]
    same = similar_products(CATALOGUE, "c", k=3, encoder=HashingTfidf(), same="cat_id")
    assert same["item_id"].tolist() == ["d"]


def test_per_store_static_gives_each_item_once():
    static = simulate_shop(n_items=12, n_stores=3, n_periods=30, seed=2, reviews=False).data.static
    item = static["item_id"].iloc[0]
    out = similar_products(static, item, k=20, encoder=HashingTfidf())
    assert len(out) == 11 and out["item_id"].is_unique
    by_series = similar_products(
        static, static["unique_id"].iloc[0], k=2, id_col="unique_id", encoder=HashingTfidf()
    )
    # The same item in the other stores has the same text: the closest possible match.
    assert set(by_series["item_id"]) == {item}
    np.testing.assert_allclose(by_series["score"], 1.0, rtol=1e-5)


def test_polars_in_polars_out():
    pl = pytest.importorskip("polars")
    out = search_catalogue(pl.from_pandas(CATALOGUE), "beach towel", k=1, encoder=HashingTfidf())
    assert isinstance(out, pl.DataFrame) and out["item_id"].to_list() == ["b"]


def test_missing_description_falls_back_to_the_title():
    cat = CATALOGUE.assign(description=[None, *CATALOGUE["description"].iloc[1:]])
    _, texts = product_texts(cat)
    assert texts[0] == "Cast iron casserole dish"
    assert texts[1] == "Beach towel. Soft cotton for sunny days at the sea"
    blank = cat.assign(title=[None, *cat["title"].iloc[1:]])
    with pytest.raises(ValueError, match="have no text"):
        product_texts(blank)
    products, texts = product_texts(blank, skip_empty=True)
    assert len(texts) == len(products) == len(product_texts(cat)[1]) - 1
    assert cat["item_id"].iloc[0] not in set(products["item_id"])


@pytest.mark.parametrize(
    ("change", "call", "message"),
    [
        ({"title": [None] * 6, "description": [np.nan] * 6}, "similar", "have no text"),
        ({"title": ["Same"] * 6, "item_id": ["a"] * 6}, "search", None),
        ({"title": ["X", "Y", "X", "X", "X", "X"], "item_id": ["a"] * 6}, "search", "different"),
        ({}, "unknown", "not in the catalogue"),
        ({}, "k", "`k` must be"),
        ({}, "query", "`query`"),
    ],
)
def test_bad_input_names_the_problem(change, call, message):
    cat = CATALOGUE.assign(**change).drop(columns=["description"] if "item_id" in change else [])
    enc = HashingTfidf()
    if message is None:  # identical rows of one product are one product
        assert len(search_catalogue(cat, "same", k=5, encoder=enc)) == 1
        return
    with pytest.raises(ValueError, match=message):
        if call == "similar":
            similar_products(cat, "a", encoder=enc)
        elif call == "search":
            search_catalogue(cat, "x", encoder=enc)
        elif call == "unknown":
            similar_products(cat, "zz", encoder=enc)
        elif call == "k":
            similar_products(cat, "a", k=0, encoder=enc)
        else:
            search_catalogue(cat, "  ", encoder=enc)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="no id column 'sku'"):
        product_texts(CATALOGUE, id_col="sku")
    with pytest.raises(ValueError, match="none of the text columns"):
        product_texts(CATALOGUE[["item_id", "cat_id"]])


def test_missing_ids_are_refused():
    cat = CATALOGUE.assign(item_id=[None, *CATALOGUE["item_id"].iloc[1:]])
    with pytest.raises(ValueError, match=r"'item_id' is missing in 1 rows \(positions \[0\]\)"):
        product_texts(cat)
