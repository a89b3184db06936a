"""The web dashboard at ``/``: the model in production, one series with a what-if price, the
stored trends, orders and prices, the model versions and uploads.

The pages are rendered here from what the server holds in memory; the browser calls the same
``/v1`` API as any other client for what-ifs, promotions and uploads. Nothing is fetched from
the internet: plotly.js is served from the installed ``plotly`` package.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from trendcast import __version__
from trendcast.serve.state import Served, ServerState

_STATIC = Path(__file__).with_name("static")
_ROWS = 500  # rows of a stored table shown on a page; the API pages through all of them
_CHOICES = 5000  # series ids offered while typing in the series box
_HEADERS = {
    # Scripts come from this server only, so a value that slipped past escaping cannot run.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
_NAV = (
    ("/", "Overview"), ("/series", "Series"), ("/trends", "Trends"), ("/orders", "Orders"),
    ("/prices", "Prices"), ("/models", "Models"), ("/upload", "Upload"),
)  # fmt: skip
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"t": 20, "b": 30},
    "legend": {"orientation": "h", "traceorder": "normal"},
}
# The command that writes each stored table a page shows, for when it is absent.
_MAKES = {
    "trends": "trendcast trends --workspace {ws}",
    "orders": "trendcast plan --workspace {ws} --model {model}",
    "prices": "trendcast price --workspace {ws} --model {model}",
    "accuracy": "trendcast update --workspace {ws} --model {model} --sales NEW_SALES.csv",
}


def dashboard_router(state: ServerState, *, keys_for_reads: bool = False) -> APIRouter:
    """The dashboard's pages and assets, left out of the API's schema.

    Args:
        state: what the server holds.
        keys_for_reads: the pages need a valid key too (pasted in the key field, sent as a
            cookie that lives as long as the browser tab's session).
    """
    board = _Board(state, keys_for_reads)
    router = APIRouter(include_in_schema=False)
    assets = {
        "plotly.min.js": _plotly_js(),
        "dashboard.js": _STATIC / "dashboard.js",
        "dashboard.css": _STATIC / "dashboard.css",
    }

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in assets:
            return Response("not found", status_code=404, media_type="text/plain")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(assets[name], media_type=kind,
                            headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip

    @router.get("/")
    def overview(request: Request) -> HTMLResponse:
        return board.render(request, "/", board.overview)

    @router.get("/series")
    def choose(request: Request, q: str = "") -> Response:
        if q.strip() and board.is_series(q.strip()):
            return RedirectResponse(f"/series/{quote(q.strip(), safe='')}", status_code=303)
        return board.render(request, "/series", lambda: board.chooser(q))

    @router.get("/series/{series_id:path}")
    def series(request: Request, series_id: str) -> HTMLResponse:
        return board.render(request, "/series", lambda: board.series(series_id))

    @router.get("/trends")
    def trends(request: Request) -> HTMLResponse:
        return board.render(request, "/trends", board.trends)

    @router.get("/orders")
    def orders(request: Request) -> HTMLResponse:
        return board.render(request, "/orders", board.orders)

    @router.get("/prices")
    def prices(request: Request) -> HTMLResponse:
        return board.render(request, "/prices", board.prices)

    @router.get("/models")
    def models(request: Request) -> HTMLResponse:
        return board.render(request, "/models", board.models)

    @router.get("/upload")
    def upload(request: Request) -> HTMLResponse:
        return board.render(request, "/upload", board.upload)

    return router


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@dataclass
class _Page:
    title: str
    body: str
    charts: bool = False
    status: int = 200


class _NoSeries(LookupError):
    pass


# -- what the pages draw, worked out once per served model and forecast run ------------------
class _Views:
    """Lookups and figures over one `Served`: positions of each series' rows in the training
    frames, its static attributes, the totals chart. Built on first use, then reused."""

    def __init__(self, held: Served):
        self.held = held
        self.data = held.forecaster.data_
        self.cols = self.data.columns
        self.alias = held.forecaster.default_alias_
        prefix = f"{self.alias}-q-"
        levels = sorted(
            (float(c[len(prefix) :]), c) for c in held.forecasts.columns if c.startswith(prefix)
        )
        self.band = (levels[0], levels[-1]) if len(levels) >= 2 else None

    @cached_property
    def ids(self) -> list[str]:
        return sorted(set(self.held.forecasts.index))

    @cached_property
    def totals(self) -> pd.Series:
        """Forecast units of each series over the horizon."""
        frame = self.held.forecasts
        return frame[self.alias].groupby(level=0, sort=False).sum()

    @cached_property
    def _sales_rows(self) -> dict[str, np.ndarray]:
        return _positions(self.data.sales, self.cols.id_col)

    @cached_property
    def _dynamic_rows(self) -> dict[str, np.ndarray]:
        return {} if self.data.dynamic is None else _positions(self.data.dynamic, self.cols.id_col)

    @cached_property
    def static(self) -> pd.DataFrame | None:
        static = self.data.static
        if static is None:
            return None
        return static.set_index(static[self.cols.id_col].astype(str)).drop(columns=self.cols.id_col)

    @cached_property
    def reads_price(self) -> bool:
        """Whether the plotted model reads the price at the forecast periods, so a what-if
        price moves its forecast."""
        forecaster = self.held.forecaster
        if self.data.dynamic is None or "price" not in self.data.dynamic.columns:
            return False
        if not forecaster.covariates_.is_known_future("price"):
            return False
        model = next((m for m in forecaster.models_ if m.alias == self.alias), None)
        usage = getattr(model, "covariate_usage", None)
        return usage is not None and "price" in usage()

    def history(self, series_id: str) -> pd.DataFrame:
        """The series' last year of sales (at most 730 periods)."""
        rows = self.data.sales.iloc[self._sales_rows.get(series_id, [])]
        if rows.empty:
            return rows
        time_col = self.cols.time_col
        since = rows[time_col].max() - pd.Timedelta(days=365)
        return rows[rows[time_col] > since].tail(730)

    def planned_prices(self, series_id: str, dates: pd.Series) -> list[float] | None:
        """The series' price at each of ``dates``: the plan in the dynamic frame, else the last
        price before (what the forecast assumed)."""
        if not self.reads_price:
            return None
        time_col = self.cols.time_col
        rows = self.data.dynamic.iloc[self._dynamic_rows.get(series_id, [])]
        prices = rows[[time_col, "price"]].dropna().sort_values(time_col)
        if prices.empty:
            return None
        known = prices.drop_duplicates(time_col, keep="last").set_index(time_col)["price"]
        wanted = pd.DatetimeIndex(dates)
        planned = known.reindex(known.index.union(wanted)).ffill().reindex(wanted)
        return planned.fillna(known.iloc[0]).astype(float).round(4).tolist()

    @cached_property
    def total_figure(self) -> str:
        import plotly.graph_objects as go

        time_col, target = self.cols.time_col, self.cols.target_col
        sales = self.data.sales
        recent = sales[sales[time_col] > sales[time_col].max() - pd.Timedelta(days=365)]
        past = recent.groupby(time_col)[target].sum()
        ahead = self.held.forecasts.groupby(time_col)[self.alias].sum()
        fig = go.Figure()
        fig.add_trace(_line(past.index, past.to_numpy(), "sold", color="#334e68", width=1))
        forecast = f"{self.alias} forecast"
        fig.add_trace(_line(ahead.index, ahead.to_numpy(), forecast, color="#cb6e17", width=2))
        fig.update_layout(**_LAYOUT, height=360, yaxis_title="units, all series")
        return _figure_json(fig)


def _stamp(path: Path) -> tuple:
    """When the workspace file and its write-ahead log last changed."""
    files = (path, path.with_name(path.name + ".wal"))
    return tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)


