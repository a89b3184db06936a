"""Input fuzzing: does bad input always end in trendcast's own error, or in an exact result?

Every case starts from a ground-truth table (string ids, dates on a daily / weekly / monthly
grid, integer or float targets) rendered in a hostile way (odd dtypes, time zones, out-of-range
dates, huge numbers, day-first strings, mixed id types, broken CSV files, ...), so the oracle
knows the correct answer. Each case ends in exactly one outcome:

* ``DVE``: a `trendcast.DataValidationError`. Noted apart, not a failure: DVEs on input that was
  valid and exactly representable ("false refusals").
* ``clean``: a result equal to the truth (rows, ids as given, dates, values, frequency), but for
  changes a line of its ``report`` names.
* ``RAW``: any other exception (pandas' ValueError, TypeError, OverflowError, ParserError,
  UnicodeDecodeError, trendcast's own plain ValueError, ...; or a case running over 30 s). Each
  example says where it was raised and where it left trendcast.
* ``SILENT``: a result that differs from the truth with no report line for it; or any result for
  data that cannot be kept exactly (targets beyond 2**53 or 1e15, inf, NaN, dates outside
  1900-2200) or that the call must refuse (gaps, duplicates, negative targets under
  fill_gaps=False, clip_negative=False; time zones dropped without a report line).

Parts: (1) frames through ``trendcast.validate``; (2) files (CSV variants, Parquet, .xlsx)
through ``trendcast.app.read_shop``, and for a sample of ~200 of them the CLI in process
(``trendcast validate``; good: exit 0, or exit 2 with a 'Fix:'); (3) order-line logs through
``trendcast.data.adapters.from_transactions`` (units per series and week must match the truth's,
or the lines left out must be counted in ``report.excluded``).

Run from the repository root (a few minutes at the default sizes)::

    .venv/bin/python benchmarks/input_fuzz.py [--frames 10000] [--files 2000] [--logs 1000]
        [--seed 0] [--json counts.json]

It measures, it does not fix: the exit status is 0 whatever it finds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import math
import re
import signal
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import polars as pl
except ImportError:  # the polars cases are left out
    pl = None
try:
    import openpyxl  # noqa: F401

    HAVE_XLSX = True
except ImportError:
    HAVE_XLSX = False

ID, DS, Y = "unique_id", "ds", "y"
FREQS = ("D", "W-SUN", "W-MON", "W-WED", "MS")
OUTCOMES = ("dve", "clean", "raw", "silent")
CASE_SECONDS, SHOWN, REPRO_CHARS = 30, 3, 900
TZ_NOTE = r"zone|tz\b|utc|offset"
NULL_WORDS = ["NA", "null", "None", "nan", "N/A", "NaN", "NULL", "#N/A"]
OFFSETS = ["+01:00", "-05:00", "+05:30", "Z", "+00:00", "-08:00"]


class CaseTimeout(Exception):
    pass


@dataclass
class Truth:
    rows: list  # (truth id, Timestamp, y), one per row of the rendered frame
    freq: str | None
    ids: dict  # truth id -> the value rendered into the input
    refuse: str | None = None  # why only a refusal is right (None: acceptance is fine)
    allow: str | None = None  # a report line matching this makes acceptance fine
    either: bool = False  # a refusal is as right as the exact result (ambiguous input)
    titles: dict | None = None  # (truth id, iso date) -> text of the 'title' column (files)


@dataclass
class Case:
    kind: str
    truth: Any
    repro: str
    size: int


class Tally:
    """Outcome counts, per kind too, and the smallest example of each failing kind."""

    def __init__(self, name: str):
        self.name, self.counts, self.notes, self.seconds = name, Counter(), Counter(), 0.0
        self.by_kind: dict[str, Counter] = defaultdict(Counter)
        self.examples: dict[tuple[str, str], tuple[int, str]] = {}

    def add(self, case: Case, outcome: str, detail: str = "", note: str | None = None):
        self.counts["tried"] += 1
        self.counts[outcome] += 1
        self.by_kind[case.kind][outcome] += 1
        if note:
            self.notes[note] += 1
            self.by_kind[case.kind][note] += 1
        for cat in {outcome, note} & {"raw", "silent", "bad", "false_refusal"}:
            old = self.examples.get((cat, case.kind))
            if old is None or case.size < old[0]:
                repro = case.repro
                repro = repro if len(repro) < REPRO_CHARS else repro[:REPRO_CHARS] + " ..."
                text = f"[{case.kind}] {detail}\n      repro: {repro}"
                self.examples[(cat, case.kind)] = (case.size, text)

    def top_examples(self, cat: str) -> list[str]:
        kinds = {k for c, k in self.examples if c == cat}
        kinds = sorted(kinds, key=lambda k: -self.by_kind[k][cat])
        return [self.examples[(cat, k)][1] for k in kinds[:SHOWN]]


def error_text(error: BaseException) -> str:
    """Type, message, and where it was raised: inside trendcast or in a library it called."""
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1].filename if frames else "?"
    ours = [f for f in frames if "/trendcast/" in f.filename and "site-packages" not in f.filename]
    if "site-packages/" in last:
        origin = last.split("site-packages/")[1].split("/")[0]
    else:
        origin = "trendcast" if ours and ours[-1].filename == last else Path(last).name
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "-"
    message = " ".join(str(error).split())[:240]
    return f"{type(error).__name__} (raised in {origin}, left trendcast at {where}): {message}"


def guarded(call, *args, **kwargs):
    """(result, error) of ``call(*args, **kwargs)``, under a time limit, warnings silenced."""

    def expire(*_):
        raise CaseTimeout(f"case ran over {CASE_SECONDS}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(*args, **kwargs), None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: every ending is an outcome
        return None, error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def add_error(tally: Tally, case: Case, error: BaseException, valid: bool) -> None:
    """Files a DataValidationError (a refusal) or any other exception (RAW)."""
    from trendcast.errors import DataValidationError

    if isinstance(error, DataValidationError):
        no_fix = any(not p.fix.render() for p in error.problems)
        text = " ".join(str(error).split())[:240]
        detail = f"refused valid input{'; a problem has no fix' if no_fix else ''}: {text}"
        tally.add(case, "dve", detail, "false_refusal" if valid else None)
    else:
        text = error_text(error)
        tally.add(case, "raw", text, "raw_from_trendcast" if "in trendcast," in text else None)


# ------------------------------------------------------------------------------- the oracle
def canon(v: Any) -> tuple:
    if isinstance(v, (bool, np.bool_)):
        return ("bool", bool(v))
    if isinstance(v, (int, np.integer)):
        return ("int", int(v))
    if isinstance(v, (float, np.floating)):
        return ("float", float(v))
    if isinstance(v, str):
        return ("str", str(v))
    return (type(v).__name__, repr(v))


def plain(v: Any) -> str:
    kind, value = canon(v)
    return repr(value) if kind == "float" else str(value)


class Matcher:
    """Result id -> truth id: by the value as rendered, else by its text where that names one
    truth id (int 17 for '17' is a lossless change of type; 1, '1' and 1.0 of three series
    are not, and a result id that could be several is a merge)."""

    def __init__(self, ids: dict):
        self.tables = (defaultdict(list), defaultdict(list))
        for tid, value in ids.items():
            self.tables[0][canon(value)].append(tid)
            self.tables[1][plain(value)].append(tid)

    def __call__(self, r: Any):
        for table, key in zip(self.tables, (canon(r), plain(r)), strict=True):
            found = table.get(key, ())
            if found:
                return found[0] if len(found) == 1 else ("merged", repr(r))
        return ("unknown", repr(r))


def ykey(y: Any):
    try:
        f = float(y)
    except (TypeError, ValueError, OverflowError):
        return repr(y)
    return f if math.isfinite(f) else repr(f)


def reported(report: list[str], pattern: str) -> bool:
    return any(re.search(pattern, line, re.I) for line in report)


def check_shop(result, truth: Truth) -> str | None:
    """None when the result is the truth (differences named by the report), else why not."""
    report = [str(line) for line in (getattr(result, "report", None) or [])]
    if truth.refuse and not (truth.allow and reported(report, truth.allow)):
        return f"accepted although {truth.refuse} (report: {report or 'empty'})"
    sales = getattr(result, "sales", None)
    if not isinstance(sales, pd.DataFrame) or not {ID, DS, Y} <= set(sales.columns):
        return f"contract: sales is {type(sales).__name__} {list(getattr(sales, 'columns', []))}"
    if not pd.api.types.is_datetime64_dtype(sales[DS].dtype):
        return f"contract: dates are {sales[DS].dtype}, not naive datetime64"
    if sales[Y].dtype != np.float64:
        return f"contract: target is {sales[Y].dtype}, not float64"
    if result.freq != truth.freq:
        return f"frequency {result.freq!r}, the truth's grid is {truth.freq or 'unsupported'}"
    match = Matcher(truth.ids)
    ids = [match(i) for i in sales[ID].tolist()]
    dates = [pd.Timestamp(d).isoformat() for d in sales[DS]]
    got = Counter(zip(ids, dates, map(ykey, sales[Y].tolist()), strict=True))
    want = Counter((t, pd.Timestamp(d).isoformat(), ykey(y)) for t, d, y in truth.rows)
    missing, extra = list((want - got).elements()), list((got - want).elements())
    if missing and reported(report, r"rows?\b.*(drop|remov|exclud|duplicat|skip)"):
        missing = []
    if extra and reported(report, r"fill"):
        extra = [e for e in extra if e[2] != 0.0]
    if missing or extra:
        lost = {(m[0], m[1]): m[2] for m in missing}
        for e in extra:
            if (e[0], e[1]) in lost:
                return f"value changed: {e[0]!r} {e[1][:10]}: y {lost[e[:2]]!r} -> {e[2]!r}"
        return (
            f"{len(missing)} truth rows missing (e.g. {missing[:2]}), {len(extra)} unexpected "
            f"(e.g. {extra[:2]}); report: {report or 'empty'}"
        )
    with contextlib.suppress(TypeError):  # ids of mixed types have no order to check
        if not sales.sort_values([ID, DS], kind="stable").index.equals(sales.index):
            return "contract: sales are not sorted by (id, date)"
    if truth.titles and "title" in sales.columns:
        for key, text in zip(zip(ids, dates, strict=True), sales["title"], strict=True):
            if truth.titles.get(key, text) != text:
                return f"title text changed: {truth.titles[key]!r} -> {text!r}"
    return None


def classify_shop(tally: Tally, case: Case, call, *args, **kwargs) -> None:
    result, error = guarded(call, *args, **kwargs)
    if error is not None:
        add_error(tally, case, error, valid=not (case.truth.refuse or case.truth.either))
        return
    why, oracle_error = guarded(check_shop, result, case.truth)
    if oracle_error is not None:
        why = f"oracle failed on the result: {error_text(oracle_error)}"
    tally.add(case, "clean" if why is None else "silent", why or "")


# --------------------------------------------------------------------- truths and renderings
def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def sample(rng, options, k) -> list:
    return [options[i] for i in rng.choice(len(options), k, replace=False)]


def set_one(values, rng, value) -> list:
    values = list(values)
    values[int(rng.integers(len(values)))] = value
    return values


def base_truth(rng, freq=None, ids=None, y="int", start="2023-01-01", span=700) -> Truth:
    """1-3 series of 3-6 periods each, their starts up to two periods apart."""
    freq = freq or str(rng.choice(FREQS))
    if ids is None:
        ids = sample(rng, [f"p{k}" for k in range(90)], int(rng.integers(1, 4)))
    days = pd.Timedelta(days=int(rng.integers(0, span))).as_unit("s")
    anchor = pd.Timestamp(np.datetime64(start, "s")) + days  # years 1700 and 2500 too
    rows = []
    for tid in ids:
        n, skip = int(rng.integers(3, 7)), int(rng.integers(0, 3))
        for d in pd.date_range(anchor, periods=n + skip, freq=freq, unit="s")[skip:]:
            v = int(rng.integers(0, 500)) if y == "int" else float(rng.integers(0, 2000)) / 4
            rows.append((tid, d.as_unit("ns") if 1900 < d.year < 2200 else d, v))
    return Truth(rows, freq if freq in FREQS else None, {t: t for t in ids})


def truth_of(ids=None, render=None, **kw):
    """A truth maker with these ids (or a function of rng giving them), rendered by ``render``
    (e.g. ``int``: the id '17' goes into the frame as the number 17)."""

    def make(rng):
        T = base_truth(rng, ids=ids(rng) if callable(ids) else ids, **kw)
        T.ids = {t: (render(t) if render else t) for t in T.ids}
        return T

    return make


def frame_of(T: Truth, ids=None, ds=None, ys=None, dtypes=None) -> pd.DataFrame:
    """The truth as a frame, any column given in its place; ids as objects by default."""
    dtypes = dtypes or {}
    ids = [T.ids[t] for t, _, _ in T.rows] if ids is None else ids
    ds = [d for _, d, _ in T.rows] if ds is None else ds
    ys = [v for *_, v in T.rows] if ys is None else ys
    return pd.DataFrame(
        {
            ID: pd.Series(ids, dtype=dtypes.get(ID, object)),
            DS: pd.Series(ds, dtype=dtypes.get(DS)),
            Y: pd.Series(ys, dtype=dtypes.get(Y)),
        }
    )


def strf(T: Truth, fmt: str) -> list[str]:
    return [d.strftime(str(fmt)) for _, d, _ in T.rows]


def adjusted(T: Truth, fn) -> Truth:
    """The truth with each row's target replaced by ``fn(y)``."""
    T.rows = [(t, d, fn(v)) for t, d, v in T.rows]
    return T


