"""Decisions: orders, trends, prices and promotions, new products."""

from __future__ import annotations

import argparse

from trendcast.cli._common import (
    add_data_arguments,
    add_saved_model_argument,
    add_text_model_argument,
    console,
    load_shop,
    numbers,
    quantiles,
    store,
    text_encoder,
)


def register(commands) -> None:
    plan = commands.add_parser(
        "plan",
        help="what to order now: safety stock, reorder point, order quantity per series",
        description="Forecasts demand with LightGBM, draws demand paths over lead time plus "
        "review period and sets each series' order-up-to level at the service level; the order "
        "is what lifts stock on hand plus on order to it, in whole packs and at least the "
        "minimum order. The stock file may carry per-series pack_size and min_order_qty.",
    )
    add_data_arguments(plan, sales_optional=True)
    add_saved_model_argument(plan)
    plan.add_argument(
        "--stock",
        help="stock file: series id, on_hand (optional unit_cost, pack_size, min_order_qty); "
        "without it nothing is on hand",
    )
    plan.add_argument("--on-order", help="stock ordered but not arrived: series id and quantity")
    plan.add_argument(
        "--lead-time",
        default="7d",
        help="from order to arrival: periods, or a span such as 10d, 2w, 1m (default: 7d)",
    )
    plan.add_argument(
        "--review-period",
        default="7d",
        help="between orders: periods, or a span such as 7d, 1w (default: 7d)",
    )
    plan.add_argument(
        "--cap",
        type=float,
        default=2.0,
        help="flag orders above this multiple of what the busiest of the last 13 periods "
        "would need over lead time plus review (default: 2)",
    )
    plan.add_argument(
        "--service-level", type=float, default=0.95, help="target in (0, 1) (default: 0.95)"
    )
    plan.add_argument(
        "--fill-rate",
        action="store_true",
        help="the service level is a fill rate (share of demand served), not a cycle service",
    )
    plan.add_argument(
        "--samples", type=int, default=1000, help="demand paths per series (default: 1000)"
    )
    plan.add_argument("--out", help="write the order list (.csv or .parquet)")
    plan.set_defaults(command="plan", run=_plan)

    trends = commands.add_parser(
        "trends",
        help="what is rising, declining, hot, slow or dead, with the reasons",
        description="Compares each series (or item, category, store) with the previous window "
        "and the same window last year, labels it only when the evidence clears the stated "
        "thresholds, and lists what is trending. With --horizon the LightGBM forecast of the "
        "next periods joins the table; with --stock, weeks of cover flag slow movers and dead "
        "stock.",
    )
    add_data_arguments(trends, sales_optional=True)
    add_saved_model_argument(trends)
    trends.add_argument("--stock", help="stock file: series id and on_hand (units)")
    trends.add_argument(
        "--level",
        help="item_id, store_id, dept_id, cat_id or another static column (default: the series)",
    )
    trends.add_argument(
        "--window",
        help="each comparison window: periods, or a span such as 28d, 8w, 3m (default: 28 "
        "days on daily data, 8 weeks on weekly, 3 months on monthly)",
    )
    trends.add_argument(
        "--horizon",
        help="also forecast this far with LightGBM: periods, or a span such as 28d, 8w",
    )
    trends.add_argument(
        "--direction",
        choices=("rising", "declining"),
        default="rising",
        help="what the ranked list shows (default: rising)",
    )
    trends.add_argument("--category", help="list only this cat_id")
    trends.add_argument("--store", help="list only this store_id")
    trends.add_argument(
        "--min-volume", type=float, default=0.0, help="minimum units sold in the recent window"
    )
    trends.add_argument("--top", type=int, default=20, help="length of the list (default: 20)")
    trends.add_argument(
        "--launch-peers",
        choices=("category", "text"),
        default="category",
        help="hold launches to their category's products (default) or to the --k-peers "
        "products whose titles and descriptions read most alike",
    )
    trends.add_argument(
        "--k-peers", type=int, default=10, help="peers per launch for --launch-peers text"
    )
    add_text_model_argument(trends)
    trends.add_argument("--out", help="write the whole trend table (.csv or .parquet)")
    trends.add_argument("--html", help="write the trend report with sparklines (.html)")
    trends.add_argument("--json", help="write the trend table as JSON")
    trends.set_defaults(command="trends", run=_trends)

    price = commands.add_parser(
        "price",
        help="price elasticities, the best price per item, promotion candidates",
        description="Estimates each item's price elasticity from the history (controlling for "
        "promotions, events, seasons and trend; sparse items borrow from their category), "
        "forecasts the next periods with LightGBM and recommends the profit- (or revenue-) "
        "maximising price within bounds; --promotions also lists items to promote, to push and "
        "not to promote.",
    )
    add_data_arguments(price, sales_optional=True)
    add_saved_model_argument(price)
    price.add_argument(
        "--stock",
        help="stock file: series id, on_hand, unit_cost; without it nothing is on hand",
    )
    price.add_argument(
        "--margin",
        type=float,
        help="where the stock gives no unit cost, assume this share of the last price is "
        "margin (e.g. 0.4: unit cost 60%% of the price)",
    )
    price.add_argument(
        "--horizon",
        help="how long the price holds: periods, or a span such as 28d, 4w (default: 28 days, "
        "4 weeks, 1 month at the data's frequency)",
    )
    price.add_argument(
        "--bounds",
        default="0.8,1.2",
        help="lowest,highest price as multiples of the current one (default: %(default)s)",
    )
    price.add_argument("--objective", choices=("profit", "revenue"), default="profit")
    price.add_argument(
        "--limit-to-stock", action="store_true", help="no more sales than the stock on hand"
    )
    price.add_argument("--discount", type=float, default=0.15, help="promotion price cut")
    price.add_argument("--out", help="write the price recommendations (.csv or .parquet)")
    price.add_argument("--elasticities", help="write the elasticities (.csv or .parquet)")
    price.add_argument("--promotions", help="write the promotion candidates (.csv or .parquet)")
    price.set_defaults(command="price", run=_price)

    coldstart = commands.add_parser(
        "coldstart",
        help="forecast new products' first periods from their text, category and price",
        description="Learns the early life of the products launched in the sales (their first "
        "periods) from their titles, descriptions, categories and prices, then forecasts "
        "products with no sales yet from the same attributes.",
    )
    add_data_arguments(coldstart)
    coldstart.add_argument(
        "--new", required=True, help="new products: id, title, description, cat_id, price ..."
    )
    coldstart.add_argument(
        "--horizon",
        "--periods",
        default="8",
        help="early life learnt and forecast: periods, or a span such as 8w, 2m (default: 8 "
        "periods)",
    )
    coldstart.add_argument(
        "--method",
        choices=("ridge", "knn", "finetuned", "category_mean", "global_mean"),
        default="ridge",
        help="ridge on text embeddings, category and price (default), nearest neighbours, "
        "the text model fine-tuned on the launches' demand, or a baseline",
    )
    coldstart.add_argument(
        "--quantiles",
        default="0.1,0.9",
        help="comma-separated quantile levels, from the launches' out-of-fold errors (default: "
        "%(default)s; none with --method finetuned)",
    )
    add_text_model_argument(coldstart)
    coldstart.add_argument(
        "--mode",
        choices=("lora", "full"),
        help="for --method finetuned: low-rank adapters (the default) or all weights",
    )
    coldstart.add_argument(
        "--device",
        help="for --method finetuned: cpu (the default), cuda or auto (a GPU when there is one)",
    )
    coldstart.add_argument("--out", help="write the forecasts (.csv or .parquet)")
    coldstart.set_defaults(command="coldstart", run=_coldstart)


