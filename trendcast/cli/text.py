"""Product text: search and similar products, review scores."""

from __future__ import annotations

import argparse

from trendcast.cli._common import (
    add_data_arguments,
    add_text_model_argument,
    console,
    load_shop,
    text_encoder,
)


def register(commands) -> None:
    for name, target, text in (
        ("similar", "item", "id of the product to start from"),
        ("search", "query", 'what to look for, e.g. "winter kitchen items"'),
    ):
        command = commands.add_parser(
            name,
            help="products like this one"
            if name == "similar"
            else "search the catalogue by meaning",
            description="Reads the products' titles and descriptions with a pretrained language "
            "model (all-MiniLM-L6-v2, offline; a hashing TF-IDF without the text extra) and "
            + (
                "lists the products whose text is closest to the given one's."
                if name == "similar"
                else "lists the products whose text best matches the query."
            ),
        )
        command.add_argument("static", help="catalogue file: product id, title, description")
        command.add_argument(target, help=text)
        command.add_argument("--k", type=int, default=10, help="products listed (default: 10)")
        command.add_argument(
            "--id-col", help="product id column (default: item_id, else unique_id)"
        )
        command.add_argument("--workspace", help="cache the text vectors in this DuckDB file")
        add_text_model_argument(command)
        command.add_argument("--out", help="write the list (.csv or .parquet)")
        command.set_defaults(command=name, run=_text_search)

    reviews = commands.add_parser(
        "reviews",
        help="score reviews from their text and write the review-score covariate",
        description="Learns the star rating from the review text (ridge regression on text "
        "embeddings), reports its error on a held-out fifth of the reviews, and writes the "
        "dynamic file (or the sales rows without one) with review_score, the mean score of each "
        "series' reviews of the last --window days, and review_score_count: pass it as "
        "--dynamic to forecast or backtest.",
    )
    add_data_arguments(reviews)
    reviews.add_argument(
        "--window",
        default="90d",
        help="reviews averaged over this span: days, or a span such as 90d, 12w, 3m (default: 90d)",
    )
    add_text_model_argument(reviews)
    reviews.add_argument(
        "--out", required=True, help="write the frame with the review columns (.csv or .parquet)"
    )
    reviews.set_defaults(command="reviews", run=_reviews)


def _text_search(args: argparse.Namespace) -> int:
    from trendcast.data.io import read_frame, write_frame
    from trendcast.data.store import Workspace
    from trendcast.text import search_catalogue, similar_products

    catalogue = read_frame(args.static, text_columns=[args.id_col or "item_id", "unique_id"])
    encoder = text_encoder(args, Workspace(args.workspace) if args.workspace else None)
    options = {"k": args.k, "encoder": encoder, "id_col": args.id_col}
    if args.command == "similar":
        found = similar_products(catalogue, args.item, **options)
    else:
        found = search_catalogue(catalogue, args.query, **options)
    shown = [found.columns[0], *(c for c in ("title", "score") if c in found.columns)]
    console().print(found[shown].to_string(index=False))
    if args.out:
        console().print(f"{args.command}: {write_frame(found, args.out)}")
    return 0


def _reviews(args: argparse.Namespace) -> int:
    from trendcast.app.shop import to_periods
    from trendcast.app.text import review_covariates
    from trendcast.data.io import write_frame

    days = to_periods(args.window, "D", name="--window")
    scored = review_covariates(
        load_shop(args), encoder=text_encoder(args, args.workspace), window=days
    )
    out = scored.frame
    console().print(
        f"Scored {scored.n_reviews:,} reviews from their text: held-out error "
        f"{scored.held_out_error:.2f} stars (the mean rating alone: {scored.mean_rating_error:.2f}"
        f"); {int(out['review_score'].notna().sum()):,} of {len(out):,} rows have reviews in "
        f"the last {days} days."
    )
    console().print(f"covariates: {write_frame(out, args.out)}")
    return 0
