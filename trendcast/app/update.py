"""Daily updates: the new sales into the workspace's shop, the earlier forecasts they cover
scored, fresh forecasts from the model in production without refitting, drift alerts, and a
re-train when the schedule or the drift calls for one.

An update (`update`) runs in this order:

1. The new rows are validated as every command validates a shop (column names and frequency
   of the stored shop ``input``, else of the model's training data). Rows for dates already
   stored must repeat the stored value (they are skipped, so an update repeated changes
   nothing) unless ``replace`` is given.
2. The forecasts of ``{NAME}_forecasts`` and its kept earlier runs are scored on the actuals
   of the dates the update adds or changes: one row per forecast run, model, horizon step,
   date and group (all series, and each ``store_id`` / ``cat_id`` of the static frame), with
   WAPE, bias and the coverage of each quantile band, in the growing table
   ``{NAME}_accuracy``.
3. The forecaster in production takes the new periods (`Forecaster.update`: no parameter is
   re-estimated) and forecasts from the new end.
4. Drift: the recommended model's WAPE over the last week (8 weeks, 3 months) of scored
   actuals is compared with its backtest WAPE in the version's metadata, and each group's
   sales per period over the new periods with its level in the last 28 days (8 weeks, 3
   months) of training, both beyond chance; each alert says what moved and by how much, in
   the table ``alerts``.
5. When the fitted parameters are older than ``refit_every`` (in periods of data since the
   fit) or the accuracy drifted, the same models and settings are trained again (`train`).
   The new version is promoted only if it forecasts better than the current parameters on
   periods neither has seen: the periods since the fit are split in two, the models are
   fitted again up to the split, the current parameters take the periods up to it, and both
   forecast the rest.

What it stores, and why a kill at any point leaves a consistent workspace: the updated
forecaster is saved as a new version of the model (meta ``update_of`` and ``fitted``: the
version whose parameters it carries), not yet promoted; then one run (`Workspace.write_run`)
stores the extended shop, the forecasts, the accuracy and the alerts in one transaction;
then the new version is promoted. A kill before the run leaves at most an unpromoted version
and the previous model serving; a kill between the run and the promotion leaves the shop ahead
of the model in production, which the next update catches up from the stored shop.

Example:
    >>> import tempfile, os
    >>> from trendcast import simulate_shop
    >>> from trendcast.app import read_shop, train
    >>> from trendcast.models import SeasonalNaive
    >>> shop = simulate_shop(n_items=4, n_stores=1, n_periods=120, reviews=False)
    >>> last = shop.data.sales["ds"].max()
    >>> history = shop.data.sales[shop.data.sales["ds"] < last]
    >>> ws = os.path.join(tempfile.mkdtemp(), "shop.duckdb")
    >>> data = read_shop(history)
    >>> _ = train(data, ws, "shop", models=[SeasonalNaive()], horizon=7, n_windows=0)
    >>> done = update(ws, shop.data.sales[shop.data.sales["ds"] == last])
    >>> done.model, done.appended, bool(done.forecasts["ds"].min() > last)
    ('shop@2', 4, True)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from trendcast.app.decisions import coming_plan
from trendcast.app.forecasting import _FOLDER, FORECASTER_KIND, backtest_shop, load_saved, train
from trendcast.app.imports import SHOP
from trendcast.app.shop import as_frame, data_hash, to_periods, training_span
from trendcast.data.arrays import SeriesArrays, period_index, shift_periods
from trendcast.data.contract import ShopData, quantile_column
from trendcast.data.registry import ModelVersion
from trendcast.data.store import Workspace, as_workspace
from trendcast.data.validate import DataValidationError, validate, validate_dynamic
from trendcast.errors import Fix, Setting
from trendcast.forecaster import (
    Forecaster,
    match_rows,
    overlay_dynamic,
    season_length,
    with_rows,
)
from trendcast.models.base import default_horizon

ALERTS = "alerts"  # the table of every model's alerts
GROUPS = ("store_id", "cat_id")  # static columns accuracy and levels are reported by
ALL = "all"  # the group of every series


@dataclass
class Refit:
    """A re-train an update started: why, the version trained, and how it and the current
    parameters forecast the same periods from the same origin."""

    reason: str
    version: ModelVersion
    window: tuple[str, str]  # first and last date both were scored on
    current_wape: float | None
    candidate_wape: float | None
    promoted: bool


@dataclass
class Updated:
    """What `update` did."""

    model: str  # the version in production now, NAME@VERSION
    previous: str  # the version in production before
    appended: int  # new sales rows stored
    repeated: int  # rows already stored with the same value, skipped
    replaced: int  # stored rows given another value (``replace``)
    forecasts: Any  # from the model in production, starting after the newest periods
    accuracy: pd.DataFrame  # the rows this update added to ``{NAME}_accuracy``
    alerts: pd.DataFrame  # the alerts it raised (also added to ``alerts``)
    refit: Refit | None = None
    run_id: str | None = None  # None when nothing was new: nothing was stored
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def update(
    workspace: Any,
    new_sales: Any,
    *,
    model: str | None = None,
    dynamic: Any = None,
    replace: bool = False,
    refit_every: str | int | None = None,
    drift: float = 0.2,
    shift: float = 0.5,
    groups: Sequence[str] | None = None,
) -> Updated:
    """Adds new sales to the workspace's shop, scores the earlier forecasts they cover and
    forecasts again from the model in production, without refitting; see the module
    docstring for the steps and what is stored.

    Args:
        new_sales: frame or file (CSV, Parquet) of new rows, in the shop's column names.
        model: the model's name (default: the only forecaster saved in the workspace).
        dynamic: frame, file or list of them: dynamic rows of the new periods (prices,
            promotions, behaviour) and plans of the coming ones, replacing stored rows.
        replace: overwrite stored sales that the new rows give another value; without
            it such rows are refused.
        refit_every: re-train when the fitted parameters are this many periods of data old,
            or a span such as ``"7d"`` (`to_periods`); None: only on drift.
        drift: relative WAPE increase over the backtest's that raises an alert (0.2: 20%).
        shift: relative change of a group's sales level that raises an alert (0.5: 50%),
            when it is also beyond chance (`_level_shifts`).
        groups: static columns to score and check levels by (default: ``store_id``,
            ``cat_id`` where the static frame has them).

    Raises:
        DataValidationError: rows fail the contract, give a stored date another value
            (without ``replace``), or leave a gap after a series' last date.
        ValueError: no such model, or rows of series the shop does not hold.
    """
    clock = _Clock()
    ws = as_workspace(workspace)
    forecaster, version = load_saved(ws, _model_name(ws, model))
    name = version.name
    fitted = version if "fitted" not in version.meta else ws.models.get(version.meta["fitted"])
    clock.lap("load the model")
    shop = _stored_shop(ws, forecaster)
    clock.lap("read the shop")
    incoming = _incoming(shop, new_sales, dynamic, replace)
    changed, columns = incoming.changed, shop.columns
    clock.lap("validate and merge")

    groups = _groups(shop, groups)
    scored = _score(ws, name, incoming.shop, changed, groups)
    accuracy = _appended(ws, f"{name}_accuracy", scored, changed, columns.time_col)
    clock.lap("score earlier forecasts")

    served, moved, notes = _advance(ws, forecaster, version, fitted, shop, incoming)
    clock.lap("update the model")
    horizon = version.meta.get("horizon") or default_horizon(shop.freq)
    # Where the shop's plan stops short of the new horizon, today's prices carry on (said so).
    plan, kept = coming_plan(served, horizon)
    notes.extend([kept] if kept else [])
    forecasts = served.predict(horizon, dynamic=plan)
    clock.lap("forecast")

    fit_end = pd.Timestamp(fitted.meta["span"]["last"])
    found = pd.DataFrame()
    if len(changed):
        limits = {"drift": drift, "shift": shift}
        found = _alerts(ws, version, fitted, served, accuracy, incoming, fit_end, groups, **limits)
    clock.lap("drift checks")

    refit, promoted = None, None
    age = _periods_between(fit_end, incoming.shop.sales[columns.time_col].max(), shop.freq)
    due = _due(refit_every, found, age, shop.freq) if len(changed) else ""
    if due and age < 2:
        notes.append(
            f"a re-train is due ({due}), but the data holds {age} period since the fit: two "
            "are needed to compare a re-trained version with the current one."
        )
    elif due:
        refit, trained = _refit(ws, incoming.shop, version, fitted, due, age)
        if refit.promoted:
            plan, _ = coming_plan(trained, horizon)
            promoted, forecasts = refit.version, trained.predict(horizon, dynamic=plan)
        clock.lap("re-train")

    if not (len(changed) or moved or incoming.dynamic is not None):
        notes.append("nothing new: every row is stored already; nothing was written.")
        return Updated(
            model=version.ref,
            previous=version.ref,
            appended=0,
            repeated=incoming.repeated,
            replaced=0,
            forecasts=forecasts,
            accuracy=scored,
            alerts=found,
            notes=notes,
            seconds=clock.seconds,
        )
    if promoted is None and moved:
        promoted = _save_updated(ws, served, version, fitted)
    clock.lap("save the model")

    ref = (promoted or version).ref
    results = {f"{name}_forecasts": forecasts}
    if not scored.empty:
        results[f"{name}_accuracy"] = accuracy
    if not found.empty:
        results[ALERTS] = _appended(ws, ALERTS, found, None, None)
    meta = {
        "model": ref,
        "previous": version.ref,
        "horizon": horizon,
        "data_hash": data_hash(incoming.shop),
        "appended": incoming.appended,
        "replaced": incoming.replaced,
        "refit": None if refit is None else refit.version.ref,
    }
    news = len(changed) or incoming.dynamic is not None
    run_id = ws.write_run(
        "update", meta=meta, shop=(SHOP, incoming.shop) if news else None, results=results
    )
    if promoted is not None:  # last: a kill before this leaves the previous model serving
        ws.models.promote(promoted.ref)
    clock.lap("store")
    return Updated(
        model=ref,
        previous=version.ref,
        appended=incoming.appended,
        repeated=incoming.repeated,
        replaced=incoming.replaced,
        forecasts=forecasts,
        accuracy=scored,
        alerts=found,
        refit=refit,
        run_id=run_id,
        notes=notes,
        seconds=clock.seconds,
    )


def _periods_between(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> int:
    dates = pd.Series([start, end])
    first, last = period_index(dates, freq)
    return int(last - first)


def _due(refit_every: str | int | None, alerts: pd.DataFrame, age: int, freq: str) -> str:
    """Why a re-train is due ("" when it is not)."""
    reasons = []
    if refit_every is not None:
        every = to_periods(refit_every, freq, name="refit_every")
        if age >= every:
            reasons.append(f"schedule: fitted {age} periods of data ago, re-train every {every}")
    drifted = alerts[alerts["kind"] == "accuracy"] if not alerts.empty else alerts
    if not drifted.empty:  # level alerts inform; a shift that costs accuracy shows here too
        reasons.append(f"drift: {drifted['message'].iloc[0]}")
    return "; ".join(reasons)


def _save_updated(
    ws: Workspace, forecaster: Forecaster, version: ModelVersion, fitted: ModelVersion
) -> ModelVersion:
    """The updated forecaster as a new version, not promoted yet, with the fitted version's
    metadata (parameters, backtest scores) and what it was updated from."""
    meta = {
        **fitted.meta,
        "data_hash": data_hash(forecaster.data_),
        "span": training_span(forecaster.data_),
        "update_of": version.ref,
        "fitted": fitted.ref,
        "fitted_span": fitted.meta["span"],
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta.pop("fit_seconds", None)
    return ws.models.save(
        version.name,
        lambda folder: forecaster.save(folder / _FOLDER),
        kind=FORECASTER_KIND,
        meta=meta,
        promote=False,
    )


# ------------------------------------------------------------------------- the shop


@dataclass
class _Merged:
    shop: ShopData  # the stored shop with the new rows
    changed: pd.DataFrame  # rows appended or given another value: id, date, target
    replaced_rows: pd.DataFrame  # of those, the ones given another value
    appended: int
    repeated: int
    replaced: int
    dynamic: pd.DataFrame | None = None  # dynamic rows new or changed, validated
    notes: list[str] = field(default_factory=list)  # what validating the new rows changed


def _incoming(shop: ShopData, new_sales: Any, dynamic: Any, replace: bool) -> _Merged:
    """The new rows, validated with the shop's column names and frequency, merged into it."""
    columns = shop.columns
    new = validate(
        as_frame(new_sales, text_columns=[columns.id_col]),
        id_col=columns.id_col,
        time_col=columns.time_col,
        target_col=columns.target_col,
        freq=shop.freq,
    )
    rows = None
    if dynamic is not None:
        rows = _new_dynamic(shop, as_frame(dynamic, text_columns=[columns.id_col]))
    merged = _merge(shop, new.sales, replace)
    merged.notes = [f"new rows: {line}" for line in new.report]
    # Rows repeating the stored ones change nothing, so repeating an update writes nothing.
    merged.dynamic = _dynamic_news(shop.dynamic, rows, columns)
    if merged.dynamic is not None:
        stored = merged.shop.dynamic
        extended = merged.dynamic
        if stored is not None:
            extended = overlay_dynamic(stored, merged.dynamic, columns)
        merged.shop = dataclasses.replace(merged.shop, dynamic=extended)
    return merged


