"""The hashes that tie ``model.l1ml.json`` to what it was compiled from, and the checked load of it.

``Graph.save`` writes an ``integrity`` block into the IR file:

    "integrity": {"ir_sha256": <sha256 of the canonical JSON of everything else in the file>,
                  "source": {"file": "model.onnx", "sha256": <sha256 of that file's bytes>} or null}

The canonical JSON is ``json.dumps(doc, sort_keys=True, separators=(",", ":"))`` of the parsed file
without the block, so re-indenting the file changes nothing and editing any value is detected. The
source is the model copy ``l1ml compile`` puts beside the IR. ``load_ir`` refuses, with the file named
and the remedy (compile again), an IR that is malformed, was edited after it was written, or whose source
beside it was replaced. A source that is absent is only required where it is read (``l1ml verify``'s
qonnx level; see ``l1ml.compiled``), so a lone IR file copied elsewhere still loads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from l1ml.errors import InputFileError
from l1ml.hashing import file_sha256
from l1ml.ir.graph import FORMAT_VERSION, Graph
from l1ml.ir.schema import IRSchemaError
from l1ml.jsonfile import read_json
from l1ml.limits import LimitError, check_graph_size

INTEGRITY_KEY = "integrity"
IR_WHAT = "l1ml IR (model.l1ml.json)"
COMPILE_AGAIN = "compile the model again: l1ml compile MODEL.onnx -o OUTDIR"


class IRFileError(InputFileError):
    """An IR file that is malformed, edited after it was written, or no longer matches its source model."""


def content_sha256(doc: dict) -> str:
    """sha256 of the canonical JSON of ``doc`` without its integrity block."""
    body = {k: v for k, v in doc.items() if k != INTEGRITY_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(doc: dict, ir_path: Path, source: str | Path | None = None) -> dict:
    """``doc`` with its integrity block; ``source`` must sit beside ``ir_path`` (it is recorded by name)."""
    src = None
    if source is not None:
        source = Path(source)
        if source.absolute().parent != Path(ir_path).absolute().parent:
            raise ValueError(f"the source model {source} must be in the IR's directory {Path(ir_path).parent}")
        src = {"file": source.name, "sha256": file_sha256(source)}
    return {**doc, INTEGRITY_KEY: {"ir_sha256": content_sha256(doc), "source": src}}


def _hex(v: object) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def check_integrity(doc: dict, path: Path, require_source: bool = False) -> None:
    """Refuse an IR whose content or source beside it no longer matches the recorded hashes."""
    block = doc.get(INTEGRITY_KEY)
    if block is None:
        raise IRFileError(f"{path}: no integrity hash (written by an older l1ml, or the block was removed), so "
                          f"edits cannot be ruled out; {COMPILE_AGAIN}")
    src = block.get("source") if isinstance(block, dict) else None
    if not (isinstance(block, dict) and set(block) == {"ir_sha256", "source"} and _hex(block["ir_sha256"])
            and (src is None or (isinstance(src, dict) and set(src) == {"file", "sha256"}
                                 and isinstance(src["file"], str) and _hex(src["sha256"])))):
        raise IRFileError(f"{path}: the integrity block is malformed (expected ir_sha256 and source with file and "
                          f"sha256, hex digests of 64 characters); {COMPILE_AGAIN}")
    actual = content_sha256(doc)
    if actual != block["ir_sha256"]:
        raise IRFileError(f"{path}: the IR was changed after l1ml wrote it (sha256 {actual[:12]}..., recorded "
                          f"{block['ir_sha256'][:12]}...); edits are not trusted: {COMPILE_AGAIN}")
    if src is None:
        if require_source:
            raise IRFileError(f"{path}: records no source model, so the qonnx level has nothing to compare; "
                              f"{COMPILE_AGAIN}")
        return
    if Path(src["file"]).name != src["file"]:
        raise IRFileError(f"{path}: the source model must be a file beside the IR, found '{src['file']}'; "
                          f"{COMPILE_AGAIN}")
    source = Path(path).parent / src["file"]
    if not source.exists():
        if require_source:
            raise IRFileError(f"{source}: missing; {path.name} was compiled from it (restore it or "
                              f"{COMPILE_AGAIN})")
        return
    if not source.is_file():
        raise IRFileError(f"{source}: not a regular file; {path.name} was compiled from a file of that name; "
                          f"{COMPILE_AGAIN}")
    actual = file_sha256(source)
    if actual != src["sha256"]:
        raise IRFileError(f"{source}: the model was replaced or changed after {path.name} was compiled from it "
                          f"(sha256 {actual[:12]}..., recorded {src['sha256'][:12]}...); {COMPILE_AGAIN}")


def load_ir(path: str | Path, require_source: bool = False) -> Graph:
    """The graph of an IR file, after the checks: JSON, schema, hashes, structure and size limits."""
    path = Path(path)
    doc = read_json(path, IR_WHAT, COMPILE_AGAIN)
    try:
        g = Graph.from_json(doc)
    except IRSchemaError as e:
        raise IRFileError(f"{path}: {e}; {COMPILE_AGAIN}") from e
    check_integrity(doc, path, require_source)
    try:
        g.verify(typed=True)
    except ValueError as e:
        raise IRFileError(f"{path}: not a valid compiled graph ({e}); {COMPILE_AGAIN}") from e
    try:
        check_graph_size(g)
    except LimitError as e:
        raise IRFileError(f"{path}: {e}") from e
    return g


__all__ = ["COMPILE_AGAIN", "FORMAT_VERSION", "IRFileError", "check_integrity", "content_sha256", "load_ir",
           "seal"]
