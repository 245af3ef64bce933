"""Output piped into a log keeps its tables and help panels whole: 120 columns (``l1ml.console.LOG_WIDTH``)
instead of rich's 80, or ``COLUMNS`` when set."""

from __future__ import annotations

import os
import subprocess
import sys

from l1ml.console import LOG_WIDTH


def _help(columns: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    if columns is not None:
        env["COLUMNS"] = columns
    r = subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", "compile", "--help"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_piped_help_is_log_width_and_its_panels_close():
    lines = _help(None)
    assert max(len(s) for s in lines) == LOG_WIDTH
    boxes = [s for s in lines if s.startswith(("╭", "│", "╰"))]
    assert boxes and all(len(s) == LOG_WIDTH and s[-1] in "╮│╯" for s in boxes)  # no panel cut into fragments
    # the part option's help stays on one line instead of wrapping at 80 columns
    assert any("--part" in s and "xcvu9p-flga2104-2L-e." in s for s in lines)


def test_columns_is_respected_when_set():
    assert max(len(s) for s in _help("100")) == 100
