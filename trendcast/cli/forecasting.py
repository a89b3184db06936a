"""Forecasts: backtests, training and saving, forecasting (fresh or from a saved model),
fine-tuning Chronos-2."""

from __future__ import annotations

import argparse
import time

from trendcast.cli._common import (
    add_data_arguments,
    add_model_arguments,
    console,
    declarations,
    forecaster_from,
    line_up,
    load_shop,
    print_report,
    print_scores,
    quantiles,
    store,
)


def register(commands) -> None:
    backtest = commands.add_parser(
        "backtest",
        help="rolling-origin backtest of models, with scores",
        description="Cuts the history at several origins, forecasts the following periods with "
        "each model and scores them against what really happened.",
    )
    add_data_arguments(backtest, sales_optional=True)
    add_model_arguments(backtest)
    backtest.add_argument("--windows", type=int, default=3, help="origins (default: %(default)s)")
    backtest.add_argument("--step", type=int, help="periods between origins (default: horizon)")
    backtest.add_argument(
        "--min-history",
        type=int,
        help="periods a series needs before a cutoff to be scored there (default: two seasons, "
        "or half the longest history when that is shorter)",
    )
    backtest.add_argument("--out", help="write the backtest forecasts (.csv or .parquet)")
    backtest.add_argument("--scores", help="write the score table (.csv or .parquet)")
    backtest.set_defaults(command="backtest", run=_backtest)

    train = commands.add_parser(
        "train",
        help="backtest, fit and save a forecaster as a new version in the workspace",
        description="Backtests the models on the last --windows horizons, fits them on the "
        "whole history and saves the forecaster in the workspace as a new version of --name, "
        "with its parameters, data hash, training span and scores. `trendcast forecast "
        "--model NAME` then forecasts from it, without refitting, with the plan of the day.",
    )
    add_data_arguments(train, sales_optional=True)
    add_model_arguments(train)
    train.add_argument("--name", required=True, help="model name in the workspace")
    train.add_argument(
        "--windows", type=int, default=1, help="backtest windows; 0: none (default: 1)"
    )
    train.add_argument(
        "--no-promote",
        action="store_true",
        help="save the version without putting it in production (`trendcast models promote`)",
    )
    train.set_defaults(command="train", run=_train)

    forecast = commands.add_parser(
        "forecast",
        help="forecast the next periods with quantiles (fresh, or from a saved model)",
        description="With a sales file, fits the models on the whole history and forecasts "
        "the next periods. With --model NAME[@VERSION] and --workspace, forecasts from the "
        "model saved by `trendcast train`, no refit; --dynamic is then the plan (prices, "
        "promotions, events) of the forecast periods.",
    )
    add_data_arguments(forecast, sales_optional=True)
    add_model_arguments(forecast, horizon_required=False)
    forecast.add_argument(
        "--model", help="forecast from this saved model: NAME (in production) or NAME@VERSION"
    )
    forecast.add_argument("--out", help="write the forecasts (.csv or .parquet)")
    forecast.add_argument(
        "--explain",
        help="write why the first model forecasts what it does (.csv or .parquet): "
        "contributions per forecast, grouped into trend, calendar, price, promotion, ...",
    )
    forecast.set_defaults(command="forecast", run=_forecast)

    finetune = commands.add_parser(
        "finetune",
        help="fine-tune the pretrained Chronos-2 on your data and save it by name",
        description="Fine-tunes Chronos-2 (LoRA adapters or all weights) on the sales and their "
        "dynamic covariates, keeping the weights that forecast the held-out last --horizon "
        "periods best, and saves them in the workspace. Use them with "
        "`trendcast forecast --models chronos2 --chronos NAME --workspace WS`.",
    )
    add_data_arguments(finetune)
    finetune.add_argument("--name", required=True, help="name to save the fine-tuned model as")
    finetune.add_argument(
        "--mode",
        choices=["lora", "full"],
        default="lora",
        help="lora: low-rank adapters, a small file (default); full: all weights",
    )
    finetune.add_argument("--steps", type=int, default=300, help="(default: %(default)s)")
    finetune.add_argument(
        "--horizon", type=int, help="periods to tune for (default: 28 days, 8 weeks)"
    )
    finetune.add_argument(
        "--segment",
        help="tune on one segment only, as COLUMN=VALUE of the static file (e.g. cat_id=FOODS)",
    )
    finetune.add_argument(
        "--base",
        default="trendcast-chronos2-small",
        help="weights to start from (default: %(default)s)",
    )
    finetune.set_defaults(command="finetune", run=_finetune)


def _backtest(args: argparse.Namespace) -> int:
    from trendcast.app import backtest_shop
    from trendcast.data.io import write_frame

    data = load_shop(args)
    forecaster = forecaster_from(args, data)
    frame, scores = backtest_shop(
        data,
        forecaster,
        horizon=args.horizon,
        n_windows=args.windows,
        step=args.step,
        min_history=args.min_history,
        **declarations(args),
    )
    print_scores(scores, str(scores["WAPE"].idxmin()))
    left_out = {f"{c:%Y-%m-%d}": n for c, n in forecaster.backtest_.excluded.items() if n}
    if left_out:
        console().print(f"Series left out for short history, per cutoff: {left_out}")
    if args.out:
        console().print(f"backtest forecasts: {write_frame(frame, args.out)}")
    if args.scores:
        console().print(f"scores: {write_frame(scores.reset_index(), args.scores)}")
    store(args, data=data, results={"backtest": frame, "scores": scores.reset_index()})
    return 0


