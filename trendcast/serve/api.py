"""The REST API (``/v1``), ``/health`` and ``/metrics``: a thin face over the app layer.

Reads come from the promoted model's stored forecasts and the stored decisions; writes (uploads,
training, promotion) need an API key with the ``write`` scope and run one at a time. A client
never sees a stack trace: bad input is a 400 or 422 with what to fix, a missing table or model a
404, anything else a 500 with an id to find it in the server's log.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
import traceback
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from trendcast import __version__
from trendcast.errors import DataValidationError, WorkspaceBusyError
from trendcast.serve.dashboard import dashboard_router
from trendcast.serve.state import ServerState, records, update_summary

UPLOAD_FRAMES = ("sales", "static", "dynamic", "stock", "reviews")
DECISIONS = ("orders", "prices", "promotions", "trends", "elasticities")
MAX_ROWS = 10_000  # rows of a decision table in one response: ?limit= pages through more


class Metrics:
    """Request counts and latencies, job durations and forecast age, in Prometheus' text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "trendcast_requests_total", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "trendcast_request_seconds", "HTTP request latency", ["route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.jobs = Histogram(
            "trendcast_job_seconds", "Background job durations", ["kind", "status"],
            registry=self.registry, buckets=(1, 5, 15, 60, 300, 900, 3600),
        )  # fmt: skip
        self.age = Gauge(
            "trendcast_forecast_age_seconds", "Age of the served forecasts", ["model"],
            registry=self.registry,
        )  # fmt: skip

    def job(self, kind: str, status: str, seconds: float) -> None:
        self.jobs.labels(kind, status).observe(seconds)


def create_app(
    workspace: Any,
    *,
    model: str | None = None,
    keys_for_reads: bool = False,
    cors_origins: tuple[str, ...] = (),
    max_upload_mb: float = 100.0,
    inbox: str | None = None,
    update_at: str = "06:00",
    refit_every: str | None = None,
) -> FastAPI:
    """The server's app over ``workspace``.

    Args:
        model: the model served by default (default: the only forecaster saved).
        keys_for_reads: every read needs a key too (default: reads are open, writes need a
            ``write`` key).
        cors_origins: origins allowed to call the API from a browser (default: none).
        max_upload_mb: uploads beyond this size are refused (413).
        inbox: a folder whose sales files are applied every day at ``update_at`` (as
            ``trendcast update``), re-training when the fit is ``refit_every`` old or drifted.
    """
    metrics = Metrics()
    state = ServerState(workspace, model=model, metrics=metrics)
    if inbox:
        state.schedule_updates(inbox, update_at, model=model, refit_every=refit_every)

    @asynccontextmanager
    async def warm(app: FastAPI):
        # Load the promoted models and their forecasts before the first request.
        state.warm()
        yield

    app = FastAPI(
        title="trendcast",
        version=__version__,
        description="Demand forecasts and the decisions they drive, from a trendcast workspace.",
        lifespan=warm,
    )
    app.state.trendcast = state
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["*"],
            allow_headers=["*"],
        )  # fmt: skip

    app.add_middleware(_Measured, metrics=metrics)
    _error_handlers(app)
    reader = _auth(state, "read", needed=keys_for_reads)
    writer = _auth(state, "write", needed=True)

    @app.get("/health", tags=["service"])
    def health() -> dict:
        """200 when the workspace can be read."""
        models = state.workspace.models.list()
        return {
            "status": "ok",
            "version": __version__,
            "workspace": str(state.workspace.path),
            "models": sorted(models["name"].unique().tolist()),
        }

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    def prometheus() -> str:
        for held in state.all_served():
            age = pd.Timestamp.now() - held.written
            metrics.age.labels(held.version.name).set(age.total_seconds())
        return generate_latest(metrics.registry).decode()

    v1 = APIRouter(prefix="/v1")
    _model_routes(v1, state, reader, writer)
    _forecast_routes(v1, state, reader)
    _decision_routes(v1, state, reader)
    _data_routes(v1, state, writer, max_bytes=int(max_upload_mb * 2**20))
    app.include_router(v1)
    app.include_router(dashboard_router(state, keys_for_reads=keys_for_reads))
    return app


