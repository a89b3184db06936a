"""Numbers as people write them: ``£2.55``, ``2,55 €``, ``1.234,50``, ``1,000``, read one way
per column, by the decimal separator given or the one the column's values leave no doubt about.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

DECIMALS = (".", ",")
# Currency written before or after an amount: a symbol or an ISO code.
_CURRENCY = re.compile(r"^(?:[£$€¥₹₽₩]|[A-Z]{3})\s*|\s*(?:[£$€¥₹₽₩]|[A-Z]{3})$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # 1 000 / 1'000: grouping by space or apostrophe
_SHAPE = re.compile(r"^[+-]?(?:\d[\d.,]*)?\d$|^[+-]?\d*[.,]\d+$")
# A value only thousands grouping explains or only a decimal separator: 1,000 vs 2,55.
_GROUPED = {sep: rf"^[+-]?[1-9]\d{{0,2}}(?:\{sep}\d{{3}})+$" for sep in DECIMALS}


class AmbiguousNumbers(ValueError):
    """A column whose values read as numbers with either separator as the decimal one."""

    def __init__(self, name: str, examples: list[str]):
        self.examples = examples
        super().__init__(
            f"the numbers of column '{name}' read two ways: is {examples[0]!r} "
            f"{_read(examples[0], '.'):g} or {_read(examples[0], ','):g}? (values such as "
            f"{', '.join(repr(e) for e in examples[:3])})"
        )


def parse_numbers(raw: pd.Series, *, decimal: str | None = None, name: str = "value") -> pd.Series:
    """``raw`` as floats; NaN where a value is missing or is not a number (``2 pcs``).

    Text may carry a currency (``£``, ``€``, ``EUR``), thousands grouping by ``,`` ``.``,
    space or apostrophe, and a decimal separator: ``decimal`` when given, else the one the
    column shows (a value with both, ``1.234,50``; or one that grouping cannot explain,
    ``2,55``). A column whose every such value reads either way (``1,000``, ``2.500``) is
    refused (`AmbiguousNumbers`), never guessed.

    Example:
        >>> parse_numbers(pd.Series(["£2.55", "1,234.50", "3"])).tolist()
        [2.55, 1234.5, 3.0]
        >>> parse_numbers(pd.Series(["2,55 €", "1.000,00"])).tolist()
        [2.55, 1000.0]
    """
    if pd.api.types.is_bool_dtype(raw) or not (
        pd.api.types.is_object_dtype(raw) or pd.api.types.is_string_dtype(raw)
    ):
        return pd.to_numeric(raw, errors="coerce").astype("float64")
    if decimal is not None and decimal not in DECIMALS:
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}.")
    held = raw.map(_is_number).to_numpy(bool)  # numbers among text (a spreadsheet column)
    text, shaped = _bare(raw.where(~held))
    decimal = decimal or _decimal(text[shaped], name)
    grouping = "," if decimal == "." else "."
    clean = text.where(shaped).str.replace(grouping, "", regex=False)
    clean = clean.str.replace(decimal, ".", regex=False)
    # A value with two decimal separators is not a number.
    numbers = pd.to_numeric(clean.where(clean.str.count(r"\.") <= 1), errors="coerce")
    out = numbers.to_numpy(dtype="float64", na_value=np.nan)
    out[held] = raw[held].astype("float64")
    return pd.Series(out, index=raw.index)


def infer_decimal(columns: list[pd.Series], name: str = "value") -> str:
    """The decimal separator that the text values of ``columns`` show together (one locale:
    a price of ``1.234,50`` tells that a quantity of ``1.000`` is a thousand)."""
    texts = [text[shaped] for text, shaped in (_bare(c.where(~c.map(_is_number).astype(bool)))
                                                for c in columns)]  # fmt: skip
    return _decimal(pd.concat(texts, ignore_index=True) if texts else pd.Series(), name)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _bare(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Text without currency and space grouping, and where it has a number's shape."""
    text = raw.astype("string").str.strip()
    text = text.str.replace(_CURRENCY, "", regex=True).str.replace(_SPACES, "", regex=True)
    return text, text.str.match(_SHAPE).fillna(False).to_numpy(bool)


def _decimal(text: pd.Series, name: str) -> str:
    """The decimal separator the values show; '.' when none has a separator."""
    values = pd.Series(text.dropna().unique())
    has_dot, has_comma = values.str.contains(".", regex=False), values.str.contains(",")
    both = values[has_dot & has_comma]
    if len(both):  # the rightmost separator is the decimal one, in every such value
        last = both.map(lambda v: "." if v.rfind(".") > v.rfind(",") else ",")
        if last.nunique() > 1:
            raise AmbiguousNumbers(name, [*both[last == "."].iloc[:1], *both[last == ","].iloc[:1]])
        return last.iloc[0]
    commas, dots = values[has_comma], values[has_dot]
    if (commas.str.count(",") > 1).any():
        return "."  # 1,000,000: commas group
    if (dots.str.count(r"\.") > 1).any():
        return ","
    comma_grouped = commas.str.match(_GROUPED[","]).all()
    dot_grouped = dots.str.match(_GROUPED["."]).all()
    if len(commas) and not comma_grouped:
        return ","  # 2,55: not thousands
    if len(dots) and not dot_grouped:
        return "."  # 2.55
    if len(commas) or len(dots):
        raise AmbiguousNumbers(name, [*commas.iloc[:3], *dots.iloc[:3]])
    return "."


def _read(value: str, decimal: str) -> float:
    grouping = "," if decimal == "." else "."
    return float(value.replace(grouping, "").replace(decimal, "."))
