"""The consoles l1ml prints through. On a terminal rich takes the terminal's width; piped into a file or a
CI log (``make demo > demo.log``) it would fall back to 80 columns and wrap every table and help panel
into fragments, so there the width is ``COLUMNS`` if set, else ``LOG_WIDTH``."""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: columns of output written to a file or a pipe (wide enough for the report and verify tables)
LOG_WIDTH = 120


def width(stderr: bool = False) -> int | None:
    """None on a terminal (rich measures it), else ``COLUMNS`` or ``LOG_WIDTH``."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else LOG_WIDTH


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, width=width(stderr))


def set_help_width() -> None:
    """Typer's help panels, at the same width (typer reads ``rich_utils.MAX_WIDTH`` when it prints)."""
    import typer.rich_utils

    if not os.environ.get("TERMINAL_WIDTH"):
        typer.rich_utils.MAX_WIDTH = width()
