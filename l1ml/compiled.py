"""Loading a directory written by ``l1ml compile``, with every file checked before any work.

``load_compiled`` is what ``l1ml verify`` calls first: the IR with its hashes (``l1ml.ir.integrity``),
the source model it was compiled from (required: the qonnx level runs it), and the well-formedness of
``compile.json`` and of a ``verify.json`` from an earlier run (which ``write_verify_json`` merges into).
Each problem is one named error with the file and the remedy, exit code 2, instead of a traceback
after minutes of simulation.
"""

from __future__ import annotations

import json
import typing
from dataclasses import fields
from pathlib import Path
from types import NoneType, UnionType
from typing import TYPE_CHECKING

from l1ml.errors import InputFileError, L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.integrity import COMPILE_AGAIN, load_ir
from l1ml.jsonfile import JSONFileError, a_json_kind, read_json
from l1ml.limits import check_options

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.compile import CompileOptions

IR_FILE = "model.l1ml.json"
OPTIONS_FILE = "compile.json"
VERIFY_FILE = "verify.json"
VERIFY_REMEDY = "delete it (the next l1ml verify writes a new one)"
# compile.json values that l1ml.limits bounds, by CompileOptions field
LIMITED_OPTIONS = ("reuse_factor", "clock_ns", "pipeline_stages", "latency_budget_ns", "total_budget_ns", "tmux")


def load_compiled(outdir: str | Path) -> Graph:
    """The graph of a compile output, after checking every file ``l1ml verify`` reads or rewrites."""
    outdir = Path(outdir)
    if not (outdir / IR_FILE).exists():
        raise InputFileError(f"{outdir}: not an l1ml compile output (no {IR_FILE}); run "
                             f"`l1ml compile MODEL.onnx -o {outdir}` first")
    g = load_ir(outdir / IR_FILE, require_source=True)
    if (outdir / OPTIONS_FILE).exists():
        load_options(outdir)
    read_verify_json(outdir)
    return g


def _matches(value: object, hint: object) -> bool:
    """Whether a parsed JSON value fits a simple annotation (str, bool, int, float, X | None)."""
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is NoneType:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # a richer annotation: CompileOptions checks the value itself


def _describe(hint: object) -> str:
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    names = {NoneType: "null", bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def load_options(outdir: str | Path) -> CompileOptions:
    """The CompileOptions recorded in ``outdir/compile.json``: known keys, the right JSON types, values
    within ``l1ml.limits``; a key missing takes its default (a file from before the option existed)."""
    from l1ml.compile import CompileOptions

    path = Path(outdir) / OPTIONS_FILE
    d = read_json(path, "compile options", COMPILE_AGAIN)
    hints = typing.get_type_hints(CompileOptions)
    known = {f.name for f in fields(CompileOptions)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise JSONFileError(f"{path}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(known))}); {COMPILE_AGAIN}")
    for k, v in d.items():
        if not _matches(v, hints[k]):
            shown = "null" if v is None else f"{a_json_kind(v)} {json.dumps(v)}"
            raise JSONFileError(f"{path}: '{k}' is {shown}, expected {_describe(hints[k])}; "
                                f"{COMPILE_AGAIN}")
    try:
        check_options(**{k: d[k] for k in LIMITED_OPTIONS if k in d})
        return CompileOptions(**d)
    except L1MLError as e:
        raise JSONFileError(f"{path}: {e}; {COMPILE_AGAIN}") from e


def read_verify_json(outdir: str | Path) -> dict:
    """The results of earlier ``l1ml verify`` runs in ``outdir`` ({} when there is none), checked to be
    what ``write_verify_json`` merges into: an object whose "levels" maps level names to objects with a
    whole "mismatches" count."""
    path = Path(outdir) / VERIFY_FILE
    if not path.exists():
        return {}
    doc = read_json(path, "record of earlier verify runs", VERIFY_REMEDY)
    levels = doc.get("levels", {})
    if not isinstance(levels, dict):
        raise JSONFileError(f"{path}: 'levels' is {a_json_kind(levels)}, expected an object of level results; "
                            f"{VERIFY_REMEDY}")
    for name, r in levels.items():
        m = r.get("mismatches") if isinstance(r, dict) else None
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise JSONFileError(f"{path}: levels['{name}'] has no whole 'mismatches' count; {VERIFY_REMEDY}")
    return doc
