import numpy as np
import pandas as pd
import pytest

from trendcast.errors import NotFittedError
from trendcast.models.coldstart import ColdStart, _ridge, blend_forecasts, credibility_weight
from trendcast.text import HashingTfidf

QUALITY_LEVEL = {"basic": 12.0, "standard": 4.0, "premium": 1.0}
NOUNS = ["mug", "towel", "scarf", "lamp", "candle", "basket", "cushion", "clock"]
COLOURS = ["red", "blue", "green", "ivory", "black"]


def launches(n: int = 240, n_periods: int = 10, seed: int = 0):
    """Weekly sales of products from their launch; the quality word in the title sets demand."""
    rng = np.random.default_rng(seed)
    quality = rng.choice(list(QUALITY_LEVEL), n)
    level = np.array([QUALITY_LEVEL[q] for q in quality]) * rng.lognormal(0.0, 0.3, n)
    ramp = 1 - np.exp(-(np.arange(n_periods) + 1) / 2.0)
    y = rng.poisson(level[:, None] * ramp[None, :]).astype(float)
    ids = [f"p{i:03d}" for i in range(n)]
    start = pd.Timestamp("2024-01-07") + pd.to_timedelta(rng.integers(0, 50, n) * 7, unit="D")
    sales = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, n_periods),
            "ds": [s + pd.Timedelta(weeks=t) for s in start for t in range(n_periods)],
            "y": y.ravel(),
        }
    )
    static = pd.DataFrame(
        {
            "unique_id": ids,
            "title": [f"{q} {rng.choice(COLOURS)} {rng.choice(NOUNS)}" for q in quality],
            "description": [f"A {rng.choice(COLOURS)} piece for the home." for _ in ids],
            "cat_id": rng.choice(["A", "B"], n),
            "price": rng.lognormal(2.0, 0.5, n),
            "launch_ds": start,
        }
    )
    return sales, static


def totals_wape(model, sales, static, n_train=200, n_periods=8):
    train_ids = static["unique_id"].iloc[:n_train]
    new = static.iloc[n_train:]
    model.fit(sales[sales["unique_id"].isin(train_ids)], static.iloc[:n_train])
    fc = model.predict(new)
    pred = fc.groupby("unique_id")[model.alias or "ColdStart"].sum()
    early = sales[sales["unique_id"].isin(new["unique_id"])].groupby("unique_id").head(n_periods)
    actual = early.groupby("unique_id")["y"].sum().reindex(pred.index)
    return float(np.abs(pred - actual).sum() / actual.sum())


@pytest.mark.parametrize(
    ("params", "ratio"),
    [
        # kNN finds neighbours by all words (colours and nouns too), ridge learns which count.
        ({"method": "knn", "k": 10, "aggregate": "mean"}, 0.8),
        ({"method": "knn", "k": 10, "aggregate": "median"}, 0.8),
        ({"method": "ridge", "alpha": 1.0}, 0.6),
    ],
)
def test_text_methods_beat_the_global_mean_when_text_carries_signal(params, ratio):
    sales, static = launches()
    base = totals_wape(ColdStart(method="global_mean"), sales, static)
    assert base == pytest.approx(
        totals_wape(ColdStart(method="category_mean"), sales, static), abs=0.05
    )
    text = totals_wape(ColdStart(encoder=HashingTfidf(), **params), sales, static)
    assert text < ratio * base


def test_chinese_titles_carry_their_signal():
    """The same launches with Chinese titles: quality words 基础款 / 标准款 / 高级 set demand."""
    words = {
        "basic": "基础款",
        "standard": "标准款",
        "premium": "高级",
        **dict(zip(COLOURS, ["红色", "蓝色", "绿色", "象牙色", "黑色"], strict=True)),
        **dict(
            zip(
                NOUNS, ["杯子", "毛巾", "围巾", "台灯", "蜡烛", "篮子", "靠垫", "时钟"], strict=True
            )
        ),
    }
    sales, static = launches()
    static["title"] = ["".join(words[w] for w in t.split()) for t in static["title"]]
    static = static.drop(columns=["description"])
    base = totals_wape(ColdStart(method="global_mean", text_cols=("title",)), sales, static)
    ridge = ColdStart(method="ridge", alpha=1.0, encoder=HashingTfidf(), text_cols=("title",))
    assert totals_wape(ridge, sales, static) < 0.6 * base


def test_category_mean_is_the_mean_early_path_of_the_category():
    sales, static = launches(n=40)
    cs = ColdStart(method="category_mean", n_periods=3).fit(sales, static)
    fc = cs.predict(static.head(1))
    cat = static["cat_id"].iloc[0]
    members = static.loc[static["cat_id"] == cat, "unique_id"]
    early = sales[sales["unique_id"].isin(members)].groupby("unique_id").head(3)
    expected = early.assign(step=early.groupby("unique_id").cumcount()).groupby("step")["y"].mean()
    np.testing.assert_allclose(fc["ColdStart"], expected.to_numpy())


