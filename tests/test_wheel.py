"""The wheel works on its own: built from the checkout, installed (not editable) into a fresh venv, it
compiles the example model and verifies it bit-exact at the hls and rtl levels (issue 13, item 5).

The fresh venv gets no copy of torch, hls4ml and the other dependencies (gigabytes): a ``.pth`` file
lists the running interpreter's site-packages as one plain path entry. Python processes ``.pth`` files
only in site directories, so that entry does not run the editable-install hook that lives there; the
test asserts that ``l1ml`` (and its firmware templates) come from the venv and that the checkout is not
on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ("pyproject.toml", "setup.py", "README.md", "l1ml", "firmware_templates")

PROBE = """
import json, sys
import l1ml
from l1ml.backends.templates import templates_root
from l1ml.backends.verilog.primitives import all_primitive_files
from l1ml.backends.hls4ml_gnn import header
print(json.dumps({"l1ml": l1ml.__file__, "templates": str(templates_root()), "path": sys.path,
                  "primitives": all(p.is_file() for p in all_primitive_files()), "header": header().is_file()}))
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


# about 40 s alone on 2 cores (the wheel build is seconds; Verilator's build of the RTL the rest): in `make test`
def test_wheel_compiles_and_verifies_outside_the_checkout(tmp_path, example_model):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # build from a copy, so that setuptools' build/ and egg-info never land in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in PACKAGING:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp_path / "dist"), str(src)], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("l1ml-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        tmp_path, env).stdout.strip())
    deps = sysconfig.get_paths()["purelib"]  # the running interpreter's: torch, hls4ml, verilator, pip, ...
    (purelib / "l1ml_test_deps.pth").write_text(deps + "\n")
    # --ignore-installed: pip sees the project venv's l1ml metadata through the .pth and must not touch it
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
         tmp_path, env)

    probe = json.loads(_run([str(py), "-c", PROBE], tmp_path, env).stdout)
    assert Path(probe["l1ml"]).is_relative_to(purelib), probe["l1ml"]
    assert Path(probe["templates"]).is_relative_to(purelib / "l1ml"), probe["templates"]
    assert probe["primitives"] and probe["header"]
    # the checkout's package is not importable through any path entry (its .venv may be: CI keeps it there)
    assert not any(p and (Path(p) / "l1ml").resolve() == ROOT / "l1ml" for p in probe["path"]), probe["path"]

    l1ml = str(venv / "bin" / "l1ml")
    out = tmp_path / "out"
    _run([l1ml, "compile", str(example_model), "-o", str(out)], tmp_path, env)
    assert (out / "rtl" / "filelist.f").is_file() and (out / "hls" / "build_prj.tcl").is_file()
    r = _run([l1ml, "verify", str(out), "--levels", "hls,rtl", "--vectors", "200"], tmp_path, env)
    assert "hls: 200 vectors, 0 mismatches" in r.stdout, r.stdout
    assert "rtl: 200 vectors, 0 mismatches" in r.stdout, r.stdout
