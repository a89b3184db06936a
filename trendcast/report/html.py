"""A self-contained HTML report: scores, history with forecast bands, error distributions.

plotly.js is embedded once, so the file opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trendcast.data.contract import Columns, quantile_column
from trendcast.data.io import atomic_write

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;margin:.6rem 0}td,th{padding:.3rem .7rem;border-bottom:1px solid #e4e7eb;
text-align:right}th:first-child,td:first-child{text-align:left}tr.best{background:#e3f9e5;font-weight:600}
.note{color:#52606d}ul{color:#52606d}td.text,th.text{text-align:left}
"""


def write_report(
    path: str | Path,
    *,
    title: str,
    history: pd.DataFrame | None,
    forecasts: pd.DataFrame | None,
    backtest: pd.DataFrame | None,
    scores: pd.DataFrame | None,
    best_model: str | None,
    quantiles: Sequence[float],
    notes: Sequence[str] = (),
    drivers: pd.Series | None = None,
    sections: Sequence[tuple[str, str]] = (),
    columns: Columns = Columns(),
    n_series: int = 6,
    history_periods: int = 120,
) -> Path:
    """Writes the report to ``path`` atomically and returns the path.

    The parts whose frames are None are left out: the forecast plots without ``history``,
    ``forecasts`` or ``best_model``, the scores without ``scores``, the backtest plots
    without ``backtest`` or ``scores``.

    Args:
        title: heading of the page.
        history: sales in the long format.
        forecasts: output of `Forecaster.predict`.
        backtest: output of `Forecaster.backtest`.
        scores: one row per model, one column per metric (lower is better except coverage).
        best_model: the alias whose forecasts are plotted.
        quantiles: forecast quantiles; the outermost pair draws the band.
        notes: lines shown under the title (data summary, what validation changed).
        drivers: share of the recommended model's feature importance per group of features.
        sections: more ``(heading, html)`` parts appended after the plots, e.g. the decision
            tables of `trendcast.report.decisions`.
        n_series: how many of the best-selling series to plot.
        history_periods: periods of history shown before each forecast.
    """
    figures = []
    if history is not None and forecasts is not None and best_model is not None:
        target = history.groupby(columns.id_col, observed=True)[columns.target_col].sum()
        top = target.nlargest(n_series).index
        figures.append(
            (
                "Forecasts of the best-selling series",
                _forecast_figure(
                    history, forecasts, top, best_model, quantiles, columns, history_periods
                ),
            )
        )
    if backtest is not None and scores is not None:
        figures += [
            (
                "Total demand in the backtest windows",
                _total_figure(backtest, scores.index, columns),
            ),
            ("Error distribution in the backtest", _error_figure(backtest, scores.index, columns)),
        ]
    if drivers is not None:
        figures.append(("What drives the forecasts", _drivers_figure(drivers)))
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
    ]
    if scores is not None:
        parts += [
            "<h2>Backtest scores</h2>",
            "<p class='note'>Lower is better; best model by the first column: "
            f"<b>{html.escape(str(best_model))}</b>.</p>",
            _scores_table(scores, best_model),
        ]
    for k, (heading, figure) in enumerate(figures):
        parts.append(f"<h2>{heading}</h2>")
        parts.append(figure.to_html(full_html=False, include_plotlyjs=k == 0))
    for heading, fragment in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{fragment}")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def _drivers_figure(drivers: pd.Series):
    import plotly.graph_objects as go

    ordered = drivers.sort_values()
    fig = go.Figure(
        go.Bar(x=ordered.to_numpy(), y=ordered.index, orientation="h", marker_color="#2680c2")
    )
    fig.update_layout(
        height=60 + 40 * len(ordered),
        template="plotly_white",
        xaxis_title="share of total gain",
        xaxis_tickformat=".0%",
        margin={"t": 20},
    )
    return fig


def _scores_table(scores: pd.DataFrame, best_model: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["model", *scores.columns])
    rows = []
    for model, row in scores.iterrows():
        cells = "".join(f"<td>{value:.3f}</td>" for value in row.to_numpy(float))
        css = " class='best'" if model == best_model else ""
        rows.append(f"<tr{css}><td>{html.escape(str(model))}</td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _forecast_figure(history, forecasts, ids, model, quantiles, columns, history_periods):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    n_cols = 2
    n_rows = max(1, int(np.ceil(len(ids) / n_cols)))
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[str(i) for i in ids])
    lo = hi = None
    if len(quantiles) >= 2:
        lo, hi = quantile_column(model, min(quantiles)), quantile_column(model, max(quantiles))
    for k, series_id in enumerate(ids):
        row, col = k // n_cols + 1, k % n_cols + 1
        past = history[history[id_col] == series_id].tail(history_periods)
        future = forecasts[forecasts[id_col] == series_id]
        first = k == 0
        fig.add_trace(
            go.Scatter(
                x=past[time_col],
                y=past[target_col],
                name="history",
                line={"color": "#334e68", "width": 1},
                showlegend=first,
                legendgroup="history",
            ),
            row=row,
            col=col,
        )
        if lo is not None:
            band = f"{min(quantiles):g}-{max(quantiles):g} quantiles"
            fig.add_trace(
                go.Scatter(
                    x=future[time_col],
                    y=future[hi],
                    line={"width": 0},
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup="band",
                ),
                row=row,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=future[time_col],
                    y=future[lo],
                    fill="tonexty",
                    fillcolor="rgba(240,180,41,0.3)",
                    line={"width": 0},
                    name=band,
                    showlegend=first,
                    legendgroup="band",
                ),
                row=row,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=future[time_col],
                y=future[model],
                name=f"{model} forecast",
                line={"color": "#cb6e17", "width": 2},
                showlegend=first,
                legendgroup="forecast",
            ),
            row=row,
            col=col,
        )
    fig.update_layout(height=280 * n_rows, margin={"t": 40, "b": 20}, template="plotly_white")
    return fig


def _total_figure(backtest, models, columns):
    import plotly.graph_objects as go

    totals = backtest.groupby(columns.time_col)[[columns.target_col, *models]].sum()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=totals.index,
            y=totals[columns.target_col],
            name="actual",
            line={"color": "#102a43", "width": 3},
        )
    )
    for model in models:
        fig.add_trace(go.Scatter(x=totals.index, y=totals[model], name=model, line={"width": 1.5}))
    fig.update_layout(height=380, template="plotly_white", margin={"t": 20})
    return fig


def _error_figure(backtest, models, columns):
    import plotly.graph_objects as go

    keys = [backtest[columns.id_col], backtest["cutoff"]]
    volume = backtest[columns.target_col].groupby(keys).sum().replace(0, np.nan)
    fig = go.Figure()
    upper = 0.0
    for model in models:
        errors = (backtest[model] - backtest[columns.target_col]).abs()
        wape = (errors.groupby(keys).sum() / volume).dropna()
        upper = max(upper, float(wape.quantile(0.95)) if len(wape) else 0.0)
        fig.add_trace(go.Box(y=wape, name=model, boxpoints=False))
    # Tiny series have huge relative errors; the axis shows the bulk (95% of values).
    fig.update_layout(
        height=380,
        template="plotly_white",
        yaxis_title="WAPE per series and window",
        yaxis_range=[0, 1.1 * upper or 1],
        margin={"t": 20},
        showlegend=False,
    )
    return fig