def test_forecast_frame_has_steps_dates_and_no_negatives():
    sales, static = launches(n=30)
    cs = ColdStart(method="ridge", n_periods=4, encoder=HashingTfidf(), alias="CS")
    fc = cs.fit(sales, static).predict(static.tail(2))
    assert fc.columns.tolist() == ["unique_id", "step", "ds", "CS"]
    assert fc["step"].tolist() == [1, 2, 3, 4] * 2
    first = static.tail(2)["launch_ds"].iloc[0]
    assert fc["ds"].iloc[:4].tolist() == list(pd.date_range(first, periods=4, freq="W-SUN"))
    assert (fc["CS"] >= 0).all() and fc["CS"].notna().all()


@pytest.mark.parametrize("method", ["ridge", "knn", "global_mean"])
def test_quantiles_from_out_of_fold_errors_cover_new_launches(method):
    sales, static = launches()
    cs = ColdStart(method=method, n_periods=8, encoder=HashingTfidf(), price_col=None)
    cs.fit(sales[sales["unique_id"].isin(static["unique_id"][:200])], static.iloc[:200])
    fc = cs.predict(static.iloc[200:], quantiles=(0.9, 0.1))
    assert fc.columns.tolist()[-3:] == ["ColdStart", "ColdStart-q-0.9", "ColdStart-q-0.1"]
    assert (fc["ColdStart-q-0.1"] <= fc["ColdStart-q-0.9"]).all()
    totals = fc.groupby("unique_id").sum(numeric_only=True)
    early = sales[sales["unique_id"].isin(totals.index)].groupby("unique_id").head(8)
    actual = early.groupby("unique_id")["y"].sum().reindex(totals.index)
    inside = (actual >= totals["ColdStart-q-0.1"]) & (actual <= totals["ColdStart-q-0.9"])
    assert 0.65 <= inside.mean() <= 0.95  # 80% nominal, on 40 new products
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        cs.predict(static.iloc[200:], quantiles=(1.5,))
    few = ColdStart(method="global_mean", n_periods=8).fit(*launches(n=8))
    with pytest.raises(ValueError, match="fewer than 10 launches"):
        few.predict(static.head(1), quantiles=(0.9,))


def test_too_young_series_are_counted_not_used():
    sales, static = launches(n=20, n_periods=10)
    young = sales.groupby("unique_id").head(5)
    mixed = pd.concat([sales[sales["unique_id"] >= "p010"], young[young["unique_id"] < "p010"]])
    cs = ColdStart(method="global_mean", n_periods=8).fit(mixed, static)
    assert cs.n_too_young_ == 10 and len(cs.ids_) == 10


def test_bad_input_is_refused_with_the_fix():
    sales, static = launches(n=20)
    with pytest.raises(NotFittedError, match="not fitted"):
        ColdStart().predict(static)
    with pytest.raises(ValueError, match="`method`"):
        ColdStart(method="magic").fit(sales, static)
    with pytest.raises(ValueError, match="no static row"):
        ColdStart(method="global_mean").fit(sales, static.iloc[1:])
    bad_price = static.assign(price=static["price"].where(static.index != 3, 0.0))
    with pytest.raises(ValueError, match="price > 0"):
        ColdStart(method="ridge", encoder=HashingTfidf()).fit(sales, bad_price)
    with pytest.raises(ValueError, match="at least 2 established"):
        ColdStart(method="global_mean", n_periods=50).fit(sales, static)
    negative = sales.assign(y=sales["y"].where(sales.index != 5, -1.0))
    with pytest.raises(ValueError, match="numbers >= 0"):
        ColdStart(method="global_mean").fit(negative, static)


def test_ridge_in_the_dual_for_sparse_rows_equals_the_primal():
    from scipy import sparse

    rng = np.random.default_rng(1)
    design = rng.normal(size=(30, 6))
    target = rng.normal(size=30)
    np.testing.assert_allclose(
        _ridge(sparse.csr_matrix(design), target, 0.5), _ridge(design, target, 0.5), atol=1e-8
    )


def test_credibility_blend_moves_from_prior_to_history():
    np.testing.assert_allclose(credibility_weight([0, 2, 6], strength=2.0), [1.0, 0.5, 0.25])
    forecasts = pd.DataFrame(
        {
            "unique_id": ["new", "young", "old"],
            "ColdStart": [10.0, 10.0, 10.0],
            "Hist": [np.nan, 2.0, 2.0],
        }
    )
    sales = pd.DataFrame({"unique_id": ["young"] * 4 + ["old"] * 36, "y": 2.0})
    out = blend_forecasts(forecasts, sales, history_col="Hist", strength=4.0)
    np.testing.assert_allclose(out["Blend"], [10.0, 6.0, 2.8])
    with pytest.raises(ValueError, match="missing for series with sales"):
        blend_forecasts(forecasts.assign(Hist=np.nan), sales, history_col="Hist")


