"""Validation at entry: every check names the column, shows offending rows and says how to fix it.

All checks run that do not depend on a failed one, and one `DataValidationError` lists every
problem found, in every frame: three misnamed columns take one run to learn about, not three.
A check is skipped only when an earlier problem makes it meaningless (no duplicate check
without parsable dates, no gap check with duplicates, no id check against sales without ids).
Offending rows are shown by their row number in the frame as given, counting from 0.

Nothing is dropped or altered silently. Gap filling and clipping of negative targets happen only
when asked (``fill_gaps=True``, ``clip_negative=True``) and are recorded in ``ShopData.report``,
as are notes such as catalogue rows of products without sales (kept, not forecast).
The only conversions done without asking are lossless: parsing date strings to timestamps and
numeric strings or integers to floats, and sorting rows by (id, date).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.arrays import period_index, series_starts, shift_periods
from trendcast.data.contract import Columns, ShopData
from trendcast.data.dates import AmbiguousDates, holds_numbers, parse_times
from trendcast.data.io import AMBIGUOUS
from trendcast.errors import DataValidationError, Fix, Problem, Setting, Term

__all__ = [
    "DataValidationError",
    "validate",
    "validate_dynamic",
    "validate_reviews",
    "validate_sales",
    "validate_static",
]

MAX_ROWS = 500_000_000
MAX_PERIODS_PER_SERIES = 100_000
# The largest magnitude of a target or covariate: below 2**53, every integer up to it is kept
# exactly as a float, and sums over many rows and periods stay finite.
MAX_VALUE = 1e15
_SHOWN_IDS = 3
_TARGET_ALIASES = ("sales", "quantity", "qty", "units", "demand", "value", "y")
_TIME_ALIASES = ("date", "ds", "day", "week", "timestamp", "time", "period")
_ID_ALIASES = ("unique_id", "id", "sku", "item_id", "product_id", "series_id")
# Column names of order-line exports (one row per invoice line), lower case.
_ORDER_LOG_NAMES = {"invoiceno", "invoice", "invoicedate", "stockcode", "unitprice", "order_id",
                    "orderid", "order_date", "customerid", "customer_id", "line_id"}  # fmt: skip
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_FREQ_CHOICE = (
    Setting("freq", "D"),
    " (daily), ",
    Setting("freq", "W-SUN"),
    " (weekly by Sunday; any weekday) or ",
    Setting("freq", "MS"),
    " (month start).",
)
_FROM_TRANSACTIONS = Term("trendcast.data.adapters.from_transactions", "trendcast import")


class _Problems(list):
    """The problems found so far: checks add to it rather than raise, so one error lists all.

    It carries how every frame's dates are read (``time_format``, ``tz``) and the rows whose
    time zone was dropped, per frame, for the report.
    """

    def __init__(self, time_format: str | None = None, tz: str = "local"):
        super().__init__()
        self.time_format, self.tz = time_format, tz
        self.zoned: dict[str, int] = {}

    def add(
        self,
        message: str,
        *,
        fix: Fix | str,
        frame: str = "sales",
        column: str | None = None,
        rows: pd.DataFrame | None = None,
    ) -> None:
        fix = Fix((fix,)) if isinstance(fix, str) else fix
        self.append(Problem(message, fix, frame, column, rows))

    def raise_any(self) -> None:
        if self:
            raise DataValidationError(problems=self)


def validate(
    sales: Any,
    *,
    static: Any = None,
    dynamic: Any = None,
    reviews: Any = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    freq: str | None = None,
    fill_gaps: bool = False,
    clip_negative: bool = False,
    time_format: str | None = None,
    tz: str = "local",
) -> ShopData:
    """Validates sales and side frames against the contract and returns them as ``ShopData``.

    Args:
        sales: long frame (pandas or polars), one row per series and period.
        static: optional frame, one row per series (hierarchy, text, numeric attributes); a
            catalogue may list products without sales too: their rows are kept (``report``
            counts them) and not forecast. Every series of the sales needs a row.
        dynamic: optional frame, one row per series and period (covariates; may reach the
            future); or frames at any grain (per store, per date, ...), see `validate_dynamic`.
        reviews: optional frame, one row per review with ``rating`` and ``text``.
        id_col, time_col, target_col: names of the id, date and target columns.
        freq: ``"D"``, ``"W-SUN"`` (any weekday) or ``"MS"``; inferred when omitted.
        fill_gaps: insert missing periods inside a series with target 0 (reported).
        clip_negative: set negative targets to 0 (reported).
        time_format: the layout of text dates (``"%d/%m/%Y"``); without it ISO 8601, or the
            one common layout that reads every date (dates that read both day-first and
            month-first are refused).
        tz: dates with a time zone are taken at their local wall-clock time (``"local"``) or
            their instant in UTC (``"UTC"``), the zone dropped (reported).

    Returns:
        ShopData with sorted frames, parsed dates and float targets; ``report`` lists every change
        and note.

    Raises:
        DataValidationError: listing every problem found (``problems``), each with the frame,
            column, rows at fault and the fix.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"unique_id": ["a"] * 3, "ds": ["2024-01-01", "2024-01-02",
        ...                    "2024-01-03"], "y": [1, 0, 2]})
        >>> validate(df).freq
        'D'
    """
    columns = Columns(id_col, time_col, target_col)
    report: list[str] = []
    problems = _Problems(time_format, tz)
    sales_df, ids = _sales(sales, columns, freq, fill_gaps, clip_negative, report, problems)
    if sales_df is not None:
        freq = sales_df.attrs["freq"]
    elif freq is not None and not _supported(freq):
        freq = None  # reported with the sales
    static_df = None if static is None else _static(static, ids, columns, report, problems)
    dynamic_df = None
    if dynamic is not None:
        dynamic_df = _dynamic(
            dynamic,
            ids,
            freq,
            columns,
            static_df,
            report,
            problems,
            static_usable=static is None or static_df is not None,
        )
    reviews_df = None if reviews is None else _reviews(reviews, ids, columns, problems)
    problems.raise_any()
    _report_zones(problems, report)
    return ShopData(
        sales=sales_df,
        freq=freq,
        static=static_df,
        dynamic=dynamic_df,
        reviews=reviews_df,
        columns=columns,
        report=report,
    )


def validate_sales(
    sales: Any,
    *,
    columns: Columns = Columns(),
    freq: str | None = None,
    fill_gaps: bool = False,
    clip_negative: bool = False,
    report: list[str] | None = None,
) -> pd.DataFrame:
    """Validates the long sales frame; see `validate`. The frequency is stored in ``attrs['freq']``."""
    problems = _Problems()
    report = [] if report is None else report
    df, _ = _sales(sales, columns, freq, fill_gaps, clip_negative, report, problems)
    problems.raise_any()
    _report_zones(problems, report)
    return df


def _report_zones(problems: _Problems, report: list[str]) -> None:
    taken = "their local wall-clock time" if problems.tz == "local" else "their instant in UTC"
    for frame, rows in problems.zoned.items():
        report.append(
            f"{frame}: {rows:,} timestamps had a time zone: taken at {taken}, the zone dropped"
        )


def validate_static(
    static: Any, ids: pd.Index, columns: Columns = Columns(), *, report: list[str] | None = None
) -> pd.DataFrame:
    """Validates the static frame: one row per series id, a row for every id of ``ids``.

    Rows of ids outside ``ids`` (catalogue products without sales) are kept; ``report`` counts
    them.
    """
    problems = _Problems()
    df = _static(static, pd.Index(ids), columns, [] if report is None else report, problems)
    problems.raise_any()
    return df


def validate_dynamic(
    dynamic: Any,
    ids: pd.Index,
    freq: str,
    columns: Columns = Columns(),
    *,
    static: pd.DataFrame | None = None,
    report: list[str] | None = None,
) -> pd.DataFrame:
    """Validates dynamic covariates: unique (id, period) rows of known ids on the sales' periods.

    ``dynamic`` is one frame or a list of frames, each at its own grain: per series (with the
    id column), per value of static columns (``store_id, ds``: a store-wide promotion), or per
    date for every series (``ds``: holidays). Coarser frames are joined onto the series through
    ``static`` on the columns they share with it, and all are merged on (id, date); what was
    joined how is added to ``report``.
    """
    problems = _Problems()
    df = _dynamic(dynamic, pd.Index(ids), freq, columns, static, report, problems)
    problems.raise_any()
    return df


def validate_reviews(reviews: Any, ids: pd.Index, columns: Columns = Columns()) -> pd.DataFrame:
    """Validates reviews: known ids, parsable dates, numeric ``rating`` and string ``text``."""
    problems = _Problems()
    df = _reviews(reviews, pd.Index(ids), columns, problems)
    problems.raise_any()
    return df


def _sales(
    raw: Any,
    columns: Columns,
    freq: str | None,
    fill_gaps: bool,
    clip_negative: bool,
    report: list[str],
    problems: _Problems,
) -> tuple[pd.DataFrame | None, pd.Index | None]:
    """The validated sales (None on any problem) and their series ids (None when unknown)."""
    found = len(problems)
    df = _as_frame(raw, "sales", problems)
    if df is None:
        return None, None
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    order_log = sorted(c for c in map(str, df.columns) if c.lower() in _ORDER_LOG_NAMES)
    if len(order_log) >= 2 and not {id_col, time_col, target_col} <= set(df.columns):
        # Renaming columns would make per-minute series with returns as demand: say so first.
        problems.add(
            f"this looks like an order-line log (columns {order_log}), not demand per period.",
            fix=Fix.of(
                "turn it into demand per product and period with ",
                _FROM_TRANSACTIONS,
                " (cancellations netted, postage and fees kept out).",
            ),
        )
    _require_columns(
        df, "sales", {"id_col": id_col, "time_col": time_col, "target_col": target_col}, problems
    )
    if len(df) > MAX_ROWS:
        problems.add(
            f"{len(df):,} rows exceed the limit of {MAX_ROWS:,}.",
            fix="aggregate to a coarser frequency, or run on a Dask cluster in partitions.",
        )
        return None, None
    df = _numbered(df)  # columns are replaced, never written into, until _sorted_copy
    ids_ok = id_col in df.columns and _check_ids(df, id_col, "sales", problems)
    dates = _parse_dates(df, time_col, "sales", problems) if time_col in df.columns else None
    target = None
    if target_col in df.columns:
        target = _parse_target(df, columns, problems)
        if not clip_negative:
            _check_negative(df, target, columns, problems)
    freq_ok = freq is None or _check_supported(freq, "sales", problems)
    if not ids_ok or dates is None:
        known = pd.Index(df[id_col].dropna().unique()) if id_col in df.columns else None
        return None, known
    _convert(df, time_col, dates)
    has_target = target is not None
    if has_target:
        _convert(df, target_col, target)
    del dates, target  # the frame holds them now, perhaps as copies: not twice
    # Checks on dates run on the distinct ones (each recurs in every series), in any row order.
    distinct = pd.DatetimeIndex(df[time_col].unique())
    on_grid = _check_time_of_day(df, columns, distinct, "sales", problems)
    if on_grid and freq is not None and freq_ok:
        on_grid = _check_grid(df, columns, freq, distinct, "sales", problems)
    given, df = df, _sorted_copy(df, columns)
    unique = _check_duplicates(df, given, columns, "sales", problems)
    del given
    if clip_negative and has_target:
        negative = df[target_col] < 0
        if negative.any():
            df.loc[negative, target_col] = 0.0
            report.append(f"clipped {int(negative.sum()):,} negative values of '{target_col}' to 0")
    if on_grid and unique and freq_ok:
        if freq is None:
            freq = _infer_frequency(df, columns, distinct, problems)
        if freq is not None:
            # Filling waits for a clean frame: with a bad target there is nothing to fill into.
            fill = fill_gaps and len(problems) == found
            df = _check_gaps(df, columns, freq, fill, fill_gaps, report, problems)
    ids = pd.Index(df[id_col].unique())
    if len(problems) > found:
        return None, ids
    df.attrs["freq"] = freq
    return df, ids


def _static(
    raw: Any,
    ids: pd.Index | None,
    columns: Columns,
    report: list[str],
    problems: _Problems,
) -> pd.DataFrame | None:
    found, id_col = len(problems), columns.id_col
    df = _as_frame(raw, "static", problems)
    if df is None or not _require_columns(df, "static", {"id_col": id_col}, problems):
        return None
    df = _numbered(df)
    _check_ids(df, id_col, "static", problems)
    _check_covariates(df, columns, "static", problems)
    given = df[id_col].notna()
    duplicated = df[df[id_col].duplicated(keep=False) & given]
    if len(duplicated):
        problems.add(
            f"{duplicated[id_col].nunique():,} ids appear on more than one row.",
            frame="static",
            column=id_col,
            rows=duplicated.sort_values(id_col, kind="stable"),
            fix=Fix.of(
                "keep one row of attributes per series.",
                example=f"static = static.drop_duplicates('{id_col}')",
            ),
        )
    if ids is not None:
        unlisted = ids[~ids.isin(df[id_col])]
        if len(unlisted):
            problems.add(
                f"{len(unlisted):,} series of the sales have no row.",
                frame="static",
                column=id_col,
                rows=pd.DataFrame({id_col: np.asarray(unlisted)}).rename_axis("series"),
                fix="add a row for each of them (attributes may be left empty), or check how "
                "the ids are spelt and typed (e.g. 1 vs '1') in both frames.",
            )
        # A catalogue lists products that have not sold yet: kept as given, but said so.
        unsold = df.loc[given & ~df[id_col].isin(ids), id_col]
        if len(unsold):
            examples = ", ".join(repr(i) for i in unsold.iloc[:_SHOWN_IDS])
            more = ", ..." if len(unsold) > _SHOWN_IDS else ""
            report.append(
                f"static: {len(unsold):,} series have no sales ({examples}{more}); their rows "
                "are kept, and they are not forecast"
            )
    if len(problems) > found:
        return None
    return df.reset_index(drop=True)


def _dynamic(
    dynamic: Any,
    ids: pd.Index | None,
    freq: str | None,
    columns: Columns,
    static: pd.DataFrame | None,
    report: list[str] | None,
    problems: _Problems,
    *,
    static_usable: bool = True,
) -> pd.DataFrame | None:
    found, id_col, time_col = len(problems), columns.id_col, columns.time_col
    given = list(dynamic) if isinstance(dynamic, (list, tuple)) else [dynamic]
    names = ["dynamic"] if len(given) == 1 else [f"dynamic[{i}]" for i in range(len(given))]
    frames = [_as_frame(raw, name, problems) for raw, name in zip(given, names, strict=True)]
    if len(frames) == 1 and (frames[0] is None or id_col in frames[0].columns):
        df = frames[0]
    else:
        df = _to_series_grain(frames, names, ids, static, columns, report, problems, static_usable)
    if df is None or not _require_columns(
        df, "dynamic", {"id_col": id_col, "time_col": time_col}, problems
    ):
        return None
    df = _numbered(df)  # columns are replaced, never written into, until _sorted_copy
    ids_ok = _check_ids(df, id_col, "dynamic", problems)
    _check_covariates(df, columns, "dynamic", problems)
    dates = _parse_dates(df, time_col, "dynamic", problems)
    if ids_ok and ids is not None:
        _check_known_ids(df, ids, columns, "dynamic", problems)
    if not ids_ok or dates is None:
        return None
    _convert(df, time_col, dates)
    del dates
    distinct = pd.DatetimeIndex(df[time_col].unique())
    if _check_time_of_day(df, columns, distinct, "dynamic", problems) and freq is not None:
        if _check_supported(freq, "dynamic", problems):
            _check_grid(df, columns, freq, distinct, "dynamic", problems)
    given, df = df, _sorted_copy(df, columns)
    _check_duplicates(df, given, columns, "dynamic", problems)
    del given
    return None if len(problems) > found else df


def _to_series_grain(
    frames: list[pd.DataFrame | None],
    names: list[str],
    ids: pd.Index | None,
    static: pd.DataFrame | None,
    columns: Columns,
    report: list[str] | None,
    problems: _Problems,
    static_usable: bool,
) -> pd.DataFrame | None:
    """One frame per (id, date) from dynamic frames at any grain, merged on (id, date)."""
    found, id_col, time_col = len(problems), columns.id_col, columns.time_col
    if static is not None and ids is not None:
        # Catalogue rows without sales have no series to join covariates onto.
        static = static[static[id_col].isin(ids)]
    merged, seen = None, {}
    for name, df in zip(names, frames, strict=True):
        if df is None or not _require_columns(df, name, {"time_col": time_col}, problems):
            continue
        df = _numbered(df)
        dates = _parse_dates(df, time_col, name, problems)
        if dates is None:
            continue
        _convert(df, time_col, dates)
        if id_col in df.columns:
            grain = "series"
        else:
            if not static_usable:
                continue  # its grain is read from static, which has problems of its own
            keys = [c for c in df.columns if static is not None and c in static.columns]
            grain = (
                f"{', '.join(keys)} and date, joined onto each series through static"
                if keys
                else "date, the same for every series"
            )
            repeated = df[df.duplicated([*keys, time_col], keep=False)]
            if len(repeated):
                problems.add(
                    f"{len(repeated):,} rows share ({', '.join([*keys, time_col])}) with another.",
                    frame=name,
                    rows=repeated,
                    fix="give one row per key and date.",
                )
                continue
            if ids is None:
                continue  # the sales' ids are unknown: their problems are reported
            series = (
                static[[id_col, *keys]].merge(df, on=keys, how="inner")
                if keys
                else pd.DataFrame({id_col: ids}).merge(df, how="cross")
            )
            if keys and report is not None:
                matched = df[keys].merge(static[keys].drop_duplicates(), on=keys).shape[0]
                if matched < len(df):
                    report.append(
                        f"{name}: {len(df) - matched:,} rows name {', '.join(keys)} values no "
                        "series has in static; they are not used."
                    )
            df = series.drop(columns=keys)
        values = [c for c in df.columns if c not in (id_col, time_col)]
        clash = [c for c in values if c in seen]
        if clash:
            problems.add(
                f"columns {clash} are also in {seen[clash[0]]}.",
                frame=name,
                column=clash[0],
                fix="give each covariate in one frame only, or rename one of them.",
            )
            continue
        seen.update(dict.fromkeys(values, name))
        if report is not None and grain != "series":
            report.append(f"{name}: {values} given per {grain}.")
        merged = df if merged is None else merged.merge(df, on=[id_col, time_col], how="outer")
    return None if len(problems) > found else merged


def _reviews(
    raw: Any, ids: pd.Index | None, columns: Columns, problems: _Problems
) -> pd.DataFrame | None:
    found, id_col, time_col = len(problems), columns.id_col, columns.time_col
    df = _as_frame(raw, "reviews", problems)
    if df is None:
        return None
    needed = {"id_col": id_col, "time_col": time_col, "rating": "rating", "text": "text"}
    _require_columns(df, "reviews", needed, problems)
    df = _numbered(df.copy())
    ids_ok = id_col in df.columns and _check_ids(df, id_col, "reviews", problems)
    if time_col in df.columns:
        dates = _parse_dates(df, time_col, "reviews", problems)
        if dates is not None:
            df[time_col] = dates
    if "rating" in df.columns:
        rating = pd.to_numeric(df["rating"], errors="coerce")
        bad = df[rating.isna()]
        if len(bad):
            problems.add(
                f"{len(bad):,} ratings are missing or not numbers.",
                frame="reviews",
                column="rating",
                rows=bad,
                fix="give every review a numeric rating (e.g. 1-5 stars), or drop unrated reviews.",
            )
        df["rating"] = rating.astype("float64")
    if "text" in df.columns:
        # object first: a categorical column (as parquet often stores text) cannot take "" in.
        df["text"] = df["text"].astype(object).fillna("").astype(str)
    if ids_ok and ids is not None:
        _check_known_ids(df, ids, columns, "reviews", problems)
    if len(problems) > found:
        return None
    return df.reset_index(drop=True)


def _as_frame(df: Any, frame: str, problems: _Problems) -> pd.DataFrame | None:
    df = to_pandas(df, name=frame)
    repeated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if repeated:
        problems.add(
            f"columns {repeated} appear more than once.",
            frame=frame,
            column=repeated[0],
            fix="give every column its own name, or drop the repeats.",
        )
        return None
    if len(df) == 0:
        problems.add(
            "the frame has no rows.",
            frame=frame,
            fix="check the file or query that produced it (wrong path, filter or date range?).",
        )
        return None
    return df


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy indexed by row number, the number problems show each row by."""
    out = df.copy(deep=False)
    out.index = pd.RangeIndex(len(out), name="row")
    return out


