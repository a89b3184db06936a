"""Fixes spelt in each face's terms: Python keywords, or command-line options."""

import pandas as pd
import pytest

from tests.data.test_validate import error_of, frame
from trendcast.data.validate import DataValidationError, validate
from trendcast.errors import Fix, Setting, Term, cli_message

PARAMETERS = ("id_col", "time_col", "target_col", "freq", "fill_gaps", "clip_negative",
              "time_format")  # fmt: skip


# Bad inputs whose fixes name a parameter or hold Python code, with the option the CLI shows.
CASES = {
    "misnamed target": (frame().rename(columns={"y": "units"}), {}, "--target-col units"),
    "misnamed columns": (
        frame().rename(columns={"unique_id": "sku", "ds": "date"}),
        {},
        "--id-col sku",
    ),
    "negative": (frame(y=[1.0, -2.0, 2.0, 3.0, 4.0, 5.0]), {}, "--clip-negative"),
    "gaps": (frame().drop(index=[1]), {}, "--fill-gaps"),
    "missing target": (frame(y=[1.0, None, 2.0, 3.0, 4.0, 5.0]), {}, "--fill-gaps"),
    "single rows": (frame().drop_duplicates("unique_id"), {}, "--freq W-SUN"),
    "off grid": (frame(), {"freq": "W-SUN"}, "--freq MS"),
    "unsupported freq": (frame(), {"freq": "H"}, "--freq D"),
    "duplicates": (pd.concat([frame(), frame().iloc[[1]]]), {}, "remove the repeats"),
    "time of day": (
        frame(ds=["2024-01-01 10:00", "2024-01-02", "2024-01-03"] * 2),
        {},
        "trendcast import",
    ),
    "ambiguous day and month": (
        frame(ds=["01/02/2024", "02/02/2024", "03/02/2024"] * 2),
        {},
        "--time-format %d/%m/%Y",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_cli_face_shows_options_and_no_python(case):
    df, kwargs, option = CASES[case]
    error = error_of(df, **kwargs)
    cli = cli_message(error)
    assert option in cli
    assert "Example:" not in cli and ".dt." not in cli and "groupby" not in cli
    assert "from_transactions" not in cli
    for name in PARAMETERS:
        assert f"{name}=" not in cli
    assert cli == error.render("cli")


def test_a_misnamed_target_in_python_cli_and_plain_text():
    error = error_of(frame().rename(columns={"y": "units"}))
    python, cli, text = error.render("python"), error.render("cli"), str(error)
    assert "pass target_col='units'" in python and "--target-col" not in python
    assert "pass --target-col units" in cli and "target_col=" not in cli
    # The plain text serves a reader whose face renders nothing: both spellings.
    assert "target_col='units' (CLI: --target-col units)" in text
    assert error.fix == error.problems[0].fix.render("text")


def test_python_examples_stay_in_the_python_face():
    error = error_of(pd.concat([frame(), frame().iloc[[1]]]))
    assert "groupby(['unique_id', 'ds'], as_index=False).sum()" in error.render("python")
    assert "groupby" in error.fix  # the plain text keeps it too


def test_every_problem_of_a_multi_problem_error_is_rendered_for_the_face():
    df = frame(y=[1.0, -2.0, 2.0, 3.0, 4.0, 5.0]).drop(index=[4])
    error = error_of(df)
    assert [p.fix.settings for p in error.problems] == [
        (Setting("clip_negative"),),
        (Setting("fill_gaps"),),
    ]
    cli = cli_message(error)
    assert cli.startswith("2 problems in the input:\n1. sales: column 'y':")
    assert "--clip-negative" in cli and "--fill-gaps" in cli and "=True" not in cli


def test_settings_and_terms_render_per_face():
    fix = Fix.of(
        "pass ",
        Setting("time_col", "order date"),
        " and ",
        Setting("fill_gaps"),
        ", or use ",
        Term("from_transactions", "trendcast import"),
        ".",
        example="df.head()",
    )
    assert fix.render("python") == (
        "pass time_col='order date' and fill_gaps=True, or use from_transactions. "
        "Example: df.head()"
    )
    assert (
        fix.render("cli")
        == "pass --time-col 'order date' and --fill-gaps, or use trendcast import."
    )
    assert fix.settings == (Setting("time_col", "order date"), Setting("fill_gaps"))


def test_errors_raised_with_one_problem_read_as_before():
    error = DataValidationError("file not found.", frame="x.csv", fix="check the path.")
    assert str(error) == cli_message(error) == "x.csv: file not found.\nFix: check the path."
    assert (error.problem, error.frame, error.column, error.rows) == (
        "file not found.",
        "x.csv",
        None,
        None,
    )
    assert len(error.problems) == 1 and isinstance(error, ValueError)
    with pytest.raises(ValueError, match="face must be one of"):
        error.render("html")


def test_cli_message_of_other_errors():
    assert cli_message(KeyError("no model 'shop'")) == "no model 'shop'"
    assert cli_message(ValueError("bad --quantiles")) == "bad --quantiles"
    assert cli_message("plain words") == "plain words"


def test_an_order_log_given_as_sales_is_sent_to_the_import():
    lines = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "C536366"],
            "StockCode": ["85123A", "85123A"],
            "Quantity": [6, -6],
            "InvoiceDate": ["12/1/10 8:26", "12/1/10 8:28"],
        }
    )
    with pytest.raises(DataValidationError) as caught:
        validate(lines)
    first = caught.value.problems[0]
    assert "order-line log" in first.message and "StockCode" in first.message
    assert "trendcast import" in cli_message(caught.value).split("\n2.")[0]
    # Demand per period with a stray invoice column is not an order log.
    demand = pd.DataFrame(
        {"unique_id": "a", "ds": ["2024-01-01", "2024-01-02"], "y": 1.0, "InvoiceNo": "1"}
    )
    assert len(validate(demand).sales) == 2
