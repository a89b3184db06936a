"""Input fuzzing: does bad input always end in trendcast's own error, or in an exact result?

Every case starts from a ground-truth table (string ids, dates on a daily / weekly / monthly
grid, integer or float targets) rendered in a hostile way (odd dtypes, time zones, out-of-range
dates, huge numbers, day-first strings, mixed id types, broken CSV files, ...), so the oracle
knows the correct answer. Each case ends in exactly one outcome:

* ``DVE``: a `trendcast.DataValidationError`. Noted apart (not a failure): DVEs on input that
  was valid and exactly representable ("false refusals").
* ``clean``: a result equal to the truth (rows, ids as given, dates, values, frequency), but
  for changes a line of its ``report`` names.
* ``RAW``: any other exception (pandas' ValueError, TypeError, OverflowError, ParserError,
  UnicodeDecodeError, trendcast's own plain ValueError, ...; or a case running over 30 s).
  Each example says where it was raised and where it left trendcast.
* ``SILENT``: a result that differs from the truth with no report line for it; or any result
  for data that cannot be kept exactly (targets beyond 2**53 or 1e15, inf, NaN, dates outside
  1900-2200) or that the call must refuse (gaps, duplicates, negative targets with
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


class CaseTimeout(Exception):
    pass


@dataclass
class Truth:
    rows: list  # (truth id, Timestamp, y), one per row of the rendered frame
    freq: str | None
    ids: dict  # truth id -> the value rendered into the input
    refuse: str | None = None  # why only a refusal is right (None: acceptance is fine)
    allow: str | None = None  # a report line matching this makes acceptance fine
    titles: dict | None = None  # (truth id, iso date) -> text of the 'title' column (files)
    either: bool = False  # a refusal is as right as the exact result (ambiguous input)


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
                repro = case.repro if len(case.repro) < REPRO_CHARS else case.repro[:REPRO_CHARS] + " ..."
                self.examples[(cat, case.kind)] = (case.size, f"[{case.kind}] {detail}\n      repro: {repro}")

    def top_examples(self, cat: str) -> list[str]:
        kinds = sorted({k for c, k in self.examples if c == cat}, key=lambda k: -self.by_kind[k][cat])
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


def guarded(call):
    """(result, error) of the call, under a time limit, warnings silenced."""

    def expire(*_):
        raise CaseTimeout(f"case ran over {CASE_SECONDS}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(), None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: every ending is an outcome
        return None, error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


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
    if missing and reported(report, r"drop|remov|exclud|duplicat|skip"):
        missing = []
    if extra and reported(report, r"fill"):
        extra = [e for e in extra if e[2] != 0.0]
    if missing or extra:
        lost = {(m[0], m[1]): m for m in missing}
        for e in extra:
            if (e[0], e[1]) in lost:
                return f"value changed: {e[0]!r} {e[1][:10]}: y {lost[(e[0], e[1])][2]!r} -> {e[2]!r}"
        return (f"{len(missing)} truth rows missing (e.g. {missing[:2]}), {len(extra)} unexpected "
                f"(e.g. {extra[:2]}); report: {report or 'empty'}")
    with contextlib.suppress(TypeError):  # ids of mixed types have no order to check
        keys = list(zip(sales[ID].tolist(), dates, strict=True))
        if keys != sorted(keys):
            return "contract: sales are not sorted by (id, date)"
    if truth.titles and "title" in sales.columns:
        for key, text in zip(zip(ids, dates, strict=True), sales["title"], strict=True):
            if truth.titles.get(key, text) != text:
                return f"title text changed: {truth.titles[key]!r} -> {text!r}"
    return None


def classify_shop(tally: Tally, case: Case, call) -> None:
    from trendcast.errors import DataValidationError

    result, error = guarded(call)
    if error is None:
        why, oracle_error = guarded(lambda: check_shop(result, case.truth))
        why = why if oracle_error is None else f"oracle failed on the result: {error_text(oracle_error)}"
        tally.add(case, "clean" if why is None else "silent", why or "")
    elif isinstance(error, DataValidationError):
        no_fix = "; a problem has no fix" if any(not p.fix.render() for p in error.problems) else ""
        valid = case.truth is not None and not (case.truth.refuse or case.truth.either)
        text = " ".join(str(error).split())[:240]
        tally.add(case, "dve", f"refused valid input{no_fix}: {text}", "false_refusal" if valid else None)
    else:
        tally.add(case, "raw", error_text(error))


# --------------------------------------------------------------------- truths and renderings
def base_truth(rng, freq=None, ids=None, y="int", start="2023-01-01", span=700):
    freq = freq or str(rng.choice(FREQS))
    if ids is None:
        ids = sample(rng, [f"p{k}" for k in range(90)], int(rng.integers(1, 4)))
    anchor = pd.Timestamp(np.datetime64(start, "s")) + pd.Timedelta(days=int(rng.integers(0, span)))
    rows = []
    for tid in ids:
        n, skip = int(rng.integers(3, 7)), int(rng.integers(0, 3))
        for d in pd.date_range(anchor, periods=n + skip, freq=freq, unit="s")[skip:]:
            y_ = int(rng.integers(0, 500)) if y == "int" else float(rng.integers(0, 2000)) / 4
            rows.append((tid, d.as_unit("ns") if 1900 < d.year < 2200 else d, y_))
    return Truth(rows, freq if freq in FREQS else None, {t: t for t in ids})


def truth_of(ids=None, render=None, **kw):
    """A truth maker: given ids (or a function of rng giving them), rendered by ``render``."""

    def make(rng):
        T = base_truth(rng, ids=ids(rng) if callable(ids) else ids, **kw)
        T.ids = {t: (render(t) if render else t) for t in T.ids}
        return T

    return make


def frame_of(T: Truth, ids=None, ds=None, ys=None, dtypes=None) -> pd.DataFrame:
    dtypes = dtypes or {}
    return pd.DataFrame({
        ID: pd.Series([T.ids[t] for t, _, _ in T.rows] if ids is None else ids, dtype=dtypes.get(ID, object)),
        DS: pd.Series([d for _, d, _ in T.rows] if ds is None else ds, dtype=dtypes.get(DS)),
        Y: pd.Series([v for *_, v in T.rows] if ys is None else ys, dtype=dtypes.get(Y)),
    })


def strf(T: Truth, fmt: str) -> list[str]:
    return [d.strftime(str(fmt)) for _, d, _ in T.rows]


def poke(T: Truth, rng, y=None) -> Truth:
    """The truth with one row's target (the truth of a value the input holds) replaced."""
    j = int(rng.integers(len(T.rows)))
    T.rows[j] = (T.rows[j][0], T.rows[j][1], y)
    return T


