"""Growth, trend labels and the "what's trending" query.

`trend_table` compares each entity's (series, item, category or store) sales over the last
``window`` periods with two earlier windows and turns the comparisons into labels only when the
evidence clears stated thresholds:

* **Comparisons.** ``growth_last_year``: the recent window against the same window one season
  earlier (364 days, 52 weeks or 12 months), which cancels yearly seasonality; ``growth_previous``:
  against the window just before. With ``dynamic``, rates are per in-stock period at the regular
  price: out-of-stock periods (``in_stock``) and promotion periods (``promo``) are left out, so a
  stock-out does not read as a decline nor a promotion as a rise. The volume columns stay the
  units sold.
* **Which comparison drives the label** (``basis``): last year when the entity sold through the
  whole window a season ago; otherwise (launches younger than a season plus a window) the
  previous window, deseasonalised by the seasonal step of its peers (same ``cat_id`` where
  known): the ratio of the peers' sales in the same two windows one season earlier.
* **Evidence.** A quasi-Poisson rate-ratio test: with recent count ``a`` over exposure ``e_a``,
  comparison count ``b`` over ``e_b`` and seasonal step ``s``,
  ``log_ratio = log((a + 0.5) / e_a) - log((b + 0.5) / e_b) - log(s)`` and
  ``z = log_ratio / sqrt(phi * (1 / (a + 0.5) + 1 / (b + 0.5)))``, where ``phi >= 1`` is the
  entity's dispersion (variance over mean of its per-period sales in the last two windows).
* **Trend labels.** ``rising``: ``z >= min_z`` (default 3) AND growth ``>= min_change``
  (default +25%); ``declining``: ``z <= -min_z`` AND ratio ``<= 1 / (1 + min_change)`` (-20%);
  ``stable``: the 90% interval of the ratio lies within ``[1 / (1 + min_change), 1 + min_change]``
  (an equivalence test, so thin data is never called stable); otherwise ``unclear``.
  On the sample shop (``benchmarks/trend_labels.py``: 300 items in 3 stores, 3 seeds, 4 report
  dates; thresholds chosen on other seeds), 87-90% of ``rising`` and 92-95% of ``declining``
  labels match the true phase: the simulator's life-cycle x trend factor (no season, price or
  promotion) over the window against the same comparison window, up or down by more than 10%.
* **Hot movers**: rising and among the top ``hot_share`` (10%) of entities by recent volume.
* **Stock** (needs ``on_hand``): weeks of cover = on hand / weekly demand (the forecast when
  given, else the recent rate). ``dead stock``: stock on hand and no sale in the last two windows,
  or cover ``>= dead_weeks`` (52); ``slow mover``: cover ``>= slow_weeks`` (26).
* **Launches**: entities younger than one season with at least one full window of sales, compared
  with the median rate of established peers (same ``cat_id`` where known; a launch expectation
  the shop can read off its own range): ``above expectation`` / ``below expectation`` with the
  same ``min_z`` and ``min_change`` thresholds, ``as expected`` otherwise. With
  ``launch_peers="text"`` the peers are the ``k_peers`` established products whose titles and
  descriptions read most alike (`trendcast.text`), so a premium wool coat is held to other
  premium winter clothes rather than to its whole category.
* **Forecast**: the sum of the model's forecast over the next ``horizon`` periods with the sum of
  its outermost quantiles as the interval (exact if the periods' errors move together, wider than
  the interval of the sum otherwise), and the change of its rate against the recent rate.

`trending` answers "what is rising (or declining) now?" with filters and a ranked list whose
``reason`` column says why each entity is on it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast.data.contract import HIERARCHY_COLUMNS
from trendcast.data.validate import DataValidationError

__all__ = ["TREND_LABELS", "forecast_totals", "trend_table", "trending"]

TREND_LABELS = ("rising", "declining", "stable", "unclear")
_Z_INTERVAL = 1.645  # two-sided 90% interval for the stable (equivalence) test and growth bounds
_CONTINUITY = 0.5  # added to counts so that zero counts give finite ratios


def trend_table(
    sales: Any,
    *,
    static: Any | None = None,
    dynamic: Any | None = None,
    forecasts: Any | None = None,
    model: str | None = None,
    on_hand: Any | None = None,
    level: str | None = None,
    window: int = 28,
    horizon: int | None = None,
    season_length: int | None = None,
    min_z: float = 3.0,
    min_change: float = 0.25,
    hot_share: float = 0.1,
    slow_weeks: float = 26.0,
    dead_weeks: float = 52.0,
    launch_peers: str = "category",
    k_peers: int = 10,
    encoder: Any = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> Any:
    """One row per entity: recent growth, forecast change, weeks of cover, labels and the reason.

    The report date is the last period of ``sales``; see the module docstring for every
    comparison, test and threshold.

    Args:
        sales: long frame ``id_col, time_col, target_col``; daily, weekly or monthly.
        static: one row per series with hierarchy columns; needed for ``level`` other than
            ``id_col``, and for launch peers and the category filter (``cat_id``).
        dynamic: rows per series and period; its ``in_stock`` (1, 0 or the share of in-stock
            days) and ``promo`` (flag) leave stock-outs and promotions out of the rates.
        forecasts: output of `Forecaster.predict` covering at least ``horizon`` periods.
        model: the forecast alias to read; needed when ``forecasts`` holds several models.
        on_hand: one row per series: ``id_col``, ``on_hand`` (units, >= 0).
        level: ``id_col`` (default) or a hierarchy column of ``static`` (``item_id``,
            ``cat_id``, ``store_id``, ...): sales, forecasts and stock are summed to it.
        window: periods in each comparison window (28 days, 4 weeks, ...).
        horizon: forecast periods summed; defaults to ``window``.
        season_length: periods in a season; inferred (364 days, 52 weeks, 12 months).
        min_z: evidence threshold of the rate-ratio z-score.
        min_change: minimum relative change for rising (``+min_change``) and declining
            (ratio ``<= 1 / (1 + min_change)``).
        hot_share: share of entities, by recent volume, among which rising ones are hot movers.
        slow_weeks: weeks of cover from which an entity is a slow mover.
        dead_weeks: weeks of cover from which stock is dead.
        launch_peers: what a launch is compared with: ``"category"`` (the median rate of the
            established entities of its ``cat_id``) or ``"text"`` (of the ``k_peers``
            established products with the closest text; needs ``static`` with ``title`` and/or
            ``description`` and ``level`` a product: ``id_col`` or ``item_id``).
        k_peers: peers per launch for ``launch_peers="text"``.
        encoder: text encoder for ``launch_peers="text"`` (`trendcast.text.TextEncoder`,
            `trendcast.text.HashingTfidf`, ...); `trendcast.text.default_encoder` when ``None``.
        id_col: series id column.
        time_col: period column.
        target_col: sales column.

    Returns:
        Same frame type as ``sales``, one row per entity sorted by ``level``: ``level`` and the
        hierarchy columns constant within it; ``recent``, ``previous``, ``last_year`` (units
        sold); ``growth_previous``, ``z_previous`` (not deseasonalised), ``growth_last_year``,
        ``z_last_year``; ``basis``, ``growth``, ``growth_lo``, ``growth_hi`` (90% interval),
        ``z`` (the comparison behind the label); ``age`` (periods since the first row);
        ``forecast``, ``forecast_lo``, ``forecast_hi`` (units over the horizon),
        ``forecast_change``, ``forecast_change_lo``, ``forecast_change_hi`` (their rate against
        the recent rate); ``weekly_demand`` (the forecast's rate, else the recent one),
        ``on_hand``, ``weeks_of_cover`` (NaN without the inputs); ``trend``, ``hot``, ``stock``,
        ``launch``, ``launch_expected`` (units per period the launch's peers sell at regular
        price, NaN for entities that are not launches), ``labels``, ``reason``; ``as_of``,
        ``window``, ``horizon``.

    Example:
        >>> from trendcast.data.simulate import simulate_shop
        >>> shop = simulate_shop(n_items=10, n_stores=1, n_periods=450, seed=3)
        >>> table = trend_table(shop.data.sales, static=shop.data.static, level="item_id")
        >>> len(table), set(table["trend"]) <= set(TREND_LABELS)
        (10, True)
    """
    frame = to_pandas(sales, name="sales")
    _require(frame, [id_col, time_col, target_col], "sales")
    level = id_col if level is None else level
    window = _positive_int(window, "window")
    horizon = window if horizon is None else _positive_int(horizon, "horizon")
    _check_options(level, id_col, min_z, min_change, hot_share, launch_peers)
    _check_target(frame, id_col, time_col, target_col)
    step, default_season, periods_per_week = _frequency(frame[time_col])
    season_length = (
        default_season if season_length is None else _positive_int(season_length, "season_length")
    )
    rows, entity_of, entities, as_of = _entity_rows(
        frame, static, dynamic, level, id_col, time_col, target_col
    )
    back = _periods_back(rows["day"].to_numpy(), as_of, step)
    table = _window_sums(rows, back, window, season_length)
    table.index = pd.Index(np.asarray(entities, dtype=object)[table.index], name=level)
    peers = _peer_groups(table.index, static, level)

    out = _growth(table, peers, season_length, window, min_z, min_change)
    recent_rate = table["count_recent"] / table["exposure_recent"].where(
        table["exposure_recent"] > 0
    )
    fc = _forecast_sums(forecasts, model, horizon, entity_of, level, id_col, time_col, as_of)
    out = out.join(fc) if fc is not None else out.assign(**dict.fromkeys(_FORECAST_COLS, np.nan))
    for suffix in ("", "_lo", "_hi"):
        out[f"forecast_change{suffix}"] = out[f"forecast{suffix}"] / horizon / recent_rate - 1
    # A window sold entirely on promotion has no regular rate: its plain rate stands in.
    sell_rate = recent_rate.fillna(table["recent"] / window)
    weekly_demand = np.where(out["forecast"].notna(), out["forecast"] / horizon, sell_rate)
    out["weekly_demand"] = weekly_demand * periods_per_week
    out["on_hand"] = _on_hand(on_hand, entity_of, level, id_col, out.index)
    _stock_labels(out, table, hot_share, slow_weeks, dead_weeks)

    age = table["first_back"] + 1
    established = (age >= season_length).to_numpy()
    is_launch = (
        (age < season_length) & (age >= window) & (table["exposure_recent"] > 0)
    ).to_numpy()
    if launch_peers == "text":
        expected_rate, n_peers = _text_peer_rate(
            table.index, static, level, is_launch, established, recent_rate, k_peers, encoder
        )
        peer_words = f"the {n_peers} established products most like it"
    else:
        expected = recent_rate[established].groupby(peers[established].to_numpy()).median()
        expected_rate = peers.map(expected).to_numpy(dtype=float)
        peer_words = "its peers"
    out["launch"] = _launch_labels(table, is_launch, expected_rate, min_z, min_change)
    out["launch_expected"] = np.where(out["launch"] != "", expected_rate, np.nan)
    out["labels"] = _joined_labels(out)
    out["reason"] = _reasons(out, window, horizon, peer_words)
    out["as_of"] = as_of
    out["window"] = window
    out["horizon"] = horizon
    out = out.reset_index().sort_values(level, kind="stable").reset_index(drop=True)
    hierarchy = _constant_hierarchy(static, level, id_col, entity_of)
    if hierarchy is not None:
        out = out.merge(hierarchy, on=level, how="left")
        out = out[[level, *hierarchy.columns.drop(level), *out.columns.drop(hierarchy.columns)]]
    return like(out, sales)


def _check_options(
    level: str, id_col: str, min_z: float, min_change: float, hot_share: float, launch_peers: str
) -> None:
    for name, value in (("min_z", min_z), ("min_change", min_change), ("hot_share", hot_share)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    if launch_peers not in ("category", "text"):
        raise ValueError(f"`launch_peers` must be 'category' or 'text', got {launch_peers!r}.")
    if launch_peers == "text" and level not in (id_col, "item_id"):
        raise ValueError(
            f"launch_peers='text' compares products by their text, but level is {level!r}; "
            f"use level='{id_col}' or 'item_id', or launch_peers='category'."
        )


def _entity_rows(
    frame: pd.DataFrame,
    static: Any,
    dynamic: Any,
    level: str,
    id_col: str,
    time_col: str,
    target_col: str,
) -> tuple[pd.DataFrame, pd.Series, Any, pd.Timestamp]:
    """Sales per entity (of ``level``) and day, all and at regular price, with the share of
    its series in stock at regular price; the entity of each series; the entities; the last
    date."""
    # Integer codes for series, entities and days keep the work vectorised on big frames.
    series_codes, series_ids = pd.factorize(frame[id_col])
    series_ids = pd.Index(np.asarray(series_ids, dtype=object))
    entity_of = _entity_map(series_ids, static, level, id_col)
    entity_codes, entities = pd.factorize(entity_of.to_numpy())
    ds = pd.to_datetime(frame[time_col])
    if ds.isna().any():
        raise DataValidationError(
            "missing dates.",
            column=time_col,
            rows=frame.loc[ds.isna(), [id_col, time_col, target_col]],
            fix="give every row its period.",
        )
    day = ds.to_numpy().astype("datetime64[D]").astype(np.int64)
    _check_unique(
        frame,
        series_codes * (day.max() - day.min() + 1) + day - day.min(),
        id_col,
        time_col,
        target_col,
    )
    rows = pd.DataFrame(
        {
            "entity": entity_codes[series_codes],
            "day": day,
            "y": frame[target_col].to_numpy(dtype=float),
            "exposure": _regular_share(
                dynamic, series_codes, series_ids, day, id_col=id_col, time_col=time_col
            ),
        }
    )
    rows["y_regular"] = np.where(rows["exposure"] > 0, rows["y"], 0.0)
    if level != id_col:
        # A period of an aggregate counts by the share of its series in stock at regular price.
        rows = rows.groupby(["entity", "day"], sort=False).agg(
            y=("y", "sum"), y_regular=("y_regular", "sum"), exposure=("exposure", "mean")
        )
        rows = rows.reset_index()
    return rows, entity_of, entities, ds.max()


def _growth(
    table: pd.DataFrame,
    peers: pd.Series,
    season_length: int,
    window: int,
    min_z: float,
    min_change: float,
) -> pd.DataFrame:
    """Units per window, growth against the previous window (deseasonalised by the peers'
    step) and against last year, the comparison chosen (last year where there is one), the
    entity's age and its trend label."""
    step_ratio = _seasonal_step(table, peers, season_length, window)
    prev = _rate_ratio(table, "recent", "previous", 1.0)
    prev_adjusted = _rate_ratio(table, "recent", "previous", step_ratio)
    last = _rate_ratio(table, "recent", "last_year", 1.0)
    has_last_year = (table["first_back"] >= season_length + window - 1) & (
        table["exposure_last_year"] > 0
    )
    chosen = {k: np.where(has_last_year, last[k], prev_adjusted[k]) for k in prev}
    out = pd.DataFrame(index=table.index)
    for name in ("recent", "previous", "last_year"):
        out[name] = table[name]
    out["growth_previous"] = prev["growth"]
    out["z_previous"] = prev["z"]
    out["growth_last_year"] = np.where(table["exposure_last_year"] > 0, last["growth"], np.nan)
    out["z_last_year"] = np.where(table["exposure_last_year"] > 0, last["z"], np.nan)
    out["basis"] = np.where(has_last_year, "last year", "previous window")
    for name in ("growth", "growth_lo", "growth_hi", "z"):
        out[name] = chosen[name]
    out["age"] = table["first_back"] + 1
    out["trend"] = _trend_labels(chosen, min_z, min_change)
    return out


def _stock_labels(
    out: pd.DataFrame,
    table: pd.DataFrame,
    hot_share: float,
    slow_weeks: float,
    dead_weeks: float,
) -> None:
    """Adds weeks of cover and the hot, slow-mover and dead-stock labels to ``out``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(out["on_hand"] > 0, out["on_hand"] / out["weekly_demand"], 0.0)
    out["weeks_of_cover"] = np.where(out["on_hand"].notna(), cover, np.nan)
    volume_rank = out["recent"].rank(ascending=False, method="first")
    out["hot"] = (out["trend"] == "rising") & (volume_rank <= np.ceil(hot_share * len(out)))
    no_recent_sale = (table["recent"] + table["previous"]) == 0
    dead = (out["on_hand"] > 0) & (no_recent_sale | (out["weeks_of_cover"] >= dead_weeks))
    slow = (out["on_hand"] > 0) & (out["weeks_of_cover"] >= slow_weeks) & ~dead
    out["stock"] = np.select([dead, slow], ["dead stock", "slow mover"], "")


def trending(
    table: Any,
    *,
    direction: str = "rising",
    category: str | None = None,
    store: str | None = None,
    horizon: int | None = None,
    min_volume: float = 0.0,
    top: int = 20,
) -> Any:
    """The entities rising (or declining) now, strongest evidence first, with the reason.

    Ranked by the conservative end of the growth interval (``growth_lo`` for rising,
    ``growth_hi`` for declining), which rewards both a large change and strong evidence.

    Args:
        table: output of `trend_table`.
        direction: ``"rising"`` or ``"declining"``.
        category: keep only this ``cat_id``.
        store: keep only this ``store_id``.
        horizon: when given, the forecast look-ahead asked about: it must equal the table's
            ``horizon``, only entities whose forecast carries the move on over it are kept
            (forecast rate above the recent rate for rising, below it for declining) and the
            ranking follows the forecast change.
        min_volume: minimum units sold in the recent window.
        top: length of the list.

    Returns:
        Same frame type as ``table``: ``rank`` then the table's columns, at most ``top`` rows.

    Example:
        >>> from trendcast.data.simulate import simulate_shop
        >>> shop = simulate_shop(n_items=30, n_stores=1, n_periods=450, seed=3)
        >>> table = trend_table(shop.data.sales, static=shop.data.static)
        >>> top = trending(table, direction="declining", min_volume=10, top=5)
        >>> bool((top["trend"] == "declining").all()), len(top) <= 5
        (True, True)
    """
    frame = to_pandas(table, name="table")
    _require(frame, ["trend", "recent", "growth_lo", "growth_hi", "reason"], "table")
    if direction not in ("rising", "declining"):
        raise ValueError(f"`direction` must be 'rising' or 'declining', got {direction!r}.")
    top = _positive_int(top, "top")
    if not np.isfinite(min_volume) or min_volume < 0:
        raise ValueError(f"`min_volume` must be a number >= 0, got {min_volume!r}.")
    keep = (frame["trend"] == direction) & (frame["recent"] >= min_volume)
    for column, value, name in (("cat_id", category, "category"), ("store_id", store, "store")):
        if value is None:
            continue
        if column not in frame.columns:
            raise ValueError(
                f"`{name}` filters on column '{column}', which the table lacks: build it with "
                f"`static` holding '{column}' at a level below it."
            )
        known = sorted(frame[column].dropna().astype(str).unique())
        if str(value) not in known:
            raise ValueError(
                f"unknown {name} {value!r} in column '{column}'; known values: {known}."
            )
        keep &= frame[column].astype(str) == str(value)
    sign = 1.0 if direction == "rising" else -1.0
    key = frame["growth_lo"] if direction == "rising" else -frame["growth_hi"]
    if horizon is not None:
        horizon = _positive_int(horizon, "horizon")
        built = frame["horizon"].iloc[0] if len(frame) else horizon
        if "forecast_change" not in frame.columns or frame["forecast"].isna().all():
            raise ValueError(
                "`horizon` ranks by the forecast change, but the table has no forecasts: "
                "build it with `trend_table(..., forecasts=..., horizon=...)`."
            )
        if built != horizon:
            raise ValueError(
                f"the table's forecasts cover horizon={built}, not {horizon}: build it with "
                f"`trend_table(..., horizon={horizon})`."
            )
        keep &= sign * frame["forecast_change"] > 0
        key = sign * frame["forecast_change"]
    ranked = frame.loc[keep].assign(_key=key[keep]).sort_values("_key", ascending=False)
    ranked = ranked.drop(columns="_key").head(top).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return like(ranked, table)


def forecast_totals(
    forecasts: Any,
    *,
    horizon: int,
    model: str | None = None,
    static: Any | None = None,
    level: str | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> Any:
    """Per entity: the forecast and its outermost quantiles summed over the first periods.

    The quantile sums are the interval of the total when the periods' errors move together,
    and wider than it otherwise.

    Args:
        forecasts: output of `Forecaster.predict`: ``id_col``, ``time_col``, ``{model}`` and
            ``{model}-q-{q}`` columns.
        horizon: periods summed from each series' first forecast period.
        model: the alias to read; needed when ``forecasts`` holds several models.
        static: series hierarchy, for ``level`` other than ``id_col``.
        level: ``id_col`` (default) or a hierarchy column of ``static``.
        id_col: series id column.
        time_col: period column.

    Returns:
        Same frame type as ``forecasts``: ``level``, ``forecast``, ``forecast_lo``,
        ``forecast_hi`` (NaN without quantile columns).

    Example:
        >>> import pandas as pd
        >>> fc = pd.DataFrame({"unique_id": ["a"] * 3, "ds": pd.date_range("2024-01-01", periods=3),
        ...                    "M": [1.0, 2.0, 3.0], "M-q-0.1": [0.0, 1.0, 1.0],
        ...                    "M-q-0.9": [2.0, 4.0, 5.0]})
        >>> forecast_totals(fc, horizon=2).to_dict("records")
        [{'unique_id': 'a', 'forecast': 3.0, 'forecast_lo': 1.0, 'forecast_hi': 6.0}]
    """
    frame = to_pandas(forecasts, name="forecasts")
    _require(frame, [id_col, time_col], "forecasts")
    horizon = _positive_int(horizon, "horizon")
    level = id_col if level is None else level
    ids = pd.Index(np.asarray(pd.unique(frame[id_col]), dtype=object))
    entity_of = _entity_map(ids, static, level, id_col)
    sums = _forecast_sums(frame, model, horizon, entity_of, level, id_col, time_col, None)
    return like(sums.rename_axis(level).reset_index(), forecasts)


_FORECAST_COLS = ("forecast", "forecast_lo", "forecast_hi")


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing column(s) {missing}; it has {list(frame.columns)}.",
            frame=name,
            column=missing[0],
            fix="rename your columns or pass id_col/time_col/target_col.",
        )


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive whole number of periods, got {value!r}.")
    return int(value)


def _check_target(frame: pd.DataFrame, id_col: str, time_col: str, target_col: str) -> None:
    y = pd.to_numeric(frame[target_col], errors="coerce")
    bad = y.isna() | (y < 0)
    if bad.any():
        raise DataValidationError(
            "sales must be numbers >= 0 without missing values.",
            column=target_col,
            rows=frame.loc[bad, [id_col, time_col, target_col]],
            fix="fill or remove the rows (trendcast.validate can clip negatives on request).",
        )


def _check_unique(
    frame: pd.DataFrame, key: np.ndarray, id_col: str, time_col: str, target_col: str
) -> None:
    duplicated = pd.Index(key).duplicated(keep=False)
    if duplicated.any():
        raise DataValidationError(
            "duplicate (id, period) rows.",
            column=time_col,
            rows=frame.loc[duplicated, [id_col, time_col, target_col]],
            fix="sum the duplicates per id and period first.",
        )


def _frequency(ds: pd.Series) -> tuple[str, int, float]:
    """Returns the period step ('D', 'W' or 'M'), the season length and periods per week."""
    days = np.diff(np.unique(pd.to_datetime(ds).to_numpy()).astype("datetime64[D]").astype(int))
    if len(days) == 0:
        raise ValueError("sales hold a single period: a trend needs at least two windows.")
    median = float(np.median(days))
    if median == 1:
        return "D", 364, 7.0  # 52 weeks: the same weekdays a year earlier
    if median == 7:
        return "W", 52, 1.0
    if 28 <= median <= 31:
        return "M", 12, 12 / 52
    raise ValueError(
        f"cannot tell the frequency of the sales periods (median gap {median:g} days): "
        "trend tables need daily, weekly or monthly periods."
    )


def _periods_back(day: np.ndarray, as_of: pd.Timestamp, step: str) -> np.ndarray:
    """Periods from each day (days since 1970) back to the report date: 0 for the last one."""
    if step == "M":
        months = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return (as_of.year - 1970) * 12 + as_of.month - 1 - months
    days = np.int64(as_of.to_datetime64().astype("datetime64[D]").astype(np.int64)) - day
    return days // (7 if step == "W" else 1)


def _entity_map(ids: pd.Index, static: Any, level: str, id_col: str) -> pd.Series:
    """Maps every series id of the sales to its entity at ``level``."""
    if level == id_col:
        return pd.Series(ids, index=ids)
    if static is None:
        raise ValueError(f"level={level!r} needs `static` with columns '{id_col}' and '{level}'.")
    side = to_pandas(static, name="static")
    _require(side, [id_col, level], "static")
    mapping = side.drop_duplicates(id_col).set_index(side[id_col].astype(object).values)[level]
    unknown = ids.difference(mapping.index)
    if len(unknown):
        raise DataValidationError(
            f"{len(unknown)} series of the sales have no row in static.",
            frame="static",
            column=id_col,
            rows=pd.DataFrame({id_col: unknown[:20]}),
            fix=f"add a row with its '{level}' for every series.",
        )
    if mapping.loc[ids].isna().any():
        missing = ids[mapping.loc[ids].isna().to_numpy()]
        raise DataValidationError(
            f"missing '{level}' values.",
            frame="static",
            column=level,
            rows=pd.DataFrame({id_col: missing}),
            fix=f"fill '{level}' for every series.",
        )
    return mapping.loc[ids].astype(object)


def _regular_share(
    dynamic: Any,
    series_codes: np.ndarray,
    series_ids: pd.Index,
    day: np.ndarray,
    *,
    id_col: str,
    time_col: str,
) -> np.ndarray:
    """Share of each sales row's period in stock and off promotion (1 without the columns).

    Promotion periods weigh 0: their sales answer the discount, not the trend.
    """
    if dynamic is None:
        return np.ones(len(day))
    side = to_pandas(dynamic, name="dynamic")
    columns = [c for c in ("in_stock", "promo") if c in side.columns]
    if not columns:
        return np.ones(len(day))
    _require(side, [id_col, time_col], "dynamic")
    side_codes, side_ids = pd.factorize(side[id_col])
    side_series = series_ids.get_indexer(np.asarray(side_ids, dtype=object))[side_codes]
    side_day = pd.to_datetime(side[time_col]).to_numpy().astype("datetime64[D]").astype(np.int64)
    # One integer key per (series, day); rows of series the sales lack never match.
    first = min(day.min(), side_day.min())
    span = max(day.max(), side_day.max()) - first + 1
    side_key = np.where(
        side_series >= 0, side_series * span + side_day - first, -1 - np.arange(len(side))
    )
    sales_key = series_codes * span + day - first
    if np.array_equal(side_key, sales_key):  # the usual case: dynamic rows are the sales rows
        position = np.arange(len(day))
    else:
        side_index = pd.Index(side_key)
        if not side_index.is_unique:
            dup = side_index.duplicated(keep=False) & (side_series >= 0)
            raise DataValidationError(
                "duplicate (id, period) rows.",
                frame="dynamic",
                column=time_col,
                rows=side.loc[dup, [id_col, time_col]],
                fix="keep one row per id and period.",
            )
        position = side_index.get_indexer(sales_key)
    found = position >= 0

    def column(name: str, default: float) -> np.ndarray:
        if name not in side.columns:
            return np.full(len(day), default)
        values = np.full(len(day), np.nan)
        values[found] = side[name].to_numpy(dtype=float)[position[found]]
        return values

    share, promo = column("in_stock", 1.0), column("promo", 0.0)
    bad = (share < 0) | (share > 1)
    if bad.any():
        rows = pd.DataFrame(
            {
                id_col: series_ids[series_codes[bad]],
                time_col: day[bad].astype("datetime64[D]"),
                "in_stock": share[bad],
            }
        )
        raise DataValidationError(
            "in_stock must lie in [0, 1].",
            frame="dynamic",
            column="in_stock",
            rows=rows,
            fix="give 1 for in stock, 0 for out of stock (or the in-stock share of a period).",
        )
    # Periods without the information count as in stock and off promotion.
    share = np.where(np.isnan(share), 1.0, share)
    return np.where(np.nan_to_num(promo) > 0, 0.0, share)


def _window_sums(rows: pd.DataFrame, back: np.ndarray, window: int, season: int) -> pd.DataFrame:
    """Per entity: sales and exposure in the four windows, dispersion, periods since first row."""
    starts = {
        "recent": 0,
        "previous": window,
        "last_year": season,
        "last_year_prev": season + window,
    }
    entity = rows["entity"].to_numpy()
    n = int(entity.max()) + 1
    y, exposure = rows["y"].to_numpy(), rows["exposure"].to_numpy()
    regular = rows["y_regular"].to_numpy()
    sums = {}
    for name, start in starts.items():
        inside = (back >= start) & (back < start + window)
        where = entity[inside]
        sums[name] = np.bincount(where, weights=y[inside], minlength=n)
        sums[f"count_{name}"] = np.bincount(where, weights=regular[inside], minlength=n)
        sums[f"exposure_{name}"] = np.bincount(where, weights=exposure[inside], minlength=n)
    sums["first_back"] = pd.Series(back).groupby(entity).max().reindex(range(n)).to_numpy()
    # Dispersion: variance over mean of the per-period rates of the last two windows.
    last_two = (back < 2 * window) & (exposure > 0)
    where, rate = entity[last_two], regular[last_two] / exposure[last_two]
    count = np.bincount(where, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(where, weights=rate, minlength=n) / count
        var = (np.bincount(where, weights=rate**2, minlength=n) - count * mean**2) / (count - 1)
        dispersion = np.where((mean > 0) & (count > 1), var / mean, 1.0)
    sums["dispersion"] = np.maximum(1.0, np.nan_to_num(dispersion, nan=1.0))
    return pd.DataFrame(sums)


def _peer_groups(index: pd.Index, static: Any, level: str) -> pd.Series:
    """Peer group of each entity: its ``cat_id`` where the level sits below it, else everyone."""
    if static is not None and level != "cat_id":
        side = to_pandas(static, name="static")
        if "cat_id" in side.columns and level in side.columns:
            side = side.assign(_entity=side[level].astype(object))
            if side.groupby("_entity")["cat_id"].nunique().max() == 1:
                cats = side.drop_duplicates("_entity").set_index("_entity")["cat_id"]
                return cats.reindex(index).fillna("").astype(object)
    return pd.Series("", index=index, dtype=object)


def _seasonal_step(table: pd.DataFrame, peers: pd.Series, season: int, window: int) -> np.ndarray:
    """Per entity, the peers' rate ratio of the same two windows one season earlier."""
    established = table["first_back"] >= season + 2 * window - 1
    parts = table.loc[
        established,
        [
            "count_last_year",
            "exposure_last_year",
            "count_last_year_prev",
            "exposure_last_year_prev",
        ],
    ]
    by_group = parts.groupby(peers[established].to_numpy()).sum()
    ratio = (by_group["count_last_year"] / by_group["exposure_last_year"]) / (
        by_group["count_last_year_prev"] / by_group["exposure_last_year_prev"]
    )
    ratio = ratio.replace([np.inf, -np.inf], np.nan).where(ratio > 0)
    return peers.map(ratio).fillna(1.0).to_numpy(dtype=float)


def _rate_ratio(table: pd.DataFrame, a: str, b: str, step: Any) -> dict[str, np.ndarray]:
    """Quasi-Poisson rate ratio of window ``a`` against window ``b`` times the seasonal step."""
    count_a, count_b = table[f"count_{a}"].to_numpy(), table[f"count_{b}"].to_numpy()
    exp_a = table[f"exposure_{a}"].to_numpy()
    exp_b = table[f"exposure_{b}"].to_numpy()
    valid = (exp_a > 0) & (exp_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (
            np.log((count_a + _CONTINUITY) / exp_a)
            - np.log((count_b + _CONTINUITY) / exp_b)
            - np.log(step)
        )
        se = np.sqrt(
            table["dispersion"].to_numpy()
            * (1 / (count_a + _CONTINUITY) + 1 / (count_b + _CONTINUITY))
        )
    log_ratio = np.where(valid, log_ratio, np.nan)
    return {
        "growth": np.expm1(log_ratio),
        "growth_lo": np.expm1(log_ratio - _Z_INTERVAL * se),
        "growth_hi": np.expm1(log_ratio + _Z_INTERVAL * se),
        "z": log_ratio / se,
    }


def _trend_labels(chosen: dict[str, np.ndarray], min_z: float, min_change: float) -> np.ndarray:
    ratio = chosen["growth"] + 1
    up, down = 1 + min_change, 1 / (1 + min_change)
    rising = (chosen["z"] >= min_z) & (ratio >= up)
    declining = (chosen["z"] <= -min_z) & (ratio <= down)
    stable = (chosen["growth_lo"] + 1 >= down) & (chosen["growth_hi"] + 1 <= up)
    return np.select([rising, declining, stable], ["rising", "declining", "stable"], "unclear")


def _text_peer_rate(
    index: pd.Index,
    static: Any,
    level: str,
    is_launch: np.ndarray,
    established: np.ndarray,
    recent_rate: pd.Series,
    k: int,
    encoder: Any,
) -> tuple[np.ndarray, int]:
    """Per launch, the median recent rate of the ``k`` established entities with the closest
    text, and the number of peers that took (fewer when fewer are established); NaN for the
    other entities and for launches without text in ``static`` (they are named in a warning).
    """
    from trendcast.text import default_encoder, product_texts
    from trendcast.text.encoder import fit_if_needed, nearest
    from trendcast.text.similarity import TEXT_COLS

    if static is None:
        raise ValueError("launch_peers='text' reads the products' text: pass static.")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"`k_peers` must be a positive integer, got {k!r}.")
    side = to_pandas(static, name="static")
    present = [c for c in TEXT_COLS if c in side.columns]
    if not present:
        raise ValueError(
            f"launch_peers='text' reads the static columns {list(TEXT_COLS)}, and static has "
            f"neither (columns: {list(side.columns)}); add them or use launch_peers='category'."
        )
    products, texts = product_texts(side, id_col=level, skip_empty=True)
    position = pd.Index(products[level].astype(object)).get_indexer(index)
    silent = np.flatnonzero(is_launch & (position < 0))
    if silent.size:
        warnings.warn(
            f"{silent.size} launches have no title or description in static (e.g. "
            f"{index[silent[:3]].tolist()}): they get no launch label.",
            UserWarning,
            stacklevel=3,
        )
    rate = recent_rate.to_numpy(dtype=float)
    pool = np.flatnonzero(established & np.isfinite(rate) & (position >= 0))
    launches = np.flatnonzero(is_launch & (position >= 0))
    expected = np.full(len(index), np.nan)
    if pool.size == 0 or launches.size == 0:
        return expected, 0
    fitted = fit_if_needed(encoder if encoder is not None else default_encoder(), texts)
    picked, _ = nearest(
        fitted.encode([texts[i] for i in position[launches]]),
        fitted.encode([texts[i] for i in position[pool]]),
        k,
    )
    expected[launches] = np.median(rate[pool][picked], axis=1)
    return expected, picked.shape[1]


def _launch_labels(
    table: pd.DataFrame,
    is_launch: np.ndarray,
    expected_rate: np.ndarray,
    min_z: float,
    min_change: float,
) -> np.ndarray:
    """Launches (younger than a season, one full window sold) against their expected rate."""
    count = table["count_recent"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((count + _CONTINUITY) / table["exposure_recent"].to_numpy()) - np.log(
            expected_rate
        )
        z = log_ratio / np.sqrt(table["dispersion"].to_numpy() / (count + _CONTINUITY))
    known = is_launch & (expected_rate > 0)
    above = known & (z >= min_z) & (log_ratio >= np.log1p(min_change))
    below = known & (z <= -min_z) & (log_ratio <= -np.log1p(min_change))
    return np.select(
        [above, below, known], ["above expectation", "below expectation", "as expected"], ""
    )


def _forecast_sums(
    forecasts: Any,
    model: str | None,
    horizon: int,
    entity_of: pd.Series,
    level: str,
    id_col: str,
    time_col: str,
    as_of: pd.Timestamp | None,
) -> pd.DataFrame | None:
    """Per entity: sums of the forecast and its outermost quantiles over the next periods."""
    if forecasts is None:
        return None
    frame = to_pandas(forecasts, name="forecasts")
    _require(frame, [id_col, time_col], "forecasts")
    aliases = [c for c in frame.columns if c not in (id_col, time_col) and "-q-" not in c]
    if model is None:
        if len(aliases) != 1:
            raise ValueError(f"`forecasts` holds models {aliases}: name one with `model=`.")
        model = aliases[0]
    _require(frame, [model], "forecasts")
    quantiles = sorted(
        (float(c.split("-q-")[1]), c) for c in frame.columns if c.startswith(f"{model}-q-")
    )
    ids = frame[id_col].astype(object)
    unknown = pd.Index(ids.unique()).difference(entity_of.index)
    if len(unknown):
        raise DataValidationError(
            "forecast ids unknown to the sales.",
            frame="forecasts",
            column=id_col,
            rows=pd.DataFrame({id_col: unknown[:20]}),
            fix="forecast the same series as the sales.",
        )
    future = frame if as_of is None else frame[pd.to_datetime(frame[time_col]) > as_of]
    future = future.sort_values([id_col, time_col], kind="stable")
    future["_step"] = future.groupby(id_col, observed=True, sort=False).cumcount()
    short = future.groupby(id_col, observed=True)["_step"].max() + 1 < horizon
    if short.any() or len(future) == 0:
        raise ValueError(
            f"`forecasts` must cover horizon={horizon} periods after the sales for every "
            f"series; short: {list(short[short].index[:10])}. Forecast further or lower horizon."
        )
    future = future[future["_step"] < horizon]
    columns = {"forecast": model}
    if quantiles:
        columns.update({"forecast_lo": quantiles[0][1], "forecast_hi": quantiles[-1][1]})
    sums = pd.DataFrame({k: future[c].to_numpy(dtype=float) for k, c in columns.items()})
    sums[level] = entity_of.loc[future[id_col].astype(object).to_numpy()].to_numpy()
    sums = sums.groupby(level, sort=False).sum()
    return sums.reindex(columns=list(_FORECAST_COLS))


def _on_hand(
    on_hand: Any, entity_of: pd.Series, level: str, id_col: str, index: pd.Index
) -> np.ndarray:
    if on_hand is None:
        return np.full(len(index), np.nan)
    frame = to_pandas(on_hand, name="on_hand")
    _require(frame, [id_col, "on_hand"], "on_hand")
    units = pd.to_numeric(frame["on_hand"], errors="coerce")
    bad = units.isna() | (units < 0)
    if bad.any():
        raise DataValidationError(
            "on-hand stock must be a number >= 0.",
            frame="on_hand",
            column="on_hand",
            rows=frame.loc[bad, [id_col, "on_hand"]],
            fix="count the stock again; give 0 for none (back orders are not stock).",
        )
    ids = frame[id_col].astype(object)
    if ids.duplicated().any():
        raise DataValidationError(
            "one row per series expected.",
            frame="on_hand",
            column=id_col,
            rows=frame.loc[ids.duplicated(keep=False), [id_col, "on_hand"]],
            fix="sum the stock per series first.",
        )
    unknown = ~ids.isin(entity_of.index)
    if unknown.any():
        raise DataValidationError(
            "series unknown to the sales.",
            frame="on_hand",
            column=id_col,
            rows=frame.loc[unknown, [id_col, "on_hand"]],
            fix="give stock only for series in the sales.",
        )
    per_entity = units.groupby(entity_of.loc[ids.to_numpy()].to_numpy()).sum()
    # Entities without a stock row have unknown stock, not zero.
    return per_entity.reindex(index).to_numpy(dtype=float)


def _constant_hierarchy(
    static: Any, level: str, id_col: str, entity_of: pd.Series
) -> pd.DataFrame | None:
    """Hierarchy columns of ``static`` that take one value per entity."""
    if static is None:
        return None
    side = to_pandas(static, name="static")
    if id_col not in side.columns:
        return None
    columns = [c for c in HIERARCHY_COLUMNS if c in side.columns and c != level]
    if not columns:
        return None
    side = side[side[id_col].astype(object).isin(entity_of.index)]
    frame = (
        side[columns]
        .astype(object)
        .assign(**{level: entity_of.loc[side[id_col].astype(object).to_numpy()].to_numpy()})
    )
    constant = frame.groupby(level)[columns].nunique() <= 1
    columns = [c for c in columns if constant[c].all()]
    if not columns:
        return None
    return frame.drop_duplicates(level)[[level, *columns]]


def _joined_labels(out: pd.DataFrame) -> list[str]:
    trend = out["trend"].where(out["trend"] != "unclear", "")
    hot = np.where(out["hot"], "hot mover", "")
    launch = np.where(out["launch"] != "", "launch " + out["launch"], "")
    parts = zip(trend, hot, out["stock"], launch, strict=True)
    return [", ".join(p for p in row if p) for row in parts]


def _reasons(out: pd.DataFrame, window: int, horizon: int, peer_words: str) -> list[str]:
    """One human-readable sentence per entity saying what the labels rest on."""
    reasons = []
    for row in out.itertuples(index=False):
        last_year = row.basis == "last year"
        comparison = row.last_year if last_year else row.previous
        when = "the same window a season earlier" if last_year else "the previous window"
        text = f"{row.trend}: {row.recent:,.0f} units in the last {window} periods vs "
        text += f"{comparison:,.0f} in {when}"
        if np.isfinite(row.growth):
            adjusted = "" if last_year else " seasonally adjusted"
            text += f", {row.growth:+.0%}{adjusted} (z={row.z:.1f})"
        else:
            text += " (no sales periods there to compare with yet)"
        if row.hot:
            text += "; among the best sellers"
        if np.isfinite(row.forecast):
            text += f"; forecast {row.forecast:,.0f}"
            if np.isfinite(row.forecast_lo):
                text += f" ({row.forecast_lo:,.0f}-{row.forecast_hi:,.0f})"
            text += f" over the next {horizon} periods"
            if np.isfinite(row.forecast_change):
                text += f", {row.forecast_change:+.0%} on the recent rate"
        if np.isfinite(row.on_hand):
            text += f"; {row.on_hand:,.0f} on hand, "
            if np.isfinite(row.weeks_of_cover):
                text += f"{row.weeks_of_cover:,.1f} weeks of cover"
            else:
                text += "no demand to cover it"
            if row.stock:
                text += f" ({row.stock})"
        if row.launch:
            text += (
                f"; launched {row.age} periods ago, {row.launch} against {peer_words} "
                f"({row.launch_expected:,.1f} a period expected)"
            )
        reasons.append(text)
    return reasons
