"""A shop's own order log into the workspace: demand per period, ready for every command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast.data.adapters.transactions import TransactionReport
from trendcast.data.contract import ShopData
from trendcast.data.store import as_workspace

SHOP = "input"  # the shop every command reads when it is given a workspace and no sales file

# Column names of common shop systems and exports, per role, compared without case, spaces or
# punctuation; the first role a column fits is its role.
COLUMN_NAMES = {
    "time_col": ("invoicedate", "orderdate", "date", "datetime", "timestamp", "createdat", "time"),
    "product_col": ("stockcode", "sku", "productid", "productcode", "itemid", "articleid"),
    "quantity_col": ("quantity", "qty", "units", "unitssold"),
    "price_col": ("unitprice", "price", "itemprice", "saleprice"),
    "customer_col": ("customerid", "customer", "clientid", "userid", "buyerid"),
    "invoice_col": ("invoiceno", "invoice", "invoiceid", "orderid", "orderno", "ordernumber"),
    "text_col": ("description", "title", "productname", "itemname", "name"),
    "category_col": ("category", "catid", "categoryname", "department", "productcategory"),
    "store_col": ("storeid", "store", "shopid", "channel"),
}
_REQUIRED = ("time_col", "product_col", "quantity_col")
_OPTION = {role: "--" + role.replace("_col", "-col").replace("_", "-") for role in COLUMN_NAMES}


@dataclass
class Imported:
    """What `import_orders` stored: the shop, the adapter's report, the columns it read and
    the run that stored them."""

    data: ShopData
    report: TransactionReport
    columns: dict[str, str]
    run_id: str


def recognise_columns(names: list[str], given: dict[str, str | None]) -> dict[str, str]:
    """The column of each role: the one ``given``, else one whose name is a common one for the
    role. Without a product id the description is the product; a store column is used only
    when given (a country or channel column would split every product).

    Raises:
        ValueError: naming the roles no column fits, the columns there are and the options.
    """
    plain = {re.sub(r"[^a-z0-9]", "", name.lower()): name for name in names}
    roles = {role: column for role, column in given.items() if column}
    for role, column in roles.items():
        if column not in names:
            raise ValueError(
                f"the order log has no column {column!r} ({_OPTION[role]}); its columns are "
                f"{names}."
            )
    taken = set(roles.values())
    for role, candidates in COLUMN_NAMES.items():
        if role in roles or role == "store_col":
            continue
        found = next((plain[c] for c in candidates if c in plain and plain[c] not in taken), None)
        if found is not None:
            roles[role] = found
            taken.add(found)
    if "product_col" not in roles and "text_col" in roles:
        roles["product_col"] = roles["text_col"]
    missing = [role for role in _REQUIRED if role not in roles]
    if missing:
        raise ValueError(
            f"no column of the order log looks like its {', '.join(r[:-4] for r in missing)}; "
            f"its columns are {names}. Fix: name them with "
            + ", ".join(f"{_OPTION[r]} COLUMN" for r in missing)
            + "."
        )
    return roles


def read_orders(
    path: str | Path, *, sep: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """An order log from CSV, Parquet or Excel, every CSV column read as text: ids keep
    their leading zeros and exact digits, numbers their written form (read by the adapter's
    rules), and only empty cells are missing."""
    from trendcast.data.io import read_frame

    return read_frame(path, sep=sep, encoding=encoding, text_columns=True)


def import_orders(
    orders: Any,
    workspace: Any,
    *,
    freq: str = "W-MON",
    columns: dict[str, str | None] | None = None,
    source: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    **options: Any,
) -> Imported:
    """Reads an order log, turns it into demand per product and period
    (`trendcast.data.adapters.from_transactions`), validates it and stores it in the
    workspace as the shop ``input`` with the report, in one run.

    Args:
        orders: a file (CSV, Parquet, Excel) or a frame, one row per order line; ``sep``
            and ``encoding`` read a CSV file (detected when not given).
        freq: ``"D"``, ``"W"`` (weeks from Monday), ``"W-MON"`` .. ``"W-SUN"`` or ``"MS"``.
        columns: role -> column (``time_col``, ``product_col``, ``quantity_col``,
            ``price_col``, ``customer_col``, ``invoice_col``, ``text_col``,
            ``category_col``, ``store_col``); roles left out are recognised by name.
        options: passed to `from_transactions` (``cancel_window``, ``non_products``,
            ``outlier_factor``, ``time_format``, ``cancel_prefix``).
    """
    from trendcast.data.adapters import from_transactions
    from trendcast.data.validate import validate

    if isinstance(orders, (str, Path)):
        source, orders = source or str(orders), read_orders(orders, sep=sep, encoding=encoding)
    roles = recognise_columns([str(c) for c in orders.columns], columns or {})
    data, report = from_transactions(
        orders, **roles, freq="W-MON" if freq.upper() == "W" else freq, **options
    )
    if data.sales.empty:
        raise ValueError(f"no demand line is left in the order log:\n{report}")
    shop = validate(data.sales, static=data.static, dynamic=data.dynamic, freq=data.freq)
    results = {f"{SHOP}_import_report": report.summary(), f"{SHOP}_outliers": report.outliers}
    meta = {"source": source or "frame", "order_columns": roles}
    run_id = as_workspace(workspace).write_run(
        "import", meta={**meta, "report": str(report)}, shop=(SHOP, shop), results=results
    )
    return Imported(shop, report, roles, run_id)


def workspace_shop(workspace: Any) -> ShopData:
    """The shop last imported or stored in the workspace."""
    ws = as_workspace(workspace)
    try:
        return ws.read_shop(SHOP)
    except KeyError:
        raise ValueError(
            f"the workspace {ws.path} holds no shop yet: import one (`trendcast import "
            "orders.csv --workspace ...`) or pass the sales file."
        ) from None
