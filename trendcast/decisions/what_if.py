"""What-if forecasts: the forecaster's forecast under another price or promotion plan, next to
the fitted plan's, without a refit; optionally scaled by the estimated elasticities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas

__all__ = ["what_if"]


def what_if(
    forecaster: Any,
    h: int,
    plan: Any,
    *,
    model: str | None = None,
    elasticities: Any = None,
    level: str = "item_id",
    price_col: str = "price",
) -> Any:
    """Forecasts under a different price or promotion plan, next to the fitted plan's.

    The fitted model forecasts twice, without a refit (a plan changes only the covariates of
    the periods to forecast, never what the model learned from the past): with the fitted plan,
    then with ``plan`` given to `Forecaster.predict`, whose rows replace the fitted plan's;
    rows ``plan`` does not name keep the fitted plan.

    A forecaster learns price response only as far as it helps forecast accuracy, and LightGBM
    learns little of it (on the sample shop its implied elasticities barely rank with the true
    ones; see benchmarks/elasticity_recovery.py). With ``elasticities``, the result also has
    ``what_if_elasticity``: the baseline forecast times ``(planned / fitted price) ** e`` with
    each item's estimated elasticity ``e``, the price response measured on the history. It
    covers price changes only; promotions move it through their price alone.

    Args:
        forecaster: a `trendcast.Forecaster` fitted with a ``dynamic`` frame that holds the
            plan for the next ``h`` periods, with a model that reads known-future covariates
            (`trendcast.models.LightGBM`).
        h: horizon, as given to ``predict``.
        plan: long frame ``id, ds`` plus the numeric planned columns to change (e.g.
            ``price``, ``promo``), for periods after each series' last sale date; each row
            must exist in the fitted ``dynamic``.
        model: alias of the model to use (default: the forecaster's first model).
        elasticities: optional output of `estimate_elasticities`, for ``what_if_elasticity``;
            the forecaster's ``static`` frame must map series to its ``level``.
        level: the item column of ``elasticities`` and of the fitted ``static``.
        price_col: the price column of the plan.

    Returns:
        Long frame ``id, ds, baseline, what_if`` (and ``what_if_elasticity``): the mean
        forecast under the fitted plan and under ``plan``. Same frame type as ``plan``.

    Example:
        >>> from trendcast import Forecaster, simulate_shop
        >>> from trendcast.models import LightGBM
        >>> shop = simulate_shop(n_items=6, n_stores=1, n_periods=300, future_periods=7,
        ...                      reviews=False)
        >>> d = shop.data
        >>> fc = Forecaster([LightGBM(n_estimators=30)]).fit(
        ...     d.sales, static=d.static, dynamic=d.dynamic)
        >>> future = d.dynamic[d.dynamic["ds"] > d.sales["ds"].max()]
        >>> cut = future[["unique_id", "ds"]].assign(price=future["price"] * 0.7)
        >>> out = what_if(fc, 7, cut)
        >>> out.columns.tolist()
        ['unique_id', 'ds', 'baseline', 'what_if']
    """
    fitted = _forecasting_model(forecaster, model)
    columns = forecaster.data_.columns
    id_col, time_col = columns.id_col, columns.time_col
    plan_df = to_pandas(plan, name="plan")
    _check_plan(plan_df, forecaster)
    dynamic = forecaster.data_.dynamic
    planned = plan_df.assign(**{time_col: pd.to_datetime(plan_df[time_col])})
    keys = pd.MultiIndex.from_frame(dynamic[[id_col, time_col]].astype({id_col: object}))
    position = keys.get_indexer(
        pd.MultiIndex.from_frame(planned[[id_col, time_col]].astype({id_col: object}))
    )
    if (position < 0).any():
        bad = planned.loc[position < 0, [id_col, time_col]].head(5).to_string(index=False)
        raise ValueError(
            f"`plan` has {int((position < 0).sum())} rows with no row in the fitted `dynamic`, "
            f"e.g.\n{bad}\nFix: fit the forecaster with the base plan for every period to "
            "forecast, then change it here."
        )
    # Predict twice, with the fitted plan and with this one: the model is not refitted.
    forecast = {"quantiles": (), "models": [fitted.alias]}
    before = to_pandas(forecaster.predict(h, **forecast))
    after = to_pandas(forecaster.predict(h, dynamic=planned, **forecast))
    out = before[[id_col, time_col]].assign(
        baseline=before[fitted.alias].to_numpy(), what_if=after[fitted.alias].to_numpy()
    )
    if elasticities is not None:
        if price_col not in dynamic.columns:
            raise ValueError(
                f"The fitted `dynamic` has no {price_col!r} column to scale by the elasticities; "
                "name the price column with `price_col`."
            )
        rows = keys.get_indexer(
            pd.MultiIndex.from_frame(out[[id_col, time_col]].astype({id_col: object}))
        )
        price = dynamic[price_col].to_numpy(np.float64)
        scenario = price.copy()
        if price_col in planned.columns:
            scenario[position] = planned[price_col].to_numpy(np.float64)
        ratio = scenario[rows] / price[rows]
        slope = _series_elasticity(elasticities, forecaster.data_.static, out[id_col], level)
        out["what_if_elasticity"] = out["baseline"] * ratio**slope
    return like(out, plan)


def _series_elasticity(
    elasticities: Any, static: pd.DataFrame | None, ids: pd.Series, level: str
) -> np.ndarray:
    """Each row's item elasticity, through the fitted static frame."""
    el = to_pandas(elasticities, name="elasticities")
    missing = [c for c in (level, "elasticity") if c not in el.columns]
    if missing:
        raise ValueError(
            f"`elasticities` has no column {missing}; pass the output of estimate_elasticities."
        )
    id_col = ids.name
    if static is None or level not in static.columns:
        raise ValueError(
            f"The forecaster was fitted without a `static` frame with {level!r}, so series "
            f"cannot be matched to items. Fix: fit with static=... holding {level!r}."
        )
    item = ids.astype(object).map(static.set_index(id_col)[level].astype(str))
    slope = item.map(el.assign(**{level: el[level].astype(str)}).set_index(level)["elasticity"])
    if slope.isna().any():
        raise ValueError(
            f"`elasticities` has no estimate for the items "
            f"{list(item[slope.isna()].unique()[:5])}. "
            "Fix: estimate every item of the forecaster."
        )
    return slope.to_numpy(np.float64)


def _forecasting_model(forecaster: Any, alias: str | None) -> Any:
    chosen = forecaster.model(alias)
    if not chosen.supports_future_covariates or forecaster.data_.dynamic is None:
        raise ValueError(
            f"{chosen.alias} reads no known-future covariates, so a plan cannot change its "
            "forecasts. Fix: fit Forecaster([LightGBM(), ...]) with a `dynamic` frame holding "
            "price and promotion plans."
        )
    return chosen


def _check_plan(plan: pd.DataFrame, forecaster: Any) -> None:
    """Checks the plan's shape, columns, values and periods."""
    columns = forecaster.data_.columns
    id_col, time_col = columns.id_col, columns.time_col
    missing = [c for c in (id_col, time_col) if c not in plan.columns]
    if missing:
        raise ValueError(f"`plan` has no column {missing}; it has {plan.columns.tolist()}.")
    changed = [c for c in plan.columns if c not in (id_col, time_col)]
    dynamic = forecaster.data_.dynamic
    allowed = [
        c
        for c in dynamic.columns.drop(list(columns.key))
        if forecaster.covariates_.is_known_future(c) and pd.api.types.is_numeric_dtype(dynamic[c])
    ]
    wrong = [c for c in changed if c not in allowed]
    if not changed or wrong:
        raise ValueError(
            f"`plan` must change some of the model's numeric known-future covariates "
            f"{allowed}; got {changed}. Fix: keep only {id_col}, {time_col} and those columns."
        )
    if plan.duplicated([id_col, time_col]).any():
        repeated = plan.loc[plan.duplicated([id_col, time_col]), [id_col, time_col]]
        raise ValueError(
            f"`plan` has repeated rows:\n{repeated.head(5).to_string(index=False)}\n"
            "Fix: one row per series and period."
        )
    for name in changed:
        values = pd.to_numeric(plan[name], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(values)
        if name.lower().startswith(("price", "sell_price")):
            bad |= values <= 0
        if bad.any():
            raise ValueError(
                f"`plan` column {name!r} must be finite (and positive for prices); "
                f"{int(bad.sum())} rows are not, e.g.\n"
                f"{plan.loc[bad, [id_col, time_col, name]].head(5).to_string(index=False)}"
            )
    last = pd.Series(forecaster.arrays_.last_ds, index=pd.Index(forecaster.arrays_.ids))
    last_sale = plan[id_col].astype(object).map(last)
    unknown = last_sale.isna()
    if unknown.any():
        raise ValueError(
            f"`plan` names series the forecaster was not fitted on: "
            f"{plan.loc[unknown, id_col].unique()[:5].tolist()}."
        )
    past = pd.to_datetime(plan[time_col]).to_numpy() <= last_sale.to_numpy("datetime64[ns]")
    if past.any():
        raise ValueError(
            f"`plan` must only change periods after each series' last sale; {int(past.sum())} "
            f"rows do not, e.g.\n{plan.loc[past, [id_col, time_col]].head(5).to_string(index=False)}"
        )