def _present(df: pd.DataFrame, names: list[str]) -> list[str]:
    return [c for c in names if c in df.columns]


def _require_columns(
    df: pd.DataFrame, frame: str, needed: dict[str, str], problems: _Problems
) -> bool:
    """Whether every needed column is there; a problem for each that is not, with a guess."""
    aliases = {"id_col": _ID_ALIASES, "time_col": _TIME_ALIASES, "target_col": _TARGET_ALIASES}
    present = [str(c) for c in df.columns]
    # A column can be the guess for one missing name only, and never one that is already used.
    taken = {str(name) for name in needed.values()}
    complete = True
    for role, name in needed.items():
        if name in df.columns:
            continue
        complete = False
        free = [c for c in present if c not in taken]
        guess = difflib.get_close_matches(str(name), free, n=1, cutoff=0.6)
        guess = guess or [c for c in free if c.lower() in aliases.get(role, ())][:1]
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        taken.update(guess)
        if role in aliases:
            fix = Fix.of(
                hint,
                "pass ",
                Setting(role, guess[0] if guess else "<your column>"),
                f", or rename the column to '{name}'.",
            )
        else:
            fix = Fix.of(f"{hint}rename it to '{name}'." if guess else f"add a '{name}' column.")
        problems.add(
            f"missing. The frame has columns {present}.", frame=frame, column=name, fix=fix
        )
    return complete


