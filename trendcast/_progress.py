"""Progress bars for long work (rich), silent when disabled; a bar opened inside another
(a model's epochs inside the forecaster's fit) is one more line of the same display."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_active: list[Progress] = []  # the display the open bars share (rich allows one at a time)


@contextmanager
def progress_bar(
    total: int, description: str, *, enabled: bool = True
) -> Iterator[Callable[..., None]]:
    """Yields ``advance(label)``; shows a bar on stderr while the block runs."""
    if not enabled:
        yield lambda label=None: None
        return
    if _active:
        progress = _active[-1]
        task = progress.add_task(description, total=total, label="")
        try:
            yield _advancer(progress, task)
        finally:
            progress.remove_task(task)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[label]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total, label="")
        _active.append(progress)
        try:
            yield _advancer(progress, task)
        finally:
            _active.pop()


def _advancer(progress: Progress, task) -> Callable[..., None]:
    def advance(label: str | None = None) -> None:
        progress.update(task, advance=1, label=label or "")

    return advance
