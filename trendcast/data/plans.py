"""The plan of the coming periods when the shop gives none: today's prices, no promotion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trendcast.data.contract import ShopData

_PROMOTION_PREFIXES = ("promo", "discount")


def current_prices(data: ShopData, column: str = "price") -> pd.Series:
    """Each series' last price up to its last sale (a plan of later periods left out)."""
    cols = data.columns
    last_day = data.sales.groupby(cols.id_col, observed=True)[cols.time_col].max()
    dynamic = data.dynamic[[cols.id_col, cols.time_col, column]]
    history = dynamic[dynamic[cols.time_col] <= dynamic[cols.id_col].map(last_day)]
    history = history.sort_values(cols.time_col, kind="stable")
    return history.groupby(cols.id_col, observed=True)[column].last()


def is_price(name: str) -> bool:
    return name.lower().startswith("price") or name.lower().endswith("price")


def keep_prices(
    data: ShopData, h: int, known_future: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The known-in-advance columns of each series over its next ``h`` periods, with the
    values the dynamic frame already plans kept and the others filled: a price column with
    the series' last price, a promotion column (``promo*``, ``discount*``) with 0.

    Returns:
        The plan (id, date and the columns) and, per column, the cells filled.

    Raises:
        ValueError: naming the other known-in-advance columns (events, holidays) the frame
            does not plan for every period: nobody can guess those.
    """
    cols = data.columns
    future = _future_dates(data, h)
    known = [name for name in known_future if name in data.dynamic.columns]
    have = data.dynamic[[*cols.key, *known]]
    plan = future.merge(have, on=list(cols.key), how="left", indicator=True)
    absent = (plan.pop("_merge") == "left_only").to_numpy()
    last = have.sort_values(list(cols.key)).groupby(cols.id_col, observed=True)[known].last()
    unknown, filled = [], {}
    for name in known:
        missing = plan[name].isna()
        if is_price(name) and missing.any():
            filled[name] = int(missing.sum())
            plan.loc[missing, name] = plan.loc[missing, cols.id_col].map(last[name]).to_numpy()
        elif name.lower().startswith(_PROMOTION_PREFIXES) and missing.any():
            filled[name] = int(missing.sum())
            plan.loc[missing, name] = 0
        elif absent.any():
            # An empty cell of a planned row says "no event"; a row not planned says nothing.
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"the model reads {unknown} at the forecast periods, and the dynamic file does not "
            f"give them for all of the next {h} periods. Fix: add those rows to the dynamic "
            "file, or give the plan of the coming periods (--dynamic, or dynamic=)."
        )
    return plan, filled


def _future_dates(data: ShopData, h: int) -> pd.DataFrame:
    """Each series' next ``h`` dates after its last sale."""
    cols = data.columns
    offset = pd.tseries.frequencies.to_offset(data.freq)
    last = data.sales.groupby(cols.id_col, observed=True)[cols.time_col].max()
    steps = {day: [day + offset * k for k in range(1, h + 1)] for day in last.drop_duplicates()}
    return pd.DataFrame(
        {
            cols.id_col: np.repeat(last.index.to_numpy(), h),
            cols.time_col: pd.to_datetime([d for day in last for d in steps[day]]),
        }
    )