def _model_name(ws: Workspace, model: str | None) -> str:
    """The model's name: the one given, else the only forecaster in production."""
    if model:
        return model
    saved = ws.models.list()
    names = sorted(saved.loc[(saved["kind"] == FORECASTER_KIND) & saved["current"], "name"])
    if len(names) != 1:
        raise ValueError(
            f"the workspace {ws.path} has {len(names)} forecasters in production "
            f"({', '.join(names) or 'none'}): name one with model=... (--model NAME)"
            + (", or train one first (`trendcast train`)." if not names else ".")
        )
    return names[0]


def _stored_shop(ws: Workspace, forecaster: Forecaster) -> ShopData:
    """The workspace's shop, else the model's training data; they must agree on columns,
    frequency and the model's series."""
    fitted = forecaster.data_
    try:
        shop = ws.read_shop(SHOP)
    except KeyError:
        return fitted
    if shop.columns != fitted.columns or shop.freq != fitted.freq:
        raise ValueError(
            f"the workspace's shop has columns {shop.columns} and frequency {shop.freq!r}; "
            f"the model was trained on {fitted.columns} and {fitted.freq!r}. Import the shop "
            "the model was trained on, or train the model on the workspace's shop."
        )
    missing = set(forecaster.arrays_.ids) - set(shop.sales[shop.columns.id_col].unique())
    if missing:
        raise ValueError(
            f"the workspace's shop lacks {len(missing)} of the model's series (e.g. "
            f"{sorted(map(str, missing))[:3]}): it is not the shop the model was trained on. "
            "Import that shop, or train the model on this one."
        )
    return shop


