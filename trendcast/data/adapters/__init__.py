"""Adapters from the shapes retail data comes in to the data contract (:class:`ShopData`).

Two families are covered:

* the M5 (Walmart) layout: wide daily sales plus the calendar and weekly sell prices
  (:func:`from_m5`), or the already-long variant with calendar and price joined
  (:func:`from_m5_long`);
* raw order lines / transactions with timestamps, quantities and prices
  (:func:`from_transactions`), aggregated to demand per product and period.

No row is dropped or changed without being counted: :func:`from_transactions` returns a
:class:`TransactionReport` beside the data, and the M5 adapters only leave rows out when asked
to (``trim_leading``), warning about series that disappear entirely.
"""

from trendcast.data.adapters.m5 import from_m5, from_m5_long
from trendcast.data.adapters.transactions import (
    EXCLUSION_REASONS,
    TransactionReport,
    from_transactions,
)

__all__ = ["EXCLUSION_REASONS", "TransactionReport", "from_m5", "from_m5_long", "from_transactions"]
