"""Validation at entry: every check names the column, shows offending rows and says how to fix it.

Nothing is dropped or altered silently. Gap filling and clipping of negative targets happen only
when asked (``fill_gaps=True``, ``clip_negative=True``) and are recorded in ``ShopData.report``.
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

MAX_ROWS = 500_000_000
MAX_PERIODS_PER_SERIES = 100_000
_SHOWN_ROWS = 5
_TARGET_ALIASES = ("sales", "quantity", "qty", "units", "demand", "value", "y")
_TIME_ALIASES = ("date", "ds", "day", "week", "timestamp", "time", "period")
_ID_ALIASES = ("unique_id", "id", "sku", "item_id", "product_id", "series_id")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class DataValidationError(ValueError):
    """Bad input. The message names the frame and column, shows a few rows and gives the fix."""

    def __init__(
        self,
        problem: str,
        *,
        fix: str,
        frame: str = "sales",
        column: str | None = None,
        rows: pd.DataFrame | None = None,
    ):
        self.problem, self.fix, self.frame, self.column = problem, fix, frame, column
        self.rows = rows
        where = f"{frame}: column '{column}'" if column else frame
        lines = [f"{where}: {problem}"]
        if rows is not None and len(rows):
            shown = rows.head(_SHOWN_ROWS).to_string()
            more = f"\n  ... and {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else ""
            lines.append("  " + shown.replace("\n", "\n  ") + more)
        lines.append(f"Fix: {fix}")
        super().__init__("\n".join(lines))


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
) -> ShopData:
    """Validates sales and side frames against the contract and returns them as ``ShopData``.

    Args:
        sales: long frame (pandas or polars), one row per series and period.
        static: optional frame, one row per series (hierarchy, text, numeric attributes).
        dynamic: optional frame, one row per series and period (covariates; may reach the
            future); or frames at any grain (per store, per date, ...), see `validate_dynamic`.
        reviews: optional frame, one row per review with ``rating`` and ``text``.
        id_col, time_col, target_col: names of the id, date and target columns.
        freq: ``"D"``, ``"W-SUN"`` (any weekday) or ``"MS"``; inferred when omitted.
        fill_gaps: insert missing periods inside a series with target 0 (reported).
        clip_negative: set negative targets to 0 (reported).

    Returns:
        ShopData with sorted frames, parsed dates and float targets; ``report`` lists every change.

    Raises:
        DataValidationError: on any violation, with the rows at fault and the fix.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"unique_id": ["a"] * 3, "ds": ["2024-01-01", "2024-01-02",
        ...                    "2024-01-03"], "y": [1, 0, 2]})
        >>> validate(df).freq
        'D'
    """
    columns = Columns(id_col, time_col, target_col)
    report: list[str] = []
    sales_df = validate_sales(
        sales,
        columns=columns,
        freq=freq,
        fill_gaps=fill_gaps,
        clip_negative=clip_negative,
        report=report,
    )
    freq = sales_df.attrs["freq"]
    ids = pd.Index(sales_df[id_col].unique())
    static_df = None if static is None else validate_static(static, ids, columns)
    return ShopData(
        sales=sales_df,
        freq=freq,
        static=static_df,
        dynamic=None
        if dynamic is None
        else validate_dynamic(dynamic, ids, freq, columns, static=static_df, report=report),
        reviews=None if reviews is None else validate_reviews(reviews, ids, columns),
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
    report = [] if report is None else report
    df = _as_frame(sales, "sales")
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    _require_columns(
        df, "sales", {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    )
    if len(df) > MAX_ROWS:
        raise DataValidationError(
            f"{len(df):,} rows exceed the limit of {MAX_ROWS:,}.",
            fix="aggregate to a coarser frequency, or run on a Dask cluster in partitions.",
        )
    df = df.copy(deep=False)  # columns are replaced, never written into, until _sorted_copy
    _check_ids(df, id_col, "sales")
    _convert(df, time_col, _parse_dates(df, time_col, "sales", columns))
    _convert(df, target_col, _parse_target(df, columns))
    df = _sorted_copy(df, columns)
    _check_duplicates(df, columns, "sales")
    if (df[target_col] < 0).any():
        negative = df.loc[df[target_col] < 0, columns.key + [target_col]]
        if not clip_negative:
            raise DataValidationError(
                f"{len(negative):,} rows have negative demand.",
                column=target_col,
                rows=negative,
                fix="record returns apart from demand (trendcast.data.adapters.from_transactions "
                "does this), or pass clip_negative=True (CLI: --clip-negative) to set them to 0.",
            )
        df.loc[df[target_col] < 0, target_col] = 0.0
        report.append(f"clipped {len(negative):,} negative values of '{target_col}' to 0")
    freq = _check_frequency(df, columns, freq, "sales")
    df = _check_gaps(df, columns, freq, fill_gaps, report)
    df.attrs["freq"] = freq
    return df


def validate_static(static: Any, ids: pd.Index, columns: Columns = Columns()) -> pd.DataFrame:
    """Validates the static frame: one row per known series id."""
    df = _as_frame(static, "static")
    _require_columns(df, "static", {"id_col": columns.id_col})
    _check_ids(df, columns.id_col, "static")
    duplicated = df[df[columns.id_col].duplicated(keep=False)]
    if len(duplicated):
        raise DataValidationError(
            f"{duplicated[columns.id_col].nunique():,} ids appear on more than one row.",
            frame="static",
            column=columns.id_col,
            rows=duplicated.sort_values(columns.id_col),
            fix="keep one row of attributes per series (e.g. static.drop_duplicates(id_col)).",
        )
    _check_known_ids(df, ids, columns, "static")
    return df.reset_index(drop=True)


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
    frames = list(dynamic) if isinstance(dynamic, (list, tuple)) else [dynamic]
    if len(frames) > 1 or columns.id_col not in _as_frame(frames[0], "dynamic").columns:
        df = _to_series_grain(frames, ids, static, columns, report)
    else:
        df = _as_frame(frames[0], "dynamic")
    _require_columns(df, "dynamic", {"id_col": columns.id_col, "time_col": columns.time_col})
    df = df.copy(deep=False)  # columns are replaced, never written into, until _sorted_copy
    _check_ids(df, columns.id_col, "dynamic")
    _convert(df, columns.time_col, _parse_dates(df, columns.time_col, "dynamic", columns))
    _check_known_ids(df, ids, columns, "dynamic")
    df = _sorted_copy(df, columns)
    _check_duplicates(df, columns, "dynamic")
    _check_frequency(df, columns, freq, "dynamic")
    return df


def _to_series_grain(
    frames: list[Any],
    ids: pd.Index,
    static: pd.DataFrame | None,
    columns: Columns,
    report: list[str] | None,
) -> pd.DataFrame:
    """One frame per (id, date) from dynamic frames at any grain, merged on (id, date)."""
    id_col, time_col = columns.id_col, columns.time_col
    merged, seen = None, {}
    for number, raw in enumerate(frames, start=1):
        name = "dynamic" if len(frames) == 1 else f"dynamic[{number - 1}]"
        df = _as_frame(raw, name).copy(deep=False)
        _require_columns(df, name, {"time_col": time_col})
        _convert(df, time_col, _parse_dates(df, time_col, name, columns))
        if id_col in df.columns:
            grain, keys = "series", [id_col]
        else:
            keys = [c for c in df.columns if static is not None and c in static.columns]
            grain = (
                f"{', '.join(keys)} and date, joined onto each series through static"
                if keys
                else "date, the same for every series"
            )
            repeated = df[df.duplicated([*keys, time_col], keep=False)]
            if len(repeated):
                raise DataValidationError(
                    f"{len(repeated):,} rows share ({', '.join([*keys, time_col])}) with another.",
                    frame=name,
                    rows=repeated,
                    fix="give one row per key and date.",
                )
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
            raise DataValidationError(
                f"columns {clash} are also in {seen[clash[0]]}.",
                frame=name,
                column=clash[0],
                fix="give each covariate in one frame only, or rename one of them.",
            )
        seen.update(dict.fromkeys(values, name))
        if report is not None and grain != "series":
            report.append(f"{name}: {values} given per {grain}.")
        merged = df if merged is None else merged.merge(df, on=[id_col, time_col], how="outer")
    return merged


def validate_reviews(reviews: Any, ids: pd.Index, columns: Columns = Columns()) -> pd.DataFrame:
    """Validates reviews: known ids, parsable dates, numeric ``rating`` and string ``text``."""
    df = _as_frame(reviews, "reviews")
    _require_columns(
        df,
        "reviews",
        {
            "id_col": columns.id_col,
            "time_col": columns.time_col,
            "rating": "rating",
            "text": "text",
        },
    )
    df = df.copy()
    _check_ids(df, columns.id_col, "reviews")
    df[columns.time_col] = _parse_dates(df, columns.time_col, "reviews", columns)
    rating = pd.to_numeric(df["rating"], errors="coerce")
    bad = df[rating.isna()]
    if len(bad):
        raise DataValidationError(
            f"{len(bad):,} ratings are missing or not numbers.",
            frame="reviews",
            column="rating",
            rows=bad,
            fix="give every review a numeric rating (e.g. 1-5 stars), or drop unrated reviews.",
        )
    df["rating"] = rating.astype("float64")
    # object first: a categorical column (as parquet often stores text) cannot take "" in.
    df["text"] = df["text"].astype(object).fillna("").astype(str)
    _check_known_ids(df, ids, columns, "reviews")
    return df


def _as_frame(df: Any, frame: str) -> pd.DataFrame:
    df = to_pandas(df, name=frame)
    if len(df) == 0:
        raise DataValidationError(
            "the frame has no rows.",
            frame=frame,
            fix="check the file or query that produced it (wrong path, filter or date range?).",
        )
    return df


def _require_columns(df: pd.DataFrame, frame: str, needed: dict[str, str]) -> None:
    aliases = {"id_col": _ID_ALIASES, "time_col": _TIME_ALIASES, "target_col": _TARGET_ALIASES}
    for role, name in needed.items():
        if name in df.columns:
            continue
        present = [str(c) for c in df.columns]
        guess = difflib.get_close_matches(name, present, n=1, cutoff=0.6)
        guess = guess or [c for c in present if c.lower() in aliases.get(role, ())][:1]
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        how = (
            f"pass {role}='{guess[0] if guess else '<your column>'}'"
            if role in aliases
            else (f"add a '{name}' column")
        )
        raise DataValidationError(
            f"missing. The frame has columns {present}.",
            frame=frame,
            column=name,
            fix=f"{hint}{how} (CLI: --{role.replace('_col', '-col').replace('_', '-')}), "
            "or rename the column.",
        )


def _check_ids(df: pd.DataFrame, id_col: str, frame: str) -> None:
    missing = df[df[id_col].isna()]
    if len(missing):
        raise DataValidationError(
            f"{len(missing):,} rows have no series id.",
            frame=frame,
            column=id_col,
            rows=missing,
            fix="give every row the id of its series (e.g. SKU or SKU_store), or drop those rows.",
        )


def _parse_dates(df: pd.DataFrame, time_col: str, frame: str, columns: Columns) -> pd.Series:
    values = df[time_col]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise DataValidationError(
            f"has time-zone aware timestamps ({values.dtype.tz}).",
            frame=frame,
            column=time_col,
            rows=df.head(3),
            fix=f"convert to local dates: df['{time_col}'] = df['{time_col}'].dt.tz_localize(None).",
        )
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raise DataValidationError(
            f"holds numbers ({values.dtype}), not dates.",
            frame=frame,
            column=time_col,
            rows=df.head(3),
            fix=f"convert to dates first, e.g. pd.to_datetime(df['{time_col}'], unit='s') for "
            "epoch seconds, or map period numbers (M5's d_1..d_N) to calendar dates.",
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.astype("datetime64[ns]")
    else:
        # Parse each distinct value once: dates repeat across series.
        uniques = pd.Series(values.dropna().unique())
        lookup = pd.Series(
            pd.to_datetime(uniques.astype(str), errors="coerce", format="mixed").to_numpy(),
            index=uniques,
        )
        parsed = values.map(lookup).astype("datetime64[ns]")
    bad = df[parsed.isna()]
    if len(bad):
        raise DataValidationError(
            f"{len(bad):,} values are missing or not parsable as dates.",
            frame=frame,
            column=time_col,
            rows=bad,
            fix="use ISO dates such as 2024-03-31, or parse them yourself with pd.to_datetime(..., "
            "format=...) before passing the frame.",
        )
    absurd = df[(parsed < "1900-01-01") | (parsed >= "2201-01-01")]
    if len(absurd):
        raise DataValidationError(
            f"{len(absurd):,} dates fall outside 1900-2200.",
            frame=frame,
            column=time_col,
            rows=absurd,
            fix="check how the dates were produced (a unit mix-up such as days vs seconds?).",
        )
    return parsed


def _parse_target(df: pd.DataFrame, columns: Columns) -> pd.Series:
    target_col = columns.target_col
    values = df[target_col]
    if pd.api.types.is_bool_dtype(values):
        numeric = values.astype("float64")
    else:
        numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    shown = columns.key + [target_col]
    not_numbers = df.loc[numeric.isna() & values.notna(), shown]
    if len(not_numbers):
        raise DataValidationError(
            f"{len(not_numbers):,} values are not numbers.",
            column=target_col,
            rows=not_numbers,
            fix="remove units or thousands separators (e.g. '1,200' -> 1200) and keep one "
            "number per row.",
        )
    missing = df.loc[numeric.isna(), shown]
    if len(missing):
        raise DataValidationError(
            f"{len(missing):,} values are missing (NaN).",
            column=target_col,
            rows=missing,
            fix="fill them with 0 where no sales happened, or drop the rows and pass fill_gaps=True "
            "to fill those periods with 0.",
        )
    infinite = df.loc[np.isinf(numeric), shown]
    if len(infinite):
        raise DataValidationError(
            f"{len(infinite):,} values are infinite.",
            column=target_col,
            rows=infinite,
            fix="replace them with the true quantities.",
        )
    return numeric


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


def _check_duplicates(df: pd.DataFrame, columns: Columns, frame: str) -> None:
    # Rows are sorted by (id, date), so repeats are neighbours: no hashing of every key.
    ds = df[columns.time_col].to_numpy()
    repeat = (ds[1:] == ds[:-1]) & ~series_starts(df[columns.id_col])[1:]
    duplicated = df[np.r_[repeat, False] | np.r_[False, repeat]]
    if len(duplicated):
        raise DataValidationError(
            f"{len(duplicated):,} rows share an (id, period) with another row.",
            frame=frame,
            column=columns.time_col,
            rows=duplicated,
            fix="aggregate them, e.g. df.groupby(['"
            + "', '".join(columns.key)
            + "'], as_index=False).sum(), or remove the repeats.",
        )


def _check_frequency(df: pd.DataFrame, columns: Columns, freq: str | None, frame: str) -> str:
    ds = df[columns.time_col]
    # Checks run on the distinct dates (each recurs in every series), not on every row's.
    dates = pd.DatetimeIndex(ds.unique())
    off_midnight = df[ds.isin(dates[dates != dates.normalize()])]
    if len(off_midnight):
        raise DataValidationError(
            f"{len(off_midnight):,} timestamps have a time of day; trendcast works on days, weeks "
            "or months.",
            frame=frame,
            column=columns.time_col,
            rows=off_midnight,
            fix="aggregate to periods first (trendcast.data.adapters.from_transactions for order "
            "lines), or floor the timestamps: df[time_col].dt.floor('D').",
        )
    if freq is None:
        freq = _infer_frequency(df, columns, dates)
    if freq == "D":
        return freq
    if freq == "MS":
        off_grid = df[ds.isin(dates[dates.day != 1])]
    elif freq.startswith("W-") and freq[2:] in _WEEKDAYS:
        off_grid = df[ds.isin(dates[dates.dayofweek != _WEEKDAYS.index(freq[2:])])]
    else:
        raise DataValidationError(
            f"frequency '{freq}' is not supported.",
            frame=frame,
            fix="use 'D' (daily), 'W-SUN' style weekly (any weekday) or 'MS' (month start).",
        )
    if len(off_grid):
        raise DataValidationError(
            f"{len(off_grid):,} dates are not on the '{freq}' grid (mixed frequencies or "
            "misaligned periods).",
            frame=frame,
            column=columns.time_col,
            rows=off_grid,
            fix="label every period by the same anchor (e.g. weeks by their Sunday: "
            "df[time_col].dt.to_period('W-SUN').dt.end_time.dt.normalize()).",
        )
    return freq


def _infer_frequency(df: pd.DataFrame, columns: Columns, dates: pd.DatetimeIndex) -> str:
    """The frequency of the rows' dates; ``dates`` are the distinct ones."""
    ds = df[columns.time_col]
    if (dates.day == 1).all() and dates.month.nunique() > 1:
        return "MS"
    same_series = ~series_starts(df[columns.id_col])[1:]
    steps = np.diff(ds.to_numpy("datetime64[D]").view(np.int64))[same_series]
    if len(steps) == 0:
        raise DataValidationError(
            "every series has a single row, so the frequency cannot be inferred.",
            column=columns.time_col,
            fix="pass freq='D', freq='W-SUN' (weekly by Sunday) or freq='MS'.",
        )
    if np.gcd.reduce(steps) % 7 == 0 and dates.dayofweek.nunique() == 1:
        return f"W-{_WEEKDAYS[int(dates.dayofweek[0])]}"
    if dates.dayofweek.nunique() > 1 and (steps % 7 == 0).any() and (steps == 1).any():
        first_step = pd.Series(steps, index=df[columns.id_col].to_numpy()[1:][same_series])
        first_step = first_step.groupby(level=0, observed=True).min()
        weekly = first_step[first_step % 7 == 0]
        if len(weekly) and len(weekly) < len(first_step) and (first_step == 1).any():
            rows = pd.DataFrame({"weekly_series": weekly.index[:_SHOWN_ROWS]})
            raise DataValidationError(
                f"mixed frequencies: {len(weekly):,} series step by weeks while "
                f"{int((first_step == 1).sum()):,} step by days.",
                column=columns.time_col,
                rows=rows,
                fix="aggregate the daily series to weeks (or pass the two groups separately).",
            )
    return "D"