def _check_ids(df: pd.DataFrame, id_col: str, frame: str, problems: _Problems) -> bool:
    missing = df[df[id_col].isna()]
    if len(missing):
        problems.add(
            f"{len(missing):,} rows have no series id.",
            frame=frame,
            column=id_col,
            rows=missing,
            fix="give every row the id of its series (e.g. SKU or SKU_store), or drop those rows.",
        )
    mixed = _mixed_types(df[id_col])
    if len(mixed) > 1:
        kinds = df[id_col].map(_id_kind)
        examples = df.loc[kinds.drop_duplicates().index]
        problems.add(
            f"ids mix {', '.join(mixed)} values (e.g. 1 and '1', or 12 and 12.0), which "
            "could be taken for one series or for two.",
            frame=frame,
            column=id_col,
            rows=examples,
            fix=Fix.of(
                "give every id as text, as it is written in your system.",
                example=f"df['{id_col}'] = df['{id_col}'].astype(str)",
            ),
        )
    return not len(missing) and len(mixed) <= 1


def _id_kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "integer"
    if isinstance(value, (float, np.floating)):
        return "decimal"
    return type(value).__name__


def _mixed_types(ids: pd.Series) -> list[str]:
    """The kinds of value in an id column of Python objects (text, integer, ...)."""
    if ids.dtype != object:
        return []
    return sorted(ids.dropna().map(_id_kind).unique())


