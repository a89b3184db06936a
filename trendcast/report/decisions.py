"""Decision tables as HTML fragments for the report: what to order, what to charge, what to promote.

Each function returns ``(heading, html)`` for `trendcast.report.html.write_report`'s ``sections``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

__all__ = ["frame_table", "order_section", "price_section", "promotion_section"]


def frame_table(frame: pd.DataFrame, formats: Mapping[str, str]) -> str:
    """An HTML table of ``frame``'s columns named in ``formats``, each cell formatted with its
    format spec (``""`` for text, aligned left), values escaped."""

    def cell(value, spec: str) -> str:
        if spec and pd.notna(value):
            return f"<td>{html.escape(format(value, spec))}</td>"
        return f"<td class='text'>{html.escape('' if pd.isna(value) else str(value))}</td>"

    head = "".join(
        f"<th{'' if spec else ' class=text'}>{html.escape(name.replace('_', ' '))}</th>"
        for name, spec in formats.items()
    )
    rows = [
        "<tr>" + "".join(cell(row[c], spec) for c, spec in formats.items()) + "</tr>"
        for _, row in frame.iterrows()
    ]
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def order_section(orders: pd.DataFrame, *, id_col: str = "unique_id", top: int = 15):
    """The order list: the largest recommended orders first."""
    ordering = orders[orders["order_qty"] > 0].sort_values("order_qty", ascending=False)
    text = (
        f"{len(ordering)} of {len(orders)} series need an order now. Order-up-to levels are "
        "quantiles of the demand over lead time plus review period, summed path by path over the "
        "forecaster's sample paths."
    )
    formats = {
        id_col: "",
        "inventory_position": ",.0f",
        "demand_mean": ",.1f",
        "safety_stock": ",.1f",
        "order_up_to": ",.0f",
        "order_qty": ",.0f",
        "expected_fill_rate": ".1%",
        "stockout_probability": ".1%",
    }
    return "What to order", _note(text) + frame_table(ordering.head(top), formats)


def price_section(best: pd.DataFrame, elasticities: pd.DataFrame, *, top: int = 15):
    """Recommended prices with the elasticity behind each, the expected gain and whether to act
    (`settle_prices`' ``action`` and ``reason``)."""
    table = best.merge(elasticities[["item_id", "elasticity", "std_error"]], on="item_id")
    table = table.sort_values(["action", "gain"], ascending=[True, False])
    changes = int((table["action"] == "change").sum())
    text = (
        "Elasticities come from the history (Poisson regression with promotions, events, "
        "weekdays and a smooth trend as controls, shrunk toward the category); the best price "
        "maximises the expected profit of the forecast period within the bounds. A price is "
        "changed only where the elasticity is negative and certain and the gain's 90% interval "
        f"lies above zero: {changes} of {len(table)} items."
    )
    formats = {
        "item_id": "",
        "elasticity": ".2f",
        "std_error": ".2f",
        "price": ",.2f",
        "best_price": ",.2f",
        "change": "+.0%",
        "gain": ",.0f",
        "prob_gain": ".0%",
        "action": "",
        "reason": "",
    }
    return "Prices", _note(text) + frame_table(table.head(top), formats)


def promotion_section(promotions: pd.DataFrame, *, top: int = 15):
    """Items to promote, to push without a discount, and not to promote."""
    counts = promotions["action"].value_counts()
    text = ", ".join(f"{counts.get(a, 0)} {a.replace('_', ' ')}" for a in counts.index) or "none"
    formats = {
        promotions.columns[0]: "",
        "action": "",
        "trend": "",
        "uplift_units": ",.0f",
        "profit_change": ",.0f",
        "weeks_of_cover": ".1f",
        "reason": "",
    }
    return "Promotions", _note(f"Candidates: {text}.") + frame_table(promotions.head(top), formats)
