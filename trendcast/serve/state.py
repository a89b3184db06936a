"""What a server process holds beside the workspace: the loaded forecasters and their latest
forecasts (reloaded when a new version or run lands), the API keys, the background jobs (one
writer at a time) and the request metrics."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trendcast.app.decisions import coming_plan
from trendcast.app.forecasting import forecast_saved, load_saved
from trendcast.app.keys import key_scope, list_keys
from trendcast.data.registry import ModelVersion
from trendcast.data.store import Workspace, as_workspace
from trendcast.forecaster import Forecaster

_KEYS_TTL = 5.0  # seconds a read of the keys table is trusted: a new key works within it


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: dates as ISO text, NaN as null."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


@dataclass
class Served:
    """A promoted model as the server serves it: the forecaster, its version and its latest
    forecasts (one frame, indexed by series) with the run that stored them."""

    forecaster: Forecaster
    version: ModelVersion
    forecasts: pd.DataFrame
    run_id: str | None
    written: pd.Timestamp

    _json: dict[str, str] = field(default_factory=dict)

    @property
    def data_hash(self) -> str:
        return str(self.version.meta.get("data_hash", ""))

    @cached_property
    def ids(self) -> list[str]:
        """The series, in the forecasts' order."""
        return list(dict.fromkeys(self.forecasts.index))

    def rows_json(self, series_id: str) -> str:
        """The series' forecast rows as JSON objects, comma-separated (no brackets)."""
        cached = self._json.get(series_id)
        if cached is None:
            rows = self.forecasts.loc[[series_id]].reset_index(drop=True)
            cached = self._json[series_id] = json.dumps(records(rows))[1:-1]
        return cached


@dataclass
class Job:
    """A background job: what it does, where it stands, and what came of it."""

    id: str
    kind: str
    status: str = "queued"  # queued, running, done, failed
    progress: str = ""
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
            "seconds": None
            if self.started is None
            else (self.finished or time.time()) - self.started,
        }


