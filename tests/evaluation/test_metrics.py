import doctest
import functools

import numpy as np
import pandas as pd
import polars as pl
import pytest
from utilsforecast import losses as ufl
from utilsforecast.evaluation import evaluate as uf_evaluate

from trendcast.data.contract import quantile_column
from trendcast.evaluation import metrics
from trendcast.evaluation.metrics import (
    bias,
    coverage,
    evaluate,
    m5_dollar_weights,
    mae,
    mape,
    mase,
    mse,
    pinball_loss,
    r2,
    rmse,
    rmsse,
    scaled_pinball_loss,
    smape,
    wape,
    wrmsse,
    wspl,
)

QS = [0.1, 0.5, 0.9]


@pytest.fixture
def point():
    # a: y 1 3 4, A 2 3 2 (errors y - A: -1 0 2), B perfect
    # b: y 0 2 2, A 1 2 4 (errors: -1 0 -2),     B 0 0 0 (errors: 0 2 2)
    return pd.DataFrame(
        {
            "unique_id": ["a"] * 3 + ["b"] * 3,
            "ds": [1, 2, 3] * 2,
            "y": [1.0, 3, 4, 0, 2, 2],
            "A": [2.0, 3, 2, 1, 2, 4],
            "B": [1.0, 3, 4, 0, 0, 0],
        }
    )


@pytest.fixture
def train():
    # a: diffs 2 -1 2 -> mean |d| 5/3; b: leading zeros, then 1 3 2 (diffs 2 -1)
    return pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 5,
            "ds": [-3, -2, -1, 0, -4, -3, -2, -1, 0],
            "y": [2.0, 4, 3, 5, 0, 0, 1, 3, 2],
        }
    )


@pytest.fixture
def quantiles():
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "ds": [1, 2, 1, 2],
            "y": [1.0, 3, 5, 0],
            "A-q-0.1": [0.0, 1, 1, 1],
            "A-q-0.5": [1.0, 2, 2, 2],
            "A-q-0.9": [2.0, 4, 3, 3],
        }
    )
    return df.assign(**{"A-lo-80": df["A-q-0.1"], "A-hi-80": df["A-q-0.9"]})


def values(result, model="A"):
    return dict(zip(result["unique_id"], result[model], strict=True))


# ----------------------------------------------------------------------------- hand-computed


def test_point_metrics_by_hand(point):
    assert values(mae(point, ["A", "B"])) == pytest.approx({"a": 1, "b": 1})
    assert values(mae(point, ["A", "B"]), "B") == pytest.approx({"a": 0, "b": 4 / 3})
    assert values(mse(point, ["A"])) == pytest.approx({"a": 5 / 3, "b": 5 / 3})
    assert values(rmse(point, ["B"]), "B") == pytest.approx({"a": 0, "b": np.sqrt(8 / 3)})
    # forecast - actual: a (1 + 0 - 2) / 3, b (1 + 0 + 2) / 3
    assert values(bias(point, ["A"])) == pytest.approx({"a": -1 / 3, "b": 1})


def test_mape_leaves_out_zero_actuals(point):
    # a: (1/1 + 0/3 + 2/4) / 3; b: the y == 0 row is left out, (0/2 + 2/2) / 2
    assert values(mape(point, ["A"])) == pytest.approx({"a": 0.5, "b": 0.5})
    all_zero = point.assign(y=np.where(point["unique_id"] == "b", 0.0, point["y"]))
    assert np.isnan(values(mape(all_zero, ["A"]))["b"])


def test_smape_is_between_zero_and_one(point):
    # a: (1/3 + 0 + 2/6) / 3; b: (1/1 + 0 + 2/6) / 3; B on b: (0 [0/0] + 2/2 + 2/2) / 3
    assert values(smape(point, ["A"])) == pytest.approx({"a": 2 / 9, "b": 4 / 9})
    assert values(smape(point, ["B"]), "B") == pytest.approx({"a": 0, "b": 2 / 3})


def test_wape_per_series_and_pooled(point):
    # a: 3 / 8, b: 3 / 4; pooled: 6 / 12 and (0 + 4) / 12
    assert values(wape(point, ["A"])) == pytest.approx({"a": 3 / 8, "b": 3 / 4})
    pooled = wape(point, ["A", "B"], pooled=True)
    assert pooled["unique_id"].tolist() == ["all"]
    assert pooled[["A", "B"]].iloc[0].tolist() == pytest.approx([0.5, 1 / 3])