# Renderings: functions (rng, truth) -> the input; those that hold another value than the
# truth's first make the truth hold it (what the input says, not what the oracle wishes).
def typed(col, *dtypes):
    return lambda r, T: frame_of(T, dtypes={col: pick(r, dtypes)})


def text_dates(*layouts):
    return lambda r, T: frame_of(T, ds=strf(T, pick(r, layouts)))


def dates_as(fn, dtype=None):
    return lambda r, T: frame_of(T, ds=[fn(r, d) for _, d, _ in T.rows], dtypes={DS: dtype})


def one_date(values, text=False):
    def render(r, T):
        ds = strf(T, "%Y-%m-%d") if text else [d for _, d, _ in T.rows]
        return frame_of(T, ds=set_one(ds, r, pick(r, values)), dtypes={DS: object})

    return render


def one_y(values, dtypes=(None,), text=False):
    def render(r, T):
        j = int(r.integers(len(T.rows)))
        T.rows[j] = (*T.rows[j][:2], pick(r, values))
        ys = [str(v) if text else v for *_, v in T.rows]
        return frame_of(T, ys=ys, dtypes={Y: pick(r, dtypes)})

    return render


def targets_as(fn, *dtypes):
    dtypes = dtypes or (None,)
    return lambda r, T: frame_of(T, ys=[fn(v) for *_, v in T.rows], dtypes={Y: pick(r, dtypes)})


