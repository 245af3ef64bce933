"""A compile output that no longer matches itself is refused: an edited or malformed model.l1ml.json, a
model.onnx replaced after compile, a malformed compile.json or verify.json. Each case goes through the
command line and must end with exit 2, one line naming the file, the problem and the remedy, no
traceback, and nothing written."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from l1ml.cli import main
from l1ml.ir.graph import Graph
from l1ml.ir.integrity import seal
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, write_random_mlp

KEPT = ("model.l1ml.json", "model.onnx", "compile.json")
SPEC = MLPSpec(4, QuantSpec(8, 4), (LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), True,
                                              QuantSpec(6, 2, signed=False, rounding="FLOOR")),))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, example_model):
    out = tmp_path_factory.mktemp("integrity") / "out"
    r = subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", "compile", str(example_model),
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def outdir(compiled, tmp_path):
    """A copy of the files verify reads, to be damaged by one test."""
    d = tmp_path / "out"
    d.mkdir()
    for f in KEPT:
        shutil.copy(compiled / f, d / f)
    return d


def run(capsys, *argv):
    """The CLI in-process: (exit code, stdout, stderr). Any exception other than the exit escapes, so a
    traceback fails the test."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    cap = capsys.readouterr()
    return e.value.code, cap.out, cap.err


def assert_refused(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], lines[0]


def edit_ir(d, change, reseal=True):
    """Apply ``change`` to the parsed IR; ``reseal`` writes fresh hashes, so that the schema check (not the
    hash) must catch it."""
    path = d / "model.l1ml.json"
    doc = json.loads(path.read_text())
    change(doc)
    if reseal:
        doc.pop("integrity", None)
        doc = seal(doc, path, d / "model.onnx")
    path.write_text(json.dumps(doc, indent=1))


def first_const(doc):
    return next(k for k, t in sorted(doc["tensors"].items()) if "data" in t)


def first_weight(doc):
    return next(k for k, t in sorted(doc["tensors"].items()) if "data" in t and len(t["shape"]) == 2)


def verify_refuses(capsys, d, *needles):
    before = sorted(p.name for p in d.iterdir())
    code, _, err = run(capsys, "verify", d, "--levels", "qonnx", "--vectors", 20)
    assert_refused(code, err, *needles)
    assert sorted(p.name for p in d.iterdir()) == before  # no verify.json, no build tree


def test_an_intact_copy_verifies(capsys, outdir):
    code, out, err = run(capsys, "verify", outdir, "--levels", "qonnx", "--vectors", 20)
    assert code == 0, err
    assert "qonnx: 20 vectors, 0 mismatches" in out