def test_r2(point):
    # a: mean 8/3, SS_tot 25/9 + 1/9 + 16/9 = 14/3, SS_res 5 -> 1 - 15/14
    # b: mean 4/3, SS_tot 16/9 + 4/9 + 4/9 = 8/3, SS_res 5 -> 1 - 15/8; B: 1 and 1 - 8 * 3/8
    assert values(r2(point, ["A"])) == pytest.approx({"a": -1 / 14, "b": -7 / 8})
    assert values(r2(point, ["B"]), "B") == pytest.approx({"a": 1, "b": -2})
    constant = point.assign(y=1.0)
    assert r2(constant, ["A"])["A"].isna().all()


def test_mase(point, train):
    # scale over all history: a |2 -1 2| -> 5/3; b |0 1 2 -1| -> 1
    assert values(mase(point, ["A"], 1, train)) == pytest.approx({"a": 0.6, "b": 1})
    # seasonality 2: a |1 1| -> 1; b |1 3 1| -> 5/3
    assert values(mase(point, ["A"], 2, train)) == pytest.approx({"a": 1, "b": 0.6})


def test_rmsse_counts_scale_from_first_nonzero(point, train):
    # a: d² 4 1 4 -> 3; b starts at its first sale, 1 3 2: d² 4 1 -> 2.5 (not 1.5 with zeros)
    got = values(rmsse(point, ["A"], train))
    assert got == pytest.approx({"a": np.sqrt(5 / 9), "b": np.sqrt(2 / 3)})
    shuffled = train.sample(frac=1, random_state=0)
    assert values(rmsse(point, ["A"], shuffled)) == pytest.approx(got)


def test_scaled_pinball_loss_counts_scale_from_first_nonzero(point, train):
    df = point.assign(**{"A-q-0.5": point["A"]})
    # the median's pinball loss is MAE / 2; scales a 5/3, b mean |2 -1| = 1.5
    got = values(scaled_pinball_loss(df, ["A"], [0.5], train))
    assert got == pytest.approx({"a": 0.5 / (5 / 3), "b": 0.5 / 1.5})


def test_pinball_loss_by_hand(quantiles):
    # a: q0.1 (0.1 + 0.2)/2, q0.5 (0 + 0.5)/2, q0.9 (0.1 + 0.1)/2
    # b: q0.1 (0.4 + 0.9)/2, q0.5 (1.5 + 1)/2, q0.9 (1.8 + 0.3)/2
    per_q = pinball_loss(quantiles, ["A"], QS, per_quantile=True)
    assert per_q.columns.tolist() == ["unique_id", "A-q-0.1", "A-q-0.5", "A-q-0.9"]
    assert per_q.iloc[0, 1:].tolist() == pytest.approx([0.15, 0.25, 0.1])
    assert per_q.iloc[1, 1:].tolist() == pytest.approx([0.65, 1.25, 1.05])
    assert values(pinball_loss(quantiles, ["A"], QS)) == pytest.approx(
        {"a": 0.5 / 3, "b": 2.95 / 3}
    )


def test_pinball_of_median_is_half_mae(point):
    df = point.assign(**{quantile_column("A", 0.5): point["A"]})
    assert pinball_loss(df, ["A"], [0.5])["A"].tolist() == pytest.approx(
        (mae(point, ["A"])["A"] / 2).tolist()
    )


def test_coverage(quantiles):
    # a: 1 in [0, 2], 3 in [1, 4]; b: 5 and 0 outside [1, 3]
    expected = {"a": 1, "b": 0}
    assert values(coverage(quantiles, ["A"], 80)) == expected
    assert values(coverage(quantiles, ["A"], interval=(0.1, 0.9))) == expected
    wide = quantiles.assign(**{"A-lo-80": -1e9, "A-hi-80": 1e9})
    assert coverage(wide, ["A"], 80)["A"].tolist() == [1, 1]


def test_scaled_metrics_give_nan_for_zero_scales(point, train):
    flat = train.assign(y=np.where(train["unique_id"] == "a", 7.0, train["y"]))
    assert np.isnan(values(mase(point, ["A"], 1, flat))["a"])
    assert np.isnan(values(rmsse(point, ["A"], flat))["a"])
    never_sold = train.assign(y=np.where(train["unique_id"] == "b", 0.0, train["y"]))
    assert np.isnan(values(rmsse(point, ["A"], never_sold))["b"])


