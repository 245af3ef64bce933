"""Markdown reports and all-or-nothing output directories."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from l1ml.errors import L1MLError

MARKER = ".l1ml-offline"  # identifies a directory this tool wrote, which it may therefore replace


@contextmanager
def staged_directory(dest: Path) -> Iterator[Path]:
    """Yield a temporary directory next to `dest`; on success it replaces `dest`, on failure it vanishes.

    An existing `dest` is only replaced if an earlier l1ml offline run wrote it (or it is empty), so a
    mistyped -o never deletes somebody's data.
    """
    dest = Path(dest).resolve()
    if dest.exists() and not dest.is_dir():
        raise L1MLError(f"{dest}: exists and is not a directory; choose another output path")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).exists():
        raise L1MLError(
            f"{dest}: directory exists and was not written by l1ml offline; choose another "
            "output path or remove it"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        yield stage
        (stage / MARKER).write_text("written by l1ml offline; safe to replace on the next run\n")
        if dest.exists():
            old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
            old.rmdir()
            dest.rename(old)
            stage.rename(dest)
            shutil.rmtree(old)
        else:
            stage.rename(dest)
    finally:
        if stage.exists():
            shutil.rmtree(stage)


def write_json(path: Path, data: Any) -> None:
    """Deterministic JSON (sorted keys), floats as written by Python."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class Markdown:
    """A small Markdown document builder; images are linked relative to the report."""

    def __init__(self, title: str):
        self.lines: list[str] = [f"# {title}", ""]

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += [f"{'#' * level} {text}", ""]

    def text(self, paragraph: str) -> None:
        self.lines += [paragraph, ""]

    def bullets(self, items: Sequence[str]) -> None:
        self.lines += [f"- {item}" for item in items] + [""]

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(fmt(v, digits) for v in row) + " |")
        self.lines.append("")

    def image(self, name: str, caption: str) -> None:
        self.lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]

    def render(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"

    def write(self, path: Path) -> None:
        path.write_text(self.render())
