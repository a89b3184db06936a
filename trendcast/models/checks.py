"""The checks every model class passes, as scikit-learn's ``check_estimator``: run them on a
model of your own before putting it into a `Forecaster`.

Each check takes an unfitted model (a template it clones, never fits) and a small simulated
shop, and raises ``AssertionError`` saying what broke. `model_checks` names them all;
`check_model` runs them all.

Example:
    >>> from trendcast.models import SeasonalNaive
    >>> from trendcast.models.checks import check_model
    >>> check_model(SeasonalNaive())  # raises AssertionError on the first broken property
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast.data.arrays import SeriesArrays
from trendcast.data.contract import ShopData
from trendcast.errors import NotFittedError
from trendcast.models.base import Model, Prediction, load

H = 7
QUANTILES = (0.9, 0.1, 0.5)  # not sorted: the quantile axis must follow the order asked
_RENAMED = {"unique_id": "sku", "ds": "date", "y": "units"}


def check_shop(seed: int = 0) -> ShopData:
    """The small shop the checks fit on: 8 series, 200 days (enough for price and promotion
    effects to be learnt), and the plan of the next H days in the dynamic frame."""
    from trendcast.data.simulate import simulate_shop

    return simulate_shop(
        n_items=4, n_stores=2, n_periods=200, seed=seed, reviews=False, future_periods=H
    ).data


def check_fit_returns_self(model: Model, shop: ShopData) -> None:
    fresh = model.clone()
    fitted = fresh.fit(_arrays(shop))
    assert fitted is fresh, f"{_name(model)}.fit returned {fitted!r}, not the model itself."


def check_not_fitted_error(model: Model, shop: ShopData) -> None:
    try:
        model.clone().predict(H)
    except NotFittedError:
        return
    except Exception as error:
        raise AssertionError(
            f"{_name(model)}.predict before fit raised {type(error).__name__}, "
            "not trendcast.errors.NotFittedError."
        ) from error
    raise AssertionError(f"{_name(model)}.predict before fit returned a forecast.")


def check_quantiles_in_the_order_asked(model: Model, shop: ShopData) -> None:
    prediction = _fit(model, shop).predict(H, QUANTILES)
    n = shop.sales["unique_id"].nunique()
    assert prediction.mean.shape == (n, H), f"mean has shape {prediction.mean.shape}."
    q = prediction.quantiles
    assert q is not None and q.shape == (n, H, len(QUANTILES)), "quantiles missing or misshapen."
    assert np.isfinite(prediction.mean).all() and np.isfinite(q).all(), "non-finite forecasts."
    q90, q10, q50 = (q[..., i] for i in range(len(QUANTILES)))
    assert (q10 <= q50).all() and (q50 <= q90).all(), (
        f"{_name(model)}: quantiles {QUANTILES} asked in this order came back crossed or "
        "reordered (q0.1 above q0.5, or q0.5 above q0.9)."
    )
    assert (q90 > q10).any(), f"{_name(model)}: q0.9 equals q0.1 everywhere: no spread at all."


def check_non_negative(model: Model, shop: ShopData) -> None:
    prediction = _fit(model, shop).predict(H, QUANTILES)
    assert (prediction.mean >= 0).all(), f"{_name(model)} forecast negative demand."
    assert (prediction.quantiles >= 0).all(), f"{_name(model)} forecast negative quantiles."


def check_seeded_determinism(model: Model, shop: ShopData) -> None:
    first = _fit(model, shop).predict(H, QUANTILES)
    second = _fit(model, shop).predict(H, QUANTILES)
    _assert_same(first, second, f"{_name(model)}: two fits with the same parameters")


def check_clone(model: Model, shop: ShopData) -> None:
    fitted = _fit(model, shop)
    twin = fitted.clone()
    assert type(twin) is type(model) and twin is not fitted, "clone returned the model itself."
    assert repr(twin.get_params()) == repr(model.get_params()), (
        f"{_name(model)}: the clone's parameters differ: {twin.get_params()} vs "
        f"{model.get_params()}."
    )
    assert not twin.is_fitted, f"{_name(model)}: the clone of a fitted model is fitted."
    learned = sorted(k for k in vars(twin) if k.endswith("_") and not k.startswith("__"))
    assert not learned, f"{_name(model)}: the clone carries fitted state {learned}."


def check_save_load(model: Model, shop: ShopData) -> None:
    fitted = _fit(model, shop)
    with tempfile.TemporaryDirectory() as tmp:
        fitted.save(Path(tmp) / "model")
        loaded = load(Path(tmp) / "model")
        assert type(loaded) is type(model), f"loaded a {type(loaded).__name__}."
        _assert_same(
            fitted.predict(H, QUANTILES),
            loaded.predict(H, QUANTILES),
            f"{_name(model)}: the saved model and the one loaded back",
        )


def check_polars_in_polars_out(model: Model, shop: ShopData) -> None:
    import polars as pl

    from trendcast.forecaster import Forecaster

    sales = pl.from_pandas(shop.sales.astype({"unique_id": str}))
    forecast = Forecaster([model.clone()], freq="D").fit(sales).predict(H)
    assert isinstance(forecast, pl.DataFrame), (
        f"{_name(model)}: polars in, {type(forecast).__name__} out."
    )


def check_renamed_columns(model: Model, shop: ShopData) -> None:
    from trendcast.forecaster import Forecaster

    def forecast(rename: dict[str, str]) -> pd.DataFrame:
        columns = {"id_col": "unique_id", "time_col": "ds", "target_col": "y"}
        columns = {key: rename.get(value, value) for key, value in columns.items()}
        frames = {
            name: getattr(shop, name).rename(columns=rename) for name in ("static", "dynamic")
        }
        fc = Forecaster([model.clone()], freq="D", **columns)
        return fc.fit(shop.sales.rename(columns=rename), **frames).predict(H)

    plain, renamed = forecast({}), forecast(_RENAMED)
    assert list(renamed.columns[:2]) == ["sku", "date"], (
        f"{_name(model)}: renamed columns came back as {list(renamed.columns[:2])}."
    )
    values = [c for c in plain.columns if c not in ("unique_id", "ds")]
    assert np.array_equal(plain[values].to_numpy(), renamed[values].to_numpy()), (
        f"{_name(model)}: renaming the id, date and target columns changed the forecasts."
    )


def check_plan_at_predict_time(model: Model, shop: ShopData) -> None:
    """A model that reads known-in-advance covariates forecasts differently with another plan;
    one that does not, forecasts the same."""
    from trendcast.forecaster import Forecaster

    fc = Forecaster([model.clone()], freq="D", quantiles=(0.5,))
    fc.fit(shop.sales, static=shop.static, dynamic=shop.dynamic)
    last = shop.sales["ds"].max()
    plan = shop.dynamic.loc[shop.dynamic["ds"] > last, ["unique_id", "ds", "price", "promo"]]
    changed = plan.assign(price=plan["price"] * 0.5, promo=1 - plan["promo"])
    column = fc.models_[0].alias
    before, after = fc.predict(H)[column], fc.predict(H, dynamic=changed)[column]
    if fc.models_[0].supports_future_covariates:
        assert not np.array_equal(before, after), (
            f"{_name(model)} reads future covariates, but halving prices and flipping "
            "promotions in the plan left its forecasts unchanged."
        )
    else:
        assert np.array_equal(before, after), (
            f"{_name(model)} says it reads no future covariates, but the plan changed its "
            "forecasts: set supports_future_covariates = True."
        )


CHECKS: tuple[Callable[[Model, ShopData], None], ...] = (
    check_fit_returns_self,
    check_not_fitted_error,
    check_quantiles_in_the_order_asked,
    check_non_negative,
    check_seeded_determinism,
    check_clone,
    check_save_load,
    check_polars_in_polars_out,
    check_renamed_columns,
    check_plan_at_predict_time,
)


def model_checks(model: Model) -> Iterator[tuple[str, Callable[[Model, ShopData], None]]]:
    """Each check's name (without ``check_``) and function, to parametrize tests with."""
    for check in CHECKS:
        yield check.__name__.removeprefix("check_"), check


def check_model(model: Model, shop: ShopData | None = None) -> None:
    """Runs every check on ``model``; raises ``AssertionError`` on the first that fails."""
    shop = shop if shop is not None else check_shop()
    for _, check in model_checks(model):
        check(model, shop)


def _arrays(shop: ShopData) -> SeriesArrays:
    return SeriesArrays.from_frame(shop.sales, "D")


def _fit(model: Model, shop: ShopData) -> Model:
    """A fresh clone fitted as a `Forecaster` fits it, with the shop's covariates."""
    from trendcast.forecaster import Forecaster

    fc = Forecaster([model.clone()], freq="D").fit(
        shop.sales, static=shop.static, dynamic=shop.dynamic
    )
    return fc.models_[0]


def _assert_same(first: Prediction, second: Prediction, what: str) -> None:
    same = np.array_equal(first.mean, second.mean) and np.array_equal(
        first.quantiles, second.quantiles
    )
    assert same, f"{what} forecast differently."


def _name(model: Model) -> str:
    return type(model).__name__