# ----------------------------------------------------------------------------- weights


def test_wrmsse_is_weighted_sum_of_rmsse(point, train):
    weights = pd.DataFrame({"unique_id": ["b", "a"], "weight": [0.75, 0.25]})
    per_series = values(rmsse(point, ["A", "B"], train))
    got = wrmsse(point, ["A", "B"], train, weights)
    assert got["unique_id"].tolist() == ["all"]
    assert got["A"].iloc[0] == pytest.approx(0.25 * per_series["a"] + 0.75 * per_series["b"])
    assert got["A"].iloc[0] == pytest.approx(0.25 * np.sqrt(5 / 9) + 0.75 * np.sqrt(2 / 3))


def test_wrmsse_leaves_out_zero_scales_and_rescales(point, train):
    flat = train.assign(y=np.where(train["unique_id"] == "a", 7.0, train["y"]))
    weights = pd.DataFrame({"unique_id": ["a", "b"], "weight": [0.25, 0.75]})
    with pytest.warns(UserWarning, match="1 series have a zero or undefined scale"):
        got = wrmsse(point, ["A"], flat, weights)
    assert got["A"].iloc[0] == pytest.approx(np.sqrt(2 / 3))


def test_wspl_is_weighted_sum_of_spl(quantiles):
    train = pd.DataFrame(
        {"unique_id": ["a"] * 3 + ["b"] * 3, "ds": [1, 2, 3] * 2, "y": [1.0, 2, 4, 0, 2, 3]}
    )
    # scales: a mean |1 2| = 1.5; b from first sale 2 3 -> 1
    spl = values(scaled_pinball_loss(quantiles, ["A"], QS, train))
    assert spl == pytest.approx({"a": (0.5 / 3) / 1.5, "b": 2.95 / 3})
    weights = pd.DataFrame({"unique_id": ["a", "b"], "weight": [0.4, 0.6]})
    got = wspl(quantiles, ["A"], QS, train, weights)
    assert got["A"].iloc[0] == pytest.approx(0.4 * spl["a"] + 0.6 * spl["b"])


def test_m5_dollar_weights():
    train = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "ds": [1, 2, 3, 4] * 2,
            "y": [1.0, 2, 3, 4, 0, 0, 1, 1],
            "price": [2.0] * 4 + [np.nan, np.nan, 10, 10],  # b not on sale before day 3
        }
    )
    # last 2 days: a (3 + 4) * 2 = 14, b (1 + 1) * 10 = 20
    got = m5_dollar_weights(train, last_n=2)
    assert got.columns.tolist() == ["unique_id", "weight"]
    assert values(got, "weight") == pytest.approx({"a": 14 / 34, "b": 20 / 34})
    with pytest.raises(ValueError, match="missing 'y' or 'price'"):
        m5_dollar_weights(train.assign(price=np.nan), last_n=2)


def test_weights_must_sum_to_one_and_cover_every_series(point, train):
    with pytest.raises(ValueError, match="sum to 0.5, not 1"):
        wrmsse(point, ["A"], train, pd.DataFrame({"unique_id": ["a", "b"], "weight": 0.25}))
    with pytest.raises(ValueError, match="no weight for 1 series"):
        wrmsse(point, ["A"], train, pd.DataFrame({"unique_id": ["a"], "weight": [1.0]}))


# ----------------------------------------------------------------------------- reference


@pytest.fixture
def random_data():
    """Strictly positive series, so the M5 first-non-zero rule changes nothing."""
    rng = np.random.default_rng(0)
    ids = np.repeat([f"s{i}" for i in range(6)], 30)
    train = pd.DataFrame(
        {"unique_id": ids, "ds": np.tile(np.arange(30), 6), "y": rng.uniform(1, 10, ids.size)}
    )
    ids = np.repeat([f"s{i}" for i in range(6)], 7)
    df = pd.DataFrame({"unique_id": ids, "ds": np.tile(np.arange(30, 37), 6)})
    df["y"] = rng.uniform(1, 10, ids.size)
    for model in ("A", "B"):
        center = df["y"] + rng.normal(0, 2, ids.size)
        for q, shift in zip(QS, (-2.0, 0.0, 2.0), strict=True):
            df[quantile_column(model, q)] = center + shift + rng.normal(0, 0.5, ids.size)
        df[model] = center
        df[f"{model}-lo-80"] = df[quantile_column(model, 0.1)]
        df[f"{model}-hi-80"] = df[quantile_column(model, 0.9)]
    return df, train