def test_the_ir_records_both_hashes(compiled):
    import hashlib

    doc = json.loads((compiled / "model.l1ml.json").read_text())
    src = doc["integrity"]["source"]
    assert src["file"] == "model.onnx"
    assert src["sha256"] == hashlib.sha256((compiled / "model.onnx").read_bytes()).hexdigest()
    body = {k: v for k, v in doc.items() if k != "integrity"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert doc["integrity"]["ir_sha256"] == hashlib.sha256(canon).hexdigest()


# ---- edits after compile: the hashes ------------------------------------------------------------------
def test_an_edited_weight_is_refused(capsys, outdir):
    def change(doc):
        t = doc["tensors"][first_weight(doc)]
        t["data"][0][0] = -t["data"][0][0] or 1

    edit_ir(outdir, change, reseal=False)
    verify_refuses(capsys, outdir, "model.l1ml.json", "changed after l1ml wrote it", "compile the model again")


def test_reindenting_is_not_an_edit(capsys, outdir):
    path = outdir / "model.l1ml.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    code, _, err = run(capsys, "verify", outdir, "--levels", "qonnx", "--vectors", 20)
    assert code == 0, err


def test_a_replaced_source_model_is_refused_everywhere(capsys, outdir, tmp_path):
    write_random_mlp(outdir / "model.onnx", SPEC)
    verify_refuses(capsys, outdir, "model.onnx", "replaced or changed after model.l1ml.json was compiled",
                   "compile the model again")
    np.save(tmp_path / "x.npy", np.zeros((3, 16), np.float32))
    ir = outdir / "model.l1ml.json"
    for argv in (["emulate", ir, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy"], ["estimate", ir],
                 ["rtl", "write", outdir, "-o", tmp_path / "rtl"]):
        code, _, err = run(capsys, *argv)
        assert_refused(code, err, "model.onnx", "replaced or changed")
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "rtl").exists()


def test_a_missing_source_model_is_refused_by_verify(capsys, outdir):
    (outdir / "model.onnx").unlink()
    verify_refuses(capsys, outdir, "model.onnx: missing", "compiled from it")


def test_a_removed_integrity_block_is_refused(capsys, outdir):
    edit_ir(outdir, lambda doc: doc.pop("integrity"), reseal=False)
    verify_refuses(capsys, outdir, "model.l1ml.json", "no integrity hash", "compile the model again")


def test_a_malformed_integrity_block_is_refused(capsys, outdir):
    edit_ir(outdir, lambda doc: doc["integrity"].update(ir_sha256="abc"), reseal=False)
    verify_refuses(capsys, outdir, "model.l1ml.json", "integrity block is malformed")


# ---- malformed IR: the schema (resealed, so the hash cannot be what catches them) -----------------------
def _set_type(key, value):
    def change(doc):
        name = next(k for k, t in sorted(doc["tensors"].items()) if t["type"] is not None)
        doc["tensors"][name]["type"][key] = value
    return change


def _set_node(key, value, index=0):
    def change(doc):
        doc["nodes"][index][key] = value
    return change


MALFORMED = {
    "wrong format": (lambda doc: doc.update(format="onnx"), ["format: not an l1ml IR"]),
    "older version": (lambda doc: doc.update(version=1), ["format version 1", "reads version 2"]),
    "missing key": (lambda doc: doc.pop("nodes"), ["the IR: missing key 'nodes'"]),
    "unknown key": (lambda doc: doc.update(extra=1), ["unknown key 'extra'"]),
    "width -1": (_set_type("width", -1), [".type.width: must be 1 or more, found -1"]),
    "width 100": (_set_type("width", 100), [".type", "exceeds 62 bits"]),
    "width a string": (_set_type("width", "8"), [".type.width: expected a whole number, found a string '8'"]),
    "signed a number": (_set_type("signed", 1), [".type.signed: expected true or false"]),
    "unknown rounding": (_set_type("rounding", "STOCHASTIC"), [".type.rounding", "'STOCHASTIC' is not one of"]),
    "type missing a key": (lambda doc: _set_type("frac", 0)(doc) or next(
        t["type"].pop("frac") for t in doc["tensors"].values() if t["type"]), ["missing key 'frac'"]),
    "unknown op": (_set_node("op", "Conv3D"), ["nodes[0].op: unknown op 'Conv3D'; this l1ml knows", "Dense"]),
    "op not a string": (_set_node("op", 7), ["nodes[0].op: unknown op"]),
    "node inputs not a list": (_set_node("inputs", "input"), ["nodes[0].inputs: expected an array of names"]),
    "attrs of another op": (lambda doc: doc["nodes"][0].update(op="Reshape"),
                            ["nodes[0].attrs: missing key 'shape'"]),
    "attr of the wrong type": (lambda doc: doc["nodes"][0].update(op="Reshape", attrs={"shape": ["a"]}),
                               ["nodes[0].attrs.shape[0]: expected a whole number, found a string 'a'"]),
    "shape negative": (lambda doc: doc["tensors"][first_const(doc)].update(shape=[-4]), [".shape[0]: must be 1"]),
    "shape a string": (lambda doc: doc["tensors"][first_const(doc)].update(shape="16"),
                       [".shape: expected an array of sizes, found a string"]),
    "data short": (lambda doc: doc["tensors"][first_weight(doc)]["data"].pop(),
                   [".data: holds an array of shape", "the tensor's shape is"]),
    "data ragged": (lambda doc: doc["tensors"][first_weight(doc)]["data"][0].pop(), [".data: not a regular array"]),
    "data strings": (lambda doc: doc["tensors"][first_const(doc)].update(data="x" * 3), [".data:", "found strings"]),
    "data beyond its type": (lambda doc: doc["tensors"][first_weight(doc)]["data"][0].__setitem__(0, 10**6),
                             [".data: codes", "do not fit the tensor's type"]),
    "unknown dtype": (lambda doc: doc["tensors"][first_const(doc)].update(dtype="int128"),
                      [".dtype: a string 'int128' is not one of int64, float64"]),
    "output not a tensor": (lambda doc: doc.update(outputs=["nowhere"]), ["outputs[0]: 'nowhere' is not a tensor"]),
    "dangling node input": (lambda doc: doc["nodes"][1].update(inputs=["dense_out_missing"]),
                            ["not a valid compiled graph", "dense_out_missing"]),
    "tensors not an object": (lambda doc: doc.update(tensors=[]), ["tensors: expected an object, found an array"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_ir_is_a_named_error(capsys, outdir, case):
    change, needles = MALFORMED[case]
    edit_ir(outdir, change)
    verify_refuses(capsys, outdir, "model.l1ml.json", "compile the model again", *needles)


@pytest.mark.parametrize("text,needle", [
    ("", "is empty"), ("this is not JSON\n", "not valid JSON"), ("[1, 2]", "is an array, not an object"),
    ("\xff\xfe", "not valid JSON"),
])
def test_an_ir_that_is_not_a_json_object_is_a_named_error(capsys, outdir, text, needle):
    (outdir / "model.l1ml.json").write_text(text)
    verify_refuses(capsys, outdir, "model.l1ml.json", needle, "compile the model again")


def test_a_truncated_ir_is_a_named_error_for_every_command(capsys, outdir, tmp_path):
    path = outdir / "model.l1ml.json"
    path.write_text(path.read_text()[:4000])
    verify_refuses(capsys, outdir, "model.l1ml.json", "is truncated", "compile the model again")
    np.save(tmp_path / "x.npy", np.zeros((3, 16), np.float32))
    for argv in (["emulate", path, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy"], ["estimate", path],
                 ["rtl", "write", path, "-o", tmp_path / "rtl"], ["verify", outdir, "--data", tmp_path / "x.npy"]):
        code, _, err = run(capsys, *argv)
        assert_refused(code, err, "model.l1ml.json", "is truncated")


def test_graph_load_on_a_lone_ir_copy_still_works(compiled, tmp_path):
    """The source model is checked when it is beside the IR; an IR copied alone stays usable (its own hash
    still guards it)."""
    shutil.copy(compiled / "model.l1ml.json", tmp_path / "model.l1ml.json")
    g = Graph.load(tmp_path / "model.l1ml.json")
    assert g.to_json() == Graph.load(compiled / "model.l1ml.json").to_json()


# ---- compile.json and verify.json ----------------------------------------------------------------------
COMPILE_JSON = {
    "not JSON": ("{reuse_factor: 1", ["compile.json", "not valid JSON"]),
    "an array": ("[]", ["compile.json", "is an array, not an object"]),
    "unknown key": (json.dumps({"reuse_factor": 1, "turbo": True}), ["compile.json: unknown option turbo"]),
    "wrong type": (json.dumps({"reuse_factor": "4"}), ["compile.json: 'reuse_factor' is a string \"4\"",
                                                       "expected a whole number"]),
    "null clock": (json.dumps({"clock_ns": None}), ["'clock_ns' is null, expected a number"]),
    "beyond a limit": (json.dumps({"reuse_factor": 99999999999}), ["compile.json", "MAX_REUSE_FACTOR"]),
}


@pytest.mark.parametrize("case", sorted(COMPILE_JSON))
def test_a_malformed_compile_json_is_a_named_error(capsys, outdir, case):
    text, needles = COMPILE_JSON[case]
    (outdir / "compile.json").write_text(text)
    verify_refuses(capsys, outdir, "compile the model again", *needles)


def test_load_options_reads_what_compile_wrote(compiled):
    from l1ml.compile import CompileOptions
    from l1ml.compiled import load_options

    opts = load_options(compiled)
    assert isinstance(opts, CompileOptions)
    assert json.loads((compiled / "compile.json").read_text()) == {
        k: getattr(opts, k) for k in json.loads((compiled / "compile.json").read_text())}


VERIFY_JSON = {
    "not JSON": ('{"levels": {', ["verify.json", "is truncated"]),
    "a string": ('"passed"', ["verify.json", "is a string, not an object"]),
    "levels an array": ('{"levels": []}', ["verify.json: 'levels' is an array"]),
    "no mismatch count": ('{"levels": {"hls": {"vectors": 10}}}', ["levels['hls'] has no whole 'mismatches'"]),
    "negative count": ('{"levels": {"hls": {"mismatches": -1}}}', ["levels['hls'] has no whole 'mismatches'"]),
}


@pytest.mark.parametrize("case", sorted(VERIFY_JSON))
def test_a_malformed_verify_json_is_refused_before_any_level_runs(capsys, outdir, case):
    text, needles = VERIFY_JSON[case]
    (outdir / "verify.json").write_text(text)
    verify_refuses(capsys, outdir, *needles, "delete it")
    assert (outdir / "verify.json").read_text() == text


def test_a_valid_verify_json_is_merged(capsys, outdir):
    old = {"reference": "emulator", "levels": {"hls": {"level": "hls", "vectors": 7, "mismatches": 0}},
           "passed": True}
    (outdir / "verify.json").write_text(json.dumps(old))
    code, _, err = run(capsys, "verify", outdir, "--levels", "qonnx", "--vectors", 20)
    assert code == 0, err
    doc = json.loads((outdir / "verify.json").read_text())
    assert doc["levels"]["hls"]["vectors"] == 7 and doc["levels"]["qonnx"]["vectors"] == 20 and doc["passed"]


def test_the_real_command_line_prints_one_line_and_no_traceback(outdir):
    edit_ir(outdir, lambda doc: doc["nodes"][0].update(op="Conv3D"))
    r = subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", "verify", str(outdir)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "unknown op" in r.stderr


@pytest.mark.parametrize("text,needle", [
    ('{"format": "l1ml-rtl", "version": 1}', "not a complete RTL description (KeyError: 'top')"),
    ('{"format": "l1ml-rtl", "ver', "is truncated"),
])
def test_a_malformed_rtl_json_is_a_named_error(capsys, outdir, compiled, text, needle):
    (outdir / "rtl").mkdir()
    (outdir / "rtl" / "rtl.json").write_text(text)
    code, _, err = run(capsys, "verify", outdir, "--levels", "rtl", "--vectors", 5)
    assert_refused(code, err, "rtl.json", needle, "regenerate the RTL")
    code, _, err = run(capsys, "rtl", "lint", outdir / "rtl")
    assert_refused(code, err, "rtl.json", needle)
    assert sorted(p.name for p in outdir.iterdir()) == sorted([*KEPT, "rtl"])


def test_a_fifo_in_place_of_the_ir_is_refused_without_opening_it(capsys, outdir, tmp_path):
    import os

    (outdir / "model.l1ml.json").unlink()
    os.mkfifo(outdir / "model.l1ml.json")  # opening it for reading would block forever
    verify_refuses(capsys, outdir, "model.l1ml.json: not a regular file")
    code, _, err = run(capsys, "emulate", outdir / "model.l1ml.json", "-i", tmp_path / "x.npy")
    assert_refused(code, err, "not a regular file")