def weekly_launches(level, n: int = 160, n_periods: int = 8, seed: int = 3):
    """Products launched over two years; ``level(title_word, week)`` sets their demand."""
    rng = np.random.default_rng(seed)
    word = rng.choice(["winter", "summer"], n)
    start_week = rng.integers(0, 100, n)
    weeks = start_week[:, None] + np.arange(n_periods)[None, :]
    y = rng.poisson(level(word[:, None], weeks)).astype(float)
    ids = [f"p{i:03d}" for i in range(n)]
    launch = pd.Timestamp("2023-01-01") + pd.to_timedelta(start_week * 7, unit="D")
    sales = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, n_periods),
            "ds": (pd.Timestamp("2023-01-01") + pd.to_timedelta(weeks.ravel() * 7, unit="D")),
            "y": y.ravel(),
        }
    )
    static = pd.DataFrame(
        {"unique_id": ids, "title": [f"{w} {rng.choice(NOUNS)}" for w in word], "launch_ds": launch}
    )
    return sales, static


def test_yearly_features_learn_which_words_sell_in_which_season():
    def in_season(word, week):
        winter_weeks = ((week % 52) < 10) | ((week % 52) >= 40)
        return np.where((word == "winter") == winter_weeks, 12.0, 2.0)

    sales, static = weekly_launches(in_season)
    common = {"method": "ridge", "encoder": HashingTfidf(), "cat_cols": (), "price_col": None}
    plain = totals_wape(ColdStart(**common), sales, static, n_train=120)
    yearly = totals_wape(ColdStart(yearly=True, **common), sales, static, n_train=120)
    assert yearly < 0.6 * plain


def test_market_window_follows_the_current_level():
    def doubling(word, week):
        return np.where(week >= 60, 10.0, 5.0) + 0 * (word == "")

    sales, static = weekly_launches(doubling, n=400)
    common = {"method": "global_mean", "cat_cols": (), "price_col": None}
    plain = ColdStart(**common).fit(sales, static).predict(static.head(1))["ColdStart"]
    market = ColdStart(market_window=8, **common).fit(sales, static)
    assert market.market_level_ > 1.2
    assert market.predict(static.head(1))["ColdStart"].mean() == pytest.approx(10.0, rel=0.1)
    assert plain.mean() < 8.5


def test_cli_fine_tunes_the_text_model_it_is_given(tiny_model, tmp_path, capsys):
    from trendcast.cli import main

    args = ["simulate", "--out", str(tmp_path), "--items", "12", "--stores", "1", "--days", "200"]
    assert main([*args, "--format", "parquet"]) == 0
    static = pd.read_parquet(tmp_path / "static.parquet")
    static.to_csv(tmp_path / "static.csv", index=False)
    static.head(2).assign(unique_id=["NEW_1", "NEW_2"]).to_csv(tmp_path / "new.csv", index=False)
    coldstart = [
        "coldstart",
        str(tmp_path / "sales.parquet"),
        f"--static={tmp_path / 'static.csv'}",
        f"--new={tmp_path / 'new.csv'}",
        "--method=finetuned",
        f"--text-model={tiny_model}",
    ]
    assert main([*coldstart, f"--out={tmp_path / 'fc.csv'}"]) == 0
    forecasts = pd.read_csv(tmp_path / "fc.csv")
    assert len(forecasts) == 2 * 8
    assert np.isfinite(forecasts["ColdStart"]).all() and (forecasts["ColdStart"] >= 0).all()
    assert main([*coldstart, "--device=gpu-please"]) == 2
    assert "`device` must be" in capsys.readouterr().err
    missing = str(tmp_path / "no_such_model")
    assert main([*coldstart[:-1], f"--text-model={missing}"]) == 2
    assert "no_such_model" in capsys.readouterr().err
    assert main([*coldstart[:-2], "--method=ridge", "--mode=full"]) == 2
    assert "--method finetuned" in capsys.readouterr().err
    search = ["search", str(tmp_path / "static.csv"), "red mug", f"--text-model={tiny_model}"]
    assert main([*search, "--k=2"]) == 0
    assert "score" in capsys.readouterr().out
    assert main([*search[:-1], f"--text-model={missing}"]) == 2


def test_clone_keeps_the_settings_and_none_of_the_fit():
    sales, static = launches(n=20)
    cs = ColdStart(method="global_mean", n_periods=8).fit(sales, static)
    twin = cs.clone()
    assert twin.get_params() == cs.get_params() and cs.is_fitted and not twin.is_fitted
    with pytest.raises(NotFittedError):
        twin.predict(static)
