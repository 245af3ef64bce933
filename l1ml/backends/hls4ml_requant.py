"""hls4ml extension layer for a Requant node: exact integer requantisation by thresholds or multiply-add-shift.

hls4ml has no layer that maps codes by comparisons against per-channel constants or by a wide
multiply-add with a floor shift, so l1ml registers ``L1MLRequant`` (a layer class, a config and a
function-call template, and ``firmware_templates/hls/nnet_l1ml_requant.h``) for the Vivado and Vitis
backends, as ``hls4ml_gnn`` does for the GNN layers. The tables come from ``requant_plan`` (thresholds
outside the input range folded away), so the C++ is the emulator's ``requant_codes`` statement by
statement; every type is exact and set here, none is inferred.
"""

from __future__ import annotations

from pathlib import Path

from l1ml.backends.ap_fixed import ap_type
from l1ml.backends.requant_plan import (
    MultiplyChannel,
    RequantProblem,
    ThresholdChannel,
    requant_problem,
    signed_width,
)
from l1ml.backends.templates import templates_root
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.types import FixedType

INCLUDE = ["nnet_utils/nnet_l1ml_requant.h"]
BACKENDS = ("Vivado", "Vitis")
#: the widest ap_int the layer may need (the ap_types limit without AP_INT_MAX_W)
MAX_AP_WIDTH = 1024
_registered = False


def header() -> Path:
    """The layer's C++ header, ``hls/nnet_l1ml_requant.h`` of the firmware templates."""
    return templates_root() / "hls" / "nnet_l1ml_requant.h"


def _ap(t: FixedType) -> str:
    """The exact (plain) ap_fixed spelling of a type: codes convert to and from it without rounding."""
    return ap_type(t.plain())


def _code(t: FixedType) -> str:
    return f"ap_int<{t.width}>" if t.signed else f"ap_uint<{t.width}>"


def cpp_int(v: int, ctype: str) -> str:
    """A C++ constant of type ``ctype`` (an ap_int): a long long literal, or a decimal string beyond it.

    >>> cpp_int(-5, "ap_int<8>"), cpp_int(2**70, "ap_int<80>")
    ('-5LL', 'ap_int<80>("1180591620717411303424", 10)')
    """
    if -(2**62) <= v < 2**62:
        return f"{v}LL"
    return f'{ctype}("{v}", 10)'


def _table(name: str, ret: str, args: str, index: str, values: list[str]) -> str:
    """A config struct's static member function reading a compile-time table (folds to constants)."""
    return (f"    static {ret} {name}({args}) {{\n"
            "        #pragma HLS INLINE\n"
            f"        static const {ret} table[{len(values)}] = {{{', '.join(values)}}};\n"
            f"        return table[{index}];\n"
            "    }\n")


def layer_attributes(p: RequantProblem) -> dict:
    """The hls4ml layer dict entries (besides name, class and inputs) of a Requant problem."""
    a: dict = {"form": p.form, "n_elem": p.n, "n_chan": len(p.channels), "in_type": _ap(p.x),
               "in_code": _code(p.x), "out_type": _ap(p.out), "out_code": _code(p.out)}
    if p.form == "thresholds":
        n_terms = max(p.max_terms, 1)
        chans: list[ThresholdChannel] = list(p.channels)  # type: ignore[arg-type]
        a["n_terms"] = n_terms
        a["thresholds"] = [c.thresholds[k] if k < len(c.thresholds) else 0 for c in chans for k in range(n_terms)]
        a["weights"] = [c.weights[k] if k < len(c.weights) else 0 for c in chans for k in range(n_terms)]
        a["offsets"] = [c.offset for c in chans]
        # the running count lies between the offset and the final code, both output codes
        a["acc_width"] = signed_width(p.out.min_code, p.out.max_code)
    else:
        mchans: list[MultiplyChannel] = list(p.channels)  # type: ignore[arg-type]
        a["shift"] = p.shift
        a["wide_width"] = p.wide_width()
        a["mult_width"] = max(max(c.mult.bit_length() for c in mchans) + 1, 2)
        a["mult"] = [c.mult for c in mchans]
        a["add"] = [c.add for c in mchans]
        a["clip_lo"] = any(c.clip_lo for c in mchans)
        a["clip_hi"] = any(c.clip_hi for c in mchans)
        a["out_min"], a["out_max"] = p.out.min_code, p.out.max_code
    return a


