"""Exceptions shared by every layer, and the structured problems of bad input.

A `DataValidationError` lists every `Problem` found in the input at once. Each problem names
its frame, column and offending rows, and carries a `Fix` whose settings (`Setting`: a
parameter and its value) every face spells in its own terms: ``target_col='units'`` in
Python, ``--target-col units`` on the command line (`cli_message`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SHOWN_ROWS = 5

# How a face spells settings: "python" (target_col='units'), "cli" (--target-col units), and
# "text", the default of str(error): Python's spelling with the command line's in brackets,
# for whoever reads an error no face has rendered (tracebacks, logs).
FACES = ("text", "python", "cli")


class NotFittedError(RuntimeError, AttributeError):
    """A model, forecaster or text model was asked for results before `fit`."""


class WorkspaceBusyError(RuntimeError):
    """Another process holds the workspace file for writing."""


@dataclass(frozen=True)
class Setting:
    """A parameter a fix asks for, with its value; ``True`` is a switch (``--fill-gaps``).

    Example:
        >>> Setting("target_col", "units").render("python")
        "target_col='units'"
        >>> Setting("target_col", "units").render("cli"), Setting("fill_gaps").render("cli")
        ('--target-col units', '--fill-gaps')
    """

    name: str
    value: Any = True

    def render(self, face: str = "text") -> str:
        python = f"{self.name}={self.value!r}"
        option = "--" + self.name.replace("_", "-")
        if self.value is not True:
            value = str(self.value)
            # A placeholder such as <column> is to be replaced, not quoted for a shell.
            placeholder = value.startswith("<") and value.endswith(">")
            option += " " + (value if placeholder else shlex.quote(value))
        return {"python": python, "cli": option}.get(face, f"{python} (CLI: {option})")


@dataclass(frozen=True)
class Term:
    """Words that differ by face, e.g. a Python function and the command doing the same.

    Example:
        >>> Term("from_transactions", "trendcast import").render("cli")
        'trendcast import'
    """

    python: str
    cli: str

    def render(self, face: str = "text") -> str:
        return {"python": self.python, "cli": self.cli}.get(
            face, f"{self.python} (CLI: {self.cli})"
        )


@dataclass(frozen=True)
class Fix:
    """How to fix a problem: words, `Setting`s and `Term`s in order, and optionally a Python
    example (code a command-line user cannot run, so the ``cli`` face leaves it out).

    Example:
        >>> fix = Fix.of("pass ", Setting("clip_negative"), " to set them to 0.")
        >>> fix.render("python"), fix.render("cli")
        ('pass clip_negative=True to set them to 0.', 'pass --clip-negative to set them to 0.')
    """

    parts: tuple[str | Setting | Term, ...] = ()
    example: str | None = None

    @classmethod
    def of(cls, *parts: str | Setting | Term, example: str | None = None) -> Fix:
        return cls(tuple(parts), example)

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The parameters this fix asks for."""
        return tuple(p for p in self.parts if isinstance(p, Setting))

    def render(self, face: str = "text") -> str:
        text = "".join(p if isinstance(p, str) else p.render(face) for p in self.parts)
        if self.example and face != "cli":
            text = f"{text} Example: {self.example}" if text else self.example
        return text


@dataclass(frozen=True, eq=False)  # rows are a frame: compared by identity, never hashed
class Problem:
    """One thing wrong with the input.

    Attributes:
        message: what is wrong.
        fix: how to fix it.
        frame: the frame at fault (``sales``, ``static``, ``dynamic``, ``reviews``, a path).
        column: the column at fault, if one is.
        rows: the offending rows (all of them; messages show the first few), indexed by
            their row number in the frame as given, counting from 0; or per series.
    """

    message: str
    fix: Fix
    frame: str = "sales"
    column: str | None = None
    rows: pd.DataFrame | None = None

    def render(self, face: str = "text") -> str:
        where = f"{self.frame}: column '{self.column}'" if self.column else self.frame
        lines = [f"{where}: {self.message}"]
        if self.rows is not None and len(self.rows):
            shown = self.rows.head(SHOWN_ROWS).to_string()
            lines.append("  " + shown.replace("\n", "\n  "))
            if len(self.rows) > SHOWN_ROWS:
                lines.append(f"  ... and {len(self.rows) - SHOWN_ROWS:,} more")
        fix = self.fix.render(face)
        if fix:
            lines.append(f"Fix: {fix}")
        return "\n".join(lines)


class DataValidationError(ValueError):
    """Bad input: every problem found, each naming the frame, column and rows, with the fix.

    Raised with one problem as ``DataValidationError(message, fix=..., frame=..., column=...,
    rows=...)``, or with several as ``DataValidationError(problems=[...])``. ``problems``
    holds them all; ``problem``, ``fix``, ``frame``, ``column`` and ``rows`` are those of the
    first. ``str(error)`` is the ``text`` rendering; `render` gives another face's.
    """

    def __init__(
        self,
        problem: str | None = None,
        *,
        fix: str | Fix = "",
        frame: str = "sales",
        column: str | None = None,
        rows: pd.DataFrame | None = None,
        problems: Sequence[Problem] = (),
    ):
        found = list(problems)
        if problem is not None:
            fix = Fix((fix,)) if isinstance(fix, str) else fix
            found.insert(0, Problem(problem, fix, frame, column, rows))
        if not found:
            raise TypeError("DataValidationError needs a problem.")
        self.problems: tuple[Problem, ...] = tuple(found)
        first = self.problems[0]
        self.problem, self.frame, self.column, self.rows = (
            first.message,
            first.frame,
            first.column,
            first.rows,
        )
        self.fix = first.fix.render("text")
        super().__init__(self.render("text"))

    def render(self, face: str = "text") -> str:
        """The message with fixes spelt for ``face``: ``"text"``, ``"python"`` or ``"cli"``."""
        if face not in FACES:
            raise ValueError(f"face must be one of {FACES}, got {face!r}.")
        if len(self.problems) == 1:
            return self.problems[0].render(face)
        blocks = [
            f"{number}. " + p.render(face).replace("\n", "\n   ")
            for number, p in enumerate(self.problems, start=1)
        ]
        return f"{len(self.problems)} problems in the input:\n" + "\n".join(blocks)

    def __reduce__(self):
        # Rebuilt from its problems: the default would call the class with the message alone.
        return (_rebuilt, (type(self), self.problems))


class NotAFrameError(DataValidationError, TypeError):
    """Something other than a pandas or polars frame where a frame is taken."""


def _rebuilt(cls: type[DataValidationError], problems: tuple[Problem, ...]):
    return cls(problems=problems)


def cli_message(error: BaseException | str) -> str:
    """The message of ``error`` for the command line: parameters as ``--kebab-case`` options,
    no Python examples; a `KeyError` without its quotes.

    Example:
        >>> error = DataValidationError("missing.", column="y",
        ...     fix=Fix.of("pass ", Setting("target_col", "units"), "."))
        >>> print(cli_message(error))
        sales: column 'y': missing.
        Fix: pass --target-col units.
    """
    if isinstance(error, DataValidationError):
        return error.render("cli")
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)