def one_offset(r, T):
    offset = pick(r, OFFSETS)
    return frame_of(T, ds=[f"{d:%Y-%m-%dT%H:%M}{offset}" for _, d, _ in T.rows])


def mixed_aware(r, T):  # Timestamps in an object column, the first aware, the others at random
    zone = pick(r, ["UTC", "Asia/Tokyo", "America/Chicago"])
    ds = [
        d.tz_localize(zone) if i == 0 or r.random() < 0.5 else d
        for i, (_, d, _) in enumerate(T.rows)
    ]
    return frame_of(T, ds=ds, dtypes={DS: object})


def time_of_day(r, T):  # the first timestamp at 10:30, the others at random
    ds = [
        d + pd.Timedelta("10h30min") * int(i == 0 or r.random() < 0.3)
        for i, (_, d, _) in enumerate(T.rows)
    ]
    return frame_of(T, ds=ds)


def tz_dtype(r, T):
    zone = pick(r, ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"])
    return frame_of(T, ds=pd.Series([d for _, d, _ in T.rows]).dt.tz_localize(zone))


def periods(r, T):
    ds = pd.Series([d for _, d, _ in T.rows]).dt.to_period("M" if T.freq == "MS" else "D")
    return frame_of(T, ds=ds)


def numbers(r, T):
    yyyymmdd = r.random() < 0.5
    return frame_of(
        T, ds=[int(f"{d:%Y%m%d}") if yyyymmdd else d.value // 10**9 for _, d, _ in T.rows]
    )


def gap(r, T):
    T.rows.pop(next(i for i in range(1, len(T.rows) - 1) if T.rows[i - 1][0] == T.rows[i + 1][0]))
    return frame_of(T)


def one_row_each(r, T):
    T.rows = [row for i, row in enumerate(T.rows) if i == 0 or T.rows[i - 1][0] != row[0]]
    return frame_of(T)


def renamed_column(r, T):
    df = frame_of(T)
    if r.random() < 0.5:
        return df.drop(columns=pick(r, [ID, DS, Y]))
    return df.rename(columns={pick(r, [ID, DS, Y]): pick(r, ["Y", " y", "ds ", "Unique_ID"])})


def repeated_row(conflict: bool):
    def render(r, T):
        df = frame_of(T)
        extra = df.sample(1, random_state=r)
        return pd.concat(
            [df, extra.assign(**{Y: extra[Y] + 1}) if conflict else extra], ignore_index=True
        )

    return render


def not_a_frame(r, T):
    df = frame_of(T)
    return pick(
        r, [df.to_dict("list"), df.to_dict("records"), df.to_numpy(), None, df[Y], "sales.csv"]
    )


def K(truth=base_truth, render=lambda r, T: frame_of(T), why=None, allow=None, either=False):
    """A kind of case: the truth, its hostile rendering, why only a refusal is right (unless
    a report line matches ``allow``), or whether a refusal is as right as the exact result
    (``either``: the input is ambiguous)."""

    def make(rng):
        T = truth(rng)
        data = render(rng, T)
        T.refuse, T.allow, T.either = why or T.refuse, allow or T.allow, either or T.either
        return T, data

    return make


def days_from(start):  # daily data crossing the 12th, so that day and month can be told
    return lambda r: base_truth(r, freq="D", start=start, span=2)


BAD_DATES = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31), dt.date(1700, 6, 1),
             pd.Timestamp("1700-06-01").as_unit("s"), np.datetime64("99999-01-01", "D")]  # fmt: skip