def assert_same(ours, reference, columns=("A", "B")):
    reference = reference.sort_values("unique_id").reset_index(drop=True)
    assert ours["unique_id"].tolist() == reference["unique_id"].tolist()
    for col in columns:
        np.testing.assert_allclose(ours[col], reference[col].astype(float), rtol=1e-10)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (mae, ufl.mae),
        (mse, ufl.mse),
        (rmse, ufl.rmse),
        (mape, ufl.mape),
        (smape, ufl.smape),
        (bias, ufl.bias),
        (wape, ufl.wape),
    ],
)
def test_point_metrics_match_utilsforecast(random_data, ours, theirs):
    df, _ = random_data
    assert_same(ours(df, ["A", "B"]), theirs(df, ["A", "B"]))


@pytest.mark.parametrize("seasonality", [1, 7])
def test_scaled_metrics_match_utilsforecast(random_data, seasonality):
    df, train = random_data
    assert_same(
        mase(df, ["A", "B"], seasonality, train), ufl.mase(df, ["A", "B"], seasonality, train)
    )
    assert_same(
        rmsse(df, ["A", "B"], train, seasonality), ufl.rmsse(df, ["A", "B"], seasonality, train)
    )


def test_quantile_metrics_match_utilsforecast(random_data):
    df, train = random_data
    models = ["A", "B"]
    per_q = pinball_loss(df, models, QS, per_quantile=True)
    scaled = scaled_pinball_loss(df, models, QS, train, per_quantile=True)
    for q in QS:
        cols = {m: quantile_column(m, q) for m in models}
        reference = ufl.quantile_loss(df, cols, q=q).rename(columns=cols)
        assert_same(per_q, reference, cols.values())
        reference = ufl.scaled_quantile_loss(df, cols, 1, train, q=q)
        assert_same(scaled, reference.rename(columns=cols), cols.values())
    by_model = {m: [quantile_column(m, q) for q in QS] for m in models}
    assert_same(pinball_loss(df, models, QS), ufl.mqloss(df, by_model, np.array(QS)))
    assert_same(
        scaled_pinball_loss(df, models, QS, train),
        ufl.scaled_mqloss(df, by_model, np.array(QS), 1, train),
    )


def test_coverage_matches_utilsforecast(random_data):
    df, _ = random_data
    reference = ufl.coverage(df, ["A", "B"], 80)
    assert_same(coverage(df, ["A", "B"], 80), reference)
    assert_same(coverage(df, ["A", "B"], interval=(0.1, 0.9)), reference)


def test_evaluate_matches_utilsforecast(random_data):
    df, train = random_data
    ours = evaluate(df, [mae, rmse, mase], ["A", "B"], train, seasonality=7)
    theirs = uf_evaluate(
        df,
        [ufl.mae, ufl.rmse, functools.partial(ufl.mase, seasonality=7)],
        models=["A", "B"],
        train_df=train,
        agg_fn="mean",
    )
    assert ours["metric"].tolist() == ["mae", "rmse", "mase"]
    np.testing.assert_allclose(ours[["A", "B"]], theirs[["A", "B"]])


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_per_series_and_partial(point, train):
    out = evaluate(
        point,
        [mae, functools.partial(wape, pooled=True), rmsse],
        ["A", "B"],
        train,
        agg_fn=None,
    )
    assert out.columns.tolist() == ["unique_id", "metric", "A", "B"]
    assert out["metric"].tolist() == ["mae", "mae", "wape", "rmsse", "rmsse"]
    assert out["unique_id"].tolist() == ["a", "b", "all", "a", "b"]


def test_evaluate_leaves_nan_out_of_aggregates(point, train):
    flat = train.assign(y=np.where(train["unique_id"] == "a", 7.0, train["y"]))
    out = evaluate(point, [rmsse], ["A"], flat)
    assert out["A"].tolist() == pytest.approx([np.sqrt(2 / 3)])