class _Measured:
    """Counts and times every request by its route (an ASGI middleware: no body copies)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)


# -- auth and errors ------------------------------------------------------------------------
def _auth(state: ServerState, scope: str, *, needed: bool):
    # Async, so a request does not hop to a thread for it; the keys are re-read every few
    # seconds at most.
    async def check(request: Request) -> str | None:
        token = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        if not needed and not token:
            return None
        found = state.scope_of(token)
        if found is None:
            raise _Refused(401, "a valid API key is needed: send it as X-API-Key (create one "
                                "with trendcast keys create NAME --workspace WS)")  # fmt: skip
        if scope == "write" and found != "write":
            raise _Refused(403, "this key may only read; writing needs a key with the write scope")
        return found

    return Depends(check)


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _error_handlers(app: FastAPI) -> None:
    def reply(status: int, body: dict) -> JSONResponse:
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(_Refused)
    async def refused(request, error: _Refused):
        return reply(error.status, {"error": str(error)})

    @app.exception_handler(DataValidationError)
    async def invalid(request, error: DataValidationError):
        problems = [
            {
                "frame": p.frame,
                "column": p.column,
                "message": p.message,
                "fix": p.fix.render("python"),
                "rows": records(p.rows.head(5)) if p.rows is not None else [],
                "n_rows": 0 if p.rows is None else len(p.rows),
            }
            for p in error.problems
        ]
        return reply(422, {"error": error.render("python"), "problems": problems})

    @app.exception_handler(WorkspaceBusyError)
    async def busy(request, error: WorkspaceBusyError):
        return reply(503, {"error": str(error), "retry": "try again in a moment"})

    @app.exception_handler(LookupError)
    async def missing(request, error: LookupError):
        message = error.args[0] if error.args else str(error)
        return reply(404, {"error": str(message)})

    @app.exception_handler(ValueError)
    async def bad(request, error: ValueError):
        return reply(400, {"error": str(error)})

    @app.exception_handler(Exception)
    async def internal(request, error: Exception):
        incident = uuid.uuid4().hex[:12]
        traceback.print_exception(error)  # for the server's log only
        return reply(500, {"error": "internal error", "incident": incident})


# -- models -----------------------------------------------------------------------------------
def _model_routes(v1: APIRouter, state: ServerState, reader, writer) -> None:
    from trendcast.app import list_models, promote, rollback

    @v1.get("/models", tags=["models"], dependencies=[reader])
    def models() -> dict:
        """Every saved version: name, version, in production, training span, data hash, WAPE."""
        frame = list_models(state.workspace).drop(columns=["meta", "path"], errors="ignore")
        return {"models": records(frame)}

    @v1.post("/models/{name}/promote", tags=["models"], dependencies=[writer])
    def promote_version(name: str, version: int | None = None) -> dict:
        """Puts a version (default: the latest) into production."""
        with state.write_lock:
            done = promote(state.workspace, f"{name}@{version}" if version else name)
        return {"model": done.ref}

    @v1.post("/models/{name}/rollback", tags=["models"], dependencies=[writer])
    def roll_back(name: str) -> dict:
        """Back to the version that was in production before the current one."""
        with state.write_lock:
            done = rollback(state.workspace, name)
        return {"model": done.ref}

    @v1.post("/models/{name}/train", tags=["models"], status_code=202, dependencies=[writer])
    def train_new(name: str, horizon: str | None = None, windows: int = 1) -> dict:
        """Backtests, fits and saves a new version on the stored shop, in the background
        (poll ``/v1/jobs/{id}``); the new version goes into production."""
        from trendcast.app import train

        # The uploaded shop, else the data the model in production was trained on; the same
        # line-up as that model, else the default one.
        held = state.served(name) if state.workspace.models.has(name) else None
        if _has(state.workspace, "input_sales"):
            shop = state.workspace.read_shop("input")
        elif held is not None:
            shop = held.forecaster.data_
        else:
            raise ValueError(f"no model {name!r} and no uploaded sales to train one on: "
                             "upload them first (POST /v1/data/sales)")  # fmt: skip
        models = None if held is None else [m.clone() for m in held.forecaster.templates_]
        h = horizon or (held.version.meta.get("horizon") if held else None) or 28

        def work(job) -> dict:
            job.progress = "backtest, fit, save"
            trained = train(shop, state.workspace, name, models=models, horizon=h,
                            n_windows=windows)  # fmt: skip
            return {"model": trained.version.ref, "fit_seconds": trained.fit_seconds}

        return state.submit("train", work).public()

    @v1.post("/update", tags=["models"], status_code=202, dependencies=[writer])
    async def update_now(
        request: Request, model: str | None = None, refit_every: str | None = None,
        drift: float = 0.2, replace: bool = False,
    ) -> dict:  # fmt: skip
        """New sales (a CSV or Parquet body; or a form with the files ``sales`` and
        ``dynamic``, the plan of the coming days) in, in the background: scored against the
        forecasts made earlier, the model in production moved forward without refitting,
        fresh forecasts and alerts stored, re-trained on ``refit_every`` or drift (see
        ``trendcast update``). Poll ``/v1/jobs/{id}``."""
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            # The day's sales and, as "dynamic", the plan of the days the horizon now reaches.
            form = await request.form()
            if "sales" not in form:
                raise ValueError("send the new sales as the form's 'sales' file")
            bodies = {
                name: (await form[name].read(), form[name].content_type or "")
                for name in ("sales", "dynamic")
                if name in form
            }
        else:
            bodies = {"sales": (await request.body(), kind)}
        # Read as `trendcast update` reads files, so both faces type the columns alike.
        folder = Path(tempfile.mkdtemp(prefix="trendcast-update-"))
        files = {name: _saved_upload(folder, name, *body) for name, body in bodies.items()}
        options = {"model": model, "refit_every": refit_every, "drift": drift,
                   "replace": replace, "dynamic": files.get("dynamic")}  # fmt: skip

        def work(job) -> dict:
            try:
                return update_summary(state.workspace, files["sales"], **options)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return state.submit("update", work).public()

    @v1.get("/jobs", tags=["jobs"], dependencies=[reader])
    def jobs() -> dict:
        return {"jobs": [job.public() for job in state.jobs.values()]}

    @v1.get("/jobs/{job_id}", tags=["jobs"], dependencies=[reader])
    def job(job_id: str) -> dict:
        if job_id not in state.jobs:
            raise LookupError(f"no job {job_id!r}")
        return state.jobs[job_id].public()


# -- forecasts --------------------------------------------------------------------------------
def _forecast_routes(v1: APIRouter, state: ServerState, reader) -> None:
    def envelope(held, ids: list[str]) -> Response:
        # Each series' rows are turned into JSON once per served version, then only joined.
        head = json.dumps(
            {"model": held.version.ref, "data_hash": held.data_hash, "run_id": held.run_id}
        )
        body = (
            head[:-1]
            + ', "forecasts": ['
            + ",".join(filter(None, (held.rows_json(i) for i in ids)))
            + "]}"
        )
        return Response(content=body, media_type="application/json")

    @v1.get("/forecasts/{series_id}", tags=["forecasts"], dependencies=[reader])
    async def one(series_id: str, model: str | None = None) -> Response:
        """The stored forecast of one series, with quantiles, from the model in production."""
        held = await _served(state, model)
        if series_id not in held.forecasts.index:
            raise LookupError(f"no series {series_id!r} in the forecasts of {held.version.ref}")
        return envelope(held, [series_id])

    @v1.get("/forecasts", tags=["forecasts"], dependencies=[reader])
    async def many(
        series: str | None = None, group: str | None = None, model: str | None = None,
        limit: int = 100,
    ) -> Response:  # fmt: skip
        """Forecasts of several series: ``series=a,b``, or a group ``group=dept_id:FOODS_1``
        (a static column and its value); at most ``limit`` series."""
        held = await _served(state, model)
        return envelope(held, _series_of(held, series, group)[: max(limit, 0)])

    @v1.post("/whatif", tags=["forecasts"], dependencies=[reader])
    def what_if(body: dict, model: str | None = None) -> dict:
        """The forecast of the given series under another plan, made now without refitting:
        ``{"plan": [{"unique_id": ..., "ds": ..., "price": ...}, ...]}``; the rows replace
        those of the shop's own plan (or today's prices kept) for their series and dates."""
        from trendcast.app import coming_plan

        held = state.served(model)
        cols = held.forecaster.data_.columns
        plan = pd.DataFrame(body.get("plan") or [])
        if plan.empty or cols.id_col not in plan or cols.time_col not in plan:
            raise ValueError(f"give plan rows with '{cols.id_col}', '{cols.time_col}' and the "
                             "columns to change (price, promo, ...)")  # fmt: skip
        plan[cols.id_col] = plan[cols.id_col].astype(str)
        plan[cols.time_col] = pd.to_datetime(plan[cols.time_col])
        steps = int(held.version.meta.get("horizon") or 28)
        first, last = held.forecasts[cols.time_col].min(), held.forecasts[cols.time_col].max()
        outside = plan[(plan[cols.time_col] < first) | (plan[cols.time_col] > last)]
        if len(outside):
            raise ValueError(f"plan dates must lie in the forecast periods, {first:%Y-%m-%d} to "
                             f"{last:%Y-%m-%d}; {len(outside)} rows do not")  # fmt: skip
        unknown = sorted(set(plan[cols.id_col]) - set(held.forecasts.index))
        if unknown:
            raise LookupError(f"no series {unknown[:5]} in the forecasts of {held.version.ref}")
        base, _ = coming_plan(held.forecaster, steps, None)
        if base is not None:
            base = base[base[cols.id_col].astype(str).isin(plan[cols.id_col])].copy()
            base[cols.id_col] = base[cols.id_col].astype(str)
            key = [cols.id_col, cols.time_col]
            merged = base.set_index(key)
            merged.update(plan.set_index(key))
            plan = merged.reset_index()
        # The recommended model alone reads the plan fast enough to answer while one waits.
        frame = held.forecaster.predict(
            steps, dynamic=plan, models=[held.forecaster.default_alias_]
        )
        frame = frame[frame[cols.id_col].astype(str).isin(plan[cols.id_col])]
        return {"model": held.version.ref, "data_hash": held.data_hash, "plan_rows": len(plan),
                "forecasts": records(frame)}  # fmt: skip


async def _served(state: ServerState, model: str | None):
    """What is held for ``model``; a reload (a new version or run) runs off the event loop."""
    return state.held(model) or await run_in_threadpool(state.served, model)


def _series_of(held, series: str | None, group: str | None) -> list[str]:
    ids = held.ids
    if series:
        wanted = [s.strip() for s in series.split(",") if s.strip()]
        known = set(ids)
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise LookupError(f"no series {unknown[:5]} in the forecasts of {held.version.ref}")
        return wanted
    if group:
        column, _, value = group.partition(":")
        static = held.forecaster.data_.static
        if static is None or column not in static.columns:
            have = (
                [] if static is None else [c for c in static.columns if static[c].dtype == object]
            )
            raise ValueError(f"group is COLUMN:VALUE of the static frame, e.g. {have[:3]}")
        id_col = held.forecaster.data_.columns.id_col
        members = static.loc[static[column].astype(str) == value, id_col].astype(str)
        if members.empty:
            raise LookupError(f"no series has {column} = {value!r}")
        members = set(members)
        return [i for i in ids if i in members]
    return ids


# -- decisions --------------------------------------------------------------------------------
def _decision_routes(v1: APIRouter, state: ServerState, reader) -> None:
    @v1.get("/decisions/{kind}", tags=["decisions"], dependencies=[reader])
    def decision(kind: str, limit: int = 1000, offset: int = 0) -> dict:
        """The latest stored order list, price list, promotion candidates, trend table or
        elasticities, with the run that made it."""
        if kind not in DECISIONS:
            raise LookupError(f"no decision {kind!r}: choose from {list(DECISIONS)}")
        frame = _stored(state, kind)
        limit = min(max(limit, 0), MAX_ROWS)
        return {
            "kind": kind,
            "run_id": state.workspace.meta(kind).get("run_id"),
            "rows": len(frame),
            "items": records(frame.iloc[offset : offset + limit]),
        }

    @v1.get("/trending", tags=["decisions"], dependencies=[reader])
    def trending_now(
        direction: str = "rising", category: str | None = None, store: str | None = None,
        top: int = 10,
    ) -> dict:  # fmt: skip
        """What is rising (or declining) now, in plain words with the evidence: the latest
        stored trend table, filtered by category and store."""
        from trendcast.decisions.trends import trending

        table = _stored(state, "trends")
        ranked = trending(table, direction=direction, category=category, store=store, top=top)
        scope = " ".join(p for p in (category, store) if p) or "the shop"
        if ranked.empty:
            answer = f"Nothing in {scope} is clearly {direction} now."
        else:
            names = ", ".join(str(v) for v in ranked.iloc[:, 1].head(3))
            answer = f"{len(ranked)} {direction} in {scope}, most clearly {names}."
        return {"answer": answer, "items": records(ranked[["rank", ranked.columns[1], "reason"]])}


def _stored(state: ServerState, name: str) -> pd.DataFrame:
    try:
        return state.workspace.read(name)
    except KeyError:
        command = {"orders": "plan", "prices": "price", "elasticities": "price",
                   "promotions": "price --promotions", "trends": "trends"}[name]  # fmt: skip
        raise LookupError(
            f"no {name} stored yet: run trendcast {command} --workspace {state.workspace.path}"
        ) from None


# -- data -------------------------------------------------------------------------------------
def _data_routes(v1: APIRouter, state: ServerState, writer, *, max_bytes: int) -> None:
    @v1.post("/data/{frame}", tags=["data"], dependencies=[writer])
    async def upload(frame: str, request: Request, mode: str = "append") -> dict:
        """Uploads a CSV or Parquet file (the request body) as the shop's ``frame``: validated
        with the shop as a whole, then stored in one transaction (``mode=append`` adds rows,
        ``replace`` replaces the frame). Nothing is stored when anything is wrong."""
        if frame not in UPLOAD_FRAMES:
            raise LookupError(f"no frame {frame!r}: upload one of {list(UPLOAD_FRAMES)}")
        if mode not in ("append", "replace"):
            raise ValueError("mode is append or replace")
        size = int(request.headers.get("content-length") or 0)
        if size > max_bytes:
            raise _Refused(413, f"the upload is {size:,} bytes; the limit is {max_bytes:,}")
        body = await request.body()
        if len(body) > max_bytes:
            raise _Refused(413, f"the upload is {len(body):,} bytes; the limit is {max_bytes:,}")
        new = _parse_upload(body, request.headers.get("content-type", ""))
        with state.write_lock:
            return _store_upload(state, frame, new, mode)


def _saved_upload(folder: Path, name: str, body: bytes, content_type: str) -> Path:
    """The upload as a file of its format in ``folder``, checked to be readable."""
    _parse_upload(body, content_type)  # refuses an unreadable body before any job is queued
    path = folder / f"{name}.{_upload_kind(body, content_type)}"
    path.write_bytes(body)
    return path


def _parse_upload(body: bytes, content_type: str) -> pd.DataFrame:
    """The frame of a CSV, Parquet or Excel body, read as data only (never executed or
    unpickled) by the CLI's reader, every CSV column as text."""
    from trendcast.data.io import read_source

    if not body:
        raise ValueError("the upload is empty: send the file as the request body")
    return read_source(io.BytesIO(body), name="the upload", kind=_upload_kind(body, content_type),
                       text_columns=True)  # fmt: skip


