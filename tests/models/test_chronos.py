"""Chronos-2 glue: the shipped pretrained model, fine-tuning, saving by name, other checkpoints."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("chronos")

from trendcast.data.arrays import Covariates, SeriesArrays  # noqa: E402
from trendcast.data.simulate import simulate_shop  # noqa: E402
from trendcast.data.store import Workspace  # noqa: E402
from trendcast.models.baselines import Naive, SeasonalNaive  # noqa: E402
from trendcast.models.chronos import SHIPPED_MODEL, WEIGHTS_DIR, Chronos2  # noqa: E402
from trendcast.models.pretrain import new_pipeline  # noqa: E402

H = 28


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(
        n_items=12, n_stores=2, n_periods=420, reviews=False, future_periods=H, seed=5
    )


def arrays(shop):
    data = shop.data
    return SeriesArrays.from_frame(data.sales, data.freq), Covariates(data.static, data.dynamic)


def truth_matrix(shop, ids):
    demand = shop.truth.demand.pivot(index="unique_id", columns="ds", values="expected_demand")
    future = demand.columns[-H:]
    return demand.loc[list(ids), future].to_numpy()


@pytest.fixture(scope="module")
def zero_shot(shop):
    return Chronos2().fit(*arrays(shop))


def test_shipped_model_forecasts_offline_better_than_naive_baselines(shop, zero_shot):
    series, covariates = arrays(shop)
    truth = truth_matrix(shop, series.ids)
    prediction = zero_shot.predict(H, (0.1, 0.5, 0.9))
    mae = np.abs(prediction.mean - truth).mean()
    for baseline in (Naive(), SeasonalNaive()):
        baseline_mae = np.abs(baseline.fit(series).predict(H).mean - truth).mean()
        assert mae < 0.8 * baseline_mae, (type(baseline).__name__, mae, baseline_mae)
    assert np.all(np.diff(prediction.quantiles, axis=-1) >= 0)


def test_promotions_in_the_plan_raise_the_forecast(shop):
    # In the sample shop a promotion cuts the price and lifts demand beyond the price effect.
    series, covariates = arrays(shop)
    future = covariates.dynamic["ds"] > series.last_ds.max()
    regular = covariates.dynamic.groupby("unique_id", observed=True)["price"].transform("max")
    plans = {}
    for promo, discount in ((0, 0.0), (1, 0.25)):
        dynamic = covariates.dynamic.copy()
        dynamic.loc[future, "promo"] = promo
        dynamic.loc[future, "price"] = regular[future] * (1 - discount)
        model = Chronos2().fit(series, Covariates(covariates.static, dynamic))
        plans[promo] = model.predict(H).mean.sum()
    assert plans[1] > 1.3 * plans[0], plans


def test_missing_future_covariates_and_short_histories_get_clear_errors(shop):
    series, covariates = arrays(shop)
    past = covariates.dynamic[covariates.dynamic["ds"] <= series.last_ds.max()]
    model = Chronos2().fit(series, Covariates(covariates.static, past))
    with pytest.raises(ValueError, match="no rows for some of the 28 periods"):
        model.predict(H)
    one_day = pd.DataFrame({"unique_id": ["a", "b"], "ds": pd.Timestamp("2024-01-01"), "y": 1.0})
    with pytest.raises(ValueError, match="fewer than 2 periods"):
        Chronos2().fit(SeriesArrays.from_frame(one_day, "D"))


def test_lora_changes_only_adapters_and_saved_model_loads_by_name(shop, tmp_path):
    from safetensors.torch import load_file

    series, covariates = arrays(shop)
    small = series.head(series.lengths, select=np.arange(series.n_series) < 6)
    model = Chronos2(finetune="lora", steps=12, batch_size=32, eval_every=6, seed=1)
    model.fit(small, covariates)
    shipped = load_file(WEIGHTS_DIR / SHIPPED_MODEL / "model.safetensors")
    tuned = {k: v.detach() for k, v in model.pipeline_.model.named_parameters()}
    adapters = [k for k in tuned if "lora_" in k]
    assert adapters and all(tuned[k].abs().sum() > 0 for k in adapters if "lora_B" in k)
    base = {
        k.replace("base_model.model.", "").replace("base_layer.", ""): v for k, v in tuned.items()
    }
    frozen = [k for k in base if "lora_" not in k]
    assert frozen and all(np.array_equal(base[k].numpy(), shipped[k].numpy()) for k in frozen)

    workspace = Workspace(tmp_path / "shop.duckdb")
    model.save_to(workspace, "my_shop")
    saved = workspace.models.list()
    assert saved[["name", "version", "kind"]].values.tolist() == [["my_shop", 1, "chronos2"]]
    reloaded = Chronos2("my_shop@1", workspace=workspace).fit(small, covariates)
    np.testing.assert_allclose(
        reloaded.predict(H).mean, model.predict(H).mean, rtol=1e-3, atol=1e-3
    )
    with pytest.raises(ValueError, match="saved: \\['my_shop'\\]"):
        Chronos2("other", workspace=workspace).fit(small, covariates)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    new_pipeline("tiny", context_length=64, seed=0).save_pretrained(path)
    return str(path)


def seasonal_series(n_series=8, length=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    rows = []
    for i in range(n_series):
        level = rng.uniform(5, 30)
        rows.append(level * (1 + 0.5 * np.sin(2 * np.pi * t / 7 + i)) + rng.normal(0, 0.5, length))
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_series)], length),
            "ds": np.tile(pd.date_range("2024-01-01", periods=length), n_series),
            "y": np.concatenate(rows).clip(0),
        }
    )
    return SeriesArrays.from_frame(frame, "D")


def test_tiny_model_learns_a_tiny_set_and_is_deterministic(tiny_weights):
    series = seasonal_series()
    runs = [
        Chronos2(
            tiny_weights, finetune="full", steps=60, learning_rate=3e-3, eval_every=20, horizon=14
        ).fit(series)
        for _ in range(2)
    ]
    losses = [row["eval_loss"] for row in runs[0].history_ if "eval_loss" in row]
    assert losses[-1] < 0.8 * losses[0]
    np.testing.assert_array_equal(runs[0].predict(14).mean, runs[1].predict(14).mean)


def test_chronos_bolt_checkpoints_load_through_the_same_class(tmp_path):
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    config = T5Config(
        d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2,
        vocab_size=2, decoder_start_token_id=0, pad_token_id=0,
    )  # fmt: skip
    config.chronos_config = dict(
        context_length=64, prediction_length=16, input_patch_size=8, input_patch_stride=8,
        quantiles=[0.1, 0.3, 0.5, 0.7, 0.9], use_reg_token=True,
    )  # fmt: skip
    config.chronos_pipeline_class = "ChronosBoltPipeline"
    config.architectures = ["ChronosBoltModelForForecasting"]
    ChronosBoltModelForForecasting(config).save_pretrained(tmp_path)
    series = seasonal_series(n_series=3)
    prediction = Chronos2(str(tmp_path)).fit(series).predict(8, (0.1, 0.9))
    assert prediction.mean.shape == (3, 8) and prediction.quantiles.shape == (3, 8, 2)
    with pytest.raises(ValueError, match="fine-tuning needs a Chronos-2 model"):
        Chronos2(str(tmp_path), finetune="lora").fit(series)


def test_pretraining_writes_loadable_weights_with_a_model_card(tmp_path):
    from trendcast.models.pretrain import pretrain, simulated_corpus

    out = tmp_path / "mine"
    summary = pretrain(simulated_corpus(2, seed=1), out, size="tiny", steps=8, batch_size=16)
    assert summary["steps"] == 8 and summary["sources"][0]["source"] == "simulated shop"
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Corpus" in card and "| 8 |" in card
    assert not list(tmp_path.glob(".mine-*"))  # written beside, then moved in place
    prediction = Chronos2(str(out)).fit(seasonal_series(n_series=2)).predict(7, (0.5,))
    assert prediction.quantiles.shape == (2, 7, 1)
