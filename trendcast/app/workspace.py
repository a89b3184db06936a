"""Reading a workspace back: its tables and runs, a table of any kept run as a frame or a file,
and the report of what it holds.

Example:
    >>> import tempfile, os
    >>> import pandas as pd
    >>> from trendcast.data.store import Workspace
    >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
    >>> first = ws.write_run("plan", meta={}, results={"orders": pd.DataFrame({"qty": [3.0]})})
    >>> _ = ws.write_run("plan", meta={}, results={"orders": pd.DataFrame({"qty": [5.0]})})
    >>> read_table(ws, "orders").frame["qty"].tolist(), read_table(ws, "orders", run=first).frame["qty"].tolist()
    ([5.0], [3.0])
    >>> workspace_runs(ws)["command"].tolist()
    ['plan', 'plan']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast.data.contract import Columns, ShopData
from trendcast.data.store import Workspace, as_workspace

EXPORT_FORMATS = (".csv", ".parquet", ".pq", ".xlsx")
_EXCEL_ROWS = 1_048_576  # an Excel sheet's rows, its header included
_EXCEL_COLUMNS = 16_384


@dataclass
class StoredTable:
    """A table read from the workspace and where it came from."""

    name: str
    frame: pd.DataFrame  # the rows read: the first ``limit`` when one was given
    rows: int  # rows in the table
    kind: str
    run_id: str | None  # the run that wrote it; None for a table written outside a run
    command: str | None
    written: Any
    current: bool  # the table's current version, not an earlier run's


@dataclass
class WorkspaceReport:
    """The report written: its path, the parts it shows and those left out, with why."""

    path: Path
    shown: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def show(self, part: str, tables: str) -> None:
        self.shown.append(f"{part}: {tables}")

    def leave_out(self, part: str, why: str) -> None:
        self.left_out.append(f"{part}: {why}")


def workspace_tables(workspace: Any) -> pd.DataFrame:
    """One row per table: name, kind, rows, the run that wrote it, when, and how many runs'
    versions of it are kept."""
    ws = as_workspace(workspace)
    catalog = ws.catalog()
    kept = ws.history().groupby("name").size()
    return pd.DataFrame(
        {
            "name": catalog["name"],
            "kind": catalog["kind"],
            "rows": catalog["rows"].astype("int64"),
            "run_id": [json.loads(m).get("run_id") for m in catalog["meta"]],
            "written": catalog["written"],
            "runs_kept": [int(kept.get(n, 0)) for n in catalog["name"]],
        }
    )


def workspace_runs(workspace: Any, *, table: str | None = None) -> pd.DataFrame:
    """The runs whose tables are kept, newest first: run id, command, when, what it was made
    from (saved model or source), the tables it wrote and those of them still readable by
    its run id; with ``table``, only the runs that wrote it."""
    ws = as_workspace(workspace)
    runs = ws.runs().iloc[::-1]
    history = ws.history()
    readable = history.groupby("run_id")["name"].agg(set).to_dict()
    for row in ws.catalog().itertuples():  # tables written before runs kept history
        run_id = json.loads(row.meta).get("run_id")
        if run_id:
            readable.setdefault(run_id, set()).add(row.name)
    rows = []
    for run in runs.itertuples():
        tables = json.loads(run.tables)
        if table is not None and table not in tables:
            continue
        meta = json.loads(run.meta)
        rows.append(
            {
                "run_id": run.run_id,
                "command": run.command,
                "written": run.written,
                "made_from": _made_from(meta),
                "tables": tables,
                "kept": [t for t in tables if t in readable.get(run.run_id, ())],
            }
        )
    columns = ["run_id", "command", "written", "made_from", "tables", "kept"]
    return pd.DataFrame(rows, columns=columns)


def _made_from(meta: dict) -> str:
    """The saved model or the source file a run read, else the models it fitted."""
    if meta.get("model") or meta.get("source"):
        return str(meta.get("model") or meta.get("source"))
    return ", ".join(map(str, meta.get("models") or []))


def keep_runs(workspace: Any, keep: int | None = None) -> tuple[int, int]:
    """How many runs' versions each table keeps, and how many versions were dropped now:
    with ``keep``, the workspace keeps that many from now on and drops the older ones."""
    ws = as_workspace(workspace)
    if keep is None:
        return ws.keep_runs, 0
    return keep, ws.set_keep_runs(keep)


def read_table(
    workspace: Any, name: str, *, run: str | None = None, limit: int | None = None
) -> StoredTable:
    """Table ``name`` of the workspace: its current version, or the one ``run`` wrote while
    it is kept; ``limit``: its first rows only.

    Raises:
        KeyError: naming the tables that exist, or the runs of the table that are kept.
    """
    ws = as_workspace(workspace)
    frame = ws.read(name, run=run, limit=limit)
    history = ws.history(name)
    if run is not None:
        entry = history[history["run_id"] == run]
    else:
        entry = history[history["current"].astype(bool)]
    if len(entry):
        row = entry.iloc[0]
        return StoredTable(
            name,
            frame,
            int(row["rows"]),
            row["kind"],
            row["run_id"],
            row["command"],
            row["written"],
            bool(row["current"]),
        )
    # A table written outside a run, or by one before runs kept history.
    row = ws.catalog().set_index("name").loc[name]
    run_id = json.loads(row["meta"]).get("run_id")
    commands = ws.runs().set_index("run_id")["command"]
    command = commands.get(run_id) if run_id else None
    return StoredTable(
        name, frame, int(row["rows"]), row["kind"], run_id, command, row["written"], True
    )


def export_table(workspace: Any, name: str, out: str | Path, *, run: str | None = None) -> Path:
    """Writes table ``name`` (of ``run``, when given) to ``out``: CSV, Parquet or Excel by
    its suffix, atomically; returns the path.

    Excel has no time zones: times with one are written in UTC.
    """
    suffix = Path(out).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(
            f"cannot export '{suffix}' files: name the output .csv, .parquet or .xlsx."
        )
    frame = as_workspace(workspace).read(name, run=run)
    if suffix == ".xlsx":
        return _write_excel(frame, out, sheet=name)
    from trendcast.data.io import write_frame

    return write_frame(frame, out)


def workspace_report(
    workspace: Any,
    out: str | Path,
    *,
    shop: str | None = None,
    title: str | None = None,
    n_series: int = 6,
) -> WorkspaceReport:
    """Writes the HTML report of the demo (`trendcast.report.html.write_report`) for the shop's
    own data in the workspace: its stored shop and the current forecasts, backtest, scores,
    orders, prices and promotions, each part where its tables exist. The page says which run
    wrote each table and which parts are left out, and why.

    Args:
        shop: the stored shop whose sales are plotted (default: ``input``, the one
            `trendcast import` and the commands given a sales file store; else the latest).
        title: heading of the page.
        n_series: how many of the best-selling series to plot.
    """
    from trendcast.report.html import write_report

    ws = as_workspace(workspace)
    catalog = ws.catalog().set_index("name")
    names = set(catalog.index)
    report = WorkspaceReport(Path(out))
    notes = []

    def source(name: str) -> str:
        run_id = json.loads(catalog.loc[name, "meta"]).get("run_id")
        when = f"{pd.Timestamp(catalog.loc[name, 'written']):%Y-%m-%d %H:%M}"
        return f"{name} ({f'run {run_id}, ' if run_id else ''}{when})"

    shop_name = _shop_name(catalog, shop)
    data = ws.read_shop(shop_name) if shop_name else None
    forecasts_name = _latest(catalog, [n for n in names if re.fullmatch(r"(\w+_)?forecasts", n)])
    forecasts = ws.read(forecasts_name) if forecasts_name else None
    model = json.loads(catalog.loc[forecasts_name, "meta"]).get("model") if forecasts_name else None
    saved = _saved_forecaster(ws, model)
    if data is None and saved is not None:
        data = saved.data_
        notes.append(f"History: the data {model} was trained on.")
    history = data.sales if data is not None else None
    columns = data.columns if data is not None else Columns()
    if data is not None:
        notes.insert(0, _shop_note(data, shop_name))

    scores = ws.read("scores").set_index("model") if "scores" in names else None
    backtest = ws.read("backtest") if "backtest" in names else None
    if scores is None and model:  # `trendcast train` keeps its backtest scores with the model
        scores = _model_scores(ws, model)
        backtest = None
    best = _best_model(scores, forecasts, columns, saved)
    quantiles = _quantiles(forecasts, best) if forecasts is not None else ()

    if forecasts is None:
        report.leave_out(
            "forecast plots", "no forecasts table (trendcast forecast --workspace ...)"
        )
    elif history is None:
        report.leave_out("forecast plots", "no stored shop to plot the history of")
        forecasts = None
    else:
        report.show("forecasts", source(forecasts_name))
    if scores is None:
        report.leave_out(
            "backtest scores and plots", "no scores table (trendcast backtest --workspace ...)"
        )
    else:
        report.show("backtest scores", source("scores") if "scores" in names else f"model {model}")
        if backtest is None:
            report.leave_out("backtest plots", "no backtest table")
        else:
            # The plots show the scored models the backtest table holds.
            scores = scores.loc[[m for m in scores.index if m in backtest.columns]]
            report.show("backtest plots", source("backtest"))

    sections = _decision_sections(ws, names, columns, report, source)
    if not report.shown:
        raise ValueError(
            f"nothing to report in {ws.path}: it holds no forecasts, scores, orders, prices or "
            f"promotions; its tables: {sorted(names)}. Run trendcast forecast, backtest, plan "
            "or price with --workspace first."
        )
    read = dict.fromkeys(line.split(": ", 1)[1] for line in report.shown)  # once each, in order
    notes += [f"From the workspace {ws.path}: " + ", ".join(read) + "."]
    notes += [f"Left out: {line}." for line in report.left_out]
    report.path = write_report(
        out,
        title=title or f"trendcast: {ws.path.name}",
        history=history,
        forecasts=forecasts,
        backtest=backtest if scores is not None else None,
        scores=scores,
        best_model=best,
        quantiles=quantiles,
        notes=notes,
        drivers=_drivers(saved) if forecasts is not None else None,
        sections=sections,
        columns=columns,
        n_series=n_series,
    )
    return report


def _decision_sections(
    ws: Workspace, names: set[str], columns: Columns, report: WorkspaceReport, source
) -> list[tuple[str, str]]:
    """The report's order, price and promotion sections, where their tables exist."""
    from trendcast.report.decisions import order_section, price_section, promotion_section

    decisions = (
        ("orders", ("orders",), "plan", lambda t: order_section(t[0], id_col=columns.id_col)),
        ("prices", ("prices", "elasticities"), "price", lambda t: price_section(*t)),
        ("promotions", ("promotions",), "price --promotions", lambda t: promotion_section(t[0])),
    )
    sections = []
    for part, needed, command, section in decisions:
        missing = [n for n in needed if n not in names]
        if missing:
            why = f"no {' or '.join(missing)} table (trendcast {command} --workspace ...)"
            report.leave_out(part, why)
            continue
        try:
            sections.append(section([ws.read(n) for n in needed]))
        except KeyError as error:  # a table of that name from elsewhere, without the columns
            report.leave_out(part, f"the {needed[0]} table has no column {error}")
            continue
        report.show(part, ", ".join(source(n) for n in needed))
    return sections