def _upload_kind(body: bytes, content_type: str) -> str:
    if body[:4] == b"PAR1" or "parquet" in content_type:
        return "parquet"
    if body[:2] == b"PK" or "spreadsheetml" in content_type:
        return "xlsx"
    return "csv"


def _store_upload(state: ServerState, frame: str, new: pd.DataFrame, mode: str) -> dict:
    from trendcast.app.shop import as_frame
    from trendcast.data.validate import validate

    ws = state.workspace
    if frame == "stock":
        stored = ws.read("stock") if mode == "append" and _has(ws, "stock") else None
        table = new if stored is None else pd.concat([stored.astype(str), new], ignore_index=True)
        run_id = ws.write_run("upload", meta={"frame": frame, "mode": mode},
                              results={"stock": table})  # fmt: skip
        return {"frame": frame, "rows": len(table), "run_id": run_id}
    shop = ws.read_shop("input") if _has(ws, "input_sales") else None
    if shop is None and frame != "sales":
        raise ValueError("upload the sales first: the other frames are checked against them")
    parts: dict[str, Any] = {}
    if shop is not None:
        parts = {"sales": shop.sales, "static": shop.static, "dynamic": shop.dynamic,
                 "reviews": shop.reviews}  # fmt: skip
    old = parts.get(frame)
    parts[frame] = new if mode == "replace" or old is None else _append(old, new)
    columns = shop.columns if shop is not None else None
    options = {} if columns is None else {
        "id_col": columns.id_col, "time_col": columns.time_col,
        "target_col": columns.target_col, "freq": shop.freq,
    }  # fmt: skip
    checked = validate(as_frame(parts["sales"]), **{k: v for k, v in parts.items()
                       if k != "sales" and v is not None}, **options)  # fmt: skip
    run_id = ws.write_run("upload", meta={"frame": frame, "mode": mode},
                          shop=("input", checked))  # fmt: skip
    return {"frame": frame, "rows": len(getattr(checked, frame)), "run_id": run_id}


def _append(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The stored rows and the new ones, the new ones read as the stored columns' types."""
    missing = [c for c in old.columns if c not in new.columns]
    if missing:
        raise ValueError(f"the upload lacks the stored columns {missing}")
    typed = new[list(old.columns)].copy()
    for column in old.columns:
        if pd.api.types.is_datetime64_any_dtype(old[column]):
            typed[column] = pd.to_datetime(typed[column], errors="coerce")
        elif pd.api.types.is_numeric_dtype(old[column]):
            typed[column] = pd.to_numeric(typed[column], errors="coerce")
        elif old[column].notna().all() and typed[column].isna().any():
            # A text column stored without gaps (an event's "" for none) reads "" as "".
            typed[column] = typed[column].astype(object).fillna("")
    return pd.concat([old, typed], ignore_index=True)


def _has(ws, name: str) -> bool:
    return ws.path.exists() and name in set(ws.catalog()["name"])