def _positions(frame: pd.DataFrame, id_col: str) -> dict[str, np.ndarray]:
    groups = frame.groupby(id_col, sort=False, observed=True).indices
    return {str(key): rows for key, rows in groups.items()}


# -- the pages -----------------------------------------------------------------------------------
class _Board:
    def __init__(self, state: ServerState, keys_for_reads: bool):
        self.state = state
        self.keys_for_reads = keys_for_reads
        self._view: _Views | None = None
        self._stamp: tuple | None = None
        self._reads: dict[tuple, Any] = {}
        self._before: dict[str, tuple[pd.Series, str, str]] = {}

    def render(self, request: Request, here: str, build: Callable[[], _Page]) -> HTMLResponse:
        stamp = _stamp(self.state.workspace.path)
        if stamp != self._stamp:  # a write landed: what was read before may be stale
            self._stamp, self._reads = stamp, {}
        if (
            self.keys_for_reads
            and self.state.scope_of(request.cookies.get("trendcast_key")) is None
        ):
            page = _Page("Key needed", "<h1>A key is needed</h1><p class='note'>This server "
                         "shows its data to API key holders only: paste a key in the field "
                         "above (trendcast keys create NAME --workspace WS makes one).</p>",
                         status=401)  # fmt: skip
        else:
            try:
                page = build()
            except _NoSeries as error:
                page = _Page("No such series", f"<h1>No such series</h1><p class='note'>"
                             f"{_esc(error.args[0])} <a href='/series'>Choose one</a>.</p>",
                             status=404)  # fmt: skip
            except LookupError as error:  # no model or table yet: the message says what to run
                message = error.args[0] if error.args else str(error)
                page = _Page("Nothing to show yet", "<h1>Nothing to show yet</h1>"
                             f"<p class='note'>{_esc(message)}</p>")  # fmt: skip
        return HTMLResponse(self._layout(page, here), status_code=page.status, headers=_HEADERS)

    def _layout(self, page: _Page, here: str) -> str:
        links = "".join(
            f"<a href='{href}'{' class=here' if href == here else ''}>{label}</a>"
            for href, label in _NAV
        )
        plotly = "<script src='/static/plotly.min.js' defer></script>" if page.charts else ""
        v = quote(__version__)
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_esc(page.title)} · trendcast</title><link rel='icon' href='data:,'>"
            f"<link rel='stylesheet' href='/static/dashboard.css?v={v}'>{plotly}"
            f"<script src='/static/dashboard.js?v={v}' defer></script></head>"
            f"<body data-reads-need-key='{int(self.keys_for_reads)}'><nav>"
            f"<span class='brand'>trendcast</span>{links}"
            "<form action='/series' method='get' role='search'><input name='q' "
            "placeholder='series id' aria-label='find a series'></form>"
            "<label>API key <input id='api-key' type='password' autocomplete='off' "
            "placeholder='paste to write'></label></nav>"
            f"<main>{page.body}</main></body></html>"
        )

    # -- shared lookups ------------------------------------------------------------------------
    def views(self) -> _Views:
        held = self.state.served()
        if self._view is None or self._view.held is not held:
            # A new version or forecast run replaced the served one: its lookups go with it.
            self._view = _Views(held)
        return self._view

    def is_series(self, series_id: str) -> bool:
        try:
            return series_id in self.views().held.forecasts.index
        except LookupError:
            return False

    def read(self, key: tuple, fetch: Callable[[], Any]) -> Any:
        """What ``fetch()`` read from the workspace, read once until the workspace is written."""
        if key not in self._reads:
            self._reads[key] = fetch()
        return self._reads[key]

    def stored(self, name: str) -> pd.DataFrame | None:
        """The stored table ``name``, None when absent."""
        ws = self.state.workspace
        if name not in set(self.read(("catalog",), ws.catalog)["name"]):
            return None
        return self.read(("table", name), lambda: ws.read(name))

    def _missing(self, what: str, table: str) -> str:
        views = self._views_or_none()
        model = views.held.version.name if views else self.state.default_model or "NAME"
        command = _MAKES[what].format(ws=self.state.workspace.path, model=model)
        return (f"<p class='note'>No {_esc(table)} table yet: <code>{_esc(command)}</code> "
                "makes one.</p>")  # fmt: skip

    # -- overview ------------------------------------------------------------------------------
    def overview(self) -> _Page:
        views = self.views()
        held, version = views.held, views.held.version
        meta = version.meta
        span = meta.get("span") or {}
        first, last = held.forecasts[views.cols.time_col].agg(["min", "max"])
        age = pd.Timestamp.now() - held.written
        trained = "unknown"
        if span:
            trained = (f"{span.get('first')} to {span.get('last')}, {_fmt(span.get('series'))} "
                       f"series, {_fmt(span.get('rows'))} rows")  # fmt: skip
        ahead = (f"{first:%Y-%m-%d} to {last:%Y-%m-%d}, {len(views.ids):,} series, "
                 f"{views.totals.sum():,.0f} units in all")  # fmt: skip
        made = f"{_age(age)} (made {_when(held.written)}, run {held.run_id or 'unknown'})"
        facts = {
            "Model": f"<b>{_esc(version.ref)}</b>, forecasts by {_esc(views.alias)}",
            "Saved": _esc(_when(version.created)),
            "Trained on": _esc(trained),
        }
        fitted = meta.get("fitted")
        if fitted and fitted != version.ref:  # moved forward by `trendcast update`, not refit
            since = (meta.get("fitted_span") or {}).get("last", "?")
            facts["Parameters"] = _esc(f"those of {fitted}, fitted on data to {since}, moved "
                                       "forward without refitting")  # fmt: skip
        facts |= {
            "Data hash": f"<code title='{_esc(held.data_hash)}'>{_esc(held.data_hash[:12])}</code>",
            "Horizon": _esc(f"{meta.get('horizon', '?')} periods of {meta.get('freq', '?')}"),
            "Forecasts": _esc(ahead),
            "Forecast age": _esc(made),
        }
        parts = [
            "<h1>Overview</h1><h2>In production</h2>",
            _facts(facts),
            "<h2>Backtest scores</h2>",
            self._scores(meta),
            "<h2>Total demand: the last year and the forecast</h2>",
            f"<div class='chart' id='total-chart' data-figure='{_esc(views.total_figure)}'></div>",
            "<h2>Since the previous forecast run</h2>",
            self._changes(views),
            "<h2>Alerts</h2>",
        ]
        parts += [self._alerts(version.name, views), "<h2>Accuracy over time</h2>"]
        parts.append(self._accuracy(version.name, views))
        return _Page("Overview", "".join(parts), charts=True)

    def _scores(self, meta: dict) -> str:
        from trendcast.report.html import _scores_table

        scores = meta.get("scores")
        if not scores:
            return ("<p class='note'>No backtest scores: this version was trained without "
                    "backtest windows (<code>trendcast train ... --windows 1</code> scores "
                    "the models).</p>")  # fmt: skip
        frame = pd.DataFrame(scores).T.apply(pd.to_numeric, errors="coerce")
        if "WAPE" in frame:
            frame = frame.sort_values("WAPE")
        return (
            "<p class='note'>Lower is better (coverage: nearer its level); the model in "
            f"production forecasts by <b>{_esc(meta.get('recommended'))}</b>.</p>"
            f"<div class='scroll scores'>{_scores_table(frame, meta.get('recommended'))}</div>"
        )

    def _changes(self, views: _Views) -> str:
        held = views.held
        table = f"{held.version.name}_forecasts"
        runs = self.read(("history", table), lambda: self.state.workspace.history(table))
        runs = runs.reset_index(drop=True)
        now = runs.index[runs["run_id"] == held.run_id]
        after = int(now[0]) + 1 if len(now) else 1
        if len(runs) <= after:
            return ("<p class='note'>This is the first stored forecast run of this model: "
                    "nothing to compare with yet.</p>")  # fmt: skip
        before = runs.iloc[after]
        run_id = str(before["run_id"])
        if run_id not in self._before:
            old = self.state.workspace.read(table, run=run_id)
            if views.alias not in old.columns:
                return (f"<p class='note'>The run before ({_esc(run_id)}) has no "
                        f"{_esc(views.alias)} forecasts to compare with.</p>")  # fmt: skip
            cols = views.cols
            sums = old.groupby(old[cols.id_col].astype(str))[views.alias].sum()
            dates = old[cols.time_col]
            self._before = {run_id: (sums, f"{dates.min():%Y-%m-%d}", f"{dates.max():%Y-%m-%d}")}
        sums, first, last = self._before[run_id]
        then_model = json.loads(before["meta"] or "{}").get("model", "?")
        total_now, total_then = float(views.totals.sum()), float(sums.sum())
        change = (total_now - total_then) / total_then if total_then else np.nan
        moves = pd.DataFrame({"before": sums, "now": views.totals}).fillna(0.0)
        moves["change"] = moves["now"] - moves["before"]
        moves = moves.reindex(moves["change"].abs().sort_values(ascending=False).index).head(8)
        moves.index.name = views.cols.id_col
        text = (
            f"Total forecast {total_now:,.0f} units now ({held.version.ref}) against "
            f"{total_then:,.0f} in the run before ({then_model}, run {run_id}, "
            f"{first} to {last}, made {_when(before['written'])})"
        )
        trend = ""
        if not np.isnan(change):
            trend = f": <b class='{'up' if change >= 0 else 'down'}'>{change:+.1%}</b>"
        return (
            f"<p>{_esc(text)}{trend}.</p><p class='note'>The series that moved most:</p>"
            + _table(moves.reset_index(), views=views)
        )

    def _alerts(self, name: str, views: _Views) -> str:
        alerts = self.stored("alerts")
        if alerts is not None and "model" in alerts:  # the table holds every model's alerts
            alerts = alerts[alerts["model"].astype(str) == name]
        if alerts is None or alerts.empty:
            return ("<p class='note'>No alerts (<code>trendcast update</code> raises them when "
                    "the accuracy drifts or a sales level shifts).</p>")  # fmt: skip
        if "detected" in alerts:
            alerts = alerts.sort_values("detected", ascending=False, kind="stable")
        keep = ["detected", "kind", "group_col", "group", "metric", "value", "baseline",
                "change", "message"]  # fmt: skip
        return _table(_columns(alerts, keep), views=views, limit=50)

    def _accuracy(self, name: str, views: _Views) -> str:
        table = f"{name}_accuracy"
        frame = self.stored(table)
        if frame is None or frame.empty:
            return self._missing("accuracy", table)
        backtest = (views.held.version.meta.get("scores") or {}).get(views.alias, {})
        figure = _accuracy_figure(frame, views.cols.time_col, views.alias, backtest.get("WAPE"))
        if figure is None:
            return _table(frame.tail(50))
        return (
            "<p class='note'>WAPE of the stored forecasts against the sales that came in, "
            "per date, every horizon step together; dotted: the backtest's.</p>"
            f"<div class='chart' id='accuracy-chart' data-figure='{_esc(figure)}'></div>"
        )

    # -- series --------------------------------------------------------------------------------
    def chooser(self, q: str) -> _Page:
        views = self.views()
        needle = q.strip().lower()
        found = [i for i in views.ids if needle in i.lower()] if needle else views.ids
        options = "".join(f"<option value='{_esc(i)}'>" for i in views.ids[:_CHOICES])
        links = "".join(f"<li><a href='{_series_url(i)}'>{_esc(i)}</a></li>" for i in found[:300])
        said = f" matching “{_esc(q.strip())}”" if needle else ""
        more = " (the first 300 shown; type more of the id)" if len(found) > 300 else ""
        body = (
            "<h1>Series</h1><form class='panel' action='/series' method='get'>"
            f"<label>Series id <input name='q' list='series-ids' value='{_esc(q)}' "
            "autocomplete='off' id='series-search'></label> <button>Show</button></form>"
            f"<datalist id='series-ids'>{options}</datalist>"
            f"<p class='note'>{len(found):,} of {len(views.ids):,} series{said}{more}.</p>"
            f"<ul class='ids'>{links}</ul>"
        )
        return _Page("Series", body)

    def series(self, series_id: str) -> _Page:
        views = self.views()
        held, cols = views.held, views.cols
        if series_id not in held.forecasts.index:
            raise _NoSeries(f"The forecasts of {held.version.ref} have no series {series_id!r}.")
        future = held.forecasts.loc[[series_id]].sort_values(cols.time_col)
        past = views.history(series_id)
        figure, trace = _series_figure(past, future, views)
        parts = [
            f"<h1>{_esc(series_id)}</h1><p class='note'>Forecasts of {_esc(held.version.ref)} "
            f"by {_esc(views.alias)}, after {len(past):,} periods of sales (the chart opens on "
            "the latest; double-click it for all of them).</p>",
            f"<div class='chart' id='series-chart' data-figure='{_esc(figure)}'></div>",
            self._what_if(series_id, future, trace),
            "<h2>Attributes</h2>",
        ]
        static = views.static
        if static is None or series_id not in static.index:
            parts.append("<p class='note'>The shop has no static attributes for this series.</p>")
        else:
            row = static.loc[[series_id]].iloc[0]
            parts.append(_facts({_esc(k): _esc(_fmt(v)) for k, v in row.items()}))
        shown = [cols.time_col, views.alias, *[c for _, c in (views.band or ())]]
        parts += ["<h2>Forecast</h2>", _table(future[shown].reset_index(drop=True))]
        return _Page(series_id, "".join(parts), charts=True)

    def _what_if(self, series_id: str, future: pd.DataFrame, trace: int) -> str:
        views = self.views()
        if not views.reads_price:
            return ("<p class='note panel'>No price what-if: the model in production "
                    f"({_esc(views.alias)}) reads no price, so another price would not move "
                    "its forecast.</p>")  # fmt: skip
        dates = future[views.cols.time_col]
        prices = views.planned_prices(series_id, dates)
        if prices is None:
            return "<p class='note panel'>No price what-if: the shop has no price for it.</p>"
        plan = {
            "series": series_id, "model": views.held.version.name,
            "id_col": views.cols.id_col, "time_col": views.cols.time_col, "alias": views.alias,
            "dates": [f"{d:%Y-%m-%d}" for d in dates], "prices": prices,
            "base_total": float(future[views.alias].sum()),
        }  # fmt: skip
        return (
            f"<div class='panel' id='whatif' data-trace='{trace}' "
            f"data-plan='{_esc(json.dumps(plan))}'>"
            "<label>What if the price changed by <b class='pct'>0%</b><br>"
            "<input type='range' min='-30' max='30' step='5' value='0' aria-label='price change'>"
            f"</label><p class='note'>Planned price now {prices[0]:,.2f} (first forecast "
            "period); the forecast is made again at the changed price, without refitting.</p>"
            "<div class='message' role='status'></div></div>"
        )

    # -- decisions -----------------------------------------------------------------------------
    def trends(self) -> _Page:
        table = self.stored("trends")
        if table is None:
            return _Page("Trends", "<h1>Trends</h1>" + self._missing("trends", "trends"))
        views = self._views_or_none()
        counts = table["trend"].value_counts() if "trend" in table else pd.Series(dtype=int)
        summary = ", ".join(f"{n:,} {_esc(k)}" for k, n in counts.items())
        parts = [f"<h1>Trends</h1><p class='note'>{len(table):,} entities: {summary}.</p>"]
        for direction in ("rising", "declining"):
            parts.append(f"<h2>{direction.title()}</h2>")
            ranked = _ranked(table, direction)
            if ranked is None:
                parts.append(_table(table, views=views))
                break
            if ranked.empty:
                parts.append(f"<p class='note'>Nothing is clearly {direction} now.</p>")
            else:
                parts.append(_table(ranked, views=views))
        return _Page("Trends", "".join(parts))

    def orders(self) -> _Page:
        table = self.stored("orders")
        if table is None:
            return _Page("Orders", "<h1>Orders</h1>" + self._missing("orders", "orders"))
        summary = f"{len(table):,} series"
        if "order_qty" in table:
            ordering = table["order_qty"].fillna(0) > 0
            units = table["order_qty"].sum()
            summary += f", {int(ordering.sum()):,} to order now, {units:,.0f} units"
            table = table.sort_values("order_qty", ascending=False, kind="stable")
        if "order_value" in table and table["order_value"].notna().any():
            summary += f", worth {table['order_value'].sum():,.2f}"
        keep = ["unique_id", "item_id", "store_id", "title", "order_qty", "order_up_to",
                "reorder_point", "inventory_position", "safety_stock", "demand_mean",
                "stockout_probability", "order_value", "check"]  # fmt: skip
        return _Page("Orders", f"<h1>Orders</h1><p class='note'>{_esc(summary)}.</p>"
                     + _table(_columns(table, keep), views=self._views_or_none()))  # fmt: skip

    def prices(self) -> _Page:
        table = self.stored("prices")
        if table is None:
            return _Page("Prices", "<h1>Prices</h1>" + self._missing("prices", "prices"))
        summary = f"{len(table):,} items"
        if "action" in table:
            counts = table["action"].value_counts()
            summary += ": " + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        keep = ["unique_id", "item_id", "store_id", "title", "price", "new_price", "change",
                "action", "gain", "prob_gain", "reason"]  # fmt: skip
        return _Page("Prices", f"<h1>Prices</h1><p class='note'>{_esc(summary)}.</p>"
                     + _table(_columns(table, keep), views=self._views_or_none()))  # fmt: skip

    def _views_or_none(self) -> _Views | None:
        try:
            return self.views()
        except LookupError:
            return None

    # -- models and uploads ----------------------------------------------------------------
    def models(self) -> _Page:
        from trendcast.app import list_models

        frame = self.read(("models",), lambda: list_models(self.state.workspace))
        frame = frame.drop(columns=["meta", "path"], errors="ignore")
        if frame.empty:
            return _Page("Models", "<h1>Models</h1><p class='note'>No saved model yet: "
                         "<code>trendcast train ... --name NAME</code> saves one.</p>")  # fmt: skip
        head = _head(frame) + "<th></th>"
        rows = []
        for record in frame.to_dict("records"):
            cells = "".join(_cell(v) for v in record.values())
            name, version = _esc(record["name"]), _esc(record["version"])
            label = "Promote again" if record.get("current") else "Promote"
            button = (f"<button data-action='promote' data-name='{name}' data-version='{version}'>"
                      f"{label}</button>")  # fmt: skip
            rows.append(f"<tr>{cells}<td>{button}</td></tr>")
        rollbacks = "".join(
            f"<button class='quiet' data-action='rollback' data-name='{_esc(n)}'>Roll back "
            f"{_esc(n)}</button> "
            for n in frame["name"].unique()
        )
        body = (
            "<h1>Models</h1><p class='note'>Promoting or rolling back needs a key with the "
            "write scope in the API key field above.</p>"
            f"<div id='models-message' class='message' role='status'></div>"
            f"<div class='scroll'><table><tr>{head}</tr>{''.join(rows)}</table></div>"
            f"<p>{rollbacks}<span class='note'>back to the version in production before.</span></p>"
        )
        return _Page("Models", body)

    def upload(self) -> _Page:
        from trendcast.serve.api import UPLOAD_FRAMES

        options = "".join(f"<option value='{f}'>{f}</option>" for f in UPLOAD_FRAMES)
        body = (
            "<h1>Upload</h1><p class='note'>A CSV or Parquet file, checked with the rest of the "
            "shop before anything is stored; needs a write key in the API key field above.</p>"
            "<form id='upload-form' class='stack panel'>"
            "<label>File <input type='file' name='file' accept='.csv,.parquet,text/csv'></label>"
            f"<label>As <select name='frame'>{options}</select></label>"
            "<fieldset><legend>Mode</legend><label><input type='radio' name='mode' "
            "value='append' checked> append the rows</label> <label><input type='radio' "
            "name='mode' value='replace'> replace the frame</label></fieldset>"
            "<div><button type='submit'>Upload</button></div></form>"
            "<div id='upload-message' class='message' role='status'></div>"
        )
        return _Page("Upload", body)


