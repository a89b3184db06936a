"""Files read as they are written: separators, encodings, quoting, ids kept as text, and every
unreadable file a `DataValidationError` naming the file and the fix."""

import io

import numpy as np
import pandas as pd
import pytest

from trendcast.app import read_shop
from trendcast.data.io import read_frame, read_source
from trendcast.errors import DataValidationError

ROWS = [["unique_id", "ds", "y"], ["001", "2024-01-01", "1"], ["001", "2024-01-02", "2"]]


def written(tmp_path, text: str | bytes, name: str = "sales.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_separator_is_detected_and_noted(tmp_path, sep):
    frame = read_frame(written(tmp_path, "\n".join(sep.join(r) for r in ROWS) + "\n"))
    assert frame.columns.tolist() == ["unique_id", "ds", "y"]
    assert frame["y"].tolist() == [1, 2]
    assert frame.attrs["notes"] == ([] if sep == "," else [f"separator {sep!r} detected"])


def test_decimal_commas_do_not_fool_the_separator(tmp_path):
    frame = read_frame(written(tmp_path, "id;price\na;2,55\nb;1,10\n"))
    assert frame.columns.tolist() == ["id", "price"]
    assert frame["price"].tolist() == [2.55, 1.1]


@pytest.mark.parametrize(
    "encoding, note",
    [("utf-8-sig", False), ("utf-16", False), ("utf-16-le", False), ("cp1252", True)],
)
def test_encodings_are_read_and_a_guess_is_noted(tmp_path, encoding, note):
    text = "unique_id,title\na,Crème brûlée £2\n"
    frame = read_frame(written(tmp_path, text.encode(encoding)))
    assert frame.columns.tolist() == ["unique_id", "title"]
    assert frame["title"].tolist() == ["Crème brûlée £2"]
    assert any("Windows-1252" in n for n in frame.attrs["notes"]) == note


def test_a_wrong_encoding_named_by_the_user_is_an_error(tmp_path):
    path = written(tmp_path, "id,title\na,£2\n".encode("cp1252"))
    with pytest.raises(DataValidationError, match="is not utf-8 text") as info:
        read_frame(path, encoding="utf-8")
    assert info.value.frame == str(path)
    assert "--encoding latin-1" in info.value.render("cli")


def test_quoted_fields_keep_separators_quotes_and_line_breaks(tmp_path):
    text = 'id,title\na,"Mug, blue ""XL""\nsecond line"\n'
    assert read_frame(written(tmp_path, text))["title"].tolist() == ['Mug, blue "XL"\nsecond line']


@pytest.mark.parametrize(
    "text, message",
    [
        ('id,y\na,1\nb,"2\nc,3\n', "never closed"),
        ("id,y\na,1\nb,2,3\n", "line 3 has 3 fields where the header has 2"),
        ("id,y\na,1,9\nb,2\n", "more fields than the header"),
        ("", "empty"),
        ("\n\n", "empty"),
        ("id,id,y\na,b,1\n", "more than once"),
    ],
)
def test_unreadable_csv_is_a_data_error_with_the_fix(tmp_path, text, message):
    path = written(tmp_path, text)
    with pytest.raises(DataValidationError, match=message) as info:
        read_frame(path)
    assert info.value.frame == str(path)
    assert info.value.fix


def test_ids_and_codes_keep_their_written_form(tmp_path):
    text = "unique_id,ds,y,store\n" + "".join(
        f"{i},2024-01-0{d},{d},007\n"
        for i in ("001", "01", "04006381333932", "12", "12.0", "NA", "null")
        for d in (1, 2)
    )
    data = read_shop(written(tmp_path, text))
    assert sorted(data.sales["unique_id"].unique()) == sorted(
        ["001", "01", "04006381333932", "12", "12.0", "NA", "null"]
    )
    assert read_frame(tmp_path / "sales.csv")["store"].eq("007").all()


def test_numbers_are_typed_only_when_every_value_is_one(tmp_path):
    text = "id,price,promo,size,note\na,1.5,True,NA,x\nb,,False,3,1\n"
    frame = read_frame(written(tmp_path, text))
    assert frame["price"].tolist()[0] == 1.5 and np.isnan(frame["price"].tolist()[1])
    assert frame["promo"].dtype == bool
    assert frame["size"].isna().tolist() == [True, False]  # 'NA' is missing outside ids
    assert frame["note"].tolist() == ["x", "1"]  # a text column keeps its numbers as text


def test_excel_workbooks_are_read_with_ids_as_text(tmp_path):
    path = tmp_path / "sales.xlsx"
    pd.DataFrame({"unique_id": ["001", 12, 13], "ds": ["2024-01-01"] * 3, "y": [1, 2, 3]}).to_excel(
        path, index=False
    )
    frame = read_frame(path, text_columns=["unique_id"])
    assert frame["unique_id"].tolist() == ["001", "12", "13"]
    assert frame["y"].tolist() == [1, 2, 3]
    with pytest.raises(DataValidationError, match="no such sheet"):
        read_frame(path, sheet="missing")


@pytest.mark.parametrize("kind", ["parquet", "xlsx"])
def test_a_broken_binary_file_is_a_data_error(kind):
    with pytest.raises(DataValidationError, match="not a readable"):
        read_source(io.BytesIO(b"PAR1 not really"), name="upload", kind=kind)


def test_the_cli_reads_with_the_separator_and_encoding_given(tmp_path, capsys):
    from trendcast.cli import main

    text = "unique_id|ds|y\nä|2024-01-01|1\nä|2024-01-02|2\n"
    path = written(tmp_path, text.encode("cp1252"))
    assert main(["validate", str(path), "--sep", "|", "--encoding", "cp1252"]) == 0
    assert main(["validate", str(path), "--sep", ";"]) == 2
    error = capsys.readouterr().err
    assert "Fix:" in error and "'unique_id|ds|y'" in error  # the one column read


def test_a_semicolon_file_reads_decimal_commas_and_keeps_doubtful_dots_as_text(tmp_path):
    text = "id;price;units;share\na;2,55;1.447;0.125\nb;1.234,5;2;0.5\n"
    frame = read_frame(written(tmp_path, text))
    assert frame["price"].tolist() == [2.55, 1234.5]
    assert frame["units"].tolist() == ["1.447", "2"]  # 1.447 or 1447: not guessed
    assert frame["share"].tolist() == [0.125, 0.5]
    notes = " ".join(frame.attrs["notes"])
    assert "decimal commas read" in notes and "'1.447'" in notes