def _shop_name(catalog: pd.DataFrame, shop: str | None) -> str | None:
    """The stored shop to plot: ``shop``, else ``input``, else the one written last."""
    shops = catalog[(catalog["kind"] == "shop") & catalog.index.str.endswith("_sales")]
    names = [n.removesuffix("_sales") for n in shops.index]
    if shop is not None:
        if shop not in names:
            raise KeyError(f"no stored shop '{shop}'; the workspace has {sorted(names)}.")
        return shop
    if "input" in names:
        return "input"
    return _latest(catalog, list(shops.index), strip="_sales")


def _latest(catalog: pd.DataFrame, names: list[str], strip: str = "") -> str | None:
    if not names:
        return None
    latest = catalog.loc[names, "written"].astype("datetime64[ns]").idxmax()
    return latest.removesuffix(strip)


def _shop_note(data: ShopData, name: str | None) -> str:
    cols = data.columns
    sales = data.sales
    return (
        f"Shop{f' {name!r}' if name else ''}: {sales[cols.id_col].nunique():,} series, "
        f"{data.freq} from {sales[cols.time_col].min():%Y-%m-%d} to "
        f"{sales[cols.time_col].max():%Y-%m-%d}, "
        f"{(sales[cols.target_col] == 0).mean():.0%} zero periods."
    )