def _new_dynamic(shop: ShopData, dynamic: Any) -> pd.DataFrame:
    """The validated dynamic rows of an update, with the stored frame's columns."""
    columns = shop.columns
    ids = pd.Index(pd.unique(shop.sales[columns.id_col]))
    rows = validate_dynamic(dynamic, ids, shop.freq, columns, static=shop.static)
    if shop.dynamic is not None:
        unknown = [c for c in rows.columns.drop(columns.key) if c not in shop.dynamic]
        if unknown:
            raise ValueError(
                f"the new dynamic rows have columns {unknown} the shop's dynamic frame has "
                f"not; it has {shop.dynamic.columns.drop(columns.key).tolist()}. Leave them "
                "out, or import the shop again with them."
            )
    return rows


def _merge(shop: ShopData, new: pd.DataFrame, replace: bool) -> _Merged:
    """The shop with the validated rows ``new`` in: exact repeats skipped, other values for
    stored dates refused (or, with ``replace``, written), the rest appended after each
    series' end."""
    columns = shop.columns
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    sales = shop.sales
    stored = SeriesArrays.from_frame(sales, shop.freq, columns)
    match = match_rows(new, stored, columns, owner="shop")
    held, differ, rows = match.held, match.differ, match.rows
    if match.before.any():
        raise DataValidationError(
            f"{int(match.before.sum())} rows are dated before their series' first stored period.",
            column=time_col,
            rows=new.loc[match.before, [id_col, time_col]].set_index(id_col),
            fix="leave them out: an update adds periods after the stored ones.",
        )
    given = new[target_col].to_numpy(np.float64)
    if differ.any() and not replace:
        shown = new.loc[differ, [id_col, time_col, target_col]].rename(columns={target_col: "new"})
        shown.insert(2, "stored", stored.values[rows[differ]])
        raise DataValidationError(
            f"{int(differ.sum())} rows give stored dates another value than the shop holds.",
            column=target_col,
            rows=shown.set_index(id_col),
            fix=Fix.of(
                "pass ",
                Setting("replace"),
                " to write the new values over the stored ones, or leave the rows out "
                "(rows repeating the stored value are accepted as they are).",
            ),
        )
    appended, series = match.fresh, match.fresh_series
    out = sales
    if differ.any():
        out = sales.copy()
        out.iloc[rows[differ], out.columns.get_loc(target_col)] = given[differ]
    out = with_rows(out, stored, appended, series, columns)
    replaced = new.loc[differ, [id_col, time_col, target_col]].reset_index(drop=True)
    parts = [part for part in (replaced, appended[[id_col, time_col, target_col]]) if len(part)]
    changed = pd.concat(parts, ignore_index=True) if parts else replaced
    return _Merged(
        dataclasses.replace(shop, sales=out),
        changed,
        replaced,
        appended=len(appended),
        repeated=int((held & ~differ).sum()),
        replaced=int(differ.sum()),
    )


