import numpy as np
import pytest

from tests.text.conftest import WORDS
from trendcast.data.store import Workspace
from trendcast.errors import NotFittedError
from trendcast.text.finetune import FineTunedTextRegressor

LEVEL = {"premium": 2.0, "basic": -2.0}


def signal(n: int = 160, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts of tiny-vocabulary words; "premium" or "basic" in the text sets the target."""
    rng = np.random.default_rng(seed)
    others = [w for w in WORDS if w not in LEVEL]
    texts, y = [], []
    for _ in range(n):
        quality = rng.choice(list(LEVEL))
        words = [*rng.choice(others, 3), quality]
        rng.shuffle(words)
        texts.append(" ".join(words))
        y.append(LEVEL[quality] + rng.normal(0.0, 0.1))
    return texts, np.array(y)


def small(tiny_model, **params) -> FineTunedTextRegressor:
    settings = {"model": tiny_model, "epochs": 3, "batch_size": 16, "head_alpha": 10.0}
    settings.update(params)
    return FineTunedTextRegressor(**settings)


@pytest.fixture(scope="module")
def lora(tiny_model):
    texts, y = signal()
    reg = small(
        tiny_model, mode="lora", lora_r=4, learning_rate=2e-2, epochs=4, patience=4, head_alpha=1e4
    )
    return reg.fit(texts[:120], y[:120], valid_texts=texts[120:], valid_y=y[120:])


def test_lora_trains_only_adapters_and_head_and_lowers_validation_loss(lora, tiny_model):
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(tiny_model, device="cpu").state_dict()
    tuned = lora.model_.state_dict()
    lora_keys = [k for k in tuned if "lora_" in k]
    assert lora_keys
    for key, value in base.items():
        # peft keeps a wrapped layer's own weight as ``<layer>.base_layer.weight``.
        name = key if key in tuned else key.replace(".weight", ".base_layer.weight")
        name = name if name in tuned else name.replace(".bias", ".base_layer.bias")
        assert np.array_equal(value.numpy(), tuned[name].numpy()), key
    trained = [n for n, p in lora.model_.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n for n in trained)
    losses = [h["valid_loss"] for h in lora.history_]
    assert lora.best_epoch_ >= 1
    assert min(losses[1:]) < 0.9 * losses[0]


def test_save_load_round_trip_gives_identical_predictions(lora, tmp_path):
    texts, _ = signal(20, seed=1)
    path = lora.save(tmp_path / "adapter.safetensors")
    assert not list(tmp_path.glob(".*.tmp"))
    again = FineTunedTextRegressor.load(path)
    assert again.mode == "lora" and again.best_epoch_ == lora.best_epoch_
    np.testing.assert_array_equal(lora.predict(texts), again.predict(texts))
    # Saved by name in a workspace, beside its tables.
    workspace = Workspace(tmp_path / "shop.duckdb")
    lora.save_to(workspace, "title_demand")
    by_name = FineTunedTextRegressor.load_from(workspace, "title_demand")
    np.testing.assert_array_equal(lora.predict(texts), by_name.predict(texts))
    assert workspace.models.get("title_demand").kind == "text regressor"
    with pytest.raises(KeyError, match="no model 'titles'"):
        FineTunedTextRegressor.load_from(workspace, "titles")


def test_full_fine_tuning_round_trip_and_trains_base_weights(tiny_model, tmp_path):
    texts, y = signal(64)
    reg = small(tiny_model, mode="full", learning_rate=1e-3, epochs=2, patience=2)
    reg.fit(texts, y)
    assert reg.n_trainable_ > 1000
    again = FineTunedTextRegressor.load(reg.save(tmp_path / "full.safetensors"))
    np.testing.assert_array_equal(reg.predict(texts[:8]), again.predict(texts[:8]))


def test_seeded_runs_are_identical(tiny_model):
    texts, y = signal(48)
    first = small(tiny_model, epochs=2, learning_rate=1e-2).fit(texts, y).predict(texts)
    second = small(tiny_model, epochs=2, learning_rate=1e-2).fit(texts, y).predict(texts)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    ("texts", "y", "match"),
    [
        (["red scarf", ""], [1.0, 2.0], "empty"),
        ([], [], "empty"),
        (["red scarf", "blue towel"], [1.0], "one number per text"),
        (["red scarf", "blue towel"], [1.0, np.nan], "missing or infinite"),
        (["red scarf", "blue towel"], [1.0, np.inf], "missing or infinite"),
        ("red scarf", [1.0], "one string"),
    ],
)
def test_bad_input_is_refused(tiny_model, texts, y, match):
    with pytest.raises(ValueError, match=match):
        small(tiny_model).fit(texts, y)


def test_bad_settings_and_unfitted_use_are_refused(tiny_model, tmp_path):
    texts, y = signal(8)
    with pytest.raises(ValueError, match="mode"):
        small(tiny_model, mode="adapter").fit(texts, y)
    with pytest.raises(ValueError, match="target_modules"):
        small(tiny_model, target_modules=("q_proj",)).fit(texts, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        small(tiny_model).predict(texts)
    with pytest.raises(ValueError, match="both"):
        small(tiny_model).fit(texts, y, valid_texts=texts)
    with pytest.raises(ValueError, match="no fine-tuned model file"):
        FineTunedTextRegressor.load(tmp_path / "missing.safetensors")


def test_cold_start_finetuned_learns_the_text_signal(tiny_model):
    import pandas as pd

    from trendcast.models.coldstart import ColdStart

    texts, y = signal(60, seed=2)
    level = np.exp(np.array(y) + 1.5)
    ids = [f"p{i:02d}" for i in range(len(texts))]
    sales = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, 4),
            "ds": np.tile(pd.date_range("2024-01-07", periods=4, freq="W-SUN"), len(ids)),
            "y": np.repeat(level, 4),
        }
    )
    static = pd.DataFrame({"unique_id": ids, "title": texts, "cat_id": "A"})
    reg = small(tiny_model, epochs=1)
    cs = ColdStart(method="finetuned", n_periods=4, finetune=reg, price_col=None)
    fc = cs.fit(sales, static).predict(static)
    assert reg.__dict__.keys() == small(tiny_model, epochs=1).__dict__.keys()  # copied, unfitted
    total = fc.groupby("unique_id", sort=False)["ColdStart"].sum().to_numpy()
    premium = np.array(["premium" in t for t in texts])
    assert total[premium].mean() > 3 * total[~premium].mean()


def test_unknown_or_absent_device_is_refused(tiny_model):
    import torch

    texts, y = signal(8)
    for device in ("gpu-please", None):
        with pytest.raises(ValueError, match="`device` must be"):
            small(tiny_model, device=device).fit(texts, y)
    beyond = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ValueError, match=f"torch sees {torch.cuda.device_count()}"):
        small(tiny_model, device=beyond).fit(texts, y)


def test_the_callers_torch_settings_are_restored(tiny_model):
    import torch

    texts, y = signal(8)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        small(tiny_model, epochs=1).fit(texts, y)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_fine_tuning_on_a_gpu_saves_a_model_that_loads_on_the_cpu(tiny_model, tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    texts, y = signal()
    reg = small(
        tiny_model, mode="lora", lora_r=4, learning_rate=2e-2, epochs=4, patience=4, device="cuda"
    )
    reg = reg.fit(texts[:120], y[:120], valid_texts=texts[120:], valid_y=y[120:])
    assert next(reg.model_.parameters()).device.type == "cuda"
    assert min(h["valid_loss"] for h in reg.history_[1:]) < 0.9 * reg.history_[0]["valid_loss"]
    on_cpu = FineTunedTextRegressor.load(reg.save(tmp_path / "gpu.safetensors"))
    assert next(on_cpu.model_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(on_cpu.predict(texts), reg.predict(texts), atol=1e-4)
