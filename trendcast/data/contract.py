"""The data contract: long frames with named id, time and target columns, plus side frames.

Sales are one row per series and period. Beside them live optional frames:

* ``static``: one row per series (hierarchy such as item/store/department/category,
  free text such as title and description, numeric attributes). As a catalogue it may also
  list products without sales yet; every series of the sales needs a row.
* ``dynamic``: one row per series and period, possibly extending into the future
  (price, promotion flag, availability/stock-out, events, views, clicks, add-to-carts).
* ``reviews``: one row per review (series id, date, rating, text).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Columns:
    """Names of the id, time and target columns of the long frames."""

    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"

    @property
    def key(self) -> list[str]:
        return [self.id_col, self.time_col]


DEFAULT_COLUMNS = Columns()

# Column names the side frames use by convention; only the key columns are required.
HIERARCHY_COLUMNS = ("item_id", "store_id", "dept_id", "cat_id")
TEXT_COLUMNS = ("title", "description")


@dataclass
class ShopData:
    """A shop's data in the contract: sales plus optional side frames (all pandas, long format).

    Attributes:
        sales: one row per (id, period) with the target.
        freq: pandas frequency alias of the periods, e.g. ``"D"`` or ``"W-SUN"``.
        static: one row per id: hierarchy, text and numeric attributes; may hold ids without
            sales (catalogue products not sold yet), which are kept and not forecast.
        dynamic: one row per (id, period): covariates; may extend past the sales.
        reviews: one row per review: id, date, ``rating``, ``text``.
        columns: the names of the id, time and target columns.
        report: what validation did and noticed: changes made on request (gap filling,
            clipping) and notes (how dynamic frames were joined, catalogue rows without sales).
    """

    sales: pd.DataFrame
    freq: str
    static: pd.DataFrame | None = None
    dynamic: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    columns: Columns = field(default_factory=Columns)
    report: list[str] = field(default_factory=list)


def quantile_column(alias: str, q: float) -> str:
    """Name of the column holding quantile ``q`` of model ``alias``, e.g. ``"ETS-q-0.9"``."""
    return f"{alias}-q-{q:g}"