MIXED = {"int 1": 1, "str '1'": "1", "float 1.0": 1.0}
SEVENS = {"int 7": 7, "str '7'": "7"}
floats = lambda r: base_truth(r, y="float")  # noqa: E731
monthly = lambda r: base_truth(r, freq="MS")  # noqa: E731
# fmt: off
FRAME_KINDS = {
    "id_plain": K(),
    "id_string_dtype": K(render=typed(ID, "string")),
    "id_category": K(render=typed(ID, "category")),
    "id_int64": K(truth_of(["17", "203", "9"], int), typed(ID, "int64")),
    "id_int64_beyond_2**53": K(truth_of([str(2**53 + 1), str(2**53)], int), typed(ID, "int64")),
    "id_uint64_beyond_2**63": K(truth_of([str(2**64 - 1), str(2**63 + 5)], int), typed(ID, "uint64")),
    "id_python_int_2**70": K(truth_of([str(2**70 + 1), str(2**70)], int)),
    "id_float": K(truth_of(["1.0", "2.5"], float), typed(ID, "float64")),
    "id_mixed_1_'1'_1.0": K(truth_of(list(MIXED), MIXED.get), either=True),
    "id_mixed_7_'7'": K(truth_of(list(SEVENS), SEVENS.get), either=True),
    "id_leading_zeros": K(truth_of(["001", "01", "1"])),
    "id_12_vs_12.0": K(truth_of(["12", "12.0"])),
    "id_null_words": K(truth_of(lambda r: sample(r, NULL_WORDS, 3))),
    "id_whitespace": K(truth_of(["a", "a ", " a"])),
    "id_unicode_nfc_vs_nfd": K(truth_of(["caf\u00e9", "cafe\u0301"])),
    "id_missing": K(render=lambda r, T: frame_of(T, ids=set_one([T.ids[t] for t, *_ in T.rows], r, None)),
                    why="a row has no id"),
    "id_in_the_index": K(render=lambda r, T: frame_of(T).set_index(ID), either=True),
    "ds_unit_s_ms_us": K(render=typed(DS, "datetime64[s]", "datetime64[ms]", "datetime64[us]")),
    "ds_iso_strings": K(render=text_dates("%Y-%m-%d", "%Y-%m-%d 00:00:00", "%Y-%m-%dT00:00:00", "%Y%m%d",
                                          "%Y/%m/%d")),
    "ds_python_date_objects": K(render=dates_as(lambda r, d: pick(r, [d.date(), d.to_pydatetime()]), object)),
    "ds_mixed_layouts": K(render=dates_as(lambda r, d: d.strftime(pick(r, ["%Y-%m-%d", "%Y/%m/%d", "%b %d, %Y",
                                                                           "%d %B %Y"])))),
    "ds_tz_dtype": K(render=tz_dtype, why="the dates are time-zone aware", allow=TZ_NOTE),
    "ds_mixed_aware_naive": K(render=mixed_aware, why="some dates are time-zone aware", allow=TZ_NOTE),
    "ds_offset_strings": K(render=dates_as(lambda r, d: f"{d:%Y-%m-%dT%H:%M}{pick(r, OFFSETS)}"),
                           why="the dates carry UTC offsets", allow=TZ_NOTE),
    "ds_one_offset_string": K(render=one_offset, why="the dates carry a UTC offset", allow=TZ_NOTE),
    "ds_out_of_range_text": K(render=one_date(["0001-01-01", "9999-12-31", "99999-01-01", "1700-06-01",
                                               "2262-05-01"], text=True), why="a date is outside 1900-2200"),
    "ds_out_of_range_objects": K(render=one_date(BAD_DATES), why="a date is outside 1900-2200"),
    "ds_year_1700_or_2500": K(lambda r: base_truth(r, start=pick(r, ["1700-01-01", "2500-01-01"])),
                              typed(DS, "datetime64[s]"), why="every date is outside 1900-2200"),
    "ds_day_first": K(days_from("2024-01-11"), text_dates("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")),
    "ds_day_first_ambiguous": K(monthly, text_dates("%d/%m/%Y"), either=True),
    "ds_month_first": K(days_from("2024-03-11"), text_dates("%m/%d/%Y")),
    "ds_period_dtype": K(lambda r: base_truth(r, freq=pick(r, ["MS", "D"])), periods),
    "ds_month_strings": K(monthly, text_dates("%Y-%m", "%b %Y", "%Y%m")),
    "ds_numbers_yyyymmdd_or_epoch": K(render=numbers, either=True),
    "ds_missing": K(render=one_date([pd.NaT, None, "", "n/a"]), why="a date is missing"),
    "ds_time_of_day": K(render=time_of_day, why="timestamps have a time of day"),
    "ds_yearly_or_quarterly": K(lambda r: base_truth(r, freq=pick(r, ["YS", "QS"])), allow=r"year|annual|quarter",
                                why="the dates are a year or a quarter apart (no supported frequency)"),
    "y_float": K(floats),
    "y_narrow_or_nullable_dtype": K(render=typed(Y, "Int64", "float32", "Float64", "int16", "uint16")),
    "y_numeric_strings": K(floats, lambda r, T: frame_of(T, ys=[pick(r, [repr(v), f" {v} ", f"{v:.4e}"])
                                                                for *_, v in T.rows])),
    "y_thousands_separator": K(lambda r: adjusted(base_truth(r), lambda v: v + 1000), targets_as("{:,}".format),
                               either=True),
    "y_decimal_objects": K(floats, targets_as(lambda v: Decimal(repr(v)))),
    "y_boolean": K(lambda r: adjusted(base_truth(r), lambda v: v % 2), targets_as(bool, "bool", "boolean")),
    "y_beyond_2**53": K(render=one_y([2**53 + 1, 2**53 + 3, 2**63 - 1], ("int64", "uint64", object)),
                        why="a target is beyond 2**53"),
    "y_beyond_2**53_as_text": K(render=one_y([2**53 + 1, 10**20 + 1], text=True), why="a target is beyond 2**53"),
    "y_python_int_2**70": K(render=one_y([2**70 + 1, -(2**70)], (object,)), why="a target is 2**70"),
    "y_huge_float": K(render=one_y([1e300, 1e308, -1e300, 1e16, 1.7976931348623157e308], ("float64",)),
                      why="a target is beyond 1e15"),
    "y_inf_nan": K(render=one_y([math.inf, -math.inf, math.nan, None], ("float64",)), why="a target is inf or NaN"),
    "y_special_strings": K(render=one_y(["inf", "-inf", "nan", "Infinity", "NaN", "1e400", "9" * 30], text=True),
                           why="a target is not a finite exact number"),
    "y_negative": K(render=one_y([-1, -7, -0.5]), why="a target is negative"),
    "y_complex": K(render=lambda r, T: frame_of(T, ys=[complex(v, i == 0) for i, (*_, v) in enumerate(T.rows)]),
                   why="a target is complex (1j)"),
    "empty_frame": K(render=lambda r, T: pick(r, [frame_of(T).iloc[:0], pd.DataFrame()]),
                     why="the frame has no rows"),
    "missing_or_renamed_column": K(render=renamed_column, why="a column is missing"),
    "duplicate_rows": K(render=repeated_row(False), why="a row is repeated", allow=r"duplicat"),
    "conflicting_duplicates": K(render=repeated_row(True), why="two rows share a key, with different targets"),
    "duplicate_column_names": K(render=lambda r, T: pd.concat([frame_of(T), frame_of(T)[[Y]] + 1], axis=1),
                                why="two columns are named 'y'"),
    "gap_inside_series": K(render=gap, why="a period is missing inside a series"),
    "single_row_series": K(render=one_row_each, why="every series has one row: no frequency"),
    "unsorted_rows": K(render=lambda r, T: frame_of(T).iloc[r.permutation(len(T.rows))]),
    "odd_extra_columns": K(render=lambda r, T: frame_of(T).assign(tags=[[1, 2]] * len(T.rows),
                                                                   meta=[{"k": None}] * len(T.rows))),
    "not_a_frame": K(render=not_a_frame, why="the input is not a frame"),
}
if pl is not None:
    def as_polars(r, T, change=None):
        df = pl.from_pandas(frame_of(T, dtypes={ID: "string"}))
        return (change or pick(r, POLARS))(df)

    POLARS = [lambda f: f, lambda f: f.with_columns(pl.col(DS).cast(pl.Date)),
              lambda f: f.with_columns(pl.col(ID).cast(pl.Categorical)),
              lambda f: f.with_columns(pl.col(DS).dt.strftime("%Y-%m-%d")),
              lambda f: f.with_columns(pl.col(Y).cast(pl.Decimal(12, 2))),
              lambda f: f.with_columns(pl.col(DS).cast(pl.Datetime("ms"))), lambda f: f.lazy()]
    FRAME_KINDS |= {
        "polars_frame": K(lambda r: base_truth(r, y=pick(r, ["int", "float"])), as_polars),
        "polars_tz_aware": K(render=lambda r, T: as_polars(r, T, lambda f: f.with_columns(
            pl.col(DS).dt.replace_time_zone("Europe/Berlin"))), why="the dates are time-zone aware", allow=TZ_NOTE),
        "polars_uint64_2**64-1": K(render=lambda r, T: pl.from_pandas(one_y([2**64 - 1], ("uint64",))(r, T)
                                                                      .astype({ID: "string"})), why="a target is 2**64-1"),
        "polars_null_target": K(render=lambda r, T: pl.from_pandas(one_y([None], ("Int64",))(r, T)
                                                                   .astype({ID: "string"})), why="a target is null"),
    }
# fmt: on


def frame_repro(df: Any) -> str:
    if pl is not None and isinstance(df, pl.LazyFrame):
        return frame_repro(df.collect()) + ".lazy()"
    if pl is not None and isinstance(df, pl.DataFrame):
        return f"pl.DataFrame({df.to_dict(as_series=False)!r}, schema={dict(df.schema)!r})"
    if isinstance(df, pd.Series):
        return f"pd.Series({df.tolist()!r}, name={df.name!r}, dtype='{df.dtype}')"
    if isinstance(df, np.ndarray):
        return f"np.array({df.tolist()!r}, dtype=object)"
    if not isinstance(df, pd.DataFrame):
        return repr(df)
    if len(set(df.columns)) < len(df.columns):  # a dict cannot repeat a column name
        return f"pd.DataFrame({df.to_numpy().tolist()!r}, columns={list(df.columns)!r})"
    cols = [
        f"{c!r}: pd.Series({df.iloc[:, i].tolist()!r}, dtype='{df.dtypes.iloc[i]}')"
        for i, c in enumerate(df.columns)
    ]
    index = "" if isinstance(df.index, pd.RangeIndex) else f", index={df.index.tolist()!r}"
    return f"pd.DataFrame({{{', '.join(cols)}}}{index})"


