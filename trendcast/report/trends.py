"""The trend report: one self-contained HTML page with inline SVG sparklines, and its JSON.

The page holds a table per label (rising, declining, hot movers, slow movers and dead stock,
launches above and below expectation), each row with a sparkline of the entity's sales, the
evidence and the reason. It draws with plain SVG, needs no script and opens offline.
"""

from __future__ import annotations

import html
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import to_pandas
from trendcast.data.io import atomic_write

__all__ = ["read_trend_json", "trend_json", "write_trend_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;
color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{padding:.3rem .6rem;
border-bottom:1px solid #e4e7eb;text-align:right;vertical-align:middle}th:first-child,
td:first-child,td.reason,th.reason{text-align:left}td.reason{color:#52606d;max-width:30rem}.note{color:#52606d}
svg.spark{display:block}
"""
_COLOURS = {"rising": "#2f8132", "declining": "#c62828"}
# One table per label: heading, blurb, column and value that select the rows, sort key, ascending.
_SECTIONS = (
    ("Rising", "rising now against the comparison window", "trend", "rising", "growth_lo", False),
    ("Declining", "falling against the comparison window", "trend", "declining", "growth_hi", True),
    ("Hot movers", "rising best sellers", "hot", True, "recent", False),
    ("Dead stock", "stock that does not sell", "stock", "dead stock", "weeks_of_cover", False),
    (
        "Slow movers",
        "more weeks of stock than sales justify",
        "stock",
        "slow mover",
        "weeks_of_cover",
        False,
    ),
    (
        "Launches above expectation",
        "new entities selling above their peers",
        "launch",
        "above expectation",
        "recent",
        False,
    ),
    (
        "Launches below expectation",
        "new entities selling below their peers",
        "launch",
        "below expectation",
        "recent",
        True,
    ),
)


def write_trend_report(
    path: str | Path,
    table: Any,
    *,
    history: Any,
    title: str = "What's trending",
    static: Any | None = None,
    top: int = 25,
    sparkline_points: int = 52,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> Path:
    """Writes the trend report to ``path`` atomically and returns the path.

    Args:
        path: the HTML file to write.
        table: output of `trendcast.decisions.trends.trend_table`.
        history: the sales the table was built from (long frame).
        title: heading of the page.
        static: series hierarchy, when the table's level is not ``id_col``.
        top: rows per label table.
        sparkline_points: points per sparkline (weeks for daily data, else periods).
        id_col: series id column of ``history``.
        time_col: period column of ``history``.
        target_col: sales column of ``history``.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> from trendcast.data.simulate import simulate_shop
        >>> from trendcast.decisions.trends import trend_table
        >>> shop = simulate_shop(n_items=10, n_stores=1, n_periods=450, seed=3)
        >>> table = trend_table(shop.data.sales, static=shop.data.static)
        >>> page = write_trend_report(tempfile.mkdtemp() + "/trends.html", table,
        ...                           history=shop.data.sales)
        >>> page.read_text().startswith("<!DOCTYPE html>")
        True
    """
    frame = to_pandas(table, name="table")
    level = next(c for c in frame.columns if c != "rank")
    missing = [c for c in ("trend", "recent", "reason", "as_of", "window") if c not in frame]
    if missing:
        raise ValueError(f"`table` lacks {missing}: pass the output of trend_table.")
    if not isinstance(top, (int, np.integer)) or top <= 0:
        raise ValueError(f"`top` must be a positive integer, got {top!r}.")
    series = _sparkline_values(
        to_pandas(history, name="history"),
        static,
        level,
        frame,
        sparkline_points,
        id_col,
        time_col,
        target_col,
    )
    as_of = pd.Timestamp(frame["as_of"].iloc[0]) if len(frame) else None
    counts = frame["trend"].value_counts()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("rising", "declining", "stable"))
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>{len(frame)} entities ({html.escape(str(level))}); "
        f"{summary}. Report date {as_of.date() if as_of is not None else '-'}, "
        f"windows of {int(frame['window'].iloc[0]) if len(frame) else '-'} periods.</p>",
        "<p class='note'>A label is given only when the evidence clears its threshold: a "
        "rate-ratio z-score and a minimum relative change against the same window a season "
        "earlier (or, for young entities, the previous window adjusted for the season). "
        "Sparklines show sales per week (per period for weekly and monthly data).</p>",
    ]
    for heading, blurb, column, value, key, ascending in _SECTIONS:
        if column not in frame.columns:
            continue
        chosen = frame[frame[column] == value]
        if chosen.empty:
            continue
        chosen = chosen.sort_values(key, ascending=ascending, kind="stable").head(top)
        parts.append(f"<h2>{heading} ({int((frame[column] == value).sum())})</h2>")
        parts.append(f"<p class='note'>{html.escape(blurb)}</p>")
        parts.append(_label_table(chosen, level, series))
    if len(parts) == 3:
        parts.append("<p>No entity cleared a label's threshold.</p>")
    unclear = frame[frame["trend"] == "unclear"]
    if len(unclear) and "z" in frame.columns:
        # The biggest moves that are not yet evidence, so the page is never blank: watch them.
        watch = unclear.loc[unclear["z"].abs().sort_values(ascending=False, kind="stable").index]
        parts.append(f"<h2>Largest moves, not yet clear ({len(unclear)} unclear)</h2>")
        parts.append(
            "<p class='note'>the biggest changes whose evidence does not clear a threshold "
            "yet: worth watching, not acting on</p>"
        )
        parts.append(_label_table(watch.head(top), level, series))
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def trend_json(table: Any) -> str:
    """The trend table as JSON (pandas' table schema: columns, types and rows).

    Args:
        table: output of `trend_table`, `trending` or `promotion_candidates`.

    Returns:
        A JSON string that `read_trend_json` turns back into the same frame.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"item_id": ["a"], "growth": [0.5], "trend": ["rising"]})
        >>> read_trend_json(trend_json(t)).equals(t)
        True
    """
    frame = to_pandas(table, name="table").reset_index(drop=True)
    return frame.to_json(orient="table", index=False, date_format="iso", double_precision=15)


def read_trend_json(text: str) -> pd.DataFrame:
    """Reads the output of `trend_json` back into a pandas frame.

    Args:
        text: the JSON string.

    Returns:
        The frame, with its column types.
    """
    frame = pd.read_json(StringIO(text), orient="table")
    return frame.reset_index(drop=True)


def _sparkline_values(
    history: pd.DataFrame,
    static: Any,
    level: str,
    table: pd.DataFrame,
    points: int,
    id_col: str,
    time_col: str,
    target_col: str,
) -> dict[Any, np.ndarray]:
    """Per entity, its sales in the last ``points`` bins (weeks for daily data), oldest first."""
    missing = [c for c in (id_col, time_col, target_col) if c not in history.columns]
    if missing:
        raise ValueError(f"`history` lacks {missing}: pass the sales the table was built from.")
    ds = pd.to_datetime(history[time_col])
    ids = history[id_col].astype(object)
    if level == id_col:
        entity = ids
    else:
        if static is None or level not in to_pandas(static, name="static").columns:
            if level not in history.columns:
                raise ValueError(
                    f"the table is at level {level!r}: pass `static` mapping '{id_col}' to it."
                )
            entity = history[level].astype(object)
        else:
            side = to_pandas(static, name="static").drop_duplicates(id_col)
            entity = ids.map(side.set_index(side[id_col].astype(object))[level].astype(object))
    as_of = ds.max()
    gap = np.median(np.diff(np.unique(ds.to_numpy()).astype("datetime64[D]").astype(int)))
    bin_days = 7 if gap == 1 else max(int(gap), 1)
    back = ((as_of - ds).dt.days // bin_days).to_numpy()
    keep = back < points
    bins = pd.DataFrame(
        {
            "entity": entity[keep].to_numpy(),
            "bin": points - 1 - back[keep],
            "y": history.loc[keep, target_col].to_numpy(float),
        }
    )
    grid = bins.pivot_table(index="entity", columns="bin", values="y", aggfunc="sum")
    grid = grid.reindex(columns=range(points))
    wanted = set(table[level].astype(object))
    return {k: v for k, v in zip(grid.index, grid.to_numpy(), strict=True) if k in wanted}


def _sparkline(values: np.ndarray | None, colour: str) -> str:
    width, height, pad = 140, 30, 2
    if values is None or np.all(np.isnan(values)):
        return "<svg class='spark' width='140' height='30'></svg>"
    x = np.arange(len(values))
    shown = ~np.isnan(values)
    top = max(float(np.nanmax(values)), 1e-9)
    xs = pad + x[shown] * (width - 2 * pad) / max(len(values) - 1, 1)
    ys = height - pad - values[shown] / top * (height - 2 * pad)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
    return (
        f"<svg class='spark' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' role='img'>"
        f"<title>peak {top:,.0f} per bin</title>"
        f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{points}'/>"
        f"<circle cx='{xs[-1]:.1f}' cy='{ys[-1]:.1f}' r='2' fill='{colour}'/></svg>"
    )


def _label_table(rows: pd.DataFrame, level: str, series: dict[Any, np.ndarray]) -> str:
    def fmt(value: Any, pattern: str) -> str:
        if pd.isna(value):
            return ""
        return pattern.format(value) if np.isfinite(value) else "&infin;"

    header = (
        f"<tr><th>{html.escape(str(level))}</th><th>sales</th><th>recent</th><th>growth</th>"
        "<th>90% interval</th><th>z</th><th>forecast</th><th>weeks of cover</th>"
        "<th>labels</th><th class='reason'>why</th></tr>"
    )
    body = []
    for row in rows.itertuples(index=False):
        entity = getattr(row, level)
        colour = _COLOURS.get(row.trend, "#52606d")
        interval = ""
        if pd.notna(row.growth_lo):
            interval = f"{row.growth_lo:+.0%} to {row.growth_hi:+.0%}"
        body.append(
            "<tr>"
            f"<td>{html.escape(str(entity))}</td>"
            f"<td>{_sparkline(series.get(entity), colour)}</td>"
            f"<td>{row.recent:,.0f}</td>"
            f"<td>{fmt(row.growth, '{:+.0%}')}</td>"
            f"<td>{interval}</td>"
            f"<td>{fmt(row.z, '{:.1f}')}</td>"
            f"<td>{fmt(row.forecast, '{:,.0f}')}</td>"
            f"<td>{fmt(row.weeks_of_cover, '{:,.1f}')}</td>"
            f"<td>{html.escape(row.labels)}</td>"
            f"<td class='reason'>{html.escape(row.reason)}</td>"
            "</tr>"
        )
    return f"<table>{header}{''.join(body)}</table>"
