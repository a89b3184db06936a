"""The forecaster decisions are made from: a saved one (no refit) or one fitted for the run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trendcast.app.forecasting import load_saved
from trendcast.data.contract import ShopData
from trendcast.forecaster import Forecaster


def decision_forecaster(
    data: ShopData | None = None,
    *,
    workspace: Any = None,
    model: str | None = None,
    progress: bool = False,
) -> tuple[Forecaster, ShopData, str | None]:
    """The forecaster, the shop it was fitted on and its model version (None when fitted now).

    With ``model`` (``NAME`` or ``NAME@VERSION`` in ``workspace``), the saved forecaster, not
    refitted: orders and prices then come from the model in production, with the plan of the
    day given to `order_list` or `Forecaster.predict` as ``dynamic``. Without, the default
    decision forecaster (`trendcast.decisions.plan.fit_forecaster`) fitted on ``data``.
    """
    if model:
        if data is not None:
            raise ValueError(
                f"give either the shop's data or a saved model, not both: '{model}' keeps the "
                "data it was trained on."
            )
        forecaster, version = load_saved(workspace, model)
        return forecaster, forecaster.data_, version.ref
    if data is None:
        raise ValueError("pass the shop's data, or a saved model with its workspace.")
    from trendcast.decisions.plan import fit_forecaster

    return fit_forecaster(data, progress=progress), data, None


def trends(
    data: ShopData,
    *,
    forecaster: Forecaster | None = None,
    horizon: int | None = None,
    dynamic: Any = None,
    stock: Any = None,
    **options: Any,
) -> Any:
    """The trend table of the shop (`trendcast.decisions.trends.trend_table`); with a
    forecaster, its forecast of the next ``horizon`` periods (default: the comparison window)
    under the plan ``dynamic`` joins it.

    ``options`` go to `trend_table`: ``level``, ``window``, ``launch_peers``, ``k_peers``,
    ``encoder``, the thresholds.
    """
    from trendcast.decisions.trends import trend_table

    forecasts = None
    if forecaster is not None:
        horizon = horizon or options.get("window", 28)
        forecasts = forecaster.predict(horizon, dynamic=dynamic)
    cols = data.columns
    return trend_table(
        data.sales,
        static=data.static,
        dynamic=data.dynamic,
        forecasts=forecasts,
        on_hand=stock,
        horizon=horizon,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
        **options,
    )


def new_products(
    data: ShopData,
    new: Any,
    *,
    method: str = "ridge",
    periods: int = 8,
    encoder: Any = None,
    finetune: dict[str, Any] | None = None,
    quantiles: Sequence[float] = (0.1, 0.9),
) -> Any:
    """Early-life forecasts of products without sales (`trendcast.models.ColdStart`), learnt
    from the launches in the shop's sales and their static attributes.

    Args:
        new: one row per new product: id, text, category, price (a frame or a file).
        method: as `ColdStart`; ``"finetuned"`` fine-tunes the text model with the
            `FineTunedTextRegressor` settings in ``finetune`` (``mode``, ``device``, ``model``).
        periods: periods of early life learnt and forecast.
        quantiles: levels of the quantile columns (`ColdStart.predict`); none with
            ``"finetuned"``.

    Returns:
        One row per new product and period: id, ``step``, the date ``ds`` (from the
        products' ``launch_ds``; where there is none, the period after the sales' last one)
        the forecast ``ColdStart`` and its quantiles.
    """
    import pandas as pd

    from trendcast.app.shop import as_frame
    from trendcast.models.coldstart import ColdStart

    if data.static is None:
        raise ValueError("coldstart learns from the launched products' attributes: pass --static.")
    regressor = None
    if method == "finetuned":
        from trendcast.text.finetune import FineTunedTextRegressor

        regressor = FineTunedTextRegressor(**{k: v for k, v in (finetune or {}).items() if v})
    cols = data.columns
    model = ColdStart(
        method=method,
        encoder=encoder,
        finetune=regressor,
        alias="ColdStart",
        # A launch price is used where the product files carry one.
        price_col="price" if "price" in data.static.columns else None,
        n_periods=periods,
        id_col=cols.id_col,
        time_col=cols.time_col,
        target_col=cols.target_col,
    ).fit(data.sales, data.static)
    new = as_frame(new, text_columns=[cols.id_col])
    if model.launch_col not in new.columns:
        last = pd.Timestamp(data.sales[cols.time_col].max())
        new = new.assign(**{model.launch_col: last + pd.tseries.frequencies.to_offset(data.freq)})
    return model.predict(new, quantiles=() if method == "finetuned" else quantiles)


def price_stock(
    data: ShopData, stock: Any = None, *, margin: float | None = None
) -> tuple[Any, list[str]]:
    """The stock a price list reads (`trendcast.decisions.plan.price_list`): the one given,
    nothing on hand where none is, and, with ``margin``, a unit cost of ``(1 - margin)``
    times each series' last price where the stock has none; with notes saying what was
    assumed.
    """
    import pandas as pd

    from trendcast.app.shop import as_frame

    cols, notes = data.columns, []
    if stock is None:
        ids = data.sales[cols.id_col].drop_duplicates().to_numpy()
        stock = pd.DataFrame({cols.id_col: ids, "on_hand": 0.0})
        notes.append("no stock file: nothing is on hand")
    stock = as_frame(stock, text_columns=[cols.id_col]).copy()
    if margin is not None:
        if not 0 <= margin < 1:
            raise ValueError(f"the margin must lie in [0, 1), got {margin}: e.g. 0.4 for 40%.")
        if "unit_cost" in stock.columns and stock["unit_cost"].notna().all():
            raise ValueError("the stock file gives every unit cost: leave out the margin.")
        if data.dynamic is None or "price" not in data.dynamic.columns:
            raise ValueError("a margin needs the shop's prices: pass --dynamic with 'price'.")
        from trendcast.data.plans import current_prices

        # The price the forecast starts from, not a planned one.
        assumed = stock[cols.id_col].map(current_prices(data)) * (1 - margin)
        given = stock["unit_cost"] if "unit_cost" in stock.columns else None
        stock["unit_cost"] = assumed if given is None else given.fillna(assumed)
        notes.append(
            f"unit costs assumed at {1 - margin:.0%} of the last price (a {margin:.0%} margin) "
            f"for {int(assumed.notna().sum() if given is None else given.isna().sum()):,} series"
        )
    return stock, notes


def coming_plan(forecaster: Forecaster, h: int, plan: Any = None) -> tuple[Any, str | None]:
    """The plan of the next ``h`` periods: the one given; else, when the forecaster reads
    known-in-advance columns the shop's dynamic frame does not give for those periods,
    today's prices and no promotion (`trendcast.data.plans.keep_prices`), with a note that
    says so; else None (the shop's own plan)."""
    from trendcast.app.shop import as_frame
    from trendcast.data.plans import keep_prices

    if plan is not None:
        return as_frame(plan, text_columns=[forecaster.data_.columns.id_col]), None
    data = forecaster.data_
    if data.dynamic is None:
        return None, None
    known = [c for c in data.dynamic.columns if forecaster.covariates_.is_known_future(c)]
    if not known:
        return None, None
    kept, filled = keep_prices(data, h, known)
    if not filled:
        return None, None
    return kept, (
        f"no plan for the next {h} periods: each series keeps its last price and no promotion "
        f"({', '.join(filled)}); give a plan with --dynamic"
    )