def test_evaluate_passes_keywords_to_metrics_that_take_them(quantiles):
    out = evaluate(quantiles, [pinball_loss, coverage], ["A"], quantiles=QS, level=80, agg_fn="sum")
    assert out["metric"].tolist() == ["pinball_loss", "coverage"]
    assert out["A"].tolist() == pytest.approx([0.5 / 3 + 2.95 / 3, 1])


def test_evaluate_errors(point):
    with pytest.raises(ValueError, match=r"'mase' needs \['seasonality', 'train_df'\]"):
        evaluate(point, [mae, mase], ["A"])
    with pytest.raises(ValueError, match=r"\['seasonalty'\] are not used"):
        evaluate(point, [mae], ["A"], seasonalty=7)


def test_doctest_example():
    assert doctest.testmod(metrics).failed == 0


# ----------------------------------------------------------------------------- frames, errors


def test_polars_in_polars_out(point, train, quantiles):
    pl_point, pl_train = pl.from_pandas(point), pl.from_pandas(train)
    out = mae(pl_point, ["A"])
    assert isinstance(out, pl.DataFrame)
    assert out.to_pandas().equals(mae(point, ["A"]))
    assert isinstance(rmsse(pl_point, ["A"], pl_train), pl.DataFrame)
    assert isinstance(wape(pl_point, ["A"], pooled=True), pl.DataFrame)
    assert isinstance(pinball_loss(pl.from_pandas(quantiles), ["A"], QS), pl.DataFrame)
    weights = pl.DataFrame({"unique_id": ["a", "b"], "weight": [0.5, 0.5]})
    assert isinstance(wrmsse(pl_point, ["A"], pl_train, weights), pl.DataFrame)
    out = evaluate(pl_point, [mae, bias], ["A", "B"])
    assert isinstance(out, pl.DataFrame)
    assert out.to_pandas().equals(evaluate(point, [mae, bias], ["A", "B"]))
    priced = pl.from_pandas(train.assign(price=1.0))
    assert isinstance(m5_dollar_weights(priced), pl.DataFrame)


def test_custom_column_names(point, train):
    renamed = {"unique_id": "item", "ds": "date", "y": "sales"}
    out = rmsse(
        point.rename(columns=renamed),
        ["A"],
        train.rename(columns=renamed),
        id_col="item",
        target_col="sales",
        time_col="date",
    )
    assert out.columns.tolist() == ["item", "A"]
    assert out["A"].tolist() == pytest.approx(rmsse(point, ["A"], train)["A"].tolist())


def test_categorical_ids(point, train):
    as_category = {"unique_id": "category"}
    out = rmsse(point.astype(as_category), ["A"], train.astype(as_category))
    assert out["A"].tolist() == pytest.approx(rmsse(point, ["A"], train)["A"].tolist())


def test_clear_errors(point, train, quantiles):
    with pytest.raises(ValueError, match=r"no column\(s\) \['C'\].*model aliases"):
        mae(point, ["A", "C"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['A-q-0.25'\]"):
        pinball_loss(quantiles, ["A"], [0.25])
    with pytest.raises(ValueError, match=r"column 'y' has 1 missing value.*dropna"):
        mae(point.assign(y=[np.nan, 1, 1, 1, 1, 1]), ["A"])
    with pytest.raises(ValueError, match=r"column 'A' has 1 missing value"):
        mae(point.assign(A=[1, 1, 1, 1, 1, np.nan]), ["A"])
    with pytest.raises(ValueError, match="non-empty list of model aliases"):
        mae(point, "A")
    with pytest.raises(TypeError, match="pandas or polars DataFrame"):
        mae(point.to_dict(), ["A"])
    with pytest.raises(ValueError, match="no history for 1 series"):
        mase(point, ["A"], 1, train[train["unique_id"] == "a"])
    with pytest.raises(ValueError, match="exactly one of `level`"):
        coverage(quantiles, ["A"])
    with pytest.raises(ValueError, match="quantiles"):
        pinball_loss(quantiles, ["A"], [1.5])
    with pytest.raises(ValueError, match="seasonality"):
        mase(point, ["A"], 0, train)
    with pytest.raises(ValueError, match="repeated"):
        rmsse(point, ["A"], pd.concat([train, train.tail(1)]))
    with pytest.raises(ValueError, match="column 'unique_id' has 1 missing"):
        mae(point.assign(unique_id=["a", "a", "a", "b", "b", None]), ["A"])
