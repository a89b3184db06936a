"""Explanations in human terms: feature importance and contributions grouped by what they mean."""

from __future__ import annotations

import pandas as pd

# Feature name prefixes of each group, checked in order.
GROUPS = {
    "base value": ("bias",),
    "trend and recent sales": ("lag_", "mean_", "std_", "level", "since_sale", "scale"),
    "seasonality and calendar": ("day_of_week", "day_of_month", "week_of_year", "month"),
    "price": ("price", "sell_price", "discount"),
    "promotion": ("promo",),
    "events and holidays": ("event", "snap", "holiday"),
    "shopper behaviour": ("views", "clicks", "add_to_carts"),
    "availability": ("in_stock",),
}
PRODUCT = "product and store attributes"


def feature_group(name: str) -> str:
    """The human group of a feature name; unknown names are product or store attributes."""
    for group, prefixes in GROUPS.items():
        if str(name).startswith(prefixes):
            return group
    return PRODUCT


def group_importance(importance: pd.Series) -> pd.Series:
    """Sums per-feature importance (indexed by feature name) into shares per group."""
    grouped = importance.groupby(importance.index.map(feature_group)).sum()
    total = grouped.sum()
    return (grouped / total if total else grouped).sort_values(ascending=False)


def group_contributions(contributions: pd.DataFrame) -> pd.DataFrame:
    """Sums per-feature contribution columns into one column per group (rows unchanged)."""
    return contributions.T.groupby(contributions.columns.map(feature_group)).sum().T