def _saved_forecaster(ws: Workspace, model: str | None):
    """The saved forecaster ``model`` (``NAME@VERSION``), where it still loads."""
    if not model:
        return None
    from trendcast.app.forecasting import load_saved

    try:
        return load_saved(ws, model)[0]
    except (KeyError, ValueError, FileNotFoundError):
        return None


def _drivers(forecaster) -> pd.Series | None:
    """What drives the recommended model's forecasts, for a model that can tell."""
    if forecaster is None or not hasattr(forecaster.models_[0], "feature_importance"):
        return None
    from trendcast.evaluation.explain import group_importance

    return group_importance(forecaster.models_[0].feature_importance())


def _model_scores(ws: Workspace, model: str) -> pd.DataFrame | None:
    """The backtest scores saved with ``model``, one row per model; None without."""
    try:
        saved = ws.models.get(model).meta.get("scores")
    except (KeyError, ValueError):
        return None
    if not saved:
        return None
    scores = pd.DataFrame.from_dict(saved, orient="index")
    scores.index.name = "model"
    return scores


def _best_model(scores, forecasts, columns: Columns, saved) -> str | None:
    """The model whose forecasts are plotted: the best backtested one by WAPE that was
    forecast, else the saved forecaster's recommendation, else the first forecast column."""
    aliases = []
    if forecasts is not None:
        keys = {columns.id_col, columns.time_col}
        aliases = [c for c in forecasts.columns if c not in keys and not _is_interval(c)]
    if scores is not None and len(scores):
        metric = "WAPE" if "WAPE" in scores.columns else scores.columns[0]
        ranked = scores[metric].sort_values().index
        forecast = [m for m in ranked if m in aliases]
        if forecast or not aliases:
            return str((forecast or list(ranked))[0])
    if saved is not None and saved.default_alias_ in aliases:
        return saved.default_alias_
    return str(aliases[0]) if aliases else None


