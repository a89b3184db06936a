"""Cold start: demand of a new product over its first periods, from its text, category and price.

A product with no sales yet has no history to extrapolate. `ColdStart` learns from established
products instead: their *early life* is the first ``n_periods`` periods of each series (series
start at the first sale, so this is the demand right after launch). A new product's early
demand is then predicted from products like it:

* ``"knn"``: the ``k`` established products whose text embeddings are closest (cosine), their
  early-life paths averaged (``aggregate``);
* ``"ridge"``: a ridge regression from the text embedding, the categories (one-hot) and the log
  price to ``log(1 + mean demand per period)``, spread over the periods with the average launch
  profile;
* ``"finetuned"``: the same log target from a sentence encoder fine-tuned on the training
  texts (`trendcast.text.finetune.FineTunedTextRegressor`, LoRA by default) added to a ridge
  regression on the categories and the log price (the text learns what they leave unexplained);
* ``"category_mean"`` and ``"global_mean"``: the baselines, the mean early-life path of the
  product's category (``cat_cols``), or of all products.

As sales arrive, `credibility_weight` and `blend_forecasts` move the forecast from the
cold-start prior to a history-based forecast: after ``n`` observed periods the prior keeps the
weight ``strength / (strength + n)`` (the Bühlmann credibility form: ``strength`` is the number
of periods of history worth as much as the prior).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trendcast._frames import like, to_pandas
from trendcast._params import Estimator

__all__ = ["ColdStart", "blend_forecasts", "credibility_weight"]

_METHODS = ("knn", "ridge", "finetuned", "category_mean", "global_mean")
_AGGREGATES = ("mean", "median", "geometric")
_FOLDS = 5  # folds of the out-of-fold errors behind the quantiles


class ColdStart(Estimator):
    """Forecasts the first ``n_periods`` of new products from text, category and price.

    Its contract differs from the forecasting models' (it forecasts products without sales,
    from a static frame): ``fit(sales, static)`` returns the model, ``predict(new)`` before it
    raises `trendcast.errors.NotFittedError`, and ``get_params``/``set_params``/``clone``
    behave as theirs. It is not saved: refit it (seconds, except ``"finetuned"``, whose text
    model `trendcast.text.finetune.FineTunedTextRegressor.save_to` keeps).

    Args:
        method: ``"knn"``, ``"ridge"``, ``"finetuned"``, ``"category_mean"`` or
            ``"global_mean"`` (see the module docstring).
        n_periods: length of the early life learned and forecast, in periods of the sales.
        k: neighbours for ``"knn"``.
        aggregate: how ``"knn"`` combines its neighbours: ``"mean"`` of their paths,
            ``"median"`` of their totals or ``"geometric"`` mean of ``1 + total`` (both times
            the neighbours' mean profile). The median suits absolute-error scores such as WAPE.
        alpha: ridge penalty for ``"ridge"`` (and of the category and price part of
            ``"finetuned"``).
        finetune: for ``"finetuned"``, an unfitted
            `trendcast.text.finetune.FineTunedTextRegressor` (copied, then fitted on the texts);
            ``None`` for its defaults (all-MiniLM-L6-v2 with LoRA).
        encoder: text encoder with ``fit(texts)``/``encode(texts)`` giving unit rows
            (`trendcast.text.TextEncoder`, `trendcast.text.HashingTfidf`, ...);
            `trendcast.text.default_encoder` when ``None``.
        text_cols: static text columns (joined; see `trendcast.text.product_texts`).
        cat_cols: static category columns for ``"category_mean"`` and ``"ridge"``.
        price_col: static numeric column with the launch (list) price for ``"ridge"``;
            ``None`` to leave price out.
        launch_col: column of the frame given to `predict` with the launch period; when
            present the forecast gets dates (``time_col``).
        yearly: for ``"ridge"``, add the time of year of the launch (cosine and sine of the
            day of year) and its products with the text rows, so that, say, winter words can
            mean more demand for a launch in autumn. The launch of a training series is its
            first period; `predict` then needs ``launch_col``.
        market_window: when > 0, early-life demand is learned relative to the market: each
            period's demand is divided by that period's mean demand per series on sale
            (relative to its mean over the sales), and forecasts are multiplied by that index
            averaged over the last ``market_window`` periods of the sales. Launches then
            follow the shop's current level (growth, the run-up to Christmas) instead of the
            level at the time the training products were launched.
        alias: name of the forecast column; ``"ColdStart"`` by default.
        id_col, time_col, target_col: column names of the sales and static frames.

    Example:
        >>> from trendcast.data.simulate import simulate_shop
        >>> from trendcast.text import HashingTfidf
        >>> shop = simulate_shop(n_items=30, n_stores=1, n_periods=40, freq="W-SUN", seed=0)
        >>> cs = ColdStart(method="knn", n_periods=4, k=5, encoder=HashingTfidf(), price_col=None)
        >>> fc = cs.fit(shop.data.sales, shop.data.static).predict(shop.data.static.head(2))
        >>> fc.columns.tolist(), len(fc)
        (['unique_id', 'step', 'ColdStart'], 8)
    """

    def __init__(
        self,
        *,
        method: str = "knn",
        n_periods: int = 8,
        k: int = 10,
        aggregate: str = "mean",
        alpha: float = 1.0,
        finetune: Any = None,
        encoder: Any = None,
        text_cols: tuple[str, ...] = ("title", "description"),
        cat_cols: tuple[str, ...] = ("cat_id",),
        price_col: str | None = "price",
        launch_col: str = "launch_ds",
        yearly: bool = False,
        market_window: int = 0,
        alias: str | None = None,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
    ):
        self.method = method
        self.n_periods = n_periods
        self.k = k
        self.aggregate = aggregate
        self.alpha = alpha
        self.finetune = finetune
        self.encoder = encoder
        self.text_cols = text_cols
        self.cat_cols = cat_cols
        self.price_col = price_col
        self.launch_col = launch_col
        self.yearly = yearly
        self.market_window = market_window
        self.alias = alias
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col

    def fit(self, sales: Any, static: Any) -> ColdStart:
        """Learns from the early life of every series in ``sales`` with ``n_periods`` rows.

        Args:
            sales: long frame ``id_col, time_col, target_col``; each series starts at its first
                period on sale. Series with fewer than ``n_periods`` rows are too young to learn
                from: they are left out and counted in ``n_too_young_``.
            static: one row per series of ``sales`` with ``text_cols``, ``cat_cols`` and
                ``price_col``.

        Returns:
            self, with ``paths_`` (early-life paths, one row per product), ``ids_``, the
            learned state of ``method`` and ``fold_ratios_`` (see `predict`'s quantiles).
        """
        self._learn(sales, static)
        self.fold_ratios_ = self._fold_ratios(to_pandas(sales, name="sales"), static)
        return self

    def _learn(self, sales: Any, static: Any) -> None:
        self._check_params()
        sales = to_pandas(sales, name="sales")
        for col in (self.id_col, self.time_col, self.target_col):
            if col not in sales.columns:
                raise ValueError(f"sales has no column '{col}' (columns: {list(sales.columns)}).")
        y = pd.to_numeric(sales[self.target_col], errors="coerce")
        if y.isna().any() or (y < 0).any():
            bad = sales.loc[y.isna() | (y < 0), [self.id_col, self.time_col]].head(5)
            raise ValueError(
                f"sales column '{self.target_col}' must be numbers >= 0; first bad rows:\n{bad}\n"
                "Fix or remove them (trendcast.validate reports them all)."
            )
        df = sales[[self.id_col, self.time_col]].assign(_y=y.to_numpy(float))
        df = df.sort_values([self.id_col, self.time_col], kind="stable")
        df["_step"] = df.groupby(self.id_col, observed=True).cumcount()
        length = df.groupby(self.id_col, observed=True).size()
        old = length.index[length >= self.n_periods]
        self.n_too_young_ = int((length < self.n_periods).sum())
        if old.size < 2:
            raise ValueError(
                f"only {old.size} series have {self.n_periods} periods of sales: cold start "
                "learns from at least 2 established products. Lower n_periods or add history."
            )
        early = df[df[self.id_col].isin(old) & (df["_step"] < self.n_periods)]
        self.market_level_ = 1.0
        if self.market_window:
            # Mean demand per series on sale, per period, relative to its average over the data.
            market = df.groupby(self.time_col)["_y"].mean()
            market = (market / market.mean()).clip(lower=1e-3)
            early = early.assign(_y=early["_y"] / early[self.time_col].map(market).to_numpy())
            self.market_level_ = float(market.iloc[-self.market_window :].mean())
        wide = early.pivot(index=self.id_col, columns="_step", values="_y")
        self.ids_ = wide.index.astype(str).to_numpy()
        self.paths_ = wide.to_numpy(float)
        self.freq_ = _frequency(df, self.id_col, self.time_col)
        totals = self.paths_.sum(axis=1)
        self.profile_ = _profile(self.paths_)
        self.global_path_ = self.paths_.mean(axis=0)

        info = self._static_rows(static, self.ids_, "static")
        if self.method == "category_mean":
            keys = self._cat_keys(info)
            self.category_paths_ = {
                key: self.paths_[keys == key].mean(axis=0) for key in np.unique(keys)
            }
        if self.method in ("knn", "ridge"):
            from trendcast.text import default_encoder, product_texts
            from trendcast.text.encoder import fit_if_needed

            _, texts = product_texts(info, id_col=self.id_col, text_cols=self.text_cols)
            self.encoder_ = fit_if_needed(self.encoder or default_encoder(), texts)
            self.embeddings_ = self.encoder_.encode(texts)
        if self.method in ("ridge", "finetuned"):
            first = df.groupby(self.id_col, observed=True)[self.time_col].min()
            first.index = first.index.astype(str)
            info[self.launch_col] = first.loc[self.ids_].to_numpy()
            rows = self.embeddings_ if self.method == "ridge" else np.zeros((len(info), 0))
            design = self._design(info, rows, learn=True)
            target = np.log1p(totals / self.n_periods)
            self.intercept_ = float(target.mean())
            self.coef_ = (
                _ridge(design, target - self.intercept_, self.alpha)
                if design.shape[1]
                else np.zeros(0)
            )
        if self.method == "finetuned":
            from trendcast.text import product_texts
            from trendcast.text.finetune import FineTunedTextRegressor

            _, texts = product_texts(info, id_col=self.id_col, text_cols=self.text_cols)
            residual = target - self.intercept_ - _dot(design, self.coef_)
            # Series sharing a text (one item in several stores) train once on their mean: the
            # same squared-error optimum, fewer forward passes.
            unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
            mean = np.bincount(inverse, weights=residual) / np.bincount(inverse)
            self.finetune_ = (self.finetune or FineTunedTextRegressor()).clone()
            self.finetune_.fit(unique.tolist(), mean)
        return self

    def _fold_ratios(self, sales: pd.DataFrame, static: Any) -> np.ndarray | None:
        """``(1 + actual) / (1 + forecast)`` of every launch's early total, each forecast by
        the same method fitted without its fold (`_FOLDS` folds, fixed by the ids' order)."""
        if self.method == "finetuned" or len(self.ids_) < 2 * _FOLDS:
            return None
        info = self._static_rows(static, self.ids_, "static")
        if self.launch_col not in info.columns:  # launched at their first sale
            first = sales.groupby(sales[self.id_col].astype(str))[self.time_col].min()
            info[self.launch_col] = first.loc[self.ids_].to_numpy()
        fold = np.arange(len(self.ids_)) % _FOLDS
        totals = self.paths_.sum(axis=1)
        ratios = np.empty(len(self.ids_))
        ids = sales[self.id_col].astype(str)
        encoder = getattr(self, "encoder_", self.encoder)
        for k in range(_FOLDS):
            held = fold == k
            part = self.clone().set_params(encoder=encoder)
            part._learn(sales[ids.isin(self.ids_[~held])], info[~held])
            forecast = part.predict(info[held])
            predicted = forecast.groupby(self.id_col, sort=False)[part.alias or "ColdStart"].sum()
            ratios[held] = (1 + totals[held]) / (1 + predicted.to_numpy())
        return ratios

    def predict(self, new: Any, quantiles: Sequence[float] = ()) -> Any:
        """Early-life forecasts of the products in ``new`` (a static frame, no sales needed).

        Args:
            new: one row per new product with ``id_col`` and what ``method`` uses (text,
                categories, price); with ``launch_col`` the output gets dates.
            quantiles: levels in (0, 1) of ``{alias}-q-{level}`` columns: each product's
                forecast scaled by that quantile of the ratio ``(1 + actual) / (1 + forecast)``
                of the launches' early totals, forecast out of fold (`fit` keeps them; not for
                ``"finetuned"``, whose refits would take minutes).

        Returns:
            Long frame (the type of ``new``): ``id_col``, ``step`` (1 = launch period),
            ``time_col`` when ``launch_col`` is given, the forecast column ``alias`` and one
            column per quantile level, in the order given.
        """
        self._check_fitted("predict")
        quantiles = [float(q) for q in quantiles]
        if any(not 0 < q < 1 for q in quantiles):
            raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {quantiles}.")
        if quantiles and self.fold_ratios_ is None:
            raise ValueError(
                "quantiles need the out-of-fold errors of the launches: "
                + ("method 'finetuned' does not keep them; use 'ridge' for quantiles."
                   if self.method == "finetuned"
                   else f"fewer than {2 * _FOLDS} launches to learn them from.")
            )  # fmt: skip
        frame = to_pandas(new, name="new")
        if self.id_col not in frame.columns:
            raise ValueError(f"new has no column '{self.id_col}' (columns: {list(frame.columns)}).")
        ids = frame[self.id_col].astype(str).to_numpy()
        if pd.Series(ids).duplicated().any():
            dup = pd.Series(ids)[pd.Series(ids).duplicated()].tolist()[:5]
            raise ValueError(f"new has several rows for {self.id_col} {dup}: keep one each.")
        if self.method == "global_mean":
            paths = np.tile(self.global_path_, (len(frame), 1))
        elif self.method == "category_mean":
            keys = self._cat_keys(frame)
            paths = (
                np.stack([self.category_paths_.get(key, self.global_path_) for key in keys])
                if len(frame)
                else np.zeros((0, self.n_periods))
            )
        else:
            from trendcast.text import product_texts

            _, texts = product_texts(frame, id_col=self.id_col, text_cols=self.text_cols)
            if self.method == "finetuned":
                design = self._design(frame, np.zeros((len(frame), 0)), learn=False)
                level = self.intercept_ + _dot(design, self.coef_) + self.finetune_.predict(texts)
                paths = np.expm1(level)[:, None] * self.n_periods * self.profile_[None, :]
            elif self.method == "knn":
                paths = self._knn(self.encoder_.encode(texts))
            else:
                rows = self.encoder_.encode(texts)
                level = self.intercept_ + _dot(self._design(frame, rows, learn=False), self.coef_)
                paths = np.expm1(level)[:, None] * self.n_periods * self.profile_[None, :]
        paths = np.clip(paths, 0.0, None) * self.market_level_
        out = pd.DataFrame(
            {
                self.id_col: np.repeat(ids, self.n_periods),
                "step": np.tile(np.arange(1, self.n_periods + 1), len(frame)),
            }
        )
        if self.launch_col in frame.columns:
            if self.freq_ is None:
                raise ValueError(
                    "the sales' frequency could not be inferred, so launch dates cannot be "
                    f"turned into forecast dates: drop '{self.launch_col}' to forecast by step."
                )
            launch = pd.to_datetime(frame[self.launch_col])
            if launch.isna().any():
                bad = frame.loc[launch.isna(), self.id_col].astype(str).tolist()[:5]
                raise ValueError(
                    f"new column '{self.launch_col}' is missing for {self.id_col} {bad}: give "
                    f"every launch date, or drop the column to forecast by step only."
                )
            offsets = [self.freq_ * int(s - 1) for s in range(1, self.n_periods + 1)]
            out[self.time_col] = [d + o for d in launch for o in offsets]
        alias = self.alias or "ColdStart"
        out[alias] = paths.ravel()
        total = paths.sum(axis=1, keepdims=True)
        # A forecast of nothing takes the launch profile, so its upper quantiles are not 0.
        shape = np.where(total > 0, paths / np.where(total > 0, total, 1.0), self.profile_)
        for q in quantiles:
            # The ratio scales 1 + units, as it was measured.
            level = np.clip((1 + total) * float(np.quantile(self.fold_ratios_, q)) - 1, 0, None)
            out[f"{alias}-q-{q:g}"] = (level * shape).ravel()
        return like(out, new)

    def _knn(self, rows: Any) -> np.ndarray:
        from trendcast.text.encoder import nearest

        picked, _ = nearest(rows, self.embeddings_, self.k)
        paths = self.paths_[picked]  # (n_new, k, n_periods)
        if self.aggregate == "mean":
            return paths.mean(axis=1)
        totals = paths.sum(axis=2)
        if self.aggregate == "median":
            total = np.median(totals, axis=1)
        else:
            total = np.expm1(np.log1p(totals).mean(axis=1))
        shape = paths.sum(axis=1)
        sums = shape.sum(axis=1, keepdims=True)
        shape = np.where(sums > 0, shape / np.where(sums > 0, sums, 1.0), self.profile_)
        return total[:, None] * shape

    def _design(self, frame: pd.DataFrame, rows: Any, *, learn: bool):
        """Text rows next to one-hot categories and the standardised log price."""
        from scipy import sparse

        extra = []
        if self.yearly:
            if self.launch_col not in frame.columns:
                raise ValueError(
                    f"yearly=True needs the launch date in column '{self.launch_col}' "
                    f"(columns: {list(frame.columns)})."
                )
            day = pd.to_datetime(frame[self.launch_col]).dt.dayofyear.to_numpy(float)
            if np.isnan(day).any():
                raise ValueError(f"column '{self.launch_col}' has missing launch dates.")
            angle = 2 * np.pi * day / 365.25
            cycle = np.column_stack([np.cos(angle), np.sin(angle)])
            rows = _interact(rows, cycle)
            extra.append(cycle)
        keys = self._cat_keys(frame) if self.cat_cols else None
        if keys is not None:
            if learn:
                self.categories_ = np.unique(keys)
            onehot = (keys[:, None] == self.categories_[None, :]).astype(float)
            extra.append(onehot)
        if self.price_col is not None:
            if self.price_col not in frame.columns:
                raise ValueError(
                    f"column '{self.price_col}' (price_col) is missing; add the launch price "
                    "or pass price_col=None."
                )
            price = pd.to_numeric(frame[self.price_col], errors="coerce").to_numpy(float)
            bad = ~(price > 0)
            if bad.any():
                ids = frame.loc[bad, self.id_col].astype(str).tolist()[:5]
                raise ValueError(
                    f"'{self.price_col}' must be a price > 0; {int(bad.sum())} rows are not, "
                    f"e.g. {self.id_col} {ids}."
                )
            logp = np.log(price)
            if learn:
                self.price_center_, self.price_scale_ = logp.mean(), logp.std() or 1.0
            extra.append(((logp - self.price_center_) / self.price_scale_)[:, None])
        if not extra:
            return rows
        block = np.hstack(extra)
        return (
            sparse.hstack([rows, block]).tocsr()
            if sparse.issparse(rows)
            else np.hstack([np.asarray(rows, float), block])
        )

    def _cat_keys(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.cat_cols if c not in frame.columns]
        if missing:
            raise ValueError(
                f"category columns {missing} are missing (columns: {list(frame.columns)}); "
                "add them or set cat_cols=()."
            )
        if not self.cat_cols:
            return np.full(len(frame), "", dtype=object)
        return frame[list(self.cat_cols)].astype(str).agg("|".join, axis=1).to_numpy(object)

    def _static_rows(self, static: Any, ids: np.ndarray, name: str) -> pd.DataFrame:
        df = to_pandas(static, name=name)
        if self.id_col not in df.columns:
            raise ValueError(f"{name} has no column '{self.id_col}' (columns: {list(df.columns)}).")
        df = df.assign(**{self.id_col: df[self.id_col].astype(str)})
        if df[self.id_col].duplicated().any():
            dup = df.loc[df[self.id_col].duplicated(), self.id_col].tolist()[:5]
            raise ValueError(f"{name} has several rows for {self.id_col} {dup}: keep one each.")
        absent = np.setdiff1d(ids, df[self.id_col].to_numpy())
        if absent.size:
            raise ValueError(
                f"{absent.size} series of the sales have no {name} row, e.g. "
                f"{absent[:5].tolist()}: add their text, category and price."
            )
        return df.set_index(self.id_col).loc[ids].reset_index()

    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"`method` must be one of {_METHODS}, got {self.method!r}.")
        if self.aggregate not in _AGGREGATES:
            raise ValueError(f"`aggregate` must be one of {_AGGREGATES}, got {self.aggregate!r}.")
        if not isinstance(self.market_window, (int, np.integer)) or self.market_window < 0:
            raise ValueError(
                f"`market_window` must be an integer >= 0, got {self.market_window!r}."
            )
        for name in ("n_periods", "k"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if not self.alpha > 0:
            raise ValueError(f"`alpha` must be > 0, got {self.alpha!r}.")


def credibility_weight(n_observed: Any, *, strength: float = 4.0) -> np.ndarray:
    """Weight of the cold-start prior after ``n_observed`` periods: ``strength / (strength + n)``.

    1 before the first sale, 1/2 after ``strength`` periods, towards 0 as history grows.

    Example:
        >>> credibility_weight([0, 4, 12], strength=4.0).tolist()
        [1.0, 0.5, 0.25]
    """
    n = np.asarray(n_observed, dtype=float)
    if not strength > 0 or (n < 0).any():
        raise ValueError(
            f"need strength > 0 and n_observed >= 0, got {strength!r}, {n_observed!r}."
        )
    return strength / (strength + n)


def blend_forecasts(
    forecasts: Any,
    sales: Any,
    *,
    cold_col: str = "ColdStart",
    history_col: str,
    strength: float = 4.0,
    alias: str = "Blend",
    id_col: str = "unique_id",
) -> Any:
    """Adds ``alias``: the cold-start and history forecasts mixed by `credibility_weight`.

    Args:
        forecasts: frame with ``id_col``, ``cold_col`` and ``history_col`` (one row per series
            and forecast period).
        sales: the history so far; each series' number of rows is its ``n_observed`` (a series
            without rows gets the prior alone, and its missing history forecast is allowed).
        cold_col: the cold-start forecast column.
        history_col: the history-based forecast column.
        strength: periods of history worth as much as the prior.
        alias: name of the new column.
        id_col: series id column of both frames.

    Returns:
        ``forecasts`` (same frame type) with the column ``alias``.
    """
    fc = to_pandas(forecasts, name="forecasts")
    hist = to_pandas(sales, name="sales")
    for col in (id_col, cold_col, history_col):
        if col not in fc.columns:
            raise ValueError(f"forecasts has no column '{col}' (columns: {list(fc.columns)}).")
    n = fc[id_col].astype(str).map(hist[id_col].astype(str).value_counts()).fillna(0.0)
    w = credibility_weight(n.to_numpy(float), strength=strength)
    history = fc[history_col].to_numpy(float)
    unusable = np.isnan(history) & (w < 1)
    if unusable.any():
        ids = fc.loc[unusable, id_col].astype(str).unique().tolist()[:5]
        raise ValueError(
            f"'{history_col}' is missing for series with sales, e.g. {id_col} {ids}: forecast "
            "them from their history first."
        )
    mixed = w * fc[cold_col].to_numpy(float) + (1 - w) * np.nan_to_num(history)
    return like(fc.assign(**{alias: mixed}), forecasts)


def _profile(paths: np.ndarray) -> np.ndarray:
    total = paths.sum()
    if total <= 0:
        return np.full(paths.shape[1], 1.0 / paths.shape[1])
    return paths.sum(axis=0) / total


def _frequency(df: pd.DataFrame, id_col: str, time_col: str):
    """The sales' period as a pandas offset, from the longest series; None if irregular."""
    longest = df.groupby(id_col, observed=True).size().idxmax()
    ds = pd.DatetimeIndex(df.loc[df[id_col] == longest, time_col]).sort_values()[:30]
    freq = pd.infer_freq(ds) if len(ds) >= 3 else None
    return pd.tseries.frequencies.to_offset(freq) if freq else None


def _ridge(design: Any, target: np.ndarray, alpha: float) -> Any:
    """Ridge coefficients; in the dual (n x n) for wide sparse designs, primal otherwise."""
    from scipy import sparse

    if sparse.issparse(design):
        gram = (design @ design.T).toarray()
        dual = np.linalg.solve(gram + alpha * np.eye(gram.shape[0]), target)
        return np.asarray(design.T @ dual).ravel()
    gram = design.T @ design
    return np.linalg.solve(gram + alpha * np.eye(gram.shape[0]), design.T @ target)


def _interact(rows: Any, cycle: np.ndarray) -> Any:
    """``[rows, rows * cycle[:, 0], rows * cycle[:, 1], ...]``, sparse if ``rows`` is."""
    from scipy import sparse

    if sparse.issparse(rows):
        blocks = [rows] + [sparse.diags(c) @ rows for c in cycle.T]
        return sparse.hstack(blocks).tocsr()
    rows = np.asarray(rows, float)
    return np.hstack([rows] + [rows * c[:, None] for c in cycle.T])


def _dot(design: Any, coef: np.ndarray) -> np.ndarray:
    return np.asarray(design @ coef).ravel()