class ServerState:
    """The server's view of one workspace; every write to it goes through `write_lock`."""

    def __init__(self, workspace: Workspace | str, *, model: str | None = None, metrics=None):
        self.workspace = as_workspace(workspace)
        self.default_model = model
        self.write_lock = threading.RLock()  # a job holding it may make forecasts too
        self.metrics = metrics
        self.jobs: dict[str, Job] = {}
        self._served: dict[str, Served] = {}
        self._stamps: dict[str, tuple] = {}
        self._keys: tuple[float, pd.DataFrame] | None = None
        self._worker = threading.Thread(target=self._run_jobs, daemon=True)
        self._queue: list[tuple[Job, Callable[[Job], Any]]] = []
        self._wake = threading.Condition()
        self._worker.start()

    # -- models and forecasts -------------------------------------------------------------
    def model_name(self, name: str | None = None) -> str:
        """``name``, else the server's model, else the only forecaster saved."""
        name = name or self.default_model
        if name:
            return name
        models = self.workspace.models.list()
        names = sorted(models.loc[models["kind"] == "forecaster", "name"].unique())
        if len(names) != 1:
            raise LookupError(
                "the workspace has "
                + (f"the forecasters {names}: pass ?model=NAME" if names else "no saved model: "
                   "train one (trendcast train ... --workspace WS --name NAME)")
            )  # fmt: skip
        return names[0]

    def served(self, name: str | None = None) -> Served:
        """The promoted version of the model with its latest forecasts, loaded once per
        version; forecasts made when none of that version are stored. While the workspace
        file is unchanged, what is held is served without a query."""
        held = self.held(name)
        if held is not None:
            return held
        stamp, key = self._stamp(), name or self.default_model or ""
        held = self._served.get(key)
        name = self.model_name(name)
        version = self.workspace.models.get(name)
        table = f"{name}_forecasts"
        if held is not None and held.version.ref == version.ref:
            meta = self._meta(table)
            if meta.get("run_id") == held.run_id:
                self._stamps[key] = stamp
                return held
        forecaster, version = load_saved(self.workspace, version.ref)
        meta = self._meta(table)
        if meta.get("model") != version.ref:
            # Where the shop's plan stops short of the horizon, today's prices carry on.
            horizon = int(version.meta.get("horizon") or 28)
            plan, _ = coming_plan(forecaster, horizon, None)
            with self.write_lock:
                forecast_saved(self.workspace, version.ref, dynamic=plan)
            meta = self._meta(table)
        frame = self.workspace.read(table)
        id_col = forecaster.data_.columns.id_col
        frame[id_col] = frame[id_col].astype(str)
        written = pd.Timestamp(self.workspace.catalog().set_index("name").loc[table, "written"])
        held = Served(forecaster, version, frame.set_index(id_col, drop=False), meta.get("run_id"),
                      written)  # fmt: skip
        self._served[key] = held
        self._stamps[key] = self._stamp()
        return held

    def held(self, name: str | None = None) -> Served | None:
        """What is held for ``name`` while the workspace file is unchanged, else None."""
        key = name or self.default_model or ""
        held = self._served.get(key)
        if held is not None and self._stamps.get(key) == self._stamp():
            return held
        return None

    def _stamp(self) -> tuple:
        """When the workspace file (and its write-ahead log) last changed."""
        path = self.workspace.path
        return tuple(
            (p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None
            for p in (path, path.with_name(path.name + ".wal"))
        )

    def warm(self) -> None:
        """Loads every saved forecaster's promoted version (the server's model first)."""
        models = self.workspace.models.list()
        names = sorted(models.loc[models["kind"] == "forecaster", "name"].unique())
        for name in [self.default_model] if self.default_model else names:
            try:
                self.served(name)
            except Exception as error:  # the server still starts; requests for it say why
                print(f"warning: {name} is not served yet: {error}", file=sys.stderr)
        if not self.default_model and len(names) == 1 and names[0] in self._served:
            # Requests that name no model get the only one, as loaded.
            self._served[""], self._stamps[""] = self._served[names[0]], self._stamps[names[0]]

    def all_served(self) -> list[Served]:
        return list(self._served.values())

    def _meta(self, table: str) -> dict:
        try:
            return self.workspace.meta(table)
        except KeyError:
            return {}

    # -- keys --------------------------------------------------------------------------------
    def scope_of(self, token: str | None) -> str | None:
        now = time.monotonic()
        if self._keys is None or now - self._keys[0] > _KEYS_TTL:
            self._keys = (now, list_keys(self.workspace, hashes=True))
        return key_scope(self._keys[1], token)

    # -- schedule ----------------------------------------------------------------------------
    def schedule_updates(self, inbox: Path, at: str, **options: Any) -> None:
        """Every day at ``at``, an update job over the sales files in ``inbox``."""
        inbox = Path(inbox)
        if not inbox.is_dir():
            raise ValueError(f"--inbox {inbox} is not a folder: create it, then drop the day's "
                             "sales files there")  # fmt: skip
        next_run(datetime.now(), at)  # a bad time fails now, not at night

        def loop() -> None:
            while True:
                wait = (next_run(datetime.now(), at) - datetime.now()).total_seconds()
                time.sleep(max(wait, 1.0))
                self.submit("scheduled update",
                            lambda job: process_inbox(self.workspace, inbox, **options))  # fmt: skip

        threading.Thread(target=loop, daemon=True).start()

    # -- jobs --------------------------------------------------------------------------------
    def submit(self, kind: str, work: Callable[[Job], Any]) -> Job:
        """Queues ``work(job)``; jobs run one at a time, each holding the write lock."""
        job = Job(id=uuid.uuid4().hex[:12], kind=kind)
        self.jobs[job.id] = job
        with self._wake:
            self._queue.append((job, work))
            self._wake.notify()
        return job

    def _run_jobs(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                job, work = self._queue.pop(0)
            job.status, job.started = "running", time.time()
            try:
                with self.write_lock:
                    job.result = work(job)
                job.status = "done"
            except Exception as error:  # the job's client reads what went wrong, not a trace
                job.status, job.error = "failed", f"{type(error).__name__}: {error}"
                traceback.print_exc()
            finally:
                job.finished = time.time()
                if self.metrics is not None:
                    self.metrics.job(job.kind, job.status, job.finished - job.started)


def update_summary(workspace: Any, new_sales: Any, **options: Any) -> dict[str, Any]:
    """`trendcast.app.update.update` as a job's result: what moved, in JSON."""
    from trendcast.app.update import update

    done = update(workspace, new_sales, **options)
    return {
        "model": done.model,
        "previous": done.previous,
        "appended": done.appended,
        "repeated": done.repeated,
        "replaced": done.replaced,
        "alerts": records(done.alerts),
        "refit": None if done.refit is None else str(done.refit),
        "notes": list(done.notes),
        "run_id": done.run_id,
    }


def next_run(now: datetime, at: str) -> datetime:
    """The next time of day ``at`` (``"06:00"``) after ``now``.

    Example:
        >>> next_run(datetime(2026, 1, 1, 7, 0), "06:00")
        datetime.datetime(2026, 1, 2, 6, 0)
    """
    try:
        hour, minute = (int(part) for part in at.split(":"))
        candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        raise ValueError(f"--update-at is a time of day such as 06:00, got {at!r}") from None
    return candidate if candidate > now else candidate + timedelta(days=1)


def process_inbox(workspace: Any, inbox: Path, **options: Any) -> list[dict[str, Any]]:
    """Updates with every sales file in ``inbox`` (CSV or Parquet, in name order), with
    ``NAME.dynamic.csv`` beside ``NAME.csv`` as its plan when there is one; each moves to
    ``inbox/done`` when applied, or to ``inbox/failed`` with the reason beside it."""
    files = sorted(p for p in Path(inbox).iterdir() if p.suffix.lower() in (".csv", ".parquet"))
    results = []
    for path in (p for p in files if not p.stem.endswith(".dynamic")):
        plan = path.with_name(f"{path.stem}.dynamic{path.suffix}")
        plan = plan if plan.exists() else None
        try:
            outcome = {"file": path.name,
                       **update_summary(workspace, path, dynamic=plan, **options)}  # fmt: skip
            target = inbox / "done"
        except Exception as error:  # the file is set aside with the reason; the next one runs
            outcome = {"file": path.name, "error": f"{type(error).__name__}: {error}"}
            target = inbox / "failed"
        target.mkdir(exist_ok=True)
        for moved in (path, plan):
            if moved is not None:
                moved.rename(target / moved.name)
        if "error" in outcome:
            (target / f"{path.name}.error.txt").write_text(outcome["error"], encoding="utf-8")
        results.append(outcome)
    return results