def _train(args: argparse.Namespace) -> int:
    from trendcast.app import train

    if not args.workspace:
        raise ValueError("train saves the model in a workspace: pass --workspace FILE.duckdb.")
    started = time.perf_counter()
    data = load_shop(args)
    trained = train(
        data,
        args.workspace,
        args.name,
        models=line_up(args, data),
        horizon=args.horizon,
        **({"quantiles": quantiles(args)} if args.quantiles else {}),
        n_windows=args.windows,
        promote=not args.no_promote,
        progress=True,
        **declarations(args),
    )
    if trained.scores is not None:
        print_scores(trained.scores, trained.forecaster.default_alias_)
    print_report(trained.forecaster.report_)
    state = "not promoted" if args.no_promote else "in production"
    console().print(
        f"Saved [bold]{trained.version.ref}[/bold] ({state}) in {args.workspace}, trained on "
        f"{trained.version.meta['span']['first']}..{trained.version.meta['span']['last']} in "
        f"{time.perf_counter() - started:.1f} s (fit {trained.fit_seconds:.1f} s)."
    )
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from trendcast.app import finetune_chronos, segment

    if not args.workspace:
        raise ValueError("finetune saves the model in a workspace: pass --workspace FILE.duckdb.")
    data = load_shop(args)
    if args.segment:
        data = segment(data, args.segment)
    model, version = finetune_chronos(
        data,
        args.workspace,
        args.name,
        base=args.base,
        mode=args.mode,
        steps=args.steps,
        horizon=args.horizon,
    )
    losses = [row["eval_loss"] for row in model.history_ if "eval_loss" in row]
    console().print(
        f"Validation loss {losses[0]:.4f} -> best {min(losses):.4f} over {args.steps} steps. "
        f"Saved as '{version.ref}' in {version.path}."
    )
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from trendcast.app import fit_and_forecast, forecast_saved
    from trendcast.data.io import write_frame

    started = time.perf_counter()
    if args.model:
        _check_saved_options(args)
        result = forecast_saved(
            args.workspace,
            args.model,
            horizon=args.horizon,
            dynamic=args.dynamic,
            quantiles=quantiles(args),
            explain=bool(args.explain),
        )
        id_col = result.forecasts.columns[0]
    else:
        if not args.horizon:
            raise ValueError("pass --horizon: the periods to forecast.")
        data = load_shop(args)
        forecaster = forecaster_from(args, data)
        result = fit_and_forecast(
            data,
            forecaster,
            horizon=args.horizon,
            explain=bool(args.explain),
            workspace=args.workspace,
            **declarations(args),
        )
        print_report(forecaster.report_)
        id_col = data.columns.id_col
    frame = result.forecasts
    # The first model's columns only: a line-up with quantiles is dozens of columns wide.
    first = frame.columns[2]
    shown = [*frame.columns[:2], *(c for c in frame.columns[2:] if c.split("-q-")[0] == first)]
    console().print(frame[shown].head(10).to_string(index=False), markup=False)
    if len(shown) < frame.shape[1]:
        console().print(
            f"({frame.shape[1] - len(shown)} more columns, the other models': --out FILE "
            "writes them all)"
        )
    periods = len(frame) // max(frame[id_col].nunique(), 1)
    console().print(
        f"{len(frame):,} rows: {frame[id_col].nunique():,} series x {periods} periods"
        + (f", from {result.model}" if result.model else "")
        + f", in {time.perf_counter() - started:.1f} s"
    )
    if args.out:
        console().print(f"forecasts: {write_frame(frame, args.out)}")
    if args.explain:
        console().print(f"explanations: {write_frame(result.explanations, args.explain)}")
    if result.run_id:
        console().print(f"stored in workspace {args.workspace} (run {result.run_id})")
    return 0


def _check_saved_options(args: argparse.Namespace) -> None:
    """A saved model carries its data, columns and line-up: options that would change them
    are refused rather than ignored."""
    if not args.workspace:
        raise ValueError("--model forecasts from a saved model: pass --workspace FILE.duckdb.")
    refused = [
        option
        for option, value in (
            ("the sales file", args.sales),
            ("--static", args.static),
            ("--reviews", args.reviews),
            ("--models", args.models),
            ("--chronos", args.chronos),
            ("--known-future", args.known_future),
            ("--categorical", args.categorical),
            ("--groups", args.groups),
        )
        if value
    ]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot be used with --model: the saved model keeps the data "
            "and settings it was trained with. Train a new version (`trendcast train`) to "
            "change them; --dynamic gives the plan of the forecast periods."
        )