def run_frames(n: int, rng, tally: Tally) -> None:
    from trendcast import validate

    names = list(FRAME_KINDS)
    for _ in range(n):
        name = pick(rng, names)
        made, error = guarded(FRAME_KINDS[name], rng)
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        T, data = made
        case = Case(name, T, f"validate({frame_repro(data)})", len(T.rows))
        classify_shop(tally, case, validate, data, static=None, dynamic=None, id_col=ID,
                      time_col=DS, target_col=Y, freq=None, fill_gaps=False, clip_negative=False)  # fmt: skip


# ------------------------------------------------------------------------------------- files
TITLES = ["blue mug", "caf\u00e9 cr\u00e8me", "\u00a35 off", "red, white; blue|x\ty", "two\nlines",
          'say "hi"']  # fmt: skip
HOSTILE_IDS = [["001", "01", "1"], ["04006381333932", "4006381333932"], ["12", "12.0"],
               ["1e3", "1000"], ["0x1F", "TRUE", "False"], ["=SUM(A1)", "+44", "-1"]]  # fmt: skip


def file_truth(rng, ids=None, y="int", freq=None, titles=TITLES[:3]) -> Truth:
    T = base_truth(rng, ids=ids, y=y, freq=freq)
    T.titles = {(t, d.isoformat()): pick(rng, titles) for t, d, _ in T.rows}
    return T


def cells(T: Truth, ds_fmt="%Y-%m-%d", yfmt=None) -> list[list[str]]:
    yfmt = yfmt or (lambda v: repr(v) if isinstance(v, float) else str(v))
    rows = [
        [T.ids[t], d.strftime(ds_fmt), yfmt(v), T.titles[(t, d.isoformat())]] for t, d, v in T.rows
    ]
    return [[ID, DS, Y, "title"], *rows]


def csv(rows, sep=",", newline="\n", encoding="utf-8", quote=True) -> bytes:
    def q(f):
        hit = quote and any(c in f for c in (sep, '"', "\n", "\r"))
        return '"' + f.replace('"', '""') + '"' if hit else f

    lines = (sep.join(q(str(f)) for f in row) for row in rows)
    return (newline.join(lines) + newline).encode(encoding)


def as_csv(**options):
    """A rendering as CSV; a list of options is picked from per file."""
    return lambda r, T: (".csv", csv(cells(T), **{k: pick(r, v) if isinstance(v, list) else v
                                                  for k, v in options.items()}))  # fmt: skip


def one_cell(col, values, quote=True, append=False):
    """A rendering as CSV with one data row's cell replaced (or a field appended)."""

    def render(r, T):
        rows = cells(T)
        i, value = 1 + int(r.integers(len(rows) - 1)), pick(r, values)
        rows[i] = [*rows[i], value] if append else rows[i][:col] + [value] + rows[i][col + 1 :]
        return ".csv", csv(rows, quote=quote)

    return render


def day_first_csv(r, T):
    T.either = all(d.day <= 12 for _, d, _ in T.rows)  # then day and month cannot be told
    return ".csv", csv(cells(T, ds_fmt="%d/%m/%Y"))


def offset_csv(r, T):
    rows = cells(T)
    return ".csv", csv(
        rows[:1] + [[a, f"{b}T00:00{pick(r, OFFSETS)}", *c] for a, b, *c in rows[1:]]
    )


def arrow(r, T):
    """A parquet table, one column in another Arrow type (the truth adjusted to it)."""
    import pyarrow as pa

    days, ys = [d.to_pydatetime() for _, d, _ in T.rows], [v for *_, v in T.rows]
    ids, titles = (
        [T.ids[t] for t, *_ in T.rows],
        [T.titles[(t, d.isoformat())] for t, d, _ in T.rows],
    )
    cols = {ID: pa.array(ids, pa.string()), DS: pa.array(days, pa.timestamp("us")), Y: pa.array(ys),
            "title": pa.array(titles)}  # fmt: skip
    variant = int(r.integers(9))
    cols |= [{}, {DS: pa.array([d.date() for d in days], pa.date32())}, {ID: cols[ID].dictionary_encode()},
             {DS: pa.array(days, pa.timestamp("ms", tz="Europe/Berlin"))},
             {Y: pa.array([Decimal(v) for v in ys], pa.decimal128(12, 2))},
             {Y: pa.array([2**64 - 1, *ys[1:]], pa.uint64())},
             {DS: pa.array([dt.datetime(1700, 6, 1), *days[1:]], pa.timestamp("s"))},
             {Y: pa.array([None, *ys[1:]], pa.int64())},
             {ID: pa.array(ids, pa.large_string())}][variant]  # fmt: skip
    T.refuse, T.allow = {3: ("the dates are time-zone aware", TZ_NOTE), 5: ("a target is 2**64-1", None),
                         6: ("a date is 1700-06-01", None), 7: ("a target is null", None)}.get(variant, (None, None))  # fmt: skip
    if variant == 6:
        T.rows[0] = (T.rows[0][0], pd.Timestamp("1700-06-01").as_unit("s"), T.rows[0][2])
    if variant in (5, 7):
        T.rows[0] = (*T.rows[0][:2], 2**64 - 1 if variant == 5 else None)
    return ".parquet", pa.table(cols)