def _is_interval(column: str) -> bool:
    return bool(re.search(r"-(q|lo|hi)-[0-9.]+$", str(column)))


def _quantiles(forecasts: pd.DataFrame, model: str | None) -> tuple[float, ...]:
    if model is None:
        return ()
    pattern = re.compile(rf"^{re.escape(model)}-q-([0-9.]+)$")
    found = (pattern.match(str(c)) for c in forecasts.columns)
    return tuple(sorted(float(m[1]) for m in found if m))


def _write_excel(frame: pd.DataFrame, path: str | Path, *, sheet: str) -> Path:
    from trendcast.data.io import atomic_write, spreadsheet_safe

    if len(frame) >= _EXCEL_ROWS or len(frame.columns) > _EXCEL_COLUMNS:
        raise ValueError(
            f"'{sheet}' has {len(frame):,} rows and {len(frame.columns):,} columns, more than an "
            f"Excel sheet holds ({_EXCEL_ROWS - 1:,} rows, {_EXCEL_COLUMNS:,} columns): export it "
            "as .csv or .parquet."
        )
    out = spreadsheet_safe(frame).copy()  # openpyxl would store "=..." text as a formula
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return atomic_write(
        path,
        lambda tmp: out.to_excel(tmp, sheet_name=sheet[:31], index=False, engine="openpyxl"),
    )
