"""Markdown reports and the inputs an offline output directory must not contain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.offline.config import Config

def config_inputs(config: Config) -> list[Path]:
    """The files a run reads (the YAML config and the table): an output directory may not hold them."""
    return [config.source, config.data.path]


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
