"""`l1ml emulate -o FILE`: one output file, written atomically, never a directory, a link or an input."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l1ml.cli import main


def run(argv: list, capsys) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def digest(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        key = str(p.relative_to(root))
        out[key] = ("link:" + os.readlink(p)) if p.is_symlink() else (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
    return out


@pytest.fixture
def events(tmp_path, example_model) -> Path:
    x = np.random.default_rng(0).normal(size=(20, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy"


def test_writes_the_outputs_and_appends_npy_like_numpy(tmp_path, example_model, events, capsys):
    code, err = run(["emulate", example_model, "-i", events, "-o", tmp_path / "y"], capsys)
    assert code == 0, err
    y = np.load(tmp_path / "y.npy")
    assert y.shape[0] == 20
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("kind", ["directory", "link", "input"])
def test_refuses_paths_that_would_destroy_something(tmp_path, example_model, events, capsys, kind):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    (tmp_path / "target.npy").write_bytes(b"kept")
    (tmp_path / "link.npy").symlink_to(tmp_path / "target.npy")
    model = tmp_path / "m.onnx"
    model.write_bytes(Path(example_model).read_bytes())
    out = {"directory": tmp_path / "notes.npy", "link": tmp_path / "link.npy", "input": events}[kind]
    if kind == "directory":
        out.mkdir()
        (out / "b.txt").write_text("mine too")
    before = digest(tmp_path)
    code, err = run(["emulate", model, "-i", events, "-o", out], capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert digest(tmp_path) == before


def test_a_fifo_as_the_inputs_is_refused_not_waited_on(tmp_path, example_model):
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "l1ml.cli", "emulate", str(example_model), "-i", str(fifo),
                        "-o", str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a regular file" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "y.npy").exists()