# -- pieces ----------------------------------------------------------------------------------
def _ranked(table: pd.DataFrame, direction: str) -> pd.DataFrame | None:
    """The rising or declining entities, strongest evidence first; None if the table is not a
    trend table."""
    from trendcast.decisions.trends import trending

    try:
        ranked = trending(table, direction=direction, top=100)
    except (ValueError, KeyError):
        return None
    keep = ["rank", "unique_id", "item_id", "store_id", "dept_id", "cat_id", "recent",
            "previous", "growth", "growth_lo", "growth_hi", "reason"]  # fmt: skip
    return _columns(ranked, keep)


def _columns(frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """The ``keep`` columns the frame has, in that order; all of them when it has none."""
    present = [c for c in keep if c in frame.columns]
    return frame[present] if present else frame


def _series_figure(past: pd.DataFrame, future: pd.DataFrame, views: _Views) -> tuple[str, int]:
    """The history, the widest quantile band and the mean forecast of one series, and an empty
    trace the what-if draws into; returns the figure's JSON and that trace's index."""
    import plotly.graph_objects as go

    time_col, target = views.cols.time_col, views.cols.target_col
    x = future[time_col]
    fig = go.Figure()
    fig.add_trace(_line(past[time_col], past[target], "sold", color="#334e68", width=1))
    if views.band is not None:
        (lo_q, lo), (hi_q, hi) = views.band
        fig.add_trace(_line(x, future[hi], "", width=0, showlegend=False, hoverinfo="skip"))
        band = f"{lo_q:g}-{hi_q:g} quantiles"
        fig.add_trace(
            _line(x, future[lo], band, width=0, fill="tonexty", fillcolor="rgba(240,180,41,0.3)")
        )
    forecast = f"{views.alias} forecast"
    fig.add_trace(_line(x, future[views.alias], forecast, color="#cb6e17", width=2))
    fig.add_trace(_line([], [], "what-if", color="#2680c2", width=2, dash="dash"))
    fig.update_layout(**_LAYOUT, height=400, yaxis_title="units")
    if len(past) and len(x):
        # Opens on the last few horizons (two seasons at least); the year is a zoom-out away.
        from trendcast.forecaster import season_length

        periods = max(4 * len(x), 2 * season_length(views.data.freq))
        step = pd.tseries.frequencies.to_offset(views.data.freq)
        start = max(past[time_col].min(), x.min() - periods * step)
        fig.update_xaxes(range=[start, x.max()])
    return _figure_json(fig), len(fig.data) - 1


def _accuracy_figure(
    frame: pd.DataFrame, time_col: str, alias: str, backtest: float | None
) -> str | None:
    """WAPE per date and model over all series, from `trendcast update`'s scores (absolute
    errors and actuals per date, step and group); else each numeric column per date. None
    when the table has no dates or no numbers."""
    import plotly.graph_objects as go

    if {"abs_error", "actual", "model", time_col} <= set(frame.columns):
        rows = frame[frame["group_col"] == "all"] if "group_col" in frame else frame
        sums = rows.groupby(["model", time_col])[["abs_error", "actual"]].sum()
        wape = (sums["abs_error"] / sums["actual"].where(sums["actual"] > 0)).rename("WAPE")
        metrics, frame = ["WAPE"], wape.reset_index()
    else:
        dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        metrics = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])][:4]  # fmt: skip
        if not dates or not metrics:
            return None
        time_col = dates[0]
    fig = go.Figure()
    groups = frame.groupby("model") if "model" in frame.columns else [(None, frame)]
    for model, part in groups:
        means = part.groupby(time_col)[metrics].mean().sort_index()
        for metric in metrics:
            name = metric if model is None else f"{model} {metric}"
            width = 3 if model == alias else 1.5
            fig.add_trace(go.Scatter(x=means.index, y=means[metric], name=str(name),
                                     mode="lines+markers", line={"width": width}))  # fmt: skip
    if backtest:
        fig.add_hline(y=backtest, line={"dash": "dot", "color": "#52606d"},
                      annotation_text=f"{alias} backtest WAPE {backtest:.3f}")  # fmt: skip
    fig.update_layout(**_LAYOUT, height=340)
    return _figure_json(fig)