def _parse_dates(
    df: pd.DataFrame, time_col: str, frame: str, problems: _Problems
) -> pd.Series | None:
    """The column as timestamps, or None where its problems leave none to check further."""
    values = df[time_col]
    if holds_numbers(values):
        problems.add(
            f"holds numbers ({values.dtype}), not dates.",
            frame=frame,
            column=time_col,
            rows=df.head(3),
            fix=Fix.of(
                "convert them to calendar dates first: epoch seconds to their dates, or period "
                "numbers (M5's d_1..d_N) to the dates they stand for.",
                example=f"df['{time_col}'] = pd.to_datetime(df['{time_col}'], unit='s')",
            ),
        )
        return None
    try:
        read = parse_times(values, time_format=problems.time_format, tz=problems.tz, name=time_col)
    except AmbiguousDates as error:
        problems.add(
            f"{error} Day and month cannot be told apart.",
            frame=frame,
            column=time_col,
            rows=df.head(3),
            fix=Fix.of(
                "pass the layout: ",
                Setting("time_format", error.layouts[0]),
                " or ",
                Setting("time_format", error.layouts[1]),
                ".",
            ),
        )
        return None
    parsed = read.times
    if read.zoned:
        problems.zoned[frame] = read.zoned
    bad = df[parsed.isna()]
    if len(bad):
        problems.add(
            f"{len(bad):,} values are missing or not readable as dates (or fall outside "
            "1677-2262).",
            frame=frame,
            column=time_col,
            rows=bad,
            fix=Fix.of(
                "use ISO dates such as 2024-03-31, or pass their layout, e.g. ",
                Setting("time_format", "%d/%m/%Y"),
                ".",
            ),
        )
    absurd = df[(parsed < "1900-01-01") | (parsed >= "2201-01-01")]
    if len(absurd):
        problems.add(
            f"{len(absurd):,} dates fall outside 1900-2200.",
            frame=frame,
            column=time_col,
            rows=absurd,
            fix="check how the dates were produced (a unit mix-up such as days vs seconds?).",
        )
    return None if len(bad) or len(absurd) else parsed