def _check_gaps(
    df: pd.DataFrame, columns: Columns, freq: str, fill_gaps: bool, report: list[str]
) -> pd.DataFrame:
    # Rows are sorted by (id, date) without repeats: a series spans from its first row to its last.
    ids, ds = df[columns.id_col], df[columns.time_col]
    starts = np.flatnonzero(series_starts(ids))
    ends = np.append(starts[1:], len(df))
    index = pd.Index(ids.iloc[starts].to_numpy(), name="id")
    first, last = period_index(ds.iloc[starts], freq), period_index(ds.iloc[ends - 1], freq)
    span = pd.Series(last - first + 1, index=index)
    counts = pd.Series(ends - starts, index=index)
    if (span > MAX_PERIODS_PER_SERIES).any():
        rows = span[span > MAX_PERIODS_PER_SERIES].rename("periods").to_frame()
        raise DataValidationError(
            f"series span more than {MAX_PERIODS_PER_SERIES:,} periods of '{freq}'.",
            column=columns.time_col,
            rows=rows,
            fix="check the dates (a wrong year or unit?) or aggregate to a coarser frequency.",
        )
    missing = (span - counts)[span > counts]
    if missing.empty:
        return df
    if not fill_gaps:
        rows = missing.rename("missing_periods").rename_axis(columns.id_col).to_frame()
        raise DataValidationError(
            f"{int(missing.sum()):,} periods are missing inside {len(missing):,} series.",
            column=columns.time_col,
            rows=rows,
            fix="pass fill_gaps=True (CLI: --fill-gaps) to insert them with "
            f"{columns.target_col}=0 if a missing row means no sales, or supply those rows.",
        )
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


def _check_known_ids(df: pd.DataFrame, ids: pd.Index, columns: Columns, frame: str) -> None:
    unknown = df[~df[columns.id_col].isin(ids)]
    if len(unknown):
        raise DataValidationError(
            f"{unknown[columns.id_col].nunique():,} ids do not occur in the sales.",
            frame=frame,
            column=columns.id_col,
            rows=unknown,
            fix=f"keep only ids present in the sales, e.g. {frame}[{frame}['{columns.id_col}']"
            f".isin(sales['{columns.id_col}'])], or check the id spelling.",
        )
