"""Rich progress bars for the long loops (epochs, repeats, trials); silent when disabled (tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.offline.fit import Epoch


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress | None]:
    """A live rich Progress, or None when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, transient=False) as progress:
        yield progress


class Bar:
    """One task of a Progress (or nothing), advanced by the loops that own it."""

    def __init__(self, progress: Progress | None, description: str, total: int):
        self.progress = progress
        self.task = progress.add_task(description, total=total, info="") if progress is not None else None

    def advance(self, info: str = "") -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, info=info)

    def done(self) -> None:
        if self.progress is not None and self.task is not None:
            total = self.progress.tasks[self.task].total
            self.progress.update(self.task, completed=total)


def epoch_bar(
    progress: Progress | None, description: str, epochs: int
) -> tuple[Bar, Callable[[Epoch, object], None]]:
    """A bar over epochs and the fit callback that advances it with the current losses."""
    bar = Bar(progress, description, epochs)

    def on_epoch(e: Epoch, _model: object) -> None:
        bar.advance(f"train {e.train_loss:.4f}  val {e.val_loss:.4f}")

    return bar, on_epoch