def thousands(T: Truth) -> Truth:
    T.rows = [(t, d, v + 1000) for t, d, v in T.rows]
    return T


def zero_one(T: Truth) -> Truth:
    T.rows = [(t, d, v % 2) for t, d, v in T.rows]
    return T


def set_one(values, rng, value) -> list:
    values = list(values)
    values[int(rng.integers(len(values)))] = value
    return values


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def sample(rng, options, k) -> list:
    return [options[i] for i in rng.choice(len(options), k, replace=False)]


def K(truth=base_truth, render=lambda rng, T: frame_of(T), why=None, allow=None, either=False):
    """A kind of case: the truth, its hostile rendering (which may adjust the truth's rows),
    why only a refusal is right (``allow``: unless a report line matches this), or whether
    a refusal is as right as the exact result (``either``: the input is ambiguous)."""

    def make(rng):
        T = truth(rng)
        data = render(rng, T)
        T.refuse, T.allow, T.either = why or T.refuse, allow or T.allow, either or T.either
        return T, data

    return make


def gap(rng, T):
    j = next(i for i in range(1, len(T.rows) - 1) if T.rows[i - 1][0] == T.rows[i + 1][0])
    T.rows.pop(j)
    return frame_of(T)


def one_row_each(rng, T):
    T.rows = [r for i, r in enumerate(T.rows) if i == 0 or T.rows[i - 1][0] != r[0]]
    return frame_of(T)


def stray_y(rng, T, values, dtype=None, text=False):
    T = poke(T, rng, y=pick(rng, values))
    return frame_of(T, ys=[str(v) if text else v for *_, v in T.rows], dtypes={Y: dtype})


BAD_DATES = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31), dt.date(1700, 6, 1),
             pd.Timestamp("1700-06-01").as_unit("s"), np.datetime64("99999-01-01", "D")]