def broken_parquet(r, T):
    import pyarrow.parquet as pq

    table = arrow(r, T)[1]
    if r.random() < 0.5:
        return ".parquet", table.slice(0, 0)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return ".parquet", buf.getvalue()[: len(buf.getvalue()) // 2]


def xlsx(r, T):
    return ".xlsx", frame_of(T).assign(title=[T.titles[(t, d.isoformat())] for t, d, _ in T.rows])


def F(truth=file_truth, render=None, why=None, allow=None, either=False):
    """A kind of file: as `K`, the rendering giving (suffix, bytes or table); plain CSV by default."""

    def make(rng):
        T = truth(rng)
        suffix, payload = (render or as_csv())(rng, T)
        T.refuse, T.allow, T.either = why or T.refuse, allow or T.allow, either or T.either
        return T, suffix, payload

    return make


def file_ids(*choices):
    return lambda r: file_truth(r, ids=pick(r, choices) if choices else sample(r, NULL_WORDS, 3))


# fmt: off
FILE_KINDS = {
    "csv_plain": F(lambda r: file_truth(r, y=pick(r, ["int", "float"])), as_csv(newline=["\n", "\r\n"])),
    "csv_delimiter_;_tab_|": F(render=as_csv(sep=[";", "\t", "|"])),
    "csv_utf8_bom": F(render=lambda r, T: (".csv", b"\xef\xbb\xbf" + csv(cells(T)))),
    "csv_utf16": F(render=as_csv(encoding=["utf-16", "utf-16-le"])),
    "csv_latin1": F(lambda r: file_truth(r, titles=["\u00a35 off", "caf\u00e9", "na\u00efve \u00e9t\u00e9"]),
                    as_csv(encoding="latin-1")),
    "csv_quoted_separators_newlines": F(lambda r: file_truth(r, titles=TITLES[3:]), as_csv(sep=[",", ";", "|"])),
    "csv_unterminated_quote": F(render=one_cell(3, ['"never closed'], quote=False), why="a quote is never closed"),
    "csv_too_many_fields": F(render=one_cell(0, ["extra"], append=True), why="a line has too many fields"),
    "csv_trailing_delimiter": F(render=lambda r, T: (".csv", csv([row if i == 0 else [*row, ""]
                                                                  for i, row in enumerate(cells(T))]))),
    "csv_empty_or_header_only": F(render=lambda r, T: (".csv", pick(r, [b"", b"\n", csv(cells(T)[:1])])),
                                  why="the file has no rows"),
    "csv_eu_decimal_comma": F(lambda r: file_truth(r, y="float"), either=True, render=lambda r, T: (
        ".csv", csv(cells(T, yfmt=lambda v: repr(v).replace(".", ",")), sep=";"))),
    "csv_eu_thousands_dot": F(lambda r: adjusted(file_truth(r), lambda v: v + 1000), either=True, render=lambda r, T: (
        ".csv", csv(cells(T, yfmt=lambda v: f"{v:,}".replace(",", ".")), sep=";"))),
    "csv_day_first": F(lambda r: file_truth(r, freq=pick(r, ["D", "MS"])), day_first_csv),
    "csv_hostile_ids": F(file_ids(*HOSTILE_IDS)),
    "csv_null_word_ids": F(file_ids()),
    "csv_unrepresentable_y": F(render=one_cell(2, ["9007199254740993", "1e300", "1e308", "inf", "-inf", "nan",
                                                   "9" * 20]), why="a target cannot be kept exactly"),
    "csv_bad_dates": F(render=one_cell(1, ["0001-01-01", "9999-12-31", "99999-01-01", "1700-06-01", "2024-02-30"]),
                       why="a date is outside 1900-2200, or no date"),
    "csv_offset_dates": F(render=offset_csv, why="the dates carry UTC offsets", allow=TZ_NOTE),
    "other_suffix": F(render=lambda r, T: (pick(r, [".CSV", ".txt", ".tsv", ".csv.gz"]), csv(cells(T))),
                      either=True),
    "parquet": F(file_ids(None, *HOSTILE_IDS[:3], NULL_WORDS[:3]), arrow),
    "parquet_truncated_or_no_rows": F(render=broken_parquet, why="the file is truncated or has no rows"),
}
if HAVE_XLSX:
    FILE_KINDS["xlsx"] = F(file_ids(None, ["001", "01"], ["04006381333932"]), xlsx)
# fmt: on


def write_file(path: Path, payload) -> str:
    """Writes the file; returns a repro of it."""
    if isinstance(payload, bytes):
        path.write_bytes(payload)
        return f"open(p := 'f{path.suffix}', 'wb').write({payload!r}); read_shop(p)"
    if isinstance(payload, pd.DataFrame):
        payload.to_excel(path, index=False)
        return f"{frame_repro(payload)}.to_excel(p := 'f.xlsx', index=False); read_shop(p)"
    import pyarrow.parquet as pq

    pq.write_table(payload, path)
    cols = ", ".join(
        f"{n!r}: pa.array({payload[n].to_pylist()!r}, {payload[n].type})"
        for n in payload.column_names
    )
    return f"pq.write_table(pa.table({{{cols}}}), p := 'f.parquet'); read_shop(p)"


def run_cli(cli: Tally, case: Case, path: Path) -> None:
    from trendcast.cli import main

    err = io.StringIO()
    argv = ["validate", str(path), "--id-col", ID, "--time-col", DS, "--target-col", Y]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code, error = guarded(main, argv)
    if isinstance(error, SystemExit):
        code, error = error.code, None
    good = error is None and (code == 0 or (code == 2 and "Fix:" in err.getvalue()))
    text = " ".join(err.getvalue().split())[:240]
    detail = f"escaped main: {error_text(error)}" if error is not None else f"exit {code}: {text!r}"
    case.repro = case.repro.replace("read_shop(p)", "main(['validate', p])")
    cli.add(case, "good" if good else "bad", detail)


def run_files(n: int, rng, tally: Tally, cli: Tally, folder: Path) -> None:
    from trendcast.app import read_shop

    names, every = list(FILE_KINDS), max(1, n // 200)
    for i in range(n):
        name = pick(rng, names)
        made, error = guarded(FILE_KINDS[name], rng)
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        T, suffix, payload = made
        path = folder / f"case{i}{suffix}"
        repro = write_file(path, payload)
        case = Case(name, T, repro, len(T.rows))
        classify_shop(
            tally, case, read_shop, str(path), id_col=ID, time_col=DS, target_col=Y, freq=None
        )
        if i % every == 0:
            run_cli(cli, Case(name, T, repro, len(T.rows)), path)
        path.unlink(missing_ok=True)


# -------------------------------------------------------------------------------------- logs
PRODUCTS = ["SKU1", "A", "A_B", "85123", "X-9", "NA", "null", "0042", "042"]
LOG_COLUMNS = dict(time_col="InvoiceDate", product_col="StockCode", quantity_col="Quantity",
                   price_col="UnitPrice", customer_col="CustomerID", invoice_col="InvoiceNo")  # fmt: skip


@dataclass
class Log:
    lines: list  # per line: uid (truth series), p, s (store), t (wall clock), q, price, poison
    ids: dict  # truth series -> the series id as rendered (product, or product_store)
    store: bool = False
    refuse: str | None = None
    render: dict = field(default_factory=dict)  # column -> values, in place of the truth's


def base_log(rng, products=None, stores=False) -> Log:
    """6-24 lines of 1-3 products over four weeks, at any time of day; no returns."""
    products = products or sample(rng, PRODUCTS, int(rng.integers(1, 4)))
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
    lines = []
    for _ in range(int(rng.integers(6, 25))):
        p, s = pick(rng, products) if stores else (pick(rng, products), None)
        t = start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 28)))
        lines.append({"uid": p if s is None else f"{p}@{s}", "p": p, "s": s, "t": t, "poison": False,
                      "q": int(rng.integers(1, 20)), "price": int(rng.integers(50, 5000)) / 100})  # fmt: skip
    ids = {ln["uid"]: ln["p"] if ln["s"] is None else f"{ln['p']}_{ln['s']}" for ln in lines}
    return Log(lines, ids, stores)


def log_frame(L: Log) -> pd.DataFrame:
    n = len(L.lines)
    cols = {"InvoiceDate": [ln["t"] for ln in L.lines], "StockCode": [ln["p"] for ln in L.lines],
            "Quantity": [ln["q"] for ln in L.lines], "UnitPrice": [ln["price"] for ln in L.lines],
            "CustomerID": [f"c{k % 4}" for k in range(n)], "InvoiceNo": [str(500000 + k) for k in range(n)]}  # fmt: skip
    if L.store:
        cols["Store"] = [ln["s"] for ln in L.lines]
    cols |= L.render
    return pd.DataFrame(
        {
            k: v
            if isinstance(v, pd.Series)
            else pd.Series(v, dtype=object if k in L.render else None)
            for k, v in cols.items()
        }
    )