def _parse_target(df: pd.DataFrame, columns: Columns, problems: _Problems) -> pd.Series:
    """The target as floats, NaN where it is not a number; each kind of bad value a problem."""
    target_col = columns.target_col
    values = df[target_col]
    doubtful = df.attrs.get(AMBIGUOUS, {}).get(target_col)
    if doubtful is not None:  # the reader could not tell 1.447 from 1447
        problems.add(
            f"values such as {doubtful!r} read as a decimal or as thousands grouped by '.' "
            "(the file separates fields by ';', as locales that write 1.447 for 1447 do).",
            column=target_col,
            rows=df.loc[values.astype(str) == doubtful, _present(df, [*columns.key, target_col])],
            fix="write the quantities without thousands grouping: 1447 for a thousand and more, "
            "1,447 for one and a fraction.",
        )
        return pd.Series(np.nan, index=df.index)
    complex_values = values.map(lambda v: isinstance(v, (complex, np.complexfloating)))
    if pd.api.types.is_complex_dtype(values) or complex_values.any():
        problems.add(
            "holds complex numbers; demand is a real quantity.",
            column=target_col,
            rows=df.loc[
                complex_values.to_numpy(bool) | pd.api.types.is_complex_dtype(values),
                _present(df, [*columns.key, target_col]),
            ],  # fmt: skip
            fix="give the quantities as plain numbers.",
        )
        return pd.Series(np.nan, index=df.index)
    if pd.api.types.is_bool_dtype(values):
        numeric = values.astype("float64")
    else:
        numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    shown = _present(df, [*columns.key, target_col])
    not_numbers = df.loc[numeric.isna() & values.notna(), shown]
    if len(not_numbers):
        problems.add(
            f"{len(not_numbers):,} values are not numbers.",
            column=target_col,
            rows=not_numbers,
            fix="remove units or thousands separators (e.g. '1,200' -> 1200) and keep one "
            "number per row.",
        )
    missing = df.loc[values.isna(), shown]
    if len(missing):
        problems.add(
            f"{len(missing):,} values are missing (NaN).",
            column=target_col,
            rows=missing,
            fix=Fix.of(
                "fill them with 0 where no sales happened, or drop the rows and pass ",
                Setting("fill_gaps"),
                " to fill those periods with 0.",
            ),
        )
    infinite = df.loc[np.isinf(numeric), shown]
    if len(infinite):
        problems.add(
            f"{len(infinite):,} values are infinite.",
            column=target_col,
            rows=infinite,
            fix="replace them with the true quantities.",
        )
    huge = df.loc[_beyond_bound(values, numeric) & ~np.isinf(numeric), shown]
    if len(huge):
        problems.add(
            f"{len(huge):,} values exceed {MAX_VALUE:.0e} in size, beyond what trendcast keeps "
            "exactly.",
            column=target_col,
            rows=huge,
            fix="check the unit (cents, or an id in the wrong column?), or scale the values down.",
        )
    return numeric


