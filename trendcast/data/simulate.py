"""A seeded simulator of a shop whose demand process is known exactly.

`simulate_shop` returns a `SampleShop`: the observable data in the contract (`ShopData`) and the
`GroundTruth` that generated it. Everything is drawn from one seed, so the same call returns the same
frames, and the truth is the exact process behind the data, not an estimate of it.

The model, per series ``s`` (an item ``i`` of category ``c`` in store ``j``) and day ``t``::

    baseline[s, t] = base_level[s] * weekly[c, dow(t)] * yearly[i, t] * trend[i, t]
                     * life_cycle[i, t] * event[c, t]
    expected_demand[s, t] = baseline[s, t] * (price[s, t] / ref_price[i]) ** elasticity[i]
                            * promo_uplift[i] ** promo[s, t]
    latent_demand[s, t] ~ NegBin(mean=expected_demand, var=mean + mean**2 / nb_size[s])
    y[s, t] = latent_demand[s, t] * in_stock[s, t]
    atc ~ Poisson(atc_per_unit * m), clicks = atc + Poisson((clicks_per_unit - atc_per_unit) * m),
    views = clicks + Poisson((views_per_unit - clicks_per_unit) * m + background_views),
    with m = expected_demand[s, t + behaviour_lead[s]]

* ``base_level = item_rate * store_effect``: units per day at the reference price, without
  promotion, on an average weekday, season and event-free day, at the start of the window.
* ``weekly`` is a category day-of-week profile with mean 1.
* ``yearly = 1 + season_amplitude * cos(2 pi (day_of_year - peak) / 365.25)``: summer items peak on
  15 July (day 196), winter items on 16 December (day 350), all-year items have amplitude 0.
* ``trend = exp(trend_per_year * years since the window start)``.
* ``life_cycle``: 1 for items on sale all along. New items launch on ``launch_ds`` (their series
  starts there: no rows before) and ramp up as ``1 - exp(-(days since launch + 1) / ramp_days)``.
  Discontinued items fade linearly to 0 over ``fade_days`` before ``end_ds``; from ``end_ds`` on
  the item is delisted: the rows go on with ``expected_demand = y = 0``, no promotion, and
  ``in_stock = 1`` (a zero after ``end_ds`` is a true zero, not a censored one).
* ``event``: multiplicative effect of yearly dated events per category (`GroundTruth.events`);
  stores are closed on Christmas day (effect 0, so demand is 0).
* ``price`` is the price charged that day, promotion discount included; ``ref_price`` is the
  item's regular price at the window start. Regular prices change permanently a few times; a
  promotion charges ``round(regular * (1 - discount), 2)``. The promotion flag then multiplies
  demand by ``promo_uplift`` on top of the price effect, so
  ``log expected_demand = log baseline + elasticity * log(price / ref_price) + log(promo_uplift) * promo``
  and ``baseline_demand`` in the truth is the expected demand at the reference price without
  promotion.
* Stock-out episodes (store level, 1 to 21 days, 4 on average) set ``in_stock = 0`` and censor
  sales to 0; the truth keeps the latent demand of those days.
* Text: titles and descriptions are built from the department noun, season words ("summer",
  "beach", "wool", "winter", ...), quality words ("premium", "basic", ...) and noise (brands,
  adjectives, colours). Reviews arrive at 2% of units sold, at most 2 per series and calendar
  month, with ratings drawn from a quality-tier distribution (mean 3.2 basic, 3.8 standard,
  4.4 premium) and text drawn from rating-specific sentiment phrases.

Weekly frequencies are simulated daily and aggregated: sums of ``y``, demand and behaviour counts,
the mean price and the share of in-stock days over the series' days in the week, the maximum of
the promotion flag, and the week's event names joined with ``"|"``; each week is labelled with its
anchor day (the Sunday for ``"W-SUN"``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trendcast.data.contract import ShopData

__all__ = ["GroundTruth", "SampleShop", "sample_stock", "simulate_shop"]

# Category-level parameters. Means of the item-level draws; the exact per-item values are in the
# truth.
_CATEGORIES = ("FOODS", "HOUSEHOLD", "HOBBIES", "APPAREL")
_CAT_WEIGHT = np.array([0.35, 0.25, 0.2, 0.2])
_CAT_N_DEPTS = (3, 2, 2, 2)
_CAT_PRICE = np.array([3.5, 9.0, 18.0, 30.0])  # median regular price of a standard item
_CAT_RATE = np.array([1.8, 1.0, 0.7, 0.6])  # volume multiplier of a regular item
_CAT_ELASTICITY = np.array([-1.0, -1.4, -1.8, -2.2])
_CAT_UPLIFT = np.array([1.45, 1.3, 1.5, 1.35])
# Probabilities of the seasons (summer, winter, all-year) per category.
_CAT_SEASON_P = np.array([[0.15, 0.15, 0.7], [0.1, 0.1, 0.8], [0.3, 0.2, 0.5], [0.4, 0.4, 0.2]])
# Day-of-week profiles, Monday first; normalised to mean 1 below.
_CAT_WEEKLY = np.array(
    [
        [0.92, 0.88, 0.88, 0.92, 1.05, 1.25, 1.10],
        [0.95, 0.92, 0.92, 0.95, 1.00, 1.20, 1.06],
        [0.80, 0.78, 0.80, 0.85, 1.00, 1.45, 1.32],
        [0.85, 0.85, 0.88, 0.92, 1.05, 1.40, 1.05],
    ]
)
_WEEKLY = (_CAT_WEEKLY / _CAT_WEEKLY.mean(axis=1, keepdims=True)).astype(np.float32)

_SEASONS = ("summer", "winter", "all-year")
_SEASON_PEAK_DOY = (196.0, 350.0, 0.0)
_QUALITIES = ("basic", "standard", "premium")
_QUALITY_P = np.array([0.3, 0.45, 0.25])
_QUALITY_PRICE = np.array([0.7, 1.0, 1.7])
_QUALITY_RATE = np.array([1.25, 1.0, 0.7])
# Rating distributions (1..5 stars) per quality tier: means 3.2, 3.8 and 4.4.
_QUALITY_RATING_P = np.array(
    [
        [0.12, 0.15, 0.28, 0.28, 0.17],
        [0.05, 0.08, 0.20, 0.37, 0.30],
        [0.02, 0.03, 0.08, 0.30, 0.57],
    ]
)

_LIFECYCLES = ("mature", "new", "declining", "discontinued")
_LIFECYCLE_P = np.array([0.6, 0.2, 0.1, 0.1])
_SLOW_MOVER_SHARE = 0.25
_DISCOUNTS = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.4], dtype=np.float32)
_MAX_PRICE_CHANGES = 4
_MAX_LEAD = 4
_REVIEW_RATE = 0.02  # reviews per unit sold
_MAX_REVIEWS_PER_MONTH = 2  # per series and calendar month
_BLOCK = 512  # series per block; fixed so that results never depend on the machine

# Yearly events: multiplier per category (FOODS, HOUSEHOLD, HOBBIES, APPAREL).
_EVENTS = {
    "new_year": (0.6, 0.6, 0.6, 0.6),
    "valentines": (1.25, 1.0, 1.15, 1.2),
    "easter": (1.5, 1.05, 1.2, 1.1),
    "summer_sale": (1.05, 1.2, 1.3, 1.6),
    "black_friday": (1.1, 1.6, 2.0, 1.8),
    "cyber_monday": (1.0, 1.3, 1.5, 1.4),
    "christmas_eve": (1.6, 1.1, 1.3, 1.2),
    "christmas": (0.0, 0.0, 0.0, 0.0),
    "boxing_day": (0.9, 1.3, 1.4, 1.5),
}

# Text vocabulary. Nouns per department and season; the season and quality words carry signal,
# brands, adjectives and colours are noise.
_DEPARTMENTS = {
    "FOODS_1": {  # snacks
        "summer": ["ice lolly", "fruit sorbet", "frozen yogurt", "trail mix"],
        "winter": ["gingerbread", "mince pies", "roasted chestnuts", "fruitcake"],
        "all-year": ["crisps", "cookies", "crackers", "pretzels", "popcorn", "granola bar"],
    },
    "FOODS_2": {  # beverages
        "summer": ["lemonade", "iced tea", "cold brew", "sparkling water"],
        "winter": ["hot chocolate", "mulled wine", "chai latte", "spiced cider"],
        "all-year": ["orange juice", "coffee", "green tea", "cola", "mineral water"],
    },
    "FOODS_3": {  # pantry
        "summer": ["barbecue sauce", "salad dressing", "grill spices", "couscous"],
        "winter": ["soup mix", "porridge oats", "stuffing mix", "gravy granules"],
        "all-year": ["pasta", "rice", "olive oil", "cereal", "jam", "honey"],
    },
    "HOUSEHOLD_1": {  # cleaning
        "summer": ["insect repellent", "patio cleaner", "window wipes", "bbq cleaner"],
        "winter": ["de-icer", "boot tray", "damp absorber", "radiator brush"],
        "all-year": ["detergent", "sponges", "dish soap", "surface spray", "laundry pods"],
    },
    "HOUSEHOLD_2": {  # home
        "summer": ["garden lantern", "outdoor cushion", "picnic blanket", "electric fan"],
        "winter": ["scented candle", "throw blanket", "hot water bottle", "heated mug"],
        "all-year": ["towel set", "storage box", "table lamp", "cushion", "photo frame"],
    },
    "HOBBIES_1": {  # toys and games
        "summer": ["water pistol", "sand castle set", "bubble machine", "paddling pool"],
        "winter": ["advent calendar", "snow globe kit", "jigsaw puzzle", "christmas craft kit"],
        "all-year": ["board game", "building set", "card game", "plush toy", "puzzle"],
    },
    "HOBBIES_2": {  # outdoor and sport
        "summer": ["kite", "frisbee", "camping chair", "snorkel set"],
        "winter": ["sledge", "ski goggles", "ice skates", "hand warmers"],
        "all-year": ["yoga mat", "water bottle", "dumbbells", "skipping rope", "backpack"],
    },
    "APPAREL_1": {  # clothing
        "summer": ["shorts", "swimsuit", "sun dress", "linen shirt"],
        "winter": ["sweater", "parka", "thermal leggings", "fleece jacket"],
        "all-year": ["t-shirt", "jeans", "hoodie", "chinos", "polo shirt"],
    },
    "APPAREL_2": {  # accessories and footwear
        "summer": ["sandals", "sun hat", "sunglasses", "flip flops"],
        "winter": ["scarf", "gloves", "beanie", "snow boots"],
        "all-year": ["sneakers", "belt", "wallet", "cap", "socks"],
    },
}
_SEASON_WORDS = {
    "summer": ["summer", "beach", "sunny", "outdoor", "tropical", "picnic"],
    "winter": ["winter", "wool", "cozy", "festive", "thermal", "snowy"],
    "all-year": [],
}
_SEASON_SENTENCES = {
    "summer": [
        "Perfect for sunny beach days and summer picnics.",
        "Made for hot summer afternoons outdoors.",
        "A summer favourite for holidays in the sun.",
    ],
    "winter": [
        "Keeps you cozy through cold winter nights.",
        "A festive winter classic for the snowy season.",
        "Warm wool comfort when the temperature drops.",
    ],
    "all-year": [
        "Made for everyday use all year round.",
        "A dependable everyday choice in any season.",
        "Useful whatever the weather.",
    ],
}
_QUALITY_WORDS = {
    "basic": ["basic", "value", "essential", "economy"],
    "standard": ["standard", "classic"],
    "premium": ["premium", "deluxe", "luxury", "signature"],
}
_QUALITY_SENTENCES = {
    "basic": [
        "A basic, budget-friendly essential.",
        "Simple value for money without frills.",
    ],
    "standard": [
        "Reliable quality at a fair price.",
        "Solid everyday quality.",
    ],
    "premium": [
        "Crafted from premium materials with a deluxe finish.",
        "Luxury quality that lasts for years.",
    ],
}
_BRANDS = [
    "Acorn", "Bramble", "Cobalt", "Driftwood", "Ember", "Fable", "Granite", "Harbor", "Indigo",
    "Juniper", "Kestrel", "Lumen", "Meadow", "Nimbus", "Orchard", "Pebble", "Quill", "Rowan",
    "Saffron", "Tundra", "Umber", "Velvet", "Willow", "Yarrow", "Zephyr", "Northwind", "Maple",
    "Solstice", "Larkspur", "Copper",
]  # fmt: skip
_ADJECTIVES = ["compact", "modern", "soft", "bold", "light", "smart", "natural", "fresh", "urban"]
_COLOURS = ["red", "blue", "green", "black", "white", "grey", "navy", "yellow", "pink", "orange"]
_NOISE_SENTENCES = [
    "Comes in a recyclable package.",
    "Designed in-house by our product team.",
    "Check the size guide before ordering.",
    "Available while stocks last.",
    "Pairs well with the rest of the range.",
    "",
]

_REVIEW_OPENERS = {
    1: ["Terrible", "Awful, broke quickly", "Complete waste of money", "Very poor quality"],
    2: ["Disappointing", "Not great", "Below expectations", "Poor quality"],
    3: ["It's okay", "Average at best", "Does the job", "Not bad, not great"],
    4: ["Very good", "Really happy with it", "Good quality", "Works well"],
    5: ["Absolutely love it", "Excellent quality", "Fantastic purchase", "Highly recommend"],
}
_REVIEW_DETAILS = {
    "negative": ["Arrived damaged", "Stopped working after a week", "Cheap materials",
                 "Not as described", "Asked for a refund"],
    "neutral": ["Shipping was slow", "As expected", "Nothing special",
                "Quality could be better", "Okay value"],
    "positive": ["Would buy again", "Arrived quickly", "Great value", "Exactly as described",
                 "My family loves it"],
}  # fmt: skip


@dataclass
class GroundTruth:
    """The exact process behind a simulated shop.

    Attributes:
        series: one row per ``unique_id`` with the series' parameters: hierarchy (``item_id``,
            ``store_id``, ``dept_id``, ``cat_id``), ``quality`` (basic/standard/premium),
            ``season`` (summer/winter/all-year), ``season_amplitude``, ``base_level``,
            ``store_effect``, ``trend_per_year``, ``lifecycle`` (mature/new/declining/
            discontinued), ``launch_ds`` (NaT if on sale from the window start), ``ramp_days``,
            ``end_ds`` (first day of zero demand, NaT if alive), ``fade_days``, ``ref_price``,
            ``elasticity``, ``promo_uplift``, ``nb_size``, ``promo_rate`` and ``stockout_rate``
            (episode starts per day), ``behaviour_lead`` (days by which views, clicks and
            add-to-carts lead demand), ``views_per_unit``, ``clicks_per_unit``,
            ``atc_per_unit``, ``background_views``, ``intermittent`` (slow mover:
            ``base_level`` below 0.5 per day, so most days sell nothing), ``mean_demand`` (mean expected demand per row) and
            ``demand_class`` (Syntetos-Boylan class of the observed in-stock sales: smooth,
            erratic, intermittent, lumpy, or zero).
        demand: one row per sales row (``unique_id``, ``ds``): ``expected_demand`` (the mean of
            the latent demand after all effects), ``latent_demand`` (the demand drawn before
            stock-out censoring; ``y == latent_demand`` wherever ``in_stock`` is 1) and
            ``baseline_demand`` (expected demand at the reference price without promotion).
        events: the daily event effects: one row per (``ds``, ``event``, ``cat_id``) with the
            multiplicative ``effect`` on demand, always at daily resolution.
    """

    series: pd.DataFrame
    demand: pd.DataFrame
    events: pd.DataFrame


@dataclass
class SampleShop:
    """A simulated shop: the observable data and the truth that generated it.

    Attributes:
        data: the shop in the data contract, with ``sales``, ``static``, ``dynamic`` and
            ``reviews`` frames.
        truth: the ground truth behind ``data``.
    """

    data: ShopData
    truth: GroundTruth


def simulate_shop(
    *,
    n_items: int = 100,
    n_stores: int = 3,
    n_periods: int = 730,
    start: str = "2022-01-03",
    freq: str = "D",
    seed: int = 0,
    reviews: bool = True,
    future_periods: int = 0,
) -> SampleShop:
    """Simulates a shop with known demand: many items in several stores, with prices, promotions,
    events, stock-outs, a browsing funnel, product text and reviews.

    See the module docstring for the exact model. Series are ``f"{item_id}_{store_id}"``, e.g.
    ``"FOODS_1_007_S2"``; all frames are sorted by ``unique_id`` then ``ds``, and ``unique_id``
    is a categorical whose categories are the sorted ids.

    Args:
        n_items: number of items; each is sold in every store.
        n_stores: number of stores.
        n_periods: number of periods (days, or weeks for a weekly ``freq``).
        start: first day of the window. For a weekly ``freq`` the first week is the one ending on
            the first anchor day on or after ``start``.
        freq: ``"D"`` or a weekly alias such as ``"W-SUN"`` (``"W"`` means ``"W-SUN"``).
        seed: seed of the random generator; the same arguments give identical frames.
        reviews: whether to simulate the reviews frame.
        future_periods: periods simulated past the sales, as a shop knows them in advance:
            ``data.dynamic`` gets their planned price, promotion and events (behaviour and
            availability, not known in advance, are NaN there) and ``truth.demand`` their
            demand, so forecasts can be scored against the truth.

    Returns:
        A `SampleShop`. ``data.sales`` has ``unique_id, ds, y`` (float32 counts);
        ``data.static`` has ``unique_id, item_id, store_id, dept_id, cat_id, title,
        description``; ``data.dynamic`` has ``unique_id, ds, price, promo, in_stock, event,
        views, clicks, add_to_carts`` on exactly the sales rows (``in_stock`` is the share of
        in-stock days for weekly data); ``data.reviews`` has ``unique_id, ds, rating, text``
        (``None`` when ``reviews=False``).

    Example:
        >>> shop = simulate_shop(n_items=20, n_stores=2, n_periods=120, seed=1)
        >>> shop.data.sales.columns.tolist()
        ['unique_id', 'ds', 'y']
        >>> bool((shop.data.sales["y"] >= 0).all())
        True
    """
    if not isinstance(future_periods, (int, np.integer)) or future_periods < 0:
        raise ValueError(f"`future_periods` must be an integer >= 0, got {future_periods!r}.")
    cal = _calendar(start=start, n_periods=n_periods + future_periods, freq=freq)
    for name, value in (("n_items", n_items), ("n_stores", n_stores)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    item_ss, block_ss = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(item_ss)
    items = _draw_items(rng, n_items=n_items, n_days=cal["n_days"])
    ser = _draw_series(rng, items, n_stores=n_stores)
    ev = _events(cal)
    n_series = len(ser["uid"])

    # Rows per series: the series starts in the period of its launch day and runs to the end.
    first_period = ser["launch"] // 7 if cal["weekly"] else ser["launch"]
    n_rows_s = (cal["n_periods"] - first_period).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_rows_s)])
    n_rows = int(offsets[-1])
    weekly = cal["weekly"]
    out = {
        "ds": np.empty(n_rows, dtype="datetime64[ns]"),
        "y": np.empty(n_rows, dtype=np.float32),
        "expected": np.empty(n_rows, dtype=np.float32),
        "latent": np.empty(n_rows, dtype=np.float32),
        "baseline": np.empty(n_rows, dtype=np.float32),
        "price": np.empty(n_rows, dtype=np.float32),
        "promo": np.empty(n_rows, dtype=np.int8),
        "in_stock": np.empty(n_rows, dtype=np.float32 if weekly else np.int8),
        "event": np.empty(n_rows, dtype=np.int8),
        "views": np.empty(n_rows, dtype=np.int32),
        "clicks": np.empty(n_rows, dtype=np.int32),
        "add_to_carts": np.empty(n_rows, dtype=np.int32),
        "mean_demand": np.empty(n_series, dtype=np.float64),
        "demand_class": np.empty(n_series, dtype=np.int8),
    }
    bounds = list(range(0, n_series, _BLOCK)) + [n_series]
    seeds = block_ss.spawn(len(bounds) - 1)
    jobs = [(bounds[k], bounds[k + 1], np.random.default_rng(seeds[k])) for k in range(len(seeds))]

    def run(job: tuple[int, int, np.random.Generator]) -> tuple[np.ndarray, ...] | None:
        s0, s1, block_rng = job
        return _simulate_block(s0, s1, items, ser, cal, ev, block_rng, out, offsets, reviews)

    workers = min(4, os.cpu_count() or 1, len(jobs))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            block_reviews = list(pool.map(run, jobs))
    else:
        block_reviews = [run(job) for job in jobs]

    uid_categories = pd.Index(ser["uid"], dtype=object)
    codes = np.repeat(np.arange(n_series, dtype=np.int32), n_rows_s)

    def uid_col(c: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(c, categories=uid_categories)

    event_col = pd.Categorical.from_codes(out["event"], categories=ev["period_names"])
    sales = pd.DataFrame({"unique_id": uid_col(codes), "ds": out["ds"], "y": out["y"]}, copy=False)
    dynamic = pd.DataFrame(
        {
            "unique_id": uid_col(codes),
            "ds": out["ds"],
            "price": out["price"],
            "promo": out["promo"],
            "in_stock": out["in_stock"],
            "event": event_col,
            "views": out["views"],
            "clicks": out["clicks"],
            "add_to_carts": out["add_to_carts"],
        },
        copy=False,
    )
    demand = pd.DataFrame(
        {
            "unique_id": uid_col(codes),
            "ds": out["ds"],
            "expected_demand": out["expected"],
            "latent_demand": out["latent"],
            "baseline_demand": out["baseline"],
        },
        copy=False,
    )
    it = ser["item"]
    static = pd.DataFrame(
        {
            "unique_id": uid_col(np.arange(n_series, dtype=np.int32)),
            "item_id": items["item_id"][it],
            "store_id": ser["store_id"],
            "dept_id": items["dept_id"][it],
            "cat_id": np.asarray(_CATEGORIES, dtype=object)[items["cat"][it]],
            "title": items["title"][it],
            "description": items["description"][it],
        }
    )
    series = _truth_series(static, items, ser, cal, out)
    review_frame = None
    if reviews:
        review_frame = _review_frame(block_reviews, uid_categories, cal)
    if future_periods:
        sales, static, dynamic, review_frame = _split_future(
            sales, static, dynamic, review_frame, cal["labels"][n_periods]
        )
    data = ShopData(
        sales=sales, freq=cal["freq"], static=static, dynamic=dynamic, reviews=review_frame
    )
    return SampleShop(
        data=data, truth=GroundTruth(series=series, demand=demand, events=ev["truth"])
    )


def sample_stock(data: ShopData, *, seed: int = 0) -> pd.DataFrame:
    """Stock on hand and unit costs for a simulated shop, to try the inventory and pricing tools.

    Each series holds between none and six weeks of its last four weeks' sales rate (drawn
    uniformly, so some run short), except one in seven, overstocked with 12 to 30 weeks; its
    unit cost is 40% to 70% of its last price.

    Args:
        data: a shop in the contract with a ``price`` column in ``dynamic`` (e.g.
            ``simulate_shop(...).data``).
        seed: seed of the draws.

    Returns:
        One row per series: ``unique_id``, ``on_hand`` (whole units), ``unit_cost``.

    Example:
        >>> shop = simulate_shop(n_items=4, n_stores=1, n_periods=60, reviews=False)
        >>> sample_stock(shop.data).columns.tolist()
        ['unique_id', 'on_hand', 'unit_cost']
    """
    id_col, time_col, target_col = (
        data.columns.id_col,
        data.columns.time_col,
        data.columns.target_col,
    )
    if data.dynamic is None or "price" not in data.dynamic:
        raise ValueError("sample_stock needs the shop's prices: a `price` column in `dynamic`.")
    sales = data.sales
    recent = sales[sales[time_col] > sales[time_col].max() - pd.Timedelta(days=28)]
    rate = recent.groupby(id_col, observed=True)[target_col].sum() / 28.0  # units per day
    history = data.dynamic[data.dynamic[time_col] <= sales[time_col].max()]
    price = history.groupby(id_col, observed=True)["price"].last().reindex(rate.index)
    rng = np.random.default_rng(seed)
    overstocked = rng.random(len(rate)) < 1 / 7
    cover_days = np.where(
        overstocked, rng.uniform(84.0, 210.0, len(rate)), rng.uniform(0.0, 42.0, len(rate))
    )
    return pd.DataFrame(
        {
            id_col: rate.index,
            "on_hand": np.round(rate.to_numpy() * cover_days),
            "unit_cost": np.round(price.to_numpy() * rng.uniform(0.4, 0.7, len(rate)), 2),
        }
    )


def _split_future(sales, static, dynamic, reviews, first_future):
    """Cuts sales and reviews at ``first_future``; dynamic keeps the plannable future."""
    past = sales["ds"] < first_future
    sales = sales[past].reset_index(drop=True)
    # Items launched in the future have no sales yet, so no place in the side frames either.
    listed = sales["unique_id"].unique()
    static = static[static["unique_id"].isin(listed)].reset_index(drop=True)
    dynamic = dynamic[dynamic["unique_id"].isin(listed)].reset_index(drop=True)
    future = dynamic["ds"] >= first_future
    for name in ("in_stock", "views", "clicks", "add_to_carts"):
        dynamic[name] = dynamic[name].astype(np.float32)
        dynamic.loc[future, name] = np.nan
    if reviews is not None:
        reviews = reviews[reviews["ds"] < first_future].reset_index(drop=True)
    return sales, static, dynamic, reviews


def _calendar(*, start: str, n_periods: int, freq: str) -> dict:
    if not isinstance(n_periods, (int, np.integer)) or n_periods < 1:
        raise ValueError(f"`n_periods` must be a positive integer, got {n_periods!r}.")
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as err:
        raise ValueError(
            f"`freq` must be 'D' or a weekly alias such as 'W-SUN', got {freq!r}."
        ) from err
    start_ts = pd.Timestamp(start).normalize()
    if isinstance(offset, pd.offsets.Day) and offset.n == 1:
        weekly = False
        labels = pd.date_range(start_ts, periods=n_periods, freq="D")
        days = labels
    elif isinstance(offset, pd.offsets.Week) and offset.n == 1 and offset.weekday is not None:
        weekly = True
        labels = pd.date_range(start_ts, periods=n_periods, freq=offset)
        days = pd.date_range(labels[0] - pd.Timedelta(days=6), labels[-1], freq="D")
    else:
        raise ValueError(
            f"`freq` must be 'D' or a weekly alias such as 'W-SUN', got {freq!r}; "
            "simulate daily and aggregate for other frequencies."
        )
    n_days = len(days)
    days_x = pd.date_range(days[0], periods=n_days + _MAX_LEAD, freq="D")
    months = days.year * 12 + days.month
    month_starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    return {
        "weekly": weekly,
        "freq": "D" if not weekly else offset.freqstr,
        "labels": labels.to_numpy(dtype="datetime64[ns]"),
        "days": days,
        "days_x": days_x,
        "n_days": n_days,
        "n_periods": n_periods,
        "dow_x": days_x.dayofweek.to_numpy(),
        "doy_x": days_x.dayofyear.to_numpy().astype(np.float32),
        "month_starts": month_starts,
        "month_ends": np.r_[month_starts[1:] - 1, n_days - 1],
    }


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    n = h + el - 7 * m + 114
    return date(year, n // 31, n % 31 + 1)


def _event_dates(year: int) -> dict[str, list[date]]:
    nov1 = date(year, 11, 1)
    thanksgiving = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    black_friday = thanksgiving + timedelta(days=1)
    return {
        "new_year": [date(year, 1, 1)],
        "valentines": [date(year, 2, 14)],
        "easter": [_easter(year)],
        "summer_sale": [date(year, 7, d) for d in range(1, 8)],
        "black_friday": [black_friday],
        "cyber_monday": [black_friday + timedelta(days=3)],
        "christmas_eve": [date(year, 12, 24)],
        "christmas": [date(year, 12, 25)],
        "boxing_day": [date(year, 12, 26)],
    }


def _events(cal: dict) -> dict:
    days_x = cal["days_x"]
    n_x = len(days_x)
    day0 = days_x[0].date()
    names = np.full(n_x, "", dtype=object)
    effect = np.ones((len(_CATEGORIES), n_x), dtype=np.float32)
    rows = []
    for year in range(days_x[0].year, days_x[-1].year + 1):
        for name, dates in _event_dates(year).items():
            for d in dates:
                k = (d - day0).days
                if 0 <= k < n_x:
                    names[k] = name if names[k] == "" else f"{names[k]}|{name}"
                    effect[:, k] *= np.asarray(_EVENTS[name], dtype=np.float32)
                    if k < cal["n_days"]:
                        for c, cat in enumerate(_CATEGORIES):
                            rows.append((days_x[k], name, cat, _EVENTS[name][c]))
    truth = pd.DataFrame(rows, columns=["ds", "event", "cat_id", "effect"])
    truth = truth.sort_values(["ds", "event", "cat_id"], ignore_index=True)
    day_names = names[: cal["n_days"]]
    if cal["weekly"]:
        weeks = day_names.reshape(-1, 7)
        period = np.array(["|".join(n for n in week if n) for week in weeks], dtype=object)
    else:
        period = day_names
    period_names, period_codes = np.unique(period.astype(str), return_inverse=True)
    # "" sorts first, so the code 0 means no event.
    return {
        "effect": effect,
        "truth": truth,
        "period_names": pd.Index(period_names, dtype=object),
        "period_codes": period_codes.astype(np.int8),
    }


def _round_price(p: np.ndarray) -> np.ndarray:
    """Charm prices: one decimal minus a cent (3.49, 29.99), at least 0.19."""
    return np.maximum(np.round(p, 1) - 0.01, 0.19)


def _draw_items(rng: np.random.Generator, *, n_items: int, n_days: int) -> dict:
    n_x = n_days + _MAX_LEAD
    cat = rng.choice(len(_CATEGORIES), size=n_items, p=_CAT_WEIGHT)
    dept_no = rng.integers(0, np.asarray(_CAT_N_DEPTS)[cat]) + 1
    dept_id = np.array(
        [f"{_CATEGORIES[c]}_{d}" for c, d in zip(cat, dept_no, strict=True)], dtype=object
    )
    # Number items within their department, in draw order.
    item_no = np.empty(n_items, dtype=np.int64)
    for d in np.unique(dept_id):
        where = np.flatnonzero(dept_id == d)
        item_no[where] = np.arange(1, len(where) + 1)
    width = max(3, len(str(int(item_no.max()))))
    item_id = np.array(
        [f"{d}_{n:0{width}d}" for d, n in zip(dept_id, item_no, strict=True)], dtype=object
    )

    quality = rng.choice(3, size=n_items, p=_QUALITY_P)
    u = rng.random(n_items)
    season = (u[:, None] > _CAT_SEASON_P[cat].cumsum(axis=1)).sum(axis=1)
    season = np.minimum(season, 2)
    amplitude = np.where(season == 2, 0.0, rng.uniform(0.3, 0.8, n_items))

    slow = rng.random(n_items) < _SLOW_MOVER_SHARE
    regular_rate = np.exp(rng.normal(np.log(3.0), 0.8, n_items)) * _CAT_RATE[cat]
    regular_rate = np.clip(regular_rate * _QUALITY_RATE[quality], 0.8, 150.0)
    rate = np.where(slow, rng.uniform(0.03, 0.3, n_items), regular_rate)

    lifecycle = rng.choice(len(_LIFECYCLES), size=n_items, p=_LIFECYCLE_P)
    slope = rng.normal(0.0, 0.15, n_items)
    slope = np.where(lifecycle == 1, rng.normal(0.05, 0.2, n_items), slope)
    slope = np.where(lifecycle == 2, -rng.uniform(0.3, 0.9, n_items), slope)
    slope = np.where(lifecycle == 3, rng.normal(0.0, 0.1, n_items), slope)
    launch_hi = max(2, int(0.85 * n_days))
    launch = np.where(lifecycle == 1, rng.integers(1, launch_hi, n_items), 0)
    launch = np.minimum(launch, n_days - 1)
    ramp_days = np.where(lifecycle == 1, rng.uniform(7.0, 60.0, n_items), 0.0)
    end = rng.integers(int(0.3 * n_days), max(int(0.95 * n_days), int(0.3 * n_days) + 1), n_items)
    end = np.where(lifecycle == 3, np.maximum(end, 1), np.iinfo(np.int32).max)
    fade_days = np.where(lifecycle == 3, rng.uniform(30.0, 120.0, n_items), 0.0)

    base_price = np.exp(rng.normal(np.log(_CAT_PRICE[cat]), 0.4)) * _QUALITY_PRICE[quality]
    levels = np.empty((n_items, _MAX_PRICE_CHANGES + 1))
    levels[:, 0] = _round_price(base_price)
    n_changes = np.minimum(rng.poisson(0.7 * n_days / 365.0, n_items), _MAX_PRICE_CHANGES)
    change_day = np.sort(rng.integers(1, n_x, (n_items, _MAX_PRICE_CHANGES)), axis=1)
    change_day = np.where(np.arange(_MAX_PRICE_CHANGES) < n_changes[:, None], change_day, n_x + 1)
    step = np.exp(rng.normal(0.03, 0.1, (n_items, _MAX_PRICE_CHANGES)))
    for k in range(_MAX_PRICE_CHANGES):
        levels[:, k + 1] = _round_price(levels[:, k] * step[:, k])

    elasticity = np.clip(rng.normal(_CAT_ELASTICITY[cat], 0.35), -3.0, -0.5)
    uplift = np.exp(rng.normal(np.log(_CAT_UPLIFT[cat]), 0.15))

    title, description = _item_text(rng, dept_id=dept_id, season=season, quality=quality)
    return {
        "item_id": item_id,
        "dept_id": dept_id,
        "cat": cat,
        "quality": quality,
        "season": season,
        "amplitude": amplitude,
        "slow": slow,
        "rate": rate,
        "lifecycle": lifecycle,
        "slope": slope,
        "launch": launch,
        "ramp_days": ramp_days,
        "end": end,
        "fade_days": fade_days,
        "levels": levels.astype(np.float32),
        "change_day": change_day,
        "elasticity": elasticity,
        "uplift": uplift,
        "title": title,
        "description": description,
    }


def _item_text(
    rng: np.random.Generator, *, dept_id: np.ndarray, season: np.ndarray, quality: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(dept_id)
    draws = rng.random((n, 10))
    titles = np.empty(n, dtype=object)
    descriptions = np.empty(n, dtype=object)

    def pick(options: list[str], u: float) -> str:
        return options[int(u * len(options))]

    for k in range(n):
        s, q, u = _SEASONS[season[k]], _QUALITIES[quality[k]], draws[k]
        noun = pick(_DEPARTMENTS[dept_id[k]][s], u[0])
        brand = pick(_BRANDS, u[1])
        colour = pick(_COLOURS, u[2])
        words = [brand]
        if q != "standard" or u[3] < 0.3:
            words.append(pick(_QUALITY_WORDS[q], u[4]))
        if _SEASON_WORDS[s] and u[5] < 0.8:
            words.append(pick(_SEASON_WORDS[s], u[6]))
        if u[7] < 0.5:
            words.append(pick(_ADJECTIVES, u[8]))
        words += [colour, noun]
        titles[k] = " ".join(w.capitalize() for w in " ".join(words).split())
        descriptions[k] = " ".join(
            part
            for part in (
                f"The {colour} {noun} from {brand}.",
                pick(_SEASON_SENTENCES[s], u[9]),
                pick(_QUALITY_SENTENCES[q], u[4]),
                pick(_NOISE_SENTENCES, u[8]),
            )
            if part
        )
    return titles, descriptions


def _draw_series(rng: np.random.Generator, items: dict, *, n_stores: int) -> dict:
    n_items = len(items["item_id"])
    width = len(str(n_stores))
    store_ids = np.array([f"S{j + 1:0{width}d}" for j in range(n_stores)], dtype=object)
    store_effect = np.clip(np.exp(rng.normal(0.0, 0.35, n_stores)), 0.5, 1.6)
    item = np.repeat(np.arange(n_items), n_stores)
    store = np.tile(np.arange(n_stores), n_items)
    uid = np.array(
        [f"{i}_{s}" for i, s in zip(items["item_id"][item], store_ids[store], strict=True)]
    )
    n = len(uid)
    promoted = rng.random(n) < 0.8
    params = {
        "promo_rate": np.where(promoted, rng.uniform(1 / 90, 1 / 30, n), 0.0),
        "stockout_rate": rng.exponential(1 / 150, n),
        "nb_size": rng.uniform(2.0, 20.0, n),
        "lead": rng.integers(2, _MAX_LEAD + 1, n),
        "views_per_unit": np.exp(rng.normal(np.log(25.0), 0.4, n)),
        "click_share": rng.uniform(0.15, 0.35, n),
        "atc_per_unit": rng.uniform(1.2, 2.5, n),
        "background_views": rng.uniform(0.0, 3.0, n),
    }
    order = np.argsort(uid, kind="stable")
    ser = {k: v[order] for k, v in params.items()}
    ser["uid"] = uid[order].astype(object)
    ser["item"] = item[order]
    ser["store_id"] = store_ids[store[order]]
    ser["store_effect"] = store_effect[store[order]]
    ser["clicks_per_unit"] = np.maximum(
        ser["views_per_unit"] * ser.pop("click_share"), 1.5 * ser["atc_per_unit"]
    )
    ser["base_level"] = items["rate"][ser["item"]] * ser["store_effect"]
    ser["launch"] = items["launch"][ser["item"]]
    return ser


def _simulate_block(
    s0: int,
    s1: int,
    items: dict,
    ser: dict,
    cal: dict,
    ev: dict,
    rng: np.random.Generator,
    out: dict,
    offsets: np.ndarray,
    with_reviews: bool,
) -> tuple[np.ndarray, ...] | None:
    """Simulates series ``s0:s1`` on the daily grid and writes their rows into ``out``."""
    n_days = cal["n_days"]
    n_x = n_days + _MAX_LEAD
    b = s1 - s0
    it = ser["item"][s0:s1]
    cat = items["cat"][it]
    t_int = np.arange(n_x)
    t = t_int.astype(np.float32)
    launch = items["launch"][it][:, None]
    end = items["end"][it][:, None]

    # Expected demand at the reference price without promotion.
    base = ser["base_level"][s0:s1, None].astype(np.float32) * _WEEKLY[cat[:, None], cal["dow_x"]]
    season = items["season"][it]
    peak = np.asarray(_SEASON_PEAK_DOY, dtype=np.float32)[season][:, None]
    yearly = np.cos(np.float32(2 * np.pi / 365.25) * (cal["doy_x"] - peak))
    base *= 1 + items["amplitude"][it][:, None].astype(np.float32) * yearly
    base *= np.exp(items["slope"][it][:, None].astype(np.float32) * (t / np.float32(365.25)))
    new = np.flatnonzero(items["ramp_days"][it] > 0)
    if len(new):
        x = (t - launch[new] + 1) / items["ramp_days"][it][new, None].astype(np.float32)
        base[new] *= 1 - np.exp(-np.clip(x, 0, 50))
    fading = np.flatnonzero(items["fade_days"][it] > 0)
    if len(fading):
        x = (end[fading] - t) / items["fade_days"][it][fading, None].astype(np.float32)
        base[fading] *= np.clip(x, 0, 1)
    base *= ev["effect"][cat]
    alive = t_int < end

    # Prices: regular price steps, then promotion episodes with a discount each.
    n_steps = (t_int[None, None, :] >= items["change_day"][it][:, :, None]).sum(axis=1)
    regular = np.take_along_axis(items["levels"][it], n_steps, axis=1)
    starts = (rng.random((b, n_x), dtype=np.float32) < ser["promo_rate"][s0:s1, None]) & alive
    n_starts = int(starts.sum())
    last = np.maximum.accumulate(np.where(starts, t_int, 0), axis=1)
    duration = np.zeros((b, n_x), dtype=np.int16)
    duration[starts] = rng.integers(3, 11, n_starts)
    discount = np.zeros((b, n_x), dtype=np.float32)
    discount[starts] = rng.choice(_DISCOUNTS, n_starts)
    ever = np.maximum.accumulate(starts, axis=1)
    promo = ever & (t_int < last + np.take_along_axis(duration, last, axis=1)) & alive
    price = regular.copy()
    price[promo] = np.round(
        regular[promo] * (1 - np.take_along_axis(discount, last, axis=1)[promo]), 2
    )
    ref = items["levels"][it][:, :1]
    multiplier = np.exp(items["elasticity"][it][:, None].astype(np.float32) * np.log(price / ref))
    multiplier *= np.where(promo, items["uplift"][it][:, None].astype(np.float32), np.float32(1))
    mu = base * multiplier

    # Latent demand: negative binomial as a gamma-Poisson mixture.
    size = ser["nb_size"][s0:s1, None].astype(np.float32)
    shock = rng.standard_gamma(size, size=(b, n_days), dtype=np.float32) / size
    latent = rng.poisson(mu[:, :n_days] * shock).astype(np.float32)

    # Stock-out episodes of 1 to 21 days while the item is listed.
    td = t_int[:n_days]
    so_starts = (rng.random((b, n_days), dtype=np.float32) < ser["stockout_rate"][s0:s1, None]) & (
        alive[:, :n_days] & (td >= launch)
    )
    so_len = np.zeros((b, n_days), dtype=np.int64)
    so_len[so_starts] = np.minimum(rng.geometric(0.25, int(so_starts.sum())), 21)
    covered = np.maximum.accumulate(np.where(so_starts, td + so_len, 0), axis=1)
    in_stock = (covered <= td) | ~alive[:, :n_days]
    y = np.where(in_stock, latent, np.float32(0))

    # Funnel counts lead demand by `lead` days.
    lead = ser["lead"][s0:s1, None]
    m = np.take_along_axis(mu, td[None, :] + lead, axis=1).astype(np.float64)
    atc_rate = ser["atc_per_unit"][s0:s1, None]
    click_rate = ser["clicks_per_unit"][s0:s1, None]
    view_rate = ser["views_per_unit"][s0:s1, None]
    add_to_carts = rng.poisson(atc_rate * m)
    clicks = add_to_carts + rng.poisson((click_rate - atc_rate) * m)
    views = clicks + rng.poisson(
        (view_rate - click_rate) * m + ser["background_views"][s0:s1, None]
    )

    valid = td >= launch
    grids = {
        "y": y,
        "expected": mu[:, :n_days],
        "latent": latent,
        "baseline": base[:, :n_days],
        "views": views * valid,
        "clicks": clicks * valid,
        "add_to_carts": add_to_carts * valid,
    }
    if cal["weekly"]:
        n_w = n_days // 7

        def wsum(a: np.ndarray) -> np.ndarray:
            return a.reshape(b, n_w, 7).sum(axis=2)

        n_valid = np.maximum(wsum(valid.astype(np.float32)), 1)
        grids = {k: wsum(v) for k, v in grids.items()}
        grids["price"] = wsum(price[:, :n_days] * valid) / n_valid
        grids["promo"] = wsum(promo[:, :n_days] & valid) > 0
        grids["in_stock"] = wsum((in_stock & valid).astype(np.float32)) / n_valid
        period_start = np.arange(n_w) * 7
        rows = np.arange(n_w) >= launch // 7
        full_stock = grids["in_stock"] == 1
    else:
        grids["price"] = price[:, :n_days]
        grids["promo"] = promo[:, :n_days]
        grids["in_stock"] = in_stock
        period_start = td
        rows = valid
        full_stock = in_stock
    n_p = rows.shape[1]
    sl = slice(offsets[s0], offsets[s1])
    out["ds"][sl] = np.broadcast_to(cal["labels"], (b, n_p))[rows]
    out["event"][sl] = np.broadcast_to(ev["period_codes"], (b, n_p))[rows]
    for k, v in grids.items():
        out[k][sl] = v[rows]

    # Per-series summaries: mean expected demand and the Syntetos-Boylan class of in-stock sales.
    n_rows = rows.sum(axis=1)
    out["mean_demand"][s0:s1] = (grids["expected"] * rows).sum(axis=1) / n_rows
    use = rows & full_stock & (period_start < end)
    yg = grids["y"]
    nonzero = use & (yg > 0)
    n_use, n_nz = use.sum(axis=1), nonzero.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = n_use / n_nz
        s1_ = np.where(nonzero, yg, 0).sum(axis=1, dtype=np.float64) / n_nz
        s2_ = np.where(nonzero, yg.astype(np.float64) ** 2, 0).sum(axis=1) / n_nz
        cv2 = (s2_ - s1_**2) / s1_**2
    klass = (adi >= 1.32).astype(np.int8) * 2 + (cv2 >= 0.49).astype(np.int8)
    out["demand_class"][s0:s1] = np.where(n_nz == 0, 4, klass)

    if not with_reviews:
        return None
    monthly = np.add.reduceat(y, cal["month_starts"], axis=1)
    counts = np.minimum(rng.poisson(_REVIEW_RATE * monthly), _MAX_REVIEWS_PER_MONTH)
    s_idx, m_idx = np.nonzero(counts)
    reps = counts[s_idx, m_idx]
    s_idx, m_idx = np.repeat(s_idx, reps), np.repeat(m_idx, reps)
    lo = np.maximum(cal["month_starts"][m_idx], launch[s_idx, 0])
    hi = cal["month_ends"][m_idx]
    day = lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)
    tier = items["quality"][it][s_idx]
    cum = _QUALITY_RATING_P.cumsum(axis=1)[tier]
    rating = (rng.random(len(tier))[:, None] > cum[:, :4]).sum(axis=1) + 1
    text = _REVIEW_TEXT["offset"][rating] + rng.integers(0, _REVIEW_TEXT["per_rating"], len(tier))
    return s_idx + s0, day, rating.astype(np.int8), text


def _review_texts() -> dict:
    texts, offset = [], np.zeros(6, dtype=np.int64)
    for r in range(1, 6):
        offset[r] = len(texts)
        details = _REVIEW_DETAILS["negative" if r <= 2 else "neutral" if r == 3 else "positive"]
        texts += [f"{o}. {d}." for o in _REVIEW_OPENERS[r] for d in details]
    per_rating = len(_REVIEW_OPENERS[1]) * len(_REVIEW_DETAILS["negative"])
    return {"texts": pd.Index(texts, dtype=object), "offset": offset, "per_rating": per_rating}


_REVIEW_TEXT = _review_texts()


def _review_frame(block_reviews: list, uid_categories: pd.Index, cal: dict) -> pd.DataFrame:
    parts = [p for p in block_reviews if p is not None]
    s_idx, day, rating, text = (np.concatenate([p[k] for p in parts]) for k in range(4))
    order = np.lexsort((day, s_idx))
    days = cal["days"].to_numpy(dtype="datetime64[ns]")
    return pd.DataFrame(
        {
            "unique_id": pd.Categorical.from_codes(
                s_idx[order].astype(np.int32), categories=uid_categories
            ),
            "ds": days[day[order]],
            "rating": rating[order],
            "text": pd.Categorical.from_codes(
                text[order].astype(np.int32), categories=_REVIEW_TEXT["texts"]
            ),
        },
        copy=False,
    )


def _truth_series(
    static: pd.DataFrame, items: dict, ser: dict, cal: dict, out: dict
) -> pd.DataFrame:
    it = ser["item"]
    days = cal["days"]
    launch = items["launch"][it]
    end = items["end"][it]
    nat = np.datetime64("NaT", "ns")
    day_values = days.to_numpy(dtype="datetime64[ns]")
    is_new = items["lifecycle"][it] == 1
    ends = end < cal["n_days"]
    frame = static[["unique_id", "item_id", "store_id", "dept_id", "cat_id"]].copy()
    columns = {
        "quality": np.asarray(_QUALITIES, dtype=object)[items["quality"][it]],
        "season": np.asarray(_SEASONS, dtype=object)[items["season"][it]],
        "season_amplitude": items["amplitude"][it],
        "base_level": ser["base_level"],
        "store_effect": ser["store_effect"],
        "trend_per_year": items["slope"][it],
        "lifecycle": np.asarray(_LIFECYCLES, dtype=object)[items["lifecycle"][it]],
        "launch_ds": np.where(is_new, day_values[np.minimum(launch, cal["n_days"] - 1)], nat),
        "ramp_days": items["ramp_days"][it],
        "end_ds": np.where(ends, day_values[np.minimum(end, cal["n_days"] - 1)], nat),
        "fade_days": items["fade_days"][it],
        "ref_price": items["levels"][it, 0],
        "elasticity": items["elasticity"][it],
        "promo_uplift": items["uplift"][it],
        "nb_size": ser["nb_size"],
        "promo_rate": ser["promo_rate"],
        "stockout_rate": ser["stockout_rate"],
        "behaviour_lead": ser["lead"],
        "views_per_unit": ser["views_per_unit"],
        "clicks_per_unit": ser["clicks_per_unit"],
        "atc_per_unit": ser["atc_per_unit"],
        "background_views": ser["background_views"],
        "intermittent": items["slow"][it],
        "mean_demand": out["mean_demand"],
        "demand_class": np.asarray(
            ["smooth", "erratic", "intermittent", "lumpy", "zero"], dtype=object
        )[out["demand_class"]],
    }
    for k, v in columns.items():
        frame[k] = v
    return frame