def hostile(column: str, fmt, k_max=3, poison=False):
    """A log maker: 1..k_max lines' ``column`` rendered by ``fmt(rng, line)``, which may
    adjust the line's truth (``poison``: the value cannot be kept, the line must go)."""
    key = {"Quantity": "q", "UnitPrice": "price", "InvoiceDate": "t"}[column]

    def make(rng):
        L = base_log(rng)
        hot = {int(i) for i in rng.integers(0, len(L.lines), int(rng.integers(1, k_max + 1)))}
        values = [f"{ln['t']:%Y-%m-%d %H:%M}" if key == "t" else ln[key] for ln in L.lines]
        for i in hot:
            values[i] = fmt(rng, L.lines[i])
            L.lines[i]["poison"] |= poison
        L.render[column] = values
        return L

    return make


def adjust(ln, key, value, shown):
    ln[key] = value
    return shown


def times(fmt, prepare=lambda L: L):
    """A log maker: every timestamp rendered by ``fmt(line)`` (which may adjust the truth)."""

    def make(rng):
        L = prepare(base_log(rng))
        L.render["InvoiceDate"] = [fmt(rng, ln) for ln in L.lines]
        return L

    return make


def sunday_night(L: Log) -> Log:  # Sunday 23:30 local time: the next week in UTC, west of it
    for ln in L.lines[::2]:
        ln["t"] = ln["t"].normalize() + pd.Timedelta(
            days=6 - ln["t"].dayofweek, hours=23, minutes=30
        )
    return L


def ambiguous_days(L: Log) -> Log:  # every day <= 12: day-first and month-first both read
    for ln in L.lines:
        ln["t"] = ln["t"].replace(day=1 + ln["t"].day % 12)
    return L


def tz_log(rng) -> Log:
    L = sunday_night(base_log(rng))
    zone = pick(rng, ["Asia/Kolkata", "Etc/GMT+8", "UTC"])
    L.render["InvoiceDate"] = pd.Series([ln["t"] for ln in L.lines]).dt.tz_localize(zone)
    return L


def unrepresentable(rng) -> Log:
    bad = pick(rng, [math.inf, 1e308, 1e300, 2**53 + 1, "inf", "1e308", -math.inf])
    return hostile("Quantity", lambda r, ln: bad, 2, poison=True)(rng)