def config_text(index: int, a: dict) -> str:
    """The config struct of one L1MLRequant layer from its attributes."""
    head = (f"    static const unsigned n_elem = {a['n_elem']};\n"
            f"    static const unsigned n_chan = {a['n_chan']};\n"
            f"    typedef {a['in_type']} in_exact_t;\n"
            f"    typedef {a['in_code']} in_code_t;\n"
            f"    typedef {a['out_type']} out_exact_t;\n"
            f"    typedef {a['out_code']} out_code_t;\n")
    if a["form"] == "thresholds":
        n = a["n_terms"]
        return (f"struct config{index} : nnet::l1ml_requant_thresholds_config {{\n" + head
                + f"    static const unsigned n_terms = {n};\n"
                + f"    typedef ap_int<{a['acc_width']}> acc_t;\n"
                + _table("threshold", "long long", "unsigned c, unsigned k", f"c * {n} + k",
                         [f"{v}LL" for v in a["thresholds"]])
                + _table("weight", "long long", "unsigned c, unsigned k", f"c * {n} + k",
                         [f"{v}LL" for v in a["weights"]])
                + _table("offset", "long long", "unsigned c", "c", [f"{v}LL" for v in a["offsets"]])
                + "};")
    wide, mult = f"ap_int<{a['wide_width']}>", f"ap_int<{a['mult_width']}>"
    return (f"struct config{index} : nnet::l1ml_requant_multiply_config {{\n" + head
            + f"    static const unsigned shift = {a['shift']};\n"
            + f"    static const bool clip_lo = {'true' if a['clip_lo'] else 'false'};\n"
            + f"    static const bool clip_hi = {'true' if a['clip_hi'] else 'false'};\n"
            + f"    static const long long out_min = {a['out_min']}LL;\n"
            + f"    static const long long out_max = {a['out_max']}LL;\n"
            + f"    typedef {mult} mult_t;\n"
            + f"    typedef {wide} wide_t;\n"
            + _table("mult", "mult_t", "unsigned c", "c", [cpp_int(v, mult) for v in a["mult"]])
            + _table("add", "wide_t", "unsigned c", "c", [cpp_int(v, wide) for v in a["add"]])
            + "};")


def requant_layer(node: Node, x: Tensor, out: Tensor, source: str) -> tuple[dict, dict[str, str]]:
    """The hls4ml layer dict (without its name) and precisions of Requant ``node`` reading layer ``source``."""
    p = requant_problem(node, x, out)
    if p.form == "thresholds" and p.x.width > 62:
        raise NodeError(node, f"a {p.x.width}-bit input to threshold comparisons is not lowered to hls4ml (62 bits "
                        "at most); requantise the input to fewer bits first")
    if p.form == "multiply" and p.wide_width() > MAX_AP_WIDTH:
        raise NodeError(node, f"the exact product needs {p.wide_width()} bits, more than ap_int's {MAX_AP_WIDTH}; "
                        "use a smaller multiplier or shift")
    register()
    layer = {"class_name": "L1MLRequant", "inputs": [source], "shape": list(out.shape), **layer_attributes(p)}
    # the codes are computed exactly and written bit for bit: the result type is the plain output type
    return layer, {"result": _ap(p.out)}


def register() -> None:
    """Register the layer, its templates and the header with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute
    from hls4ml.model.layers import Layer

    class L1MLRequant(Layer):
        _expected_attributes = [Attribute("form", value_type=str), Attribute("n_elem"), Attribute("n_chan"),
                                Attribute("shape", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]))

    class RequantConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLRequant)

        def format(self, node) -> str:
            return config_text(node.index, dict(node.attributes))

    class RequantCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLRequant, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_requant_{node.get_attr('form')}<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']});")

    hls4ml.model.layers.register_layer(L1MLRequant.__name__, L1MLRequant)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in (RequantConfig, RequantCall):
            backend.register_template(template)
        backend.register_source(header())
    _registered = True