def _dynamic_news(
    stored: pd.DataFrame | None, rows: pd.DataFrame | None, columns
) -> pd.DataFrame | None:
    """The dynamic ``rows`` the stored frame lacks or holds other values for; None if none."""
    if rows is None or stored is None:
        return rows
    key = columns.key
    mine = rows.set_index(key)
    theirs = stored.set_index(key).reindex(mine.index)[mine.columns]
    same = np.ones(len(mine), dtype=bool)
    for name in mine.columns:
        a, b = mine[name], theirs[name]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            # A price read from CSV and the stored float32 differ in the last bits only.
            same &= np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-6, equal_nan=True)
        else:
            a, b = a.astype(object), b.astype(object)
            same &= ((a == b) | (a.isna() & b.isna())).to_numpy()
    news = rows.loc[~same].reset_index(drop=True)
    return None if news.empty else news


def _groups(shop: ShopData, groups: Sequence[str] | None) -> list[str]:
    static = shop.static
    wanted = GROUPS if groups is None else groups
    if static is None:
        if groups:
            raise ValueError(f"groups={list(groups)} need a static frame; the shop has none.")
        return []
    missing = [g for g in wanted if g not in static.columns]
    if groups is not None and missing:
        raise ValueError(
            f"groups={list(groups)} names {missing}, which the static frame lacks; it has "
            f"{static.columns.drop(shop.columns.id_col).tolist()}."
        )
    return [g for g in wanted if g in static.columns]


# ------------------------------------------------------------------------- scoring