def _beyond_bound(values: pd.Series, numeric: pd.Series) -> pd.Series:
    """Where a value's magnitude exceeds `MAX_VALUE`: integers compared exactly (as written,
    before any rounding to float), everything else as floats."""
    beyond = numeric.abs() > MAX_VALUE
    if values.dtype == object:  # Python ints beyond int64 have no float64 twin to compare
        whole = values.map(lambda v: isinstance(v, int) and abs(v) > MAX_VALUE).astype(bool)
        beyond |= whole
    return beyond


def _check_covariates(df: pd.DataFrame, columns: Columns, frame: str, problems: _Problems) -> None:
    """Numeric covariates no model can use: infinite, or beyond `MAX_VALUE` in size."""
    for column in df.columns:
        values = df[column]
        if column in columns.key or pd.api.types.is_bool_dtype(values):
            continue
        if not pd.api.types.is_numeric_dtype(values):
            continue
        numeric = values.to_numpy(dtype="float64", na_value=np.nan)
        bad = df[np.isinf(numeric) | (np.abs(numeric) > MAX_VALUE)]
        if len(bad):
            problems.add(
                f"{len(bad):,} values are infinite or exceed {MAX_VALUE:.0e} in size.",
                frame=frame,
                column=str(column),
                rows=bad[_present(bad, [*columns.key, column])],
                fix="replace them with the true values, or leave them empty where unknown.",
            )


def _check_negative(
    df: pd.DataFrame, target: pd.Series, columns: Columns, problems: _Problems
) -> None:
    negative = (target < 0) & ~np.isinf(target)
    if negative.any():
        problems.add(
            f"{int(negative.sum()):,} rows have negative demand.",
            column=columns.target_col,
            rows=df.loc[negative, _present(df, [*columns.key, columns.target_col])],
            fix=Fix.of(
                "record returns apart from demand (",
                _FROM_TRANSACTIONS,
                " does this), or pass ",
                Setting("clip_negative"),
                " to set them to 0.",
            ),
        )


def _convert(df: pd.DataFrame, column: str, values: pd.Series) -> None:
    # Conversions are lossless and change the dtype: an unchanged one means unchanged values, and
    # assigning them anyway would copy the column (pandas copies on assignment).
    if values.dtype != df[column].dtype:
        df[column] = values


