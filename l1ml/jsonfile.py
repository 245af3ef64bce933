"""Reading the JSON files l1ml writes (model.l1ml.json, compile.json, verify.json) as a user error,
not a traceback, when one is missing, unreadable, not JSON or not an object."""

from __future__ import annotations

import json
from pathlib import Path

from l1ml.errors import InputFileError


class JSONFileError(InputFileError):
    """A JSON file l1ml reads is missing, malformed or not what it should be; the message names the file,
    what is wrong and the remedy."""


def read_json(path: Path, what: str, remedy: str) -> dict:
    """The top-level object of ``path``; ``what`` names the file's role, ``remedy`` how to get a good one."""
    path = Path(path)
    if not path.exists():
        raise JSONFileError(f"{path}: no such file ({what}); {remedy}")
    if not path.is_file():  # a directory, FIFO or device: never opened, so never a hang
        raise JSONFileError(f"{path}: not a regular file ({what}); {remedy}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise JSONFileError(f"{path}: cannot read the {what} ({e}); {remedy}") from e
    if not text.strip():
        raise JSONFileError(f"{path}: the {what} is empty; {remedy}")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        decode = isinstance(e, json.JSONDecodeError)
        detail = f"line {e.lineno} column {e.colno}: {e.msg}" if decode else "nested too deeply"
        # the text ends before the document does (a write cut short): an error at its end, or a string never closed
        cut = decode and (e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"))
        kind = "truncated" if cut else "not valid JSON"
        raise JSONFileError(f"{path}: the {what} is {kind} ({detail}); {remedy}") from e
    if not isinstance(doc, dict):
        raise JSONFileError(f"{path}: the {what} is {a_json_kind(doc)}, not an object; {remedy}")
    return doc


def json_kind(value: object) -> str:
    """The JSON name of a parsed value's kind, for messages: object, array, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def a_json_kind(value: object) -> str:
    """The kind with its article: 'an array', 'a string'."""
    kind = json_kind(value)
    return ("an " if kind[0] in "aeiou" else "a ") + kind
