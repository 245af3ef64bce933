"""The schema of the IR's JSON form, checked field by field before a Graph is built from it.

A malformed ``model.l1ml.json`` (a missing key, a string where a number belongs, a width of -1, an op
this l1ml does not know, data that does not fill its shape) must be a named error, not a KeyError deep
in a backend. Each message gives the path of the offending field, e.g. ``tensors['x'].type.width``.
Fixed-point types are checked by ``FixedType`` itself; attributes against their dataclass annotations
in ``l1ml.ir.ops``, so the schema cannot drift from the IR.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from typing import Any

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.ops import ATTRS, Op
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.jsonfile import a_json_kind

IR_FORMAT = "l1ml-ir"
TOP_KEYS = frozenset({"format", "version", "name", "inputs", "outputs", "meta", "tensors", "nodes"})
TENSOR_KEYS = frozenset({"shape", "type"})
DATA_KEYS = frozenset({"dtype", "data"})
NODE_KEYS = frozenset({"name", "op", "inputs", "outputs", "attrs", "meta"})
TYPE_KEYS = frozenset({"signed", "width", "frac", "rounding", "overflow", "narrow"})
DTYPES = {"int64": np.int64, "float64": np.float64}


class IRSchemaError(L1MLError):
    """The JSON form of an IR does not follow the schema; the message names the field."""


def _fail(where: str, msg: str) -> typing.NoReturn:
    raise IRSchemaError(f"{where}: {msg}")


def _keys(d: object, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()) -> dict:
    if not isinstance(d, dict):
        _fail(where, f"expected an object, found {a_json_kind(d)}")
    missing = sorted(required - d.keys())
    if missing:
        _fail(where, f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    unknown = sorted(d.keys() - required - optional)
    if unknown:
        _fail(where, f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
    return d


def _str(v: object, where: str) -> str:
    if not isinstance(v, str) or not v:
        _fail(where, f"expected a non-empty string, found {_show(v)}")
    return v


def _names(v: object, where: str) -> list[str]:
    if not isinstance(v, list):
        _fail(where, f"expected an array of names, found {a_json_kind(v)}")
    return [_str(x, f"{where}[{i}]") for i, x in enumerate(v)]


def _int(v: object, where: str, lo: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(where, f"expected a whole number, found {_show(v)}")
    if lo is not None and v < lo:
        _fail(where, f"must be {lo} or more, found {v}")
    return v


def _show(v: object) -> str:
    text = repr(v)
    return f"{a_json_kind(v)} {text if len(text) <= 40 else text[:37] + '...'}"


def _fixed_type(d: object, where: str) -> FixedType:
    _keys(d, where, TYPE_KEYS)
    for k in ("signed", "narrow"):
        if not isinstance(d[k], bool):
            _fail(f"{where}.{k}", f"expected true or false, found {_show(d[k])}")
    _int(d["width"], f"{where}.width", 1)
    _int(d["frac"], f"{where}.frac")
    for k, enum in (("rounding", Rounding), ("overflow", Overflow)):
        if d[k] not in {m.value for m in enum}:
            _fail(f"{where}.{k}", f"{_show(d[k])} is not one of {', '.join(m.value for m in enum)}")
    try:
        return FixedType.from_json(d)
    except ValueError as e:
        _fail(where, str(e))


def _data(td: dict, shape: tuple[int, ...], ty: FixedType | None, where: str) -> None:
    if td["dtype"] not in DTYPES:
        _fail(f"{where}.dtype", f"{_show(td['dtype'])} is not one of {', '.join(DTYPES)}")
    try:
        a = np.array(td["data"])
    except (ValueError, OverflowError):
        _fail(f"{where}.data", "not a regular array of numbers (rows of different lengths, or integers beyond "
                               "64 bits)")
    allowed = "iu" if td["dtype"] == "int64" else "iuf"
    if a.dtype.kind not in allowed:
        what = "whole numbers" if td["dtype"] == "int64" else "numbers"
        found = {"b": "true/false", "f": "fractional numbers", "U": "strings"}.get(a.dtype.kind, "mixed values")
        _fail(f"{where}.data", f"expected {what} (dtype {td['dtype']}), found {found}")
    if a.shape != shape:
        _fail(f"{where}.data", f"holds an array of shape {list(a.shape)}, the tensor's shape is {list(shape)}")
    if ty is not None and td["dtype"] == "int64" and a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < ty.min_code or hi > ty.max_code:
            _fail(f"{where}.data", f"codes {lo}..{hi} do not fit the tensor's type {ty} "
                                   f"({ty.min_code}..{ty.max_code})")


def _attr(v: object, hint: Any, where: str) -> None:
    """``v`` (parsed JSON) against an attribute annotation: int, float, bool, str, tuple[...] or X | None."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        if v is None and len(options) < len(typing.get_args(hint)):
            return
        return _attr(v, options[0], where)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if not isinstance(v, list):
            _fail(where, f"expected an array, found {_show(v)}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(v)
        elif len(v) != len(args):
            _fail(where, f"expected {len(args)} values, found {len(v)}")
        for i, (x, h) in enumerate(zip(v, args, strict=True)):
            _attr(x, h, f"{where}[{i}]")
        return
    checks = {int: ("a whole number", lambda x: isinstance(x, int) and not isinstance(x, bool)),
              float: ("a number", lambda x: isinstance(x, int | float) and not isinstance(x, bool)),
              bool: ("true or false", lambda x: isinstance(x, bool)), str: ("a string", lambda x: isinstance(x, str))}
    what, ok = checks[hint]
    if not ok(v):
        _fail(where, f"expected {what}, found {_show(v)}")


def _node(nd: object, where: str) -> None:
    _keys(nd, where, NODE_KEYS)
    _str(nd["name"], f"{where}.name")
    known = {op.value: op for op in Op}
    if nd["op"] not in known:
        _fail(f"{where}.op", f"unknown op {nd['op']!r}; this l1ml knows {', '.join(sorted(known))}")
    _names(nd["inputs"], f"{where}.inputs")
    _names(nd["outputs"], f"{where}.outputs")
    cls = ATTRS[known[nd["op"]]]
    attrs = _keys(nd["attrs"], f"{where}.attrs", frozenset(f.name for f in fields(cls)))
    hints = typing.get_type_hints(cls)
    for k, v in attrs.items():
        _attr(v, hints[k], f"{where}.attrs.{k}")
    if not isinstance(nd["meta"], dict):
        _fail(f"{where}.meta", f"expected an object, found {a_json_kind(nd['meta'])}")


def validate_ir_doc(d: object, version: int) -> None:
    """Raise IRSchemaError naming the first field of ``d`` that is not a valid IR of ``version``."""
    if not isinstance(d, dict) or d.get("format") != IR_FORMAT:
        _fail("format", f"not an l1ml IR (expected \"format\": \"{IR_FORMAT}\")")
    if d.get("version") != version:
        _fail("version", f"format version {d.get('version')!r} was written by another l1ml; this one reads "
                         f"version {version}")
    _keys(d, "the IR", TOP_KEYS, frozenset({"integrity"}))
    _str(d["name"], "name")
    if not isinstance(d["meta"], dict):
        _fail("meta", f"expected an object, found {a_json_kind(d['meta'])}")
    if not isinstance(d["tensors"], dict):
        _fail("tensors", f"expected an object, found {a_json_kind(d['tensors'])}")
    for k, td in d["tensors"].items():
        where = f"tensors[{k!r}]"
        _keys(td, where, TENSOR_KEYS, DATA_KEYS)
        if (DATA_KEYS & td.keys()) and not DATA_KEYS <= td.keys():
            _fail(where, "a constant needs both 'dtype' and 'data'")
        if not isinstance(td["shape"], list):
            _fail(f"{where}.shape", f"expected an array of sizes, found {a_json_kind(td['shape'])}")
        shape = tuple(_int(n, f"{where}.shape[{i}]", 1) for i, n in enumerate(td["shape"]))
        ty = None if td["type"] is None else _fixed_type(td["type"], f"{where}.type")
        if "data" in td:
            _data(td, shape, ty, where)
    for key in ("inputs", "outputs"):
        for i, name in enumerate(_names(d[key], key)):
            if name not in d["tensors"]:
                _fail(f"{key}[{i}]", f"'{name}' is not a tensor of the IR")
    if not isinstance(d["nodes"], list):
        _fail("nodes", f"expected an array, found {a_json_kind(d['nodes'])}")
    for i, nd in enumerate(d["nodes"]):
        _node(nd, f"nodes[{i}]")