def _line(x, y, name: str, *, color: str | None = None, width: float = 2, dash: str | None = None,
          **options):  # fmt: skip
    import plotly.graph_objects as go

    line = {"color": color, "width": width, "dash": dash}
    return go.Scatter(x=x, y=y, name=name, mode="lines", line={k: v for k, v in line.items()
                      if v is not None}, **options)  # fmt: skip


def _figure_json(fig) -> str:
    import plotly.io

    return plotly.io.to_json(fig, validate=False)


def _table(frame: pd.DataFrame, *, views: _Views | None = None, limit: int = _ROWS) -> str:
    """An HTML table of the frame's first ``limit`` rows, every value escaped; ids of forecast
    series link to their page."""
    link = views.cols.id_col if views is not None else None
    known = set(views.ids) if views is not None else set()
    head = _head(frame)
    rows = []
    for record in frame.head(limit).to_dict("records"):
        cells = []
        for column, value in record.items():
            if column == link and str(value) in known:
                cells.append(f"<td><a href='{_series_url(str(value))}'>{_esc(value)}</a></td>")
            else:
                cells.append(_cell(value))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    if len(frame) > limit:
        more = f"<p class='note'>The first {limit:,} of {len(frame):,} rows.</p>"
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(rows)}</table></div>{more}"


def _head(frame: pd.DataFrame) -> str:
    return "".join(
        f"<th class='num'>{_esc(c)}</th>" if pd.api.types.is_numeric_dtype(frame[c])
        else f"<th>{_esc(c)}</th>"
        for c in frame.columns
    )  # fmt: skip


def _cell(value: Any) -> str:
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    css = " class='num'" if number else ""
    return f"<td{css}>{_esc(_fmt(value))}</td>"


def _fmt(value: Any) -> str:
    """A value as people read it: no NaN, thousands separated, dates without midnight."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        size = abs(float(value))
        if size >= 1000 or float(value).is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}" if size >= 1 else f"{value:.3f}"
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return _when(value)
    return str(value)


def _when(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"


def _age(age: pd.Timedelta) -> str:
    seconds = max(age.total_seconds(), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} old"
    return "just made"


def _facts(facts: dict[str, str]) -> str:
    """A list of labels and values, both already escaped."""
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts.items())
    return f"<dl class='facts'>{items}</dl>"


def _series_url(series_id: str) -> str:
    return _esc(f"/series/{quote(series_id, safe='')}")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)