def _sorted_copy(df: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """``df`` sorted by (id, date) with a fresh index, in a copy that shares no data with ``df``."""
    if not _in_key_order(df, columns):
        return df.sort_values(columns.key, kind="stable", ignore_index=True)
    # Rows already in order (the usual case) skip the sort's argsort and gather. The copy goes
    # column by column: DataFrame.copy first merges same-typed columns, holding them twice.
    out = pd.DataFrame({i: column.copy() for i, (_, column) in enumerate(df.items())}, copy=False)
    out.columns = df.columns
    out.index = pd.RangeIndex(len(out))
    return out.__finalize__(df)  # attrs, as a copy or sort keeps them


def _in_key_order(df: pd.DataFrame, columns: Columns) -> bool:
    """Whether a stable sort by (id, date) would leave the rows where they are."""
    if not df[columns.id_col].is_monotonic_increasing:
        return False
    ds = df[columns.time_col].to_numpy()
    return bool(np.all((ds[1:] >= ds[:-1]) | series_starts(df[columns.id_col])[1:]))


def _check_duplicates(
    df: pd.DataFrame, given: pd.DataFrame, columns: Columns, frame: str, problems: _Problems
) -> bool:
    """Whether ``df``, sorted by (id, date), has one row per key; repeats are shown from
    ``given``, the frame in its given order, by their row numbers there."""
    # Rows are sorted by (id, date), so repeats are neighbours: no hashing of every key.
    ds = df[columns.time_col].to_numpy()
    repeat = (ds[1:] == ds[:-1]) & ~series_starts(df[columns.id_col])[1:]
    if repeat.any():
        # Hashing every key, but only to show the rows at fault.
        duplicated = given[given.duplicated(columns.key, keep=False)]
        duplicated = duplicated.sort_values(columns.key, kind="stable")
        problems.add(
            f"{len(duplicated):,} rows share an (id, period) with another row.",
            frame=frame,
            column=columns.time_col,
            rows=duplicated,
            fix=Fix.of(
                "aggregate them to one row per series and period, or remove the repeats.",
                example=f"df = df.groupby({columns.key!r}, as_index=False).sum()",
            ),
        )
    return not repeat.any()


def _supported(freq: str) -> bool:
    return freq in ("D", "MS") or (freq.startswith("W-") and freq[2:] in _WEEKDAYS)


def _check_supported(freq: str, frame: str, problems: _Problems) -> bool:
    if _supported(freq):
        return True
    problems.add(
        f"frequency '{freq}' is not supported.",
        frame=frame,
        fix=Fix.of("use ", *_FREQ_CHOICE),
    )
    return False


def _check_time_of_day(
    df: pd.DataFrame, columns: Columns, dates: pd.DatetimeIndex, frame: str, problems: _Problems
) -> bool:
    off_midnight = df[df[columns.time_col].isin(dates[dates != dates.normalize()])]
    if len(off_midnight):
        problems.add(
            f"{len(off_midnight):,} timestamps have a time of day; trendcast works on days, "
            "weeks or months.",
            frame=frame,
            column=columns.time_col,
            rows=off_midnight,
            fix=Fix.of(
                "aggregate to periods first (",
                _FROM_TRANSACTIONS,
                " does this for order lines), or cut the timestamps to their dates.",
                example=f"df['{columns.time_col}'] = df['{columns.time_col}'].dt.floor('D')",
            ),
        )
    return not len(off_midnight)


def _check_grid(
    df: pd.DataFrame,
    columns: Columns,
    freq: str,
    dates: pd.DatetimeIndex,
    frame: str,
    problems: _Problems,
) -> bool:
    """Whether every date is on the grid of ``freq`` (a supported one); ``dates`` are distinct."""
    if freq == "D":
        return True
    if freq == "MS":
        off = dates[dates.day != 1]
    else:
        off = dates[dates.dayofweek != _WEEKDAYS.index(freq[2:])]
    off_grid = df[df[columns.time_col].isin(off)]
    if len(off_grid):
        time_col = columns.time_col
        problems.add(
            f"{len(off_grid):,} dates are not on the '{freq}' grid (mixed frequencies or "
            "misaligned periods).",
            frame=frame,
            column=time_col,
            rows=off_grid,
            fix=Fix.of(
                "label every period by the same anchor (e.g. weeks by their Sunday), or pass "
                "the frequency the dates follow: ",
                *_FREQ_CHOICE,
                example=f"df['{time_col}'] = "
                f"df['{time_col}'].dt.to_period('W-SUN').dt.end_time.dt.normalize()",
            ),
        )
    return not len(off_grid)


def _infer_frequency(
    df: pd.DataFrame, columns: Columns, dates: pd.DatetimeIndex, problems: _Problems
) -> str | None:
    """The frequency of the rows' dates (None on a problem); ``dates`` are the distinct ones."""
    ds = df[columns.time_col]
    same_series = ~series_starts(df[columns.id_col])[1:]
    if len(same_series) == 0 or not same_series.any():
        problems.add(
            "every series has a single row, so the frequency cannot be inferred.",
            column=columns.time_col,
            fix=Fix.of("pass ", *_FREQ_CHOICE),
        )
        return None
    if (dates.day == 1).all():
        months = ds.dt.year.to_numpy() * 12 + ds.dt.month.to_numpy()
        step = int(np.gcd.reduce(np.diff(months)[same_series]))
        if step == 1:
            return "MS"
        return _unsupported_step(f"{step} months", columns, problems)
    steps = np.diff(ds.to_numpy("datetime64[D]").view(np.int64))[same_series]
    step = int(np.gcd.reduce(steps))
    if step % 7 == 0 and dates.dayofweek.nunique() == 1:
        if step == 7:
            return f"W-{_WEEKDAYS[int(dates.dayofweek[0])]}"
        return _unsupported_step(f"{step // 7} weeks", columns, problems)
    if step > 1:
        return _unsupported_step(f"{step} days", columns, problems)
    if dates.dayofweek.nunique() > 1 and (steps % 7 == 0).any() and (steps == 1).any():
        first_step = pd.Series(steps, index=df[columns.id_col].to_numpy()[1:][same_series])
        first_step = first_step.groupby(level=0, observed=True).min()
        weekly = first_step[first_step % 7 == 0]
        if len(weekly) and len(weekly) < len(first_step) and (first_step == 1).any():
            problems.add(
                f"mixed frequencies: {len(weekly):,} series step by weeks while "
                f"{int((first_step == 1).sum()):,} step by days.",
                column=columns.time_col,
                rows=pd.DataFrame({"weekly_series": weekly.index}),
                fix="aggregate the daily series to weeks, or validate the two groups apart.",
            )
            return None
    return "D"


def _unsupported_step(step: str, columns: Columns, problems: _Problems) -> None:
    problems.add(
        f"every date is {step} (or a multiple) from the one before in its series: a frequency "
        "trendcast does not forecast (days, weeks and months).",
        column=columns.time_col,
        fix=Fix.of(
            "if the dates are days, weeks or months with the periods between missing, pass the "
            "frequency, ",
            *_FREQ_CHOICE[:-1],
            " (MS), with ",
            Setting("fill_gaps"),
            " if those periods had no sales; yearly or quarterly figures cannot be forecast.",
        ),
    )


def _check_gaps(
    df: pd.DataFrame,
    columns: Columns,
    freq: str,
    fill: bool,
    fill_asked: bool,
    report: list[str],
    problems: _Problems,
) -> pd.DataFrame:
    """``df`` with its gaps filled where ``fill``; a problem for them unless filling was asked."""
    # Rows are sorted by (id, date) without repeats: a series spans from its first row to its last.
    ids, ds = df[columns.id_col], df[columns.time_col]
    starts = np.flatnonzero(series_starts(ids))
    ends = np.append(starts[1:], len(df))
    index = pd.Index(ids.iloc[starts].to_numpy(), name=columns.id_col)
    first, last = period_index(ds.iloc[starts], freq), period_index(ds.iloc[ends - 1], freq)
    span = pd.Series(last - first + 1, index=index)
    counts = pd.Series(ends - starts, index=index)
    if (span > MAX_PERIODS_PER_SERIES).any():
        problems.add(
            f"series span more than {MAX_PERIODS_PER_SERIES:,} periods of '{freq}'.",
            column=columns.time_col,
            rows=span[span > MAX_PERIODS_PER_SERIES].rename("periods").to_frame(),
            fix="check the dates (a wrong year or unit?) or aggregate to a coarser frequency.",
        )
        return df
    missing = (span - counts)[span > counts]
    if missing.empty:
        return df
    if not fill_asked:
        problems.add(
            f"{int(missing.sum()):,} periods are missing inside {len(missing):,} series.",
            column=columns.time_col,
            rows=missing.rename("missing_periods").to_frame(),
            fix=Fix.of(
                "pass ",
                Setting("fill_gaps"),
                f" to insert them with {columns.target_col}=0 if a missing row means no sales, "
                "or supply those rows.",
            ),
        )
        return df
    if not fill:
        return df
    gapped = ids.isin(missing.index)
    part = df[gapped]
    first = part.groupby(columns.id_col, sort=False, observed=True)[columns.time_col].min()
    lengths = span.loc[first.index].to_numpy()
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid = pd.DataFrame(
        {
            columns.id_col: np.repeat(first.index.to_numpy(), lengths),
            columns.time_col: shift_periods(np.repeat(first.to_numpy(), lengths), offsets, freq),
        }
    )
    filled = grid.merge(part, on=columns.key, how="left")
    filled[columns.target_col] = filled[columns.target_col].fillna(0.0)
    out = pd.concat([df[~gapped], filled], ignore_index=True)
    out[columns.id_col] = out[columns.id_col].astype(df[columns.id_col].dtype)
    report.append(
        f"filled {int(missing.sum()):,} missing periods in {len(missing):,} series with "
        f"{columns.target_col}=0"
    )
    return out.sort_values(columns.key, kind="stable", ignore_index=True)


def _check_known_ids(
    df: pd.DataFrame, ids: pd.Index, columns: Columns, frame: str, problems: _Problems
) -> None:
    id_col = columns.id_col
    unknown = df[~df[id_col].isin(ids)]
    if len(unknown):
        problems.add(
            f"{unknown[id_col].nunique():,} ids do not occur in the sales.",
            frame=frame,
            column=id_col,
            rows=unknown,
            fix=Fix.of(
                "keep only ids present in the sales, or check how the ids are spelt.",
                example=f"{frame} = {frame}[{frame}['{id_col}'].isin(sales['{id_col}'])]",
            ),
        )