def epoch(rng) -> Log:
    unit = pick(rng, [10**9, 10**6])
    return times(lambda r, ln: ln["t"].value // unit)(rng)


def typed_products(products, render):
    def make(rng):
        L = base_log(rng, products=products)
        L.ids = {u: render(u) for u in L.ids}
        L.render["StockCode"] = [L.ids[ln["uid"]] for ln in L.lines]
        return L

    return make


def refused(make, why):
    def kind(rng):
        L = make(rng)
        L.refuse = why
        return L

    return kind


EU = str.maketrans(",.", ".,")
OUT_OF_RANGE = ["0001-01-01 10:00", "9999-12-31 10:00", "1700-06-01 10:00", "99999-01-01"]
COLLIDING = [("A_B", "C"), ("A", "B_C"), ("SKU1", "C")]
# fmt: off
LOG_KINDS = {
    "log_plain": base_log,
    "log_price_pound_sign": hostile("UnitPrice", lambda r, ln: f"\u00a3{ln['price']:.2f}"),
    "log_price_decimal_comma": hostile("UnitPrice", lambda r, ln: f"{ln['price']:.2f}".replace(".", ",")),
    "log_price_1.234,50": hostile("UnitPrice", lambda r, ln: adjust(ln, "price", ln["price"] + 1000,
                                                                    f"{ln['price'] + 1000:,.2f}".translate(EU))),
    "log_price_1.234_is_1234": hostile("UnitPrice", lambda r, ln: adjust(ln, "price", 1234.0, "1.234")),
    "log_qty_1.000_is_1000": hostile("Quantity", lambda r, ln: adjust(ln, "q", 1000 * ln["q"],
                                                                      f"{1000 * ln['q']:,}".translate(EU))),
    "log_qty_2_pcs": hostile("Quantity", lambda r, ln: f"{ln['q']} pcs"),
    "log_qty_1,5": hostile("Quantity", lambda r, ln: adjust(ln, "q", ln["q"] + 0.5, f"{ln['q']},5")),
    "log_qty_padded_text": hostile("Quantity", lambda r, ln: f" {ln['q']} "),
    "log_qty_inf_1e308_2**53+1": unrepresentable,
    "log_time_yyyymmdd_int": times(lambda r, ln: adjust(ln, "t", ln["t"].normalize(), int(f"{ln['t']:%Y%m%d}"))),
    "log_time_epoch_s_ms": epoch,
    "log_time_mixed_offsets": times(lambda r, ln: f"{ln['t']:%Y-%m-%dT%H:%M:%S}{pick(r, OFFSETS)}", sunday_night),
    "log_time_tz_dtype": tz_log,
    "log_time_day_first": times(lambda r, ln: f"{ln['t']:%d/%m/%Y %H:%M}"),
    "log_time_day_first_ambiguous": times(lambda r, ln: f"{ln['t']:%d/%m/%Y %H:%M}", ambiguous_days),
    "log_time_out_of_range": hostile("InvoiceDate", lambda r, ln: pick(r, OUT_OF_RANGE), 1, poison=True),
    "log_store_collision_A_B@C_vs_A@B_C": lambda r: base_log(r, COLLIDING[: int(r.integers(2, 4))], stores=True),
    "log_ids_leading_zeros": lambda r: base_log(r, products=["001", "01", "1"]),
    "log_ids_all_numbers": typed_products(["85123", "22423"], int),
    "log_ids_85123_and_85123A": typed_products(["85123", "85123A"], lambda u: int(u) if u.isdigit() else u),
    "log_ids_7_and_'7'": typed_products(list(SEVENS), SEVENS.get),
    "log_empty_or_no_quantity": refused(base_log, "the log is empty or lacks its quantity column"),
}
# fmt: on


def make_log(name: str, rng) -> tuple[Log, Any]:
    L = LOG_KINDS[name](rng)
    lines = log_frame(L)
    if name == "log_empty_or_no_quantity":
        lines = lines.iloc[:0] if rng.random() < 0.5 else lines.drop(columns="Quantity")
    if name == "log_plain" and pl is not None and rng.random() < 0.5:
        lines = pl.from_pandas(lines)
    return L, lines


def check_log(result, L: Log, n_in: int) -> tuple[str, str | None]:
    """('clean' | 'clean_excluded' | 'silent', why): units per series and week against the
    truth's; lines left out must be counted, and cannot hold more units than were lost."""
    data, report = result
    k = report.rows_excluded
    if L.refuse and not k:
        return "silent", f"accepted although {L.refuse}"
    if report.rows_in != n_in or report.rows_used + k != n_in:
        return "silent", (f"report does not add up: {n_in} lines, in {report.rows_in}, "
                          f"used {report.rows_used}, excluded {report.excluded}")  # fmt: skip

    def week(t):
        return (t.normalize() - pd.Timedelta(days=t.dayofweek)).isoformat()

    want, got, match = defaultdict(float), defaultdict(float), Matcher(L.ids)
    for ln in L.lines:
        if not ln["poison"]:
            want[(ln["uid"], week(ln["t"]))] += ln["q"]
    sales = data.sales
    for i, d, y in zip(sales[ID].tolist(), sales[DS], sales[Y].tolist(), strict=True):
        got[(match(i), pd.Timestamp(d).isoformat())] += float(y)
    for key, y in got.items():
        if not math.isfinite(y) or abs(y) > 1e15:
            return "silent", f"series {key[0]!r} week {key[1][:10]} has y={y!r}"
    gains = [
        (key, want.get(key, 0.0), y) for key, y in got.items() if y > want.get(key, 0.0) + 1e-9
    ]
    if gains:
        (series, when), w, y = gains[0]
        return "silent", (f"{len(gains)} (series, week) with more units than the truth, e.g. "
                          f"{series!r} {when[:10]}: {w:g} -> {y:g}")  # fmt: skip
    lost = sum(want.values()) - sum(got.values())
    if lost > 1e-9 and not k:
        key = next(key for key in want if got.get(key, 0.0) < want[key] - 1e-9)
        return "silent", (f"units lost, no line excluded: {key[0]!r} {key[1][:10]}: "
                          f"{want[key]:g} -> {got.get(key, 0.0):g}")  # fmt: skip
    largest = sorted((ln["q"] for ln in L.lines if not ln["poison"]), reverse=True)[:k]
    if lost > sum(largest) + 1e-9:
        return (
            "silent",
            f"{lost:g} units lost, more than the {k} excluded lines hold ({report.excluded})",
        )
    dyn = data.dynamic
    if not k and dyn is not None and "price" in dyn.columns:
        paid = defaultdict(list)
        for ln in L.lines:
            paid[(ln["uid"], week(ln["t"]))].append(ln["price"])
        rows = zip(
            dyn[ID].tolist(), dyn[DS], dyn["price"].tolist(), dyn["n_lines"].tolist(), strict=True
        )
        for i, d, p, n in rows:
            key = (match(i), pd.Timestamp(d).isoformat())
            if (
                n
                and key in paid
                and not math.isclose(p, statistics.median(paid[key]), rel_tol=1e-9)
            ):
                return (
                    "silent",
                    f"price of {key[0]!r} {key[1][:10]}: {statistics.median(paid[key])} -> {p}",
                )
    return ("clean_excluded" if k else "clean"), None


def run_logs(n: int, rng, tally: Tally) -> None:
    from trendcast.data.adapters import from_transactions

    names = list(LOG_KINDS)
    for _ in range(n):
        name = pick(rng, names)
        made, error = guarded(make_log, name, rng)
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        L, lines = made
        options = {**LOG_COLUMNS, "store_col": "Store" if L.store else None, "freq": "W-MON"}
        args = ", ".join(f"{k}={v!r}" for k, v in options.items())
        case = Case(name, None, f"from_transactions({frame_repro(lines)}, {args})", len(L.lines))
        result, error = guarded(from_transactions, lines, **options)
        if error is not None:
            add_error(tally, case, error, valid=not L.refuse)
            continue
        verdict, oracle_error = guarded(check_log, result, L, len(lines))
        if oracle_error is not None:
            verdict = ("silent", f"oracle failed on the result: {error_text(oracle_error)}")
        excluded = "clean_excluded" if verdict[0] == "clean_excluded" else None
        tally.add(case, "silent" if verdict[0] == "silent" else "clean", verdict[1] or "", excluded)


# ----------------------------------------------------------------------------------- report
def print_summary(parts: list[Tally], cli: Tally, seconds: float) -> None:
    print(f"\ninput fuzz summary ({seconds:.0f} s)")
    print(
        f"{'part':<8}{'tried':>8}{'DVE':>8}{'clean':>8}{'RAW':>8}{'SILENT':>8}{'secs':>6}   notes"
    )
    for t in parts:
        c, notes = t.counts, []
        if t.notes["false_refusal"]:
            notes.append(f"{t.notes['false_refusal']} of the DVEs on valid input")
        if t.notes["clean_excluded"]:
            notes.append(f"{t.notes['clean_excluded']} clean with lines excluded and counted")
        if t.notes["raw_from_trendcast"]:
            notes.append(f"{t.notes['raw_from_trendcast']} RAW raised by trendcast itself")
        counts = "".join(f"{c[k]:>8}" for k in ("tried", *OUTCOMES))
        print(f"{t.name:<8}{counts}{t.seconds:>6.0f}   {'; '.join(notes)}")
    print(
        f"{'cli':<8}{cli.counts['tried']:>8}   good (exit 0, or 2 with 'Fix:'): "
        f"{cli.counts['good']}, bad (exit 1, or 2 without 'Fix:'): {cli.counts['bad']}"
    )
    for t in [*parts, cli]:

        def bad(v):
            return v["raw"] + v["silent"] + v["bad"]

        failing = [
            (k, v) for k, v in sorted(t.by_kind.items(), key=lambda kv: -bad(kv[1])) if bad(v)
        ]
        if failing:
            print(f"\n{t.name}: kinds with failures ({len(failing)} of {len(t.by_kind)} kinds)")
            print(
                f"  {'kind':<38}{'tried':>6}{'DVE':>6}{'clean':>6}{'RAW':>6}{'SILENT':>7}{'bad':>5}"
            )
            for k, v in failing:
                tried = sum(v[o] for o in (*OUTCOMES, "good", "bad"))
                counts = f"{v['dve']:>6}{v['clean'] + v['good']:>6}{v['raw']:>6}{v['silent']:>7}"
                print(f"  {k:<38}{tried:>6}{counts}{v['bad']:>5}")
    for t in [*parts, cli]:
        for cat in ("raw", "silent", "bad", "false_refusal"):
            shown = t.top_examples(cat)
            if shown:
                print(
                    f"\n{t.name} {cat.upper()} examples (the smallest case of the most frequent kinds):"
                )
                print("\n".join(f"  - {text}" for text in shown))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames through validate")
    parser.add_argument("--files", type=int, default=2_000, help="files through read_shop")
    parser.add_argument("--logs", type=int, default=1_000, help="logs through from_transactions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the counts (per part and kind) to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frames, files, logs, cli = Tally("frames"), Tally("files"), Tally("logs"), Tally("cli")
    try:
        for stream, (tally, n) in enumerate(
            ((frames, args.frames), (files, args.files), (logs, args.logs))
        ):
            began, rng = time.perf_counter(), np.random.default_rng([args.seed, stream])
            if tally is files:
                with tempfile.TemporaryDirectory(prefix="input_fuzz_") as folder:
                    run_files(n, rng, files, cli, Path(folder))
            else:
                (run_frames if tally is frames else run_logs)(n, rng, tally)
            tally.seconds = time.perf_counter() - began
    except Exception:  # a harness bug: report what was counted so far
        traceback.print_exc()
    print_summary([frames, files, logs], cli, time.perf_counter() - start)
    if args.json:
        out = {
            t.name: {"counts": dict(t.counts), "notes": dict(t.notes), "seconds": round(t.seconds, 1),
                     "by_kind": {k: dict(v) for k, v in sorted(t.by_kind.items())}}
            for t in (frames, files, logs, cli)
        }  # fmt: skip
        Path(args.json).write_text(json.dumps({**out, "args": vars(args)}, indent=2))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception:  # measure, never fail: a harness bug is printed, the exit status stays 0
        traceback.print_exc()
    sys.exit(0)
