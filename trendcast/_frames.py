"""Frame-type handling: pandas and polars in, the same type out; pandas inside."""

from __future__ import annotations

from typing import Any

import pandas as pd


def is_polars(df: Any) -> bool:
    return type(df).__module__.split(".")[0] == "polars"


def to_pandas(df: Any, *, name: str = "df") -> pd.DataFrame:
    """Returns a pandas view of a pandas or polars frame, raising a clear error for anything else."""
    if isinstance(df, pd.DataFrame):
        return df
    if is_polars(df):
        return (df.collect() if hasattr(df, "collect") else df).to_pandas()  # a LazyFrame too
    from trendcast.errors import NotAFrameError

    raise NotAFrameError(
        f"must be a pandas or polars DataFrame, got {type(df).__name__}.",
        frame=name,
        fix="load your data with pandas.read_csv/read_parquet (or polars) first, or pass a file "
        "path where a path is taken.",
    )


def like(result: pd.DataFrame, template: Any) -> Any:
    """Converts a pandas result back to the frame type of `template`."""
    return as_type(result, frame_type(template))


def frame_type(df: Any) -> str:
    """``"polars"`` or ``"pandas"``: the type results for ``df`` come back as."""
    return "polars" if is_polars(df) else "pandas"


def as_type(result: pd.DataFrame, kind: str) -> Any:
    """Converts a pandas result to the frame type named by `frame_type`."""
    if kind == "polars":
        import polars as pl

        return pl.from_pandas(result)
    return result