def _score(
    ws: Workspace, name: str, shop: ShopData, changed: pd.DataFrame, groups: list[str]
) -> pd.DataFrame:
    """Accuracy of the kept runs of ``{name}_forecasts`` on the dates the update added or
    changed: one row per run, model, step, date and group (every series, and each value of
    the ``groups`` columns)."""
    columns = shop.columns
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    table = f"{name}_forecasts"
    history = ws.history(table) if len(changed) and ws.path.exists() else pd.DataFrame()
    if history.empty:
        return pd.DataFrame()
    sales = shop.sales
    actual = sales.loc[sales[time_col].isin(pd.unique(changed[time_col])), columns.key]
    actual = actual.assign(**{id_col: actual[id_col].astype(str), "_y": sales[target_col]})
    parts = []
    for run in history.itertuples(index=False):
        part = _covered(ws.read(table, run=run.run_id), actual, shop.freq, columns)
        version = json.loads(run.meta).get("model")
        parts.append(part.assign(run_id=run.run_id, model_version=version))
    rows = pd.concat(parts, ignore_index=True)
    if rows.empty:
        return pd.DataFrame()
    keys = ["run_id", "model_version", "model", time_col, "step"]
    labelled = [rows.assign(group_col=ALL, group=ALL)]
    for g in groups:
        lookup = shop.static.set_index(shop.static[id_col].astype(str))[g].astype(str)
        labelled.append(rows.assign(group_col=g, group=rows[id_col].map(lookup)))
    coverage = sorted(c for c in rows.columns if c.startswith("coverage_"))
    sums = {"n": ("actual", "size"), "actual": ("actual", "sum"), "forecast": ("forecast", "sum")}
    sums |= {"abs_error": ("abs_error", "sum"), "squared_error": ("squared_error", "sum")}
    sums |= {c: (c, "mean") for c in coverage}
    grouped = pd.concat(labelled, ignore_index=True).groupby(
        [*keys, "group_col", "group"], sort=False, dropna=False
    )
    out = grouped.agg(**sums).reset_index()
    positive = out["actual"] > 0
    out["wape"] = (out["abs_error"] / out["actual"]).where(positive)
    out["bias"] = (out["forecast"] / out["actual"] - 1).where(positive)
    out.insert(
        3, "origin", shift_periods(out[time_col].to_numpy(), -out["step"].to_numpy(), shop.freq)
    )
    out["scored"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return out[[c for c in out.columns if c not in coverage] + coverage]


def _covered(forecasts: pd.DataFrame, actual: pd.DataFrame, freq: str, columns) -> pd.DataFrame:
    """The forecasts of one run that ``actual`` (id as text, date, ``_y``) covers, long: one
    row per series, date and model, with its step, errors and whether each quantile band
    holds the actual."""
    id_col, time_col = columns.id_col, columns.time_col
    forecasts = forecasts.assign(**{id_col: forecasts[id_col].astype(str)})
    first = forecasts.groupby(id_col)[time_col].transform("min")
    forecasts["step"] = period_index(forecasts[time_col], freq) - period_index(first, freq) + 1
    rows = forecasts.merge(actual, on=columns.key, how="inner")
    names = set(forecasts.columns)
    aliases = [c for c in forecasts.columns if c not in (*columns.key, "step") and "-q-" not in c]
    y = rows["_y"].to_numpy(np.float64)
    long = []
    for alias in aliases:
        forecast = rows[alias].to_numpy(np.float64)
        part = {
            id_col: rows[id_col].to_numpy(),
            time_col: rows[time_col].to_numpy(),
            "step": rows["step"].to_numpy(),
            "model": alias,
            "actual": y,
            "forecast": forecast,
            "abs_error": np.abs(forecast - y),
            "squared_error": (forecast - y) ** 2,
        }
        levels = sorted(float(c.rsplit("-q-", 1)[1]) for c in names if c.startswith(f"{alias}-q-"))
        for lo in levels:
            hi = quantile_column(alias, 1 - lo)
            if lo < 0.5 and hi in names:
                inside = (rows[quantile_column(alias, lo)].to_numpy() <= y) & (
                    y <= rows[hi].to_numpy()
                )
                part[_coverage_name(lo, 1 - lo)] = inside.astype(np.float64)
        long.append(pd.DataFrame(part))
    return pd.concat(long, ignore_index=True) if long else pd.DataFrame()


def _coverage_name(lo: float, hi: float) -> str:
    """``coverage_80`` for the band from quantile 0.1 to 0.9."""
    return f"coverage_{round((hi - lo) * 100, 6):g}"


def _appended(
    ws: Workspace, table: str, rows: pd.DataFrame, changed: pd.DataFrame | None, time_col
) -> pd.DataFrame:
    """The table ``table`` with ``rows`` added; accuracy rows of the runs and dates scored
    again (values replaced) take the place of the earlier ones."""
    try:
        stored = ws.read(table) if ws.path.exists() else pd.DataFrame()
    except KeyError:
        stored = pd.DataFrame()
    if rows.empty:
        return stored
    if changed is not None and not stored.empty:
        pairs = pd.MultiIndex.from_frame(rows[["run_id", time_col]])
        again = pd.MultiIndex.from_frame(stored[["run_id", time_col]]).isin(pairs)
        stored = stored.loc[~again]
    if stored.empty:
        return rows.reset_index(drop=True)
    return pd.concat([stored, rows], ignore_index=True)


# ------------------------------------------------------------------------- the model


def _advance(
    ws: Workspace,
    forecaster: Forecaster,
    version: ModelVersion,
    fitted: ModelVersion,
    stored: ShopData,
    incoming: _Merged,
) -> tuple[Forecaster, bool, list[str]]:
    """The model in production moved to the shop's end without refitting, whether it moved,
    and notes. It takes every stored period after its end, so a model that missed an update
    (a kill before its promotion) catches up."""
    columns, shop = stored.columns, incoming.shop
    base, notes = _base(ws, forecaster, version, fitted, incoming, columns)
    notes = incoming.notes + notes
    rows = _after_end(shop.sales, base.arrays_, columns)
    dynamic = _model_dynamic(base, shop, incoming.dynamic, stored, columns)
    unknown = pd.Index(pd.unique(shop.sales[columns.id_col].astype(str))).difference(
        pd.Index(base.arrays_.ids).astype(str)
    )
    if len(unknown):
        notes.append(
            f"{len(unknown)} series of the shop are not in the model (e.g. "
            f"{list(unknown[:3])}): they get forecasts once it is trained again."
        )
    if rows.empty and dynamic is None:
        return base, base is not forecaster, notes
    return base.update(rows if len(rows) else None, dynamic=dynamic), True, notes


def _base(
    ws: Workspace,
    forecaster: Forecaster,
    version: ModelVersion,
    fitted: ModelVersion,
    merged: _Merged,
    columns,
) -> tuple[Forecaster, list[str]]:
    """The forecaster to update, and notes: the one in production, or, when stored dates it
    had taken were given other values, the fitted version it was updated from."""
    replaced = merged.replaced_rows
    if replaced.empty:
        return forecaster, []
    taken = _taken(replaced, forecaster.arrays_, columns)
    if not taken.any():
        return forecaster, []
    keep = (
        "{} replaced rows are in the fitted history: the model keeps the values it was "
        "fitted on until it is trained again."
    )
    if fitted.ref == version.ref:
        return forecaster, [keep.format(int(taken.sum()))]
    base = load_saved(ws, fitted.ref)[0]
    inside = _taken(replaced, base.arrays_, columns)
    notes = [f"replaced rows the model had taken: it takes them again from {fitted.ref}."]
    if inside.any():
        notes.append(keep.format(int(inside.sum())))
    return base, notes


def _taken(rows: pd.DataFrame, arrays: SeriesArrays, columns) -> np.ndarray:
    """Which ``rows`` lie within their series' history in ``arrays``."""
    ends = pd.Series(arrays.last_ds, index=pd.Index(arrays.ids).astype(str))
    end = ends.reindex(rows[columns.id_col].astype(str)).to_numpy()
    return rows[columns.time_col].to_numpy() <= end


def _after_end(sales: pd.DataFrame, arrays: SeriesArrays, columns) -> pd.DataFrame:
    """The rows of ``sales`` after the ends of the arrays' series (other series' rows out)."""
    ends = pd.Series(arrays.last_ds, index=pd.Index(arrays.ids).astype(str))
    end = ends.reindex(sales[columns.id_col].astype(str)).to_numpy()
    after = sales[columns.time_col].to_numpy() > end  # NaT (not in the model): False
    return sales.loc[after, columns.key + [columns.target_col]].reset_index(drop=True)


def _model_dynamic(
    base: Forecaster,
    shop: ShopData,
    rows: pd.DataFrame | None,
    stored: ShopData,
    columns,
) -> pd.DataFrame | None:
    """The dynamic rows the model takes: the new ones, or, when it lags the stored shop (a
    run stored whose model was not promoted, or one updated again from its fitted version),
    the shop's rows from the end of the series it lags on."""
    fitted = base.data_.dynamic
    if fitted is None:
        return None
    ids = pd.Index(base.arrays_.ids).astype(str)
    stored_end = stored.sales.groupby(stored.sales[columns.id_col].astype(str), observed=True)[
        columns.time_col
    ].max()
    model_end = pd.Series(base.arrays_.last_ds, index=ids)
    lagging = model_end < stored_end.reindex(ids).to_numpy()
    if shop.dynamic is not None and lagging.any():
        since = model_end[lagging].min()
        rows = shop.dynamic[shop.dynamic[columns.time_col] > since]
    if rows is None or rows.empty:
        return None
    keep = [c for c in rows.columns if c in fitted.columns]
    known = rows[columns.id_col].astype(str).isin(ids)
    return rows.loc[known, keep].reset_index(drop=True)


# ------------------------------------------------------------------------- drift


def _alerts(
    ws: Workspace,
    version: ModelVersion,
    fitted: ModelVersion,
    forecaster: Forecaster,
    accuracy: pd.DataFrame,
    incoming: _Merged,
    fit_end: pd.Timestamp,
    groups: list[str],
    *,
    drift: float,
    shift: float,
) -> pd.DataFrame:
    """Accuracy drift of the recommended model and level shifts per group, one row each."""
    shop, changed = incoming.shop, incoming.changed
    alerts = []
    if not accuracy.empty:
        lineage = _lineage(ws, version.name, fitted.ref)
        mine = accuracy[accuracy["model_version"].isin(lineage)]
        alias = forecaster.default_alias_
        alerts += _accuracy_drift(mine, version, alias, shop.columns.time_col, shop.freq, drift)
    alerts += _level_shifts(shop, changed, fit_end, groups, shift)
    if not alerts:
        return pd.DataFrame()
    out = pd.DataFrame(alerts)
    out.insert(0, "model", version.name)
    out.insert(1, "version", version.ref)
    out["detected"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return out


def _accuracy_drift(
    accuracy: pd.DataFrame,
    version: ModelVersion,
    alias: str,
    time_col: str,
    freq: str,
    drift: float,
) -> list[dict]:
    """The model's WAPE over the last week (8 weeks, 3 months) of scored actuals against its
    backtest WAPE: an alert when worse by more than ``drift`` (relative) and by more than two
    standard errors of the recent WAPE, so a few values' noise raises nothing."""
    backtest = ((version.meta.get("scores") or {}).get(alias) or {}).get("WAPE")
    if not backtest:
        return []
    last = accuracy[time_col].max()
    window = min(season_length(freq), default_horizon(freq))
    since = shift_periods(np.array([last], dtype="datetime64[ns]"), np.array([1 - window]), freq)
    recent = accuracy[
        (accuracy["model"] == alias)
        & (accuracy["group_col"] == ALL)
        & (accuracy[time_col] >= since[0])
    ]
    total, n = recent["actual"].sum(), recent["n"].sum()
    if not total > 0:
        return []
    errors = recent["abs_error"].sum()
    wape, change = errors / total, errors / total / backtest - 1
    squares = recent["squared_error"].sum() if "squared_error" in recent else 0.0
    error = np.sqrt(max(squares - errors**2 / n, 0.0)) / total  # of the WAPE, errors independent
    if change <= drift or wape - backtest <= 2 * error:
        return []
    start = pd.Timestamp(recent[time_col].min())
    return [
        {
            "kind": "accuracy",
            "alias": alias,
            "group_col": ALL,
            "group": ALL,
            "metric": "WAPE",
            "baseline": backtest,
            "value": wape,
            "change": change,
            "threshold": drift,
            "first_ds": start,
            "last_ds": last,
            "message": f"{alias}'s forecasts of {start:%Y-%m-%d}..{last:%Y-%m-%d} "
            f"({int(n)} values from {recent['run_id'].nunique()} runs) have WAPE {wape:.3f} "
            f"against {backtest:.3f} in its backtest: {change:+.0%}, beyond +{drift:.0%} and "
            f"2 standard errors ({error:.3f}).",
        }
    ]


def _lineage(ws: Workspace, name: str, fitted_ref: str) -> list[str]:
    """The versions of ``name`` carrying the parameters fitted as ``fitted_ref``."""
    saved = ws.models.list(name)
    refs = []
    for row in saved.itertuples(index=False):
        ref = f"{row.name}@{row.version}"
        if json.loads(row.meta).get("fitted", ref) == fitted_ref:
            refs.append(ref)
    return refs


def _level_shifts(
    shop: ShopData, changed: pd.DataFrame, fit_end: pd.Timestamp, groups: list[str], shift: float
) -> list[dict]:
    """Groups whose sales over the new periods moved from their level in the last weeks of
    the training history by more than ``shift`` (relative) and beyond chance.

    A group's level is the mean per period of its series' total over the last 28 days (8
    weeks, 3 months) up to the fit's end, of the series with new rows; chance is three
    standard deviations of those totals (at least the Poisson one) per new period, so the
    day-to-day swing of promotions and weekdays raises nothing.
    """
    columns, freq = shop.columns, shop.freq
    id_col, time_col, target_col = columns.id_col, columns.time_col, columns.target_col
    span = default_horizon(freq)
    fit_period = period_index(pd.Series([fit_end]), freq)[0]
    sales = shop.sales
    period = period_index(sales[time_col], freq)
    present = sales[id_col].astype(str).isin(changed[id_col].astype(str).unique())
    window = sales.loc[present & (period > fit_period - span) & (period <= fit_period)]
    first, last = changed[time_col].min(), changed[time_col].max()
    periods = changed[time_col].nunique()
    labels = {ALL: lambda ids: pd.Series(ALL, index=ids.index)}
    for g in groups:
        lookup = shop.static.set_index(shop.static[id_col].astype(str))[g].astype(str)
        labels[g] = lambda ids, lookup=lookup: ids.astype(str).map(lookup)
    alerts = []
    for group_col, label in labels.items():
        totals = window.groupby([label(window[id_col]), window[time_col]])[target_col].sum()
        level = totals.groupby(level=0).agg(["mean", "std"])
        seen = changed.groupby(label(changed[id_col]))[target_col].agg(["sum", "size"])
        for group, row in seen.iterrows():
            if group not in level.index or not level.loc[group, "mean"] > 0:
                continue
            mean = level.loc[group, "mean"]
            spread = max(np.nan_to_num(level.loc[group, "std"]), np.sqrt(mean))
            wanted = mean * periods
            change = row["sum"] / wanted - 1
            if abs(change) <= shift or abs(row["sum"] - wanted) <= 3 * spread * np.sqrt(periods):
                continue
            where = "all series" if group_col == ALL else f"{group_col}={group}"
            alerts.append(
                {
                    "kind": "level",
                    "alias": None,
                    "group_col": group_col,
                    "group": str(group),
                    "metric": "sales per period",
                    "baseline": mean,
                    "value": row["sum"] / periods,
                    "change": change,
                    "threshold": shift,
                    "first_ds": first,
                    "last_ds": last,
                    "message": f"sales of {where} on {first:%Y-%m-%d}..{last:%Y-%m-%d}: "
                    f"{row['sum'] / periods:,.1f} a period against {mean:,.1f} over the last "
                    f"{span} periods of training, x{row['sum'] / wanted:.2f} ({change:+.0%}), "
                    f"beyond ±{shift:.0%} and 3 standard deviations ({spread:,.1f}).",
                }
            )
    return alerts


# ------------------------------------------------------------------------- re-training


def _refit(
    ws: Workspace,
    shop: ShopData,
    version: ModelVersion,
    fitted_version: ModelVersion,
    reason: str,
    age: int,
) -> tuple[Refit, Forecaster]:
    """Trains the version's models and settings again on the shop (a new version, not
    promoted), and scores the current parameters against re-estimated ones on the same
    unseen periods: the periods since the fit are split in two (the second half at most the
    horizon long), the models are fitted again up to the split, the current parameters take
    the periods up to it, and both forecast the rest from there."""
    meta, name = version.meta, version.name
    fitted = load_saved(ws, fitted_version.ref)[0]
    params = meta.get("params", {})
    declarations = {k: params.get(k) for k in ("known_future", "categorical", "groups")}
    horizon = meta.get("horizon") or default_horizon(shop.freq)
    columns = shop.columns
    time_col = columns.time_col
    window = min(horizon, age // 2)
    end = shop.sales[time_col].max()
    origin = pd.Timestamp(
        shift_periods(np.array([end], dtype="datetime64[ns]"), np.array([-window]), shop.freq)[0]
    )
    alias = fitted.default_alias_
    shop = _as_fitted(shop, fitted.data_)
    trained = train(
        shop,
        ws,
        name,
        models=[m.clone() for m in fitted.templates_],
        horizon=horizon,
        quantiles=fitted.quantiles,
        n_windows=1,
        promote=False,
        **declarations,
    )
    if window == horizon:
        candidate = trained.backtest
    else:
        template = Forecaster(
            [m.clone() for m in fitted.templates_],
            freq=shop.freq,
            quantiles=fitted.quantiles,
            id_col=columns.id_col,
            time_col=time_col,
            target_col=columns.target_col,
        )
        candidate, _ = backtest_shop(shop, template, horizon=window, n_windows=1, **declarations)
    # The current parameters, moved to the origin by the periods up to it.
    upto = shop.sales[shop.sales[time_col] <= origin]
    rows = _after_end(upto, fitted.arrays_, columns)
    dynamic = None
    if fitted.data_.dynamic is not None and shop.dynamic is not None:
        since = pd.Timestamp(fitted.arrays_.last_ds.min())
        recent = shop.dynamic[shop.dynamic[time_col] > since]
        keep = [c for c in recent.columns if c in fitted.data_.dynamic.columns]
        known = recent[columns.id_col].astype(str).isin(pd.Index(fitted.arrays_.ids).astype(str))
        dynamic = recent.loc[known, keep] if len(recent) else None
    if len(rows) or dynamic is not None:
        fitted.update(rows if len(rows) else None, dynamic=dynamic)
    current = fitted.predict(window, models=[alias])
    actual = shop.sales[shop.sales[time_col] > origin][columns.key + [columns.target_col]]
    pairs = candidate[columns.key + [alias]].merge(
        current.rename(columns={alias: "current"})[columns.key + ["current"]],
        on=columns.key,
    )
    pairs = pairs.merge(actual, on=columns.key, suffixes=("", "_actual"))
    y = pairs[columns.target_col].to_numpy(np.float64)
    total = y.sum()
    current_wape = candidate_wape = None
    if total > 0:
        current_wape = float(np.abs(pairs["current"] - y).sum() / total)
        candidate_wape = float(np.abs(pairs[alias] - y).sum() / total)
    promoted = candidate_wape is not None and candidate_wape < current_wape
    first = shift_periods(np.array([origin], dtype="datetime64[ns]"), np.array([1]), shop.freq)[0]
    refit = Refit(
        reason,
        trained.version,
        (f"{pd.Timestamp(first):%Y-%m-%d}", f"{end:%Y-%m-%d}"),
        current_wape,
        candidate_wape,
        promoted,
    )
    return refit, trained.forecaster


def _as_fitted(shop: ShopData, fitted: ShopData) -> ShopData:
    """The shop with the side frames (and dynamic columns) the fitted forecaster had only, so
    that training again changes the data, not what the models read."""
    sides = {
        part: None for part in ("static", "dynamic", "reviews") if getattr(fitted, part) is None
    }
    if fitted.dynamic is not None and shop.dynamic is not None:
        sides["dynamic"] = shop.dynamic[[c for c in shop.dynamic.columns if c in fitted.dynamic]]
    return dataclasses.replace(shop, **sides)


class _Clock:
    """Seconds per stage, in the order run."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.started, 4)
        self.started = now
