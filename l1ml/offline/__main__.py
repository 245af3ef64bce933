"""`python -m l1ml.offline ...`: the offline sub-application alone, with the main CLI's error handling."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the typer app; user errors print their message and exit 2, like the main `l1ml` command."""
    from l1ml.errors import L1MLError
    from l1ml.offline.cli import app

    try:
        app(prog_name="l1ml offline")
    except L1MLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
