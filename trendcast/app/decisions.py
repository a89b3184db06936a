"""The forecaster decisions are made from: a saved one (no refit) or one fitted for the run."""

from __future__ import annotations

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