def _trends(args: argparse.Namespace) -> int:
    from trendcast.app import trends
    from trendcast.app.shop import default_span, to_periods
    from trendcast.data.io import atomic_write, read_frame, write_frame
    from trendcast.decisions.trends import trending
    from trendcast.report.trends import trend_json, write_trend_report

    if args.horizon or args.model:
        forecaster, data, plan, ref = _decision_forecaster(args)
    else:
        forecaster, data, plan, ref = None, load_shop(args), None, None
    cols = data.columns
    window = to_periods(
        args.window or default_span(data.freq, days="28d", weeks="8w", months="3m"),
        data.freq,
        name="--window",
    )
    horizon = to_periods(args.horizon, data.freq, name="--horizon") if args.horizon else None
    if forecaster is not None:
        plan = _coming_plan(forecaster, horizon or window, plan)
    table = trends(
        data,
        forecaster=forecaster,
        horizon=horizon,
        dynamic=plan,
        stock=read_frame(args.stock, text_columns=[cols.id_col]) if args.stock else None,
        level=args.level,
        window=window,
        launch_peers=args.launch_peers,
        k_peers=args.k_peers,
        encoder=text_encoder(args, args.workspace) if args.launch_peers == "text" else None,
    )
    ranked = trending(
        table,
        direction=args.direction,
        category=args.category,
        store=args.store,
        min_volume=args.min_volume,
        top=args.top,
    )
    counts = table["trend"].value_counts().to_dict()
    console().print(
        f"{len(table):,} entities as of {table['as_of'].iloc[0]:%Y-%m-%d}: "
        + ", ".join(f"{counts.get(label, 0):,} {label}" for label in counts)
    )
    console().print(f"Top {args.direction} ({len(ranked)}):")
    for row in ranked.itertuples(index=False):
        console().print(f"  {row.rank:>3}. {getattr(row, table.columns[0])}: {row.reason}")
    if args.out:
        console().print(f"trend table: {write_frame(table, args.out)}")
    if args.html:
        path = write_trend_report(
            args.html,
            table,
            history=data.sales,
            static=data.static,
            id_col=cols.id_col,
            time_col=cols.time_col,
            target_col=cols.target_col,
        )
        console().print(f"trend report: {path}")
    if args.json:
        text = trend_json(table)
        path = atomic_write(args.json, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        console().print(f"trend table (JSON): {path}")
    store(args, data=data, results={"trends": table}, model=ref)
    return 0


def _plan(args: argparse.Namespace) -> int:
    import pandas as pd

    from trendcast.app.shop import to_periods
    from trendcast.data.io import read_frame, write_frame
    from trendcast.decisions.plan import buyer_view, order_list

    forecaster, data, plan, ref = _decision_forecaster(args)
    lead = to_periods(args.lead_time, data.freq, name="--lead-time")
    review = to_periods(args.review_period, data.freq, name="--review-period", minimum=0)
    plan = _coming_plan(forecaster, lead + review, plan)
    id_col = data.columns.id_col
    screen = console()
    if args.stock:
        stock = read_frame(args.stock, text_columns=[id_col])
    else:
        stock = pd.DataFrame({id_col: forecaster.arrays_.ids, "on_hand": 0.0})
        screen.print("note: no --stock: nothing is on hand, every series orders its full need")
    orders = order_list(
        forecaster,
        stock,
        lead_time=lead,
        review_period=review,
        service_level=args.service_level,
        service_kind="fill_rate" if args.fill_rate else "cycle",
        on_order=read_frame(args.on_order, text_columns=[id_col]) if args.on_order else None,
        n_samples=args.samples,
        dynamic=plan,
    )
    orders = buyer_view(orders, data, stock, periods=lead + review, cap=args.cap)
    ordering = orders[orders["order_qty"] > 0].sort_values("order_qty", ascending=False)
    value = ordering["order_value"].sum(min_count=1)
    screen.print(
        f"{len(ordering):,} of {len(orders):,} series to order, {ordering['order_qty'].sum():,.0f} "
        + ("units" if pd.isna(value) else f"units worth {value:,.2f} at unit cost")
        + f" (lead time {lead}, review every {review} periods of {data.freq}, service level "
        f"{args.service_level:.0%}); {int((orders['check'] != '').sum()):,} flagged for a check. "
        "Largest orders:",
        markup=False,
    )
    for row in ordering.head(10).itertuples(index=False):
        title = getattr(row, "title", None)
        screen.print(
            f"  {getattr(row, id_col)}{f' ({title})' if title and title != getattr(row, id_col) else ''}: "
            f"order {row.order_qty:,.0f} (position {row.inventory_position:,.0f}, order-up-to "
            f"{row.order_up_to:,.0f}, cover {row.cover_periods:g} periods, stock-out risk "
            f"{row.stockout_probability:.0%}){f' - {row.check}' if row.check else ''}",
            markup=False,
        )
    if args.out:
        screen.print(f"orders: {write_frame(orders, args.out)}")
    store(args, data=data, results={"orders": orders}, model=ref)
    return 0


def _price(args: argparse.Namespace) -> int:
    from trendcast.app.decisions import price_stock
    from trendcast.app.shop import default_span, to_periods
    from trendcast.data.io import read_frame, write_frame
    from trendcast.decisions.plan import price_list, promotion_list

    bounds = numbers(args.bounds, "--bounds", count=2)
    # Checked before the forecaster is fitted, so a missing input fails at once.
    given = read_frame(args.stock, text_columns=[args.id_col]) if args.stock else None
    if args.limit_to_stock and given is None:
        raise ValueError("--limit-to-stock caps sales at the stock on hand: pass --stock.")
    costs = given is not None and "unit_cost" in given.columns
    if args.objective == "profit" and args.margin is None and not costs:
        raise ValueError(
            "pricing for profit needs unit costs: pass --stock with a unit_cost column, "
            "--margin 0.4 (unit cost 60% of the last price), or --objective revenue."
        )
    forecaster, data, plan, ref = _decision_forecaster(args)
    horizon = to_periods(
        args.horizon or default_span(data.freq, days="28d", weeks="4w", months="1m"),
        data.freq,
        name="--horizon",
    )
    plan = _coming_plan(forecaster, horizon, plan)
    stock, notes = price_stock(data, given, margin=args.margin)
    for note in notes:
        console().print(f"note: {note}", markup=False)
    forecasts = forecaster.predict(horizon, dynamic=plan)
    prices = price_list(
        data,
        forecasts,
        stock,
        bounds=bounds,
        objective=args.objective,
        limit_to_stock=args.limit_to_stock,
        progress=True,
    )
    best = prices.best
    screen = console()
    moves = best[best["action"] == "change"].sort_values("gain", ascending=False)
    kept = best.loc[best["action"] == "keep", "reason"].value_counts()
    screen.print(
        f"{len(best):,} items; {len(moves):,} ({len(moves) / max(len(best), 1):.0%}) with a "
        f"price to change, {len(best) - len(moves):,} to keep ("
        + "; ".join(f"{n:,} {reason.removeprefix('keep: ')}" for reason, n in kept.items())
        + f"). Largest expected {args.objective} gains over {horizon} periods:",
        markup=False,
    )
    for row in moves.head(10).itertuples(index=False):
        screen.print(
            f"  {row.item_id}: {row.price:.2f} -> {row.best_price:.2f} ({row.change:+.0%}), "
            f"gain {row.gain:,.0f} (90%: {row.gain_lower:,.0f} to {row.gain_upper:,.0f})"
        )
    results = {"elasticities": prices.elasticities, "prices": best}
    if args.promotions:
        results["promotions"] = promotion_list(
            data, forecasts, stock, prices.elasticities, discount=args.discount
        )
    for name, path in (
        ("prices", args.out),
        ("elasticities", args.elasticities),
        ("promotions", args.promotions),
    ):
        if path:
            screen.print(f"{name}: {write_frame(results[name], path)}")
    store(args, data=data, results=results, model=ref)
    return 0


def _coming_plan(forecaster, h: int, plan):
    """The plan given, or today's prices and no promotion where the model needs one."""
    from trendcast.app import coming_plan

    plan, note = coming_plan(forecaster, h, plan)
    if note:
        console().print(f"note: {note}", markup=False)
    return plan


def _decision_forecaster(args: argparse.Namespace):
    """The saved forecaster of --model with the plan of --dynamic, or the default one fitted
    on the data options (whose --dynamic already holds the plan)."""
    from trendcast.app import as_frame, decision_forecaster

    if not args.model:
        forecaster, data, _ = decision_forecaster(load_shop(args), progress=True)
        return forecaster, data, None, None
    if not args.workspace:
        raise ValueError("--model decides from a saved model: pass --workspace FILE.duckdb.")
    if args.sales or args.static or args.reviews:
        raise ValueError(
            "the sales, --static and --reviews files cannot be used with --model: the saved "
            "model keeps the data it was trained on; --dynamic gives the plan."
        )
    forecaster, data, ref = decision_forecaster(workspace=args.workspace, model=args.model)
    console().print(f"deciding from {ref}, no refit")
    plan = as_frame(args.dynamic, text_columns=[data.columns.id_col]) if args.dynamic else None
    return forecaster, data, plan, ref


def _coldstart(args: argparse.Namespace) -> int:
    from trendcast.app import new_products
    from trendcast.app.shop import to_periods
    from trendcast.data.io import write_frame

    if args.method == "finetuned" and args.text_model == "hashing":
        raise ValueError("--method finetuned fine-tunes a language model: leave out --text-model "
                         "hashing, or use --method ridge with it.")  # fmt: skip
    if args.method != "finetuned" and (args.mode or args.device):
        raise ValueError(
            "--mode and --device set the fine-tuning: use them with --method finetuned."
        )
    data = load_shop(args)
    periods = to_periods(args.horizon, data.freq, name="--horizon")
    forecasts = new_products(
        data,
        args.new,
        method=args.method,
        periods=periods,
        encoder=text_encoder(args),
        finetune={"mode": args.mode, "device": args.device, "model": args.text_model},
        quantiles=quantiles(args),
    )
    totals = forecasts.groupby(data.columns.id_col, sort=False).sum(numeric_only=True)
    bands = [c for c in totals.columns if c.startswith("ColdStart-q-")]
    console().print(
        f"Expected units over the first {periods} periods of {data.freq}"
        + (f" ({bands[0][12:]} to {bands[-1][12:]} quantiles)" if len(bands) > 1 else "")
        + ":"
    )
    for product, row in totals.iterrows():
        band = f" ({row[bands[0]]:,.1f} to {row[bands[-1]]:,.1f})" if len(bands) > 1 else ""
        console().print(f"  {product}: {row['ColdStart']:,.1f}{band}", markup=False)
    if args.out:
        console().print(f"forecasts: {write_frame(forecasts, args.out)}")
    return 0