OFFSETS = ["+01:00", "-05:00", "+05:30", "Z", "+00:00", "-08:00"]
MIXED = {"int 1": 1, "str '1'": "1", "float 1.0": 1.0}
FRAME_KINDS = {
    "id_plain": K(),
    "id_string_dtype": K(render=lambda r, T: frame_of(T, dtypes={ID: "string"})),
    "id_category": K(render=lambda r, T: frame_of(T, dtypes={ID: "category"})),
    "id_int64": K(truth_of(["17", "203", "9"], int), lambda r, T: frame_of(T, dtypes={ID: "int64"})),
    "id_int64_beyond_2**53": K(truth_of([str(2**53 + 1), str(2**53)], int),
                               lambda r, T: frame_of(T, dtypes={ID: "int64"})),
    "id_uint64_beyond_2**63": K(truth_of([str(2**64 - 1), str(2**63 + 5)], int),
                                lambda r, T: frame_of(T, dtypes={ID: "uint64"})),
    "id_python_int_2**70": K(truth_of([str(2**70 + 1), str(2**70)], int)),
    "id_float": K(truth_of(["1.0", "2.5"], float), lambda r, T: frame_of(T, dtypes={ID: "float64"})),
    "id_mixed_1_'1'_1.0": K(truth_of(list(MIXED), MIXED.get), either=True),
    "id_mixed_7_'7'": K(truth_of(["int 7", "str '7'"], {"int 7": 7, "str '7'": "7"}.get), either=True),
    "id_leading_zeros": K(truth_of(["001", "01", "1"])),
    "id_12_vs_12.0": K(truth_of(["12", "12.0"])),
    "id_null_words": K(truth_of(lambda r: sample(r, NULL_WORDS, 3))),
    "id_whitespace": K(truth_of(["a", "a ", " a"])),
    "id_unicode_nfc_vs_nfd": K(truth_of(["caf\u00e9", "cafe\u0301"])),
    "id_missing": K(render=lambda r, T: frame_of(T, ids=set_one([T.ids[t] for t, *_ in T.rows], r, None)),
                    why="a row has no id"),
    "ds_unit_s_ms_us": K(render=lambda r, T: frame_of(T, dtypes={DS: f"datetime64[{pick(r, ['s', 'ms', 'us'])}]"})),
    "ds_iso_strings": K(render=lambda r, T: frame_of(T, ds=strf(T, pick(r, ["%Y-%m-%d", "%Y-%m-%d 00:00:00", "%Y-%m-%dT00:00:00", "%Y%m%d", "%Y/%m/%d"])))),
    "ds_python_date_objects": K(render=lambda r, T: frame_of(T, ds=[pick(r, [d.date(), d.to_pydatetime()]) for _, d, _ in T.rows], dtypes={DS: object})),
    "ds_mixed_layouts": K(render=lambda r, T: frame_of(T, ds=[d.strftime(pick(r, ["%Y-%m-%d", "%Y/%m/%d", "%b %d, %Y", "%d %B %Y"])) for _, d, _ in T.rows])),
    "ds_tz_dtype": K(render=lambda r, T: frame_of(T, ds=pd.Series([d for _, d, _ in T.rows]).dt.tz_localize(pick(r, ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]))),
                     why="the dates are time-zone aware", allow=TZ_NOTE),
    "ds_mixed_aware_naive": K(render=lambda r, T: frame_of(T, ds=[pick(r, [d, d.tz_localize(pick(r, ["UTC", "Asia/Tokyo"]))]) for _, d, _ in T.rows], dtypes={DS: object}),
                              why="some dates are time-zone aware", allow=TZ_NOTE),
    "ds_offset_strings": K(render=lambda r, T: frame_of(T, ds=[f"{d:%Y-%m-%dT%H:%M}{pick(r, OFFSETS)}" for _, d, _ in T.rows]),
                           why="the dates carry UTC offsets", allow=TZ_NOTE),
    "ds_one_offset_string": K(render=lambda r, T: frame_of(T, ds=[f"{d:%Y-%m-%dT%H:%M}" for _, d, _ in T.rows]).assign(**{DS: lambda f, o=pick(r, OFFSETS): f[DS] + o}),
                              why="the dates carry a UTC offset", allow=TZ_NOTE),
    "ds_out_of_range_text": K(render=lambda r, T: frame_of(T, ds=set_one(strf(T, "%Y-%m-%d"), r, pick(r, ["0001-01-01", "9999-12-31", "99999-01-01", "1700-06-01", "2262-05-01"]))),
                              why="a date is outside 1900-2200"),
    "ds_out_of_range_objects": K(render=lambda r, T: frame_of(T, ds=set_one([d for _, d, _ in T.rows], r, pick(r, BAD_DATES)), dtypes={DS: object}),
                                 why="a date is outside 1900-2200"),
    "ds_year_1700_or_2500": K(lambda r: base_truth(r, start=pick(r, ["1700-01-01", "2500-01-01"])),
                              lambda r, T: frame_of(T, dtypes={DS: "datetime64[s]"}), why="every date is outside 1900-2200"),
    "ds_day_first": K(lambda r: base_truth(r, freq="D", start="2024-01-11", span=2),  # a day > 12
                      lambda r, T: frame_of(T, ds=strf(T, pick(r, ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"])))),
    "ds_day_first_ambiguous": K(lambda r: base_truth(r, freq="MS"), lambda r, T: frame_of(T, ds=strf(T, "%d/%m/%Y")), either=True),
    "ds_month_first": K(lambda r: base_truth(r, freq="D", start="2024-03-11", span=2), lambda r, T: frame_of(T, ds=strf(T, "%m/%d/%Y"))),
    "ds_period_dtype": K(lambda r: base_truth(r, freq=pick(r, ["MS", "D"])),
                         lambda r, T: frame_of(T, ds=pd.Series([d for _, d, _ in T.rows]).dt.to_period("M" if T.freq == "MS" else "D"))),
    "ds_month_strings": K(lambda r: base_truth(r, freq="MS"), lambda r, T: frame_of(T, ds=strf(T, pick(r, ["%Y-%m", "%b %Y", "%Y%m"])))),
    "ds_numbers": K(render=lambda r, T: frame_of(T, ds=pick(r, [[int(d.strftime("%Y%m%d")) for _, d, _ in T.rows], [d.value // 10**9 for _, d, _ in T.rows]])), either=True),
    "ds_missing": K(render=lambda r, T: frame_of(T, ds=set_one([d for _, d, _ in T.rows], r, pick(r, [pd.NaT, None, "", "n/a"])), dtypes={DS: object}),
                    why="a date is missing"),
    "ds_time_of_day": K(render=lambda r, T: frame_of(T, ds=set_one([d for _, d, _ in T.rows], r, T.rows[0][1] + pd.Timedelta("10h30min"))),
                        why="a timestamp has a time of day"),
    "ds_yearly_or_quarterly": K(lambda r: base_truth(r, freq=pick(r, ["YS", "QS"])),
                                why="the dates are a year or a quarter apart (no supported frequency)", allow=r"year|annual|quarter"),
    "y_float": K(lambda r: base_truth(r, y="float")),
    "y_narrow_or_nullable_dtype": K(render=lambda r, T: frame_of(T, dtypes={Y: pick(r, ["Int64", "float32", "Float64", "int16", "uint16"])})),
    "y_numeric_strings": K(lambda r: base_truth(r, y="float"), lambda r, T: frame_of(T, ys=[pick(r, [repr(v), f" {v} ", f"{v:.4e}"]) for *_, v in T.rows])),
    "y_thousands_separator": K(lambda r: thousands(base_truth(r)), lambda r, T: frame_of(T, ys=[f"{v:,}" for *_, v in T.rows]), either=True),
    "y_decimal_objects": K(lambda r: base_truth(r, y="float"), lambda r, T: frame_of(T, ys=[Decimal(repr(v)) for *_, v in T.rows])),
    "y_boolean": K(lambda r: zero_one(base_truth(r)), lambda r, T: frame_of(T, ys=[bool(v) for *_, v in T.rows], dtypes={Y: pick(r, ["bool", "boolean"])})),
    "y_beyond_2**53": K(render=lambda r, T: stray_y(r, T, [2**53 + 1, 2**53 + 3, 2**63 - 1], pick(r, ["int64", "uint64", object]), text=r.random() < 0.3),
                        why="a target is beyond 2**53"),
    "y_python_int_2**70": K(render=lambda r, T: stray_y(r, T, [2**70 + 1, -(2**70)], object), why="a target is 2**70"),
    "y_huge_float": K(render=lambda r, T: stray_y(r, T, [1e300, 1e308, -1e300, 1e16, 1.7976931348623157e308], "float64"), why="a target is beyond 1e15"),
    "y_inf_nan": K(render=lambda r, T: stray_y(r, T, [math.inf, -math.inf, math.nan, None], "float64"), why="a target is inf or NaN"),
    "y_special_strings": K(render=lambda r, T: stray_y(r, T, ["inf", "-inf", "nan", "Infinity", "NaN", "1e400", "9" * 30], object, text=True),
                           why="a target is not a finite exact number"),
    "y_negative": K(render=lambda r, T: stray_y(r, T, [-1, -7, -0.5]), why="a target is negative"),
    "y_complex": K(render=lambda r, T: frame_of(T, ys=[complex(v, i == 0) for i, (*_, v) in enumerate(T.rows)]), why="a target is complex (1j)"),
    "empty_frame": K(render=lambda r, T: pick(r, [frame_of(T).iloc[:0], pd.DataFrame()]), why="the frame has no rows"),
    "missing_or_renamed_column": K(render=lambda r, T: pick(r, [frame_of(T).drop(columns=pick(r, [ID, DS, Y])), frame_of(T).rename(columns={pick(r, [ID, DS, Y]): pick(r, ["Y", " y", "ds ", "Unique_ID"])})]),
                                   why="a column is missing"),
    "duplicate_rows": K(render=lambda r, T: pd.concat([frame_of(T), frame_of(T).sample(1, random_state=r)], ignore_index=True), why="a row is repeated", allow=r"duplicat"),
    "conflicting_duplicates": K(render=lambda r, T: pd.concat([frame_of(T), frame_of(T).sample(1, random_state=r).assign(**{Y: lambda f: f[Y] + 1})], ignore_index=True),
                                why="two rows share a key with different targets"),
    "duplicate_column_names": K(render=lambda r, T: pd.concat([frame_of(T), frame_of(T)[[Y]] + 1], axis=1), why="two columns are named 'y'"),
    "gap_inside_series": K(render=gap, why="a period is missing inside a series"),
    "single_row_series": K(render=one_row_each, why="every series has one row: no frequency"),
    "unsorted_rows": K(render=lambda r, T: frame_of(T).iloc[r.permutation(len(T.rows))]),
    "id_in_the_index": K(render=lambda r, T: frame_of(T).set_index(ID), either=True),
    "odd_extra_columns": K(render=lambda r, T: frame_of(T).assign(tags=[[1, 2]] * len(T.rows), meta=[{"k": None}] * len(T.rows)).assign(**{"5": 1.5})),
    "not_a_frame": K(render=lambda r, T: pick(r, [frame_of(T).to_dict("list"), frame_of(T).to_dict("records"), frame_of(T).to_numpy(), None, frame_of(T)[Y], "sales.csv"]),
                     why="the input is not a frame"),
}
if pl is not None:
    POLARS = [lambda f: f, lambda f: f.with_columns(pl.col(DS).cast(pl.Date)), lambda f: f.with_columns(pl.col(ID).cast(pl.Categorical)),
              lambda f: f.with_columns(pl.col(DS).dt.strftime("%Y-%m-%d")), lambda f: f.with_columns(pl.col(Y).cast(pl.Decimal(12, 2))),
              lambda f: f.with_columns(pl.col(DS).cast(pl.Datetime("ms"))), lambda f: f.lazy()]
    FRAME_KINDS |= {
        "polars_frame": K(lambda r: base_truth(r, y=pick(r, ["int", "float"])), lambda r, T: pick(r, POLARS)(pl.from_pandas(frame_of(T, dtypes={ID: "string"})))),
        "polars_tz_aware": K(render=lambda r, T: pl.from_pandas(frame_of(T, dtypes={ID: "string"})).with_columns(pl.col(DS).dt.replace_time_zone("Europe/Berlin")),
                             why="the dates are time-zone aware", allow=TZ_NOTE),
        "polars_uint64_2**64-1": K(render=lambda r, T: pl.from_pandas(stray_y(r, T, [2**64 - 1], "uint64").astype({ID: "string"})), why="a target is 2**64-1"),
        "polars_null_target": K(render=lambda r, T: pl.from_pandas(stray_y(r, T, [None], "Int64").astype({ID: "string"})), why="a target is null"),
    }


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
    cols = [f"{c!r}: pd.Series({df.iloc[:, i].tolist()!r}, dtype='{df.dtypes.iloc[i]}')"
            for i, c in enumerate(df.columns)]
    index = "" if isinstance(df.index, pd.RangeIndex) else f", index={df.index.tolist()!r}"
    if len(set(df.columns)) < len(df.columns):  # a dict cannot repeat a column name
        return f"pd.DataFrame({df.to_numpy().tolist()!r}, columns={list(df.columns)!r})"
    return f"pd.DataFrame({{{', '.join(cols)}}}{index})"


def run_frames(n: int, rng, tally: Tally) -> None:
    from trendcast import validate

    names = list(FRAME_KINDS)
    for _ in range(n):
        name = pick(rng, names)
        made, error = guarded(lambda: FRAME_KINDS[name](rng))
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        T, data = made
        case = Case(name, T, f"validate({frame_repro(data)})", len(T.rows))
        classify_shop(tally, case, lambda: validate(
            data, static=None, dynamic=None, id_col=ID, time_col=DS, target_col=Y, freq=None,
            fill_gaps=False, clip_negative=False))


# ------------------------------------------------------------------------------------- files
TITLES = ["blue mug", "caf\u00e9 cr\u00e8me", "\u00a35 off", "red, white; blue|x\ty", "two\nlines", 'say "hi"']
HOSTILE_IDS = [["001", "01", "1"], ["04006381333932", "4006381333932"], ["12", "12.0"], ["1e3", "1000"],
               ["0x1F", "TRUE", "False"], ["=SUM(A1)", "+44", "-1"]]


def file_truth(rng, ids=None, y="int", freq=None, titles=TITLES[:3]):
    T = base_truth(rng, ids=ids, y=y, freq=freq)
    T.titles = {(t, d.isoformat()): pick(rng, titles) for t, d, _ in T.rows}
    return T


def cells(T: Truth, ds_fmt="%Y-%m-%d", yfmt=None) -> list[list[str]]:
    yfmt = yfmt or (lambda v: repr(v) if isinstance(v, float) else str(v))
    return [[ID, DS, Y, "title"]] + [[T.ids[t], d.strftime(ds_fmt), yfmt(v), T.titles[(t, d.isoformat())]]
                                     for t, d, v in T.rows]


def csv(rows, sep=",", newline="\n", encoding="utf-8", quote=True) -> bytes:
    def q(f):
        hit = quote and any(c in f for c in (sep, '"', "\n", "\r"))
        return '"' + f.replace('"', '""') + '"' if hit else f

    return (newline.join(sep.join(q(str(f)) for f in r) for r in rows) + newline).encode(encoding)


def edit(rows, rng, col, value=None, append=None):
    """The rows with one data row's cell replaced (or a field appended)."""
    i = 1 + int(rng.integers(len(rows) - 1))
    if append is not None:
        rows[i] = [*rows[i], append]
    else:
        rows[i][col] = value(rows[i][col]) if callable(value) else value
    return rows




def F(truth=file_truth, render=lambda rng, T: (".csv", csv(cells(T))), why=None, allow=None, either=False):
    def make(rng):
        T = truth(rng)
        suffix, payload = render(rng, T)
        T.refuse, T.allow, T.either = why or T.refuse, allow or T.allow, either or T.either
        return T, suffix, payload

    return make


def arrow(T: Truth, rng):
    """A parquet table, one of its columns in another Arrow type (the truth adjusted)."""
    import pyarrow as pa

    days, ys = [d.to_pydatetime() for _, d, _ in T.rows], [v for *_, v in T.rows]
    cols = {ID: pa.array([T.ids[t] for t, *_ in T.rows], pa.string()), DS: pa.array(days, pa.timestamp("us")),
            Y: pa.array(ys), "title": pa.array([T.titles[(t, d.isoformat())] for t, d, _ in T.rows])}
    variant = int(rng.integers(9))
    cols |= [{}, {DS: pa.array([d.date() for d in days], pa.date32())}, {ID: cols[ID].dictionary_encode()},
             {DS: pa.array(days, pa.timestamp("ms", tz="Europe/Berlin"))},
             {Y: pa.array([Decimal(v) for v in ys], pa.decimal128(12, 2))},
             {Y: pa.array([2**64 - 1, *ys[1:]], pa.uint64())},
             {DS: pa.array([dt.datetime(1700, 6, 1), *days[1:]], pa.timestamp("s"))},
             {Y: pa.array([None, *ys[1:]], pa.int64())}, {ID: pa.array(cols[ID].to_pylist(), pa.large_string())}][variant]
    why = {3: ("the dates are time-zone aware", TZ_NOTE), 5: ("a target is 2**64-1", None),
           6: ("a date is 1700-06-01", None), 7: ("a target is null", None)}.get(variant)
    if why:
        T.refuse, T.allow = why
    if variant == 6:
        T.rows[0] = (T.rows[0][0], pd.Timestamp("1700-06-01").as_unit("s"), T.rows[0][2])
    if variant in (5, 7):
        T.rows[0] = (T.rows[0][0], T.rows[0][1], [2**64 - 1, None][variant == 7])
    return pa.table(cols)


def day_first_csv(rng, T):
    T.either = all(d.day <= 12 for _, d, _ in T.rows)  # then day and month cannot be told
    return ".csv", csv(cells(T, ds_fmt="%d/%m/%Y"))


def broken_parquet(rng, T):
    import pyarrow.parquet as pq

    table = arrow(T, rng)
    if rng.random() < 0.5:
        return ".parquet", table.slice(0, 0)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return ".parquet", buf.getvalue()[: len(buf.getvalue()) // 2]


FILE_KINDS = {
    "csv_plain": F(lambda r: file_truth(r, y=pick(r, ["int", "float"])), lambda r, T: (".csv", csv(cells(T), newline=pick(r, ["\n", "\r\n"])))),
    "csv_delimiter_;_tab_|": F(render=lambda r, T: (".csv", csv(cells(T), sep=pick(r, [";", "\t", "|"])))),
    "csv_utf8_bom": F(render=lambda r, T: (".csv", b"\xef\xbb\xbf" + csv(cells(T)))),
    "csv_utf16": F(render=lambda r, T: (".csv", csv(cells(T), encoding=pick(r, ["utf-16", "utf-16-le"])))),
    "csv_latin1": F(lambda r: file_truth(r, titles=["\u00a35 off", "caf\u00e9", "na\u00efve \u00e9t\u00e9"]), lambda r, T: (".csv", csv(cells(T), encoding="latin-1"))),
    "csv_quoted_separators_newlines": F(lambda r: file_truth(r, titles=TITLES[3:]), lambda r, T: (".csv", csv(cells(T), sep=pick(r, [",", ";", "|"])))),
    "csv_unterminated_quote": F(render=lambda r, T: (".csv", csv(edit(cells(T), r, 3, '"never closed'), quote=False)), why="a quote is never closed"),
    "csv_too_many_fields": F(render=lambda r, T: (".csv", csv(edit(cells(T), r, 0, append="extra"))), why="a line has too many fields"),
    "csv_trailing_delimiter": F(render=lambda r, T: (".csv", csv([row if i == 0 else [*row, ""] for i, row in enumerate(cells(T))]))),
    "csv_empty_or_header_only": F(render=lambda r, T: (".csv", pick(r, [b"", b"\n", csv(cells(T)[:1])])), why="the file has no rows"),
    "csv_eu_decimal_comma": F(lambda r: file_truth(r, y="float"), lambda r, T: (".csv", csv(cells(T, yfmt=lambda v: repr(v).replace(".", ",")), sep=";")), either=True),
    "csv_eu_thousands_dot": F(lambda r: thousands(file_truth(r)), lambda r, T: (".csv", csv(cells(T, yfmt=lambda v: f"{v:,}".replace(",", ".")), sep=";")), either=True),
    "csv_day_first": F(lambda r: file_truth(r, freq=pick(r, ["D", "MS"])), day_first_csv),
    "csv_hostile_ids": F(lambda r: file_truth(r, ids=pick(r, HOSTILE_IDS))),
    "csv_null_word_ids": F(lambda r: file_truth(r, ids=sample(r, NULL_WORDS, 3))),
    "csv_unrepresentable_y": F(render=lambda r, T: (".csv", csv(edit(cells(T), r, 2, pick(r, ["9007199254740993", "1e300", "1e308", "inf", "-inf", "nan", "9" * 20])))),
                               why="a target cannot be kept exactly"),
    "csv_bad_dates": F(render=lambda r, T: (".csv", csv(edit(cells(T), r, 1, pick(r, ["0001-01-01", "9999-12-31", "99999-01-01", "1700-06-01", "2024-02-30"])))),
                       why="a date is outside 1900-2200 or no date"),
    "csv_offset_dates": F(render=lambda r, T: (".csv", csv([row if i == 0 else [row[0], row[1] + "T00:00" + pick(r, OFFSETS), *row[2:]] for i, row in enumerate(cells(T))])),
                          why="the dates carry UTC offsets", allow=TZ_NOTE),
    "other_suffix": F(render=lambda r, T: (pick(r, [".CSV", ".txt", ".tsv", ".csv.gz"]), csv(cells(T))), either=True),
    "parquet": F(lambda r: file_truth(r, ids=pick(r, [None, *HOSTILE_IDS[:3], NULL_WORDS[:3]])), lambda r, T: (".parquet", arrow(T, r))),
    "parquet_truncated_or_no_rows": F(render=broken_parquet, why="the file is truncated or has no rows"),
}
if HAVE_XLSX:
    FILE_KINDS["xlsx"] = F(lambda r: file_truth(r, ids=pick(r, [None, ["001", "01"], ["04006381333932"]])),
                           lambda r, T: (".xlsx", frame_of(T).assign(title=[T.titles[(t, d.isoformat())] for t, d, _ in T.rows])))


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
    cols = ", ".join(f"{n!r}: pa.array({payload[n].to_pylist()!r}, {payload[n].type})" for n in payload.column_names)
    return f"pq.write_table(pa.table({{{cols}}}), p := 'f.parquet'); read_shop(p)"


def run_cli(cli: Tally, case: Case, path: Path) -> None:
    from trendcast.cli import main

    err = io.StringIO()

    def call():
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return main(["validate", str(path), "--id-col", ID, "--time-col", DS, "--target-col", Y])

    code, error = guarded(call)
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
        made, error = guarded(lambda: FILE_KINDS[name](rng))
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        T, suffix, payload = made
        path = folder / f"case{i}{suffix}"
        repro = write_file(path, payload)
        classify_shop(tally, Case(name, T, repro, len(T.rows)),
                      lambda: read_shop(str(path), id_col=ID, time_col=DS, target_col=Y, freq=None))
        if i % every == 0:
            run_cli(cli, Case(name, T, repro, len(T.rows)), path)
        path.unlink(missing_ok=True)


# -------------------------------------------------------------------------------------- logs
PRODUCTS = ["SKU1", "A", "A_B", "85123", "X-9", "NA", "null", "0042", "042"]
LOG_COLUMNS = dict(time_col="InvoiceDate", product_col="StockCode", quantity_col="Quantity",
                   price_col="UnitPrice", customer_col="CustomerID", invoice_col="InvoiceNo")


@dataclass
class Log:
    lines: list  # per line: uid (truth series), p, s (store), t (wall clock), q, price, poison
    ids: dict  # truth series -> the series id as rendered (product, or product_store)
    store: bool = False
    refuse: str | None = None
    render: dict = field(default_factory=dict)  # column -> values, in place of the truth's


def base_log(rng, products=None, stores=False, day_max=28) -> Log:
    products = products or sample(rng, PRODUCTS, int(rng.integers(1, 4)))
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
    lines = []
    for _ in range(int(rng.integers(6, 25))):
        p, s = pick(rng, products) if stores else (pick(rng, products), None)
        lines.append({"uid": p if s is None else f"{p}@{s}", "p": p, "s": s,
                      "t": start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * day_max))),
                      "q": int(rng.integers(1, 20)), "price": int(rng.integers(50, 5000)) / 100, "poison": False})
    return Log(lines, {ln["uid"]: ln["p"] if ln["s"] is None else f"{ln['p']}_{ln['s']}" for ln in lines}, stores)


def log_frame(L: Log) -> pd.DataFrame:
    cols = {"InvoiceDate": [ln["t"] for ln in L.lines], "StockCode": [ln["p"] for ln in L.lines],
            "Quantity": [ln["q"] for ln in L.lines], "UnitPrice": [ln["price"] for ln in L.lines],
            "CustomerID": [f"c{k % 4}" for k in range(len(L.lines))],
            "InvoiceNo": [str(500000 + k) for k in range(len(L.lines))]}
    if L.store:
        cols["Store"] = [ln["s"] for ln in L.lines]
    cols |= L.render
    return pd.DataFrame({k: v if isinstance(v, pd.Series) else pd.Series(v, dtype=object if k in L.render else None)
                         for k, v in cols.items()})


def hostile(rng, L: Log, column: str, fmt, k_max=3, poison=False) -> Log:
    """Renders 1..k_max lines' ``column`` by ``fmt(line)`` (which may adjust their truth)."""
    hot = set(int(i) for i in rng.integers(0, len(L.lines), int(rng.integers(1, k_max + 1))))
    key = {"Quantity": "q", "UnitPrice": "price", "InvoiceDate": "t"}[column]
    values = [ln[key] if column != "InvoiceDate" else f"{ln['t']:%Y-%m-%d %H:%M}" for ln in L.lines]
    for i in hot:
        values[i] = fmt(L.lines[i])
        L.lines[i]["poison"] |= poison
    L.render[column] = values
    return L


def adjust(ln, key, value, shown):
    ln[key] = value
    return shown


def lg(make, why=None):
    def kind(rng):
        L = make(rng)
        L.refuse = why
        return L

    return kind


def all_times(rng, L: Log, fmt) -> Log:
    L.render["InvoiceDate"] = [fmt(ln) for ln in L.lines]
    return L


def sunday_night(L: Log) -> Log:  # Sunday 23:30 local time: the next week in UTC, west of it
    for ln in L.lines[::2]:
        ln["t"] = ln["t"].normalize() + pd.Timedelta(days=6 - ln["t"].dayofweek, hours=23, minutes=30)
    return L


def ambiguous_days(L: Log) -> Log:  # every day <= 12: day-first and month-first both read
    for ln in L.lines:
        ln["t"] = ln["t"].replace(day=1 + ln["t"].day % 12)
    return L


def typed_products(L: Log, render) -> Log:
    L.ids = {u: render(u) for u in L.ids}
    L.render["StockCode"] = [L.ids[ln["uid"]] for ln in L.lines]
    return L


LOG_KINDS = {
    "log_plain": lg(lambda r: base_log(r)),
    "log_price_pound_sign": lg(lambda r: hostile(r, base_log(r), "UnitPrice", lambda ln: f"\u00a3{ln['price']:.2f}")),
    "log_price_decimal_comma": lg(lambda r: hostile(r, base_log(r), "UnitPrice", lambda ln: f"{ln['price']:.2f}".replace(".", ","))),
    "log_price_1.234,50": lg(lambda r: hostile(r, base_log(r), "UnitPrice", lambda ln: adjust(ln, "price", ln["price"] + 1000, f"{ln['price'] + 1000:,.2f}".translate(str.maketrans(",.", ".,"))))),
    "log_price_1.234_is_1234": lg(lambda r: hostile(r, base_log(r), "UnitPrice", lambda ln: adjust(ln, "price", 1234.0, "1.234"))),
    "log_qty_1.000_is_1000": lg(lambda r: hostile(r, base_log(r), "Quantity", lambda ln: adjust(ln, "q", 1000 * ln["q"], f"{1000 * ln['q']:,}".replace(",", ".")))),
    "log_qty_2_pcs": lg(lambda r: hostile(r, base_log(r), "Quantity", lambda ln: f"{ln['q']} pcs")),
    "log_qty_1,5": lg(lambda r: hostile(r, base_log(r), "Quantity", lambda ln: adjust(ln, "q", ln["q"] + 0.5, f"{ln['q'] + 0.5}".replace(".", ",")))),
    "log_qty_padded_text": lg(lambda r: hostile(r, base_log(r), "Quantity", lambda ln: f" {ln['q']} ")),
    "log_qty_unrepresentable": lg(lambda r: hostile(r, base_log(r), "Quantity", lambda ln, b=pick(r, [math.inf, 1e308, 1e300, 2**53 + 1, "inf", "1e308", -math.inf]): b, 2, poison=True)),
    "log_time_yyyymmdd_int": lg(lambda r: all_times(r, base_log(r), lambda ln: adjust(ln, "t", ln["t"].normalize(), int(f"{ln['t']:%Y%m%d}")))),
    "log_time_epoch_s_ms": lg(lambda r: all_times(r, base_log(r), lambda ln, u=pick(r, [10**9, 10**6]): ln["t"].value // u)),
    "log_time_mixed_offsets": lg(lambda r: all_times(r, sunday_night(base_log(r)), lambda ln: f"{ln['t']:%Y-%m-%dT%H:%M:%S}{pick(r, OFFSETS)}")),
    "log_time_tz_dtype": lg(lambda r: (lambda L: L.render.update(InvoiceDate=pd.Series([ln["t"] for ln in L.lines]).dt.tz_localize(pick(r, ["Asia/Kolkata", "Etc/GMT+8", "UTC"]))) or L)(sunday_night(base_log(r)))),
    "log_time_day_first": lg(lambda r: all_times(r, base_log(r), lambda ln: f"{ln['t']:%d/%m/%Y %H:%M}")),
    "log_time_day_first_ambiguous": lg(lambda r: all_times(r, ambiguous_days(base_log(r)), lambda ln: f"{ln['t']:%d/%m/%Y %H:%M}")),
    "log_time_out_of_range": lg(lambda r: hostile(r, base_log(r), "InvoiceDate", lambda ln: pick(r, ["0001-01-01 10:00", "9999-12-31 10:00", "1700-06-01 10:00", "99999-01-01"]), 1, poison=True)),
    "log_store_collision_A_B@C_vs_A@B_C": lg(lambda r: base_log(r, products=[("A_B", "C"), ("A", "B_C"), ("SKU1", "C")][: int(r.integers(2, 4))], stores=True)),
    "log_ids_leading_zeros": lg(lambda r: base_log(r, products=["001", "01", "1"])),
    "log_ids_all_numbers": lg(lambda r: typed_products(base_log(r, products=["85123", "22423"]), int)),
    "log_ids_85123_and_85123A": lg(lambda r: typed_products(base_log(r, products=["85123", "85123A"]), lambda u: int(u) if u.isdigit() else u)),
    "log_ids_7_and_'7'": lg(lambda r: typed_products(base_log(r, products=["int 7", "str '7'"]), {"int 7": 7, "str '7'": "7"}.get)),
    "log_empty_or_no_quantity": lg(lambda r: base_log(r), why="the log is empty or lacks its quantity column"),
}


def check_log(result, L: Log, n_in: int) -> tuple[str, str | None]:
    """('clean' | 'clean_excluded' | 'silent', why): units per series and week against the
    truth's; lines left out must be counted, and cannot hold more units than were lost."""
    data, report = result
    k = report.rows_excluded
    if L.refuse and not k:
        return "silent", f"accepted although {L.refuse}"
    if report.rows_in != n_in or report.rows_used + k != n_in:
        return "silent", f"report does not add up: {n_in} lines, in {report.rows_in}, used {report.rows_used}, excluded {report.excluded}"

    def week(t):
        return (t.normalize() - pd.Timedelta(days=t.dayofweek)).isoformat()

    want, got, match = defaultdict(float), defaultdict(float), Matcher(L.ids)
    for ln in L.lines:
        if not ln["poison"]:
            want[(ln["uid"], week(ln["t"]))] += ln["q"]
    for i, d, y in zip(data.sales[ID].tolist(), data.sales[DS], data.sales[Y].tolist(), strict=True):
        got[(match(i), pd.Timestamp(d).isoformat())] += float(y)
    for key, y in got.items():
        if not math.isfinite(y) or abs(y) > 1e15:
            return "silent", f"series {key[0]!r} week {key[1][:10]} has y={y!r}"
    gains = [(key, want.get(key, 0.0), y) for key, y in got.items() if y > want.get(key, 0.0) + 1e-9]
    if gains:
        key, w, y = gains[0]
        return "silent", f"{len(gains)} (series, week) with more units than the truth, e.g. {key[0]!r} {key[1][:10]}: {w:g} -> {y:g}"
    lost = sum(want.values()) - sum(got.values())
    if lost > 1e-9 and not k:
        key = next(key for key in want if got.get(key, 0.0) < want[key] - 1e-9)
        return "silent", f"units lost, no line excluded: {key[0]!r} {key[1][:10]}: {want[key]:g} -> {got.get(key, 0.0):g}"
    if lost > sum(sorted((ln["q"] for ln in L.lines if not ln["poison"]), reverse=True)[:k]) + 1e-9:
        return "silent", f"{lost:g} units lost, more than the {k} excluded lines hold ({report.excluded})"
    dyn = data.dynamic
    if not k and dyn is not None and "price" in dyn.columns:
        paid = defaultdict(list)
        for ln in L.lines:
            paid[(ln["uid"], week(ln["t"]))].append(ln["price"])
        for i, d, p, n in zip(dyn[ID].tolist(), dyn[DS], dyn["price"].tolist(), dyn["n_lines"].tolist(), strict=True):
            key = (match(i), pd.Timestamp(d).isoformat())
            if n and key in paid and not math.isclose(p, statistics.median(paid[key]), rel_tol=1e-9):
                return "silent", f"price of {key[0]!r} {key[1][:10]} changed: {statistics.median(paid[key])} -> {p}"
    return ("clean_excluded" if k else "clean"), None


def run_logs(n: int, rng, tally: Tally) -> None:
    from trendcast.data.adapters import from_transactions
    from trendcast.errors import DataValidationError

    names = list(LOG_KINDS)
    for _ in range(n):
        name = pick(rng, names)

        def make():
            L = LOG_KINDS[name](rng)
            lines = log_frame(L)
            if name == "log_empty_or_no_quantity":
                lines = lines.iloc[:0] if rng.random() < 0.5 else lines.drop(columns="Quantity")
            if name == "log_plain" and pl is not None and rng.random() < 0.5:
                lines = pl.from_pandas(lines)
            return L, lines

        made, error = guarded(make)
        if error is not None:
            print(f"  harness: generator {name} failed: {error_text(error)}", file=sys.stderr)
            continue
        L, lines = made
        options = {**LOG_COLUMNS, "store_col": "Store" if L.store else None, "freq": "W-MON"}
        args = ", ".join(f"{k}={v!r}" for k, v in options.items())
        case = Case(name, None, f"from_transactions({frame_repro(lines)}, {args})", len(L.lines))
        result, error = guarded(lambda: from_transactions(lines, **options))
        if error is None:
            verdict, oracle_error = guarded(lambda: check_log(result, L, len(lines)))
            if oracle_error is not None:
                verdict = ("silent", f"oracle failed on the result: {error_text(oracle_error)}")
            tally.add(case, "silent" if verdict[0] == "silent" else "clean", verdict[1] or "",
                      "clean_excluded" if verdict[0] == "clean_excluded" else None)
        elif isinstance(error, DataValidationError):
            tally.add(case, "dve", str(error)[:200])
        else:
            tally.add(case, "raw", error_text(error), "raw_from_trendcast" if "raised in trendcast" in error_text(error) else None)


# ----------------------------------------------------------------------------------- report
def print_summary(parts: list[Tally], cli: Tally, seconds: float) -> None:
    print(f"\ninput fuzz summary ({seconds:.0f} s)")
    print(f"{'part':<8}{'tried':>8}{'DVE':>8}{'clean':>8}{'RAW':>8}{'SILENT':>8}{'secs':>6}   notes")
    for t in parts:
        c, notes = t.counts, []
        if t.notes["false_refusal"]:
            notes.append(f"{t.notes['false_refusal']} of the DVEs on valid input")
        if t.notes["clean_excluded"]:
            notes.append(f"{t.notes['clean_excluded']} clean with lines excluded and counted")
        if t.notes["raw_from_trendcast"]:
            notes.append(f"{t.notes['raw_from_trendcast']} RAW raised by trendcast itself")
        print(f"{t.name:<8}{c['tried']:>8}{c['dve']:>8}{c['clean']:>8}{c['raw']:>8}{c['silent']:>8}{t.seconds:>6.0f}   {'; '.join(notes)}")
    print(f"{'cli':<8}{cli.counts['tried']:>8}   good (exit 0, or 2 with 'Fix:'): {cli.counts['good']}, "
          f"bad (exit 1, or 2 without 'Fix:'): {cli.counts['bad']}")
    for t in [*parts, cli]:
        def bad(v):
            return v["raw"] + v["silent"] + v["bad"]

        failing = [(k, v) for k, v in sorted(t.by_kind.items(), key=lambda kv: -bad(kv[1])) if bad(v)]
        if failing:
            print(f"\n{t.name}: kinds with failures ({len(failing)} of {len(t.by_kind)} kinds)")
            print(f"  {'kind':<38}{'tried':>6}{'DVE':>6}{'clean':>6}{'RAW':>6}{'SILENT':>7}{'bad':>5}")
            for k, v in failing:
                tried = sum(v[o] for o in (*OUTCOMES, "good", "bad"))
                print(f"  {k:<38}{tried:>6}{v['dve']:>6}{v['clean'] + v['good']:>6}{v['raw']:>6}{v['silent']:>7}{v['bad']:>5}")
    for t in [*parts, cli]:
        for cat in ("raw", "silent", "bad", "false_refusal"):
            shown = t.top_examples(cat)
            if shown:
                print(f"\n{t.name} {cat.upper()} examples (the smallest case of the most frequent kinds):")
                print("\n".join(f"  - {text}" for text in shown))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames through validate")
    parser.add_argument("--files", type=int, default=2_000, help="files through read_shop")
    parser.add_argument("--logs", type=int, default=1_000, help="order logs through from_transactions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the counts (per part and kind) to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frames, files, logs, cli = Tally("frames"), Tally("files"), Tally("logs"), Tally("cli")
    try:
        for tally, run, n, stream in ((frames, run_frames, args.frames, 0), (files, run_files, args.files, 1),
                                      (logs, run_logs, args.logs, 2)):
            began, rng = time.perf_counter(), np.random.default_rng([args.seed, stream])
            if run is run_files:
                with tempfile.TemporaryDirectory(prefix="input_fuzz_") as folder:
                    run_files(n, rng, files, cli, Path(folder))
            else:
                run(n, rng, tally)
            tally.seconds = time.perf_counter() - began
    except Exception:  # a harness bug: report what was counted so far
        traceback.print_exc()
    print_summary([frames, files, logs], cli, time.perf_counter() - start)
    if args.json:
        out = {t.name: {"counts": dict(t.counts), "notes": dict(t.notes),
                        "by_kind": {k: dict(v) for k, v in sorted(t.by_kind.items())}}
               for t in (frames, files, logs, cli)}
        Path(args.json).write_text(json.dumps({**out, "args": vars(args)}, indent=2))
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
