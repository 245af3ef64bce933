"""Every command that writes a directory refuses the destructive destinations of issue 13 (exit 2, one
line, no traceback) before any work, and leaves every pre-existing file byte-identical."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from typer.main import get_command

from l1ml.atomic import FORCE_HELP, MARKER
from l1ml.cli import app, main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "jet_mlp.onnx"

# Each command with the smallest options; "IN/..." names an input file placed in the inputs directory.
# Should a refusal ever be missing, these options keep the accidental run short and its output detectable.
MODEL = "IN/model.onnx"
OFFLINE = ["IN/config.yaml", "--data", "IN/table.parquet", "--no-progress"]
COMMANDS: dict[str, tuple[list[str], str]] = {
    "compile": (["compile", MODEL], "-o"),
    "rtl write": (["rtl", "write", MODEL], "-o"),
    "estimate": (["estimate", MODEL], "-o"),
    "train tabular": (["train", "tabular", "--data", "IN/jets.parquet", "--epochs", "1", "--qat-epochs", "1"],
                      "-o"),
    "train hgcal-cnn": (["train", "hgcal-cnn", "--data", "IN/clusters.parquet", "--epochs", "1",
                         "--qat-epochs", "1"], "-o"),
    "train track-gnn": (["train", "track-gnn", "--data", "IN/hits.parquet", "--epochs", "1", "--qat-epochs", "1"],
                        "-o"),
    "simulate jets": (["simulate", "jets", "-n", "5", "--workers", "1", "--no-progress"], "-o"),
    "simulate tracks": (["simulate", "tracks", "-n", "1", "--workers", "1", "--no-progress"], "-o"),
    "simulate hgcal": (["simulate", "hgcal", "-n", "3", "--workers", "1", "--no-progress"], "-o"),
    "surrogate report": (["surrogate", "report", "--train", "100", "--test", "50", "--members", "1", "--epochs",
                          "1", "--workers", "1"], "-o"),
    "offline train": (["offline", "train", *OFFLINE], "-o"),
    "offline select": (["offline", "select", *OFFLINE], "-o"),
    "offline cascade": (["offline", "cascade", *OFFLINE], "-o"),
    "offline search": (["offline", "search", *OFFLINE, "--n-trials", "0"], "-o"),
    "reweight fit": (["reweight", "fit", "IN/a.parquet", "IN/b.parquet", "-c", "x"], "-o"),
    "reweight check": (["reweight", "check", "IN/a.parquet", "IN/b.parquet", "-c", "x"], "-o"),
    "demo": (["demo", "--events", "100", "--vectors", "10", "--qonnx-vectors", "10"], "-w"),
}

# case -> the phrase its one-line refusal must contain
CASES = {
    "dot": "is the working directory",
    "dotdot": "is an ancestor of the working directory",
    "home": "is the home directory",
    "user_files": "pass --force to replace it",
    "input_dir": "the input",
    "symlink_to_dir": "is a symbolic link",
    "regular_file": "exists and is not a directory",
}


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root`` (hidden ones too) -> its kind and content hash or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link -> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "file " + hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``l1ml ARGV`` in this process; any exception other than SystemExit (a traceback) fails the test."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


@pytest.fixture
def workspace(tmp_path, tmp_path_factory, monkeypatch) -> Path:
    """tmp_path/work is the working directory, with the inputs in work/inputs (a model, tables, a config,
    the user's notes) and a home directory of its own; returns the working directory."""
    work, inputs, home = tmp_path / "work", tmp_path / "work" / "inputs", tmp_path / "home"
    inputs.mkdir(parents=True)
    home.mkdir()
    (home / "thesis.tex").write_text("precious\n")
    shutil.copy(EXAMPLE, inputs / "model.onnx")
    for name in ("jets.parquet", "clusters.parquet", "hits.parquet", "table.parquet", "a.parquet", "b.parquet"):
        (inputs / name).write_bytes(b"stands in for a table; the refusal comes before it is read\n")
    (inputs / "config.yaml").write_text("data: {path: table.parquet, label: label, signal: 1}\n")
    (inputs / "notes.txt").write_text("my notes\n")
    (work / "mine").mkdir()
    (work / "mine" / "data.csv").write_text("a,b\n1,2\n")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("behind a link\n")
    (work / "link").symlink_to(target, target_is_directory=True)
    (work / "afile").write_text("a file, not a directory\n")
    monkeypatch.setenv("HOME", str(home))
    caches = tmp_path_factory.mktemp("caches")  # libraries (matplotlib's font list) cache outside the tree
    monkeypatch.setenv("MPLCONFIGDIR", str(caches))
    monkeypatch.setenv("XDG_CACHE_HOME", str(caches))
    monkeypatch.chdir(work)
    return work


def destination(case: str, work: Path) -> str:
    return {"dot": ".", "dotdot": "..", "home": str(work.parent / "home"), "user_files": "mine",
            "input_dir": "inputs", "symlink_to_dir": "link", "regular_file": "afile"}[case]


def reads_inputs(command: str) -> bool:
    return any(a.startswith("IN/") for a in COMMANDS[command][0])


@pytest.mark.parametrize("command, case", [(c, k) for c in sorted(COMMANDS) for k in sorted(CASES)
                                           if k != "input_dir" or reads_inputs(c)])
def test_destructive_destinations_are_refused_and_nothing_changes(command, case, workspace, capsys):
    argv, flag = COMMANDS[command]
    argv = [a.replace("IN/", "inputs/") for a in argv] + [flag, destination(case, workspace)]
    before = tree_digest(workspace.parent)
    code, out, err = run(argv, capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert CASES[case] in lines[0], lines[0]
    assert tree_digest(workspace.parent) == before


@pytest.mark.parametrize("command", [c for c in sorted(COMMANDS) if reads_inputs(c)])
def test_force_does_not_allow_deleting_an_input(command, workspace, capsys):
    argv, flag = COMMANDS[command]
    argv = [a.replace("IN/", "inputs/") for a in argv] + [flag, "inputs", "--force"]
    before = tree_digest(workspace.parent)
    code, _, err = run(argv, capsys)
    assert code == 2 and "the input" in err and "--force does not change this" in " ".join(err.split())
    assert tree_digest(workspace.parent) == before


def test_every_directory_command_has_the_same_force_option():
    root = get_command(app)
    for command in COMMANDS:
        cmd = root
        for word in command.split():
            cmd = cmd.commands[word]
        force = [p for p in cmd.params if "--force" in getattr(p, "opts", [])]
        assert len(force) == 1 and force[0].help == FORCE_HELP, command
    for command in ("simulate jets", "simulate tracks", "simulate hgcal", "surrogate report"):
        group, sub = command.split()
        force = next(p for p in root.commands[group].commands[sub].params if p.name == "force")
        assert "--overwrite" in force.opts, command  # the older spelling still works


def test_recompiling_onto_its_own_output_needs_no_force(workspace, capsys):
    assert run(["compile", "inputs/model.onnx", "-o", "out"], capsys)[0] == 0
    assert (workspace / "out" / MARKER).read_text().startswith("written by `l1ml compile`")
    (workspace / "out" / "stale.txt").write_text("left by an older run\n")
    code, out, err = run(["compile", "inputs/model.onnx", "-o", "out", "--reuse-factor", "2"], capsys)
    assert code == 0, err
    assert not (workspace / "out" / "stale.txt").exists() and (workspace / "out" / "rtl" / "rtl.json").is_file()
    assert sorted(p.name for p in workspace.iterdir()) == ["afile", "inputs", "link", "mine", "out"]
    # its own model.onnx is now an input inside it: recompiling from there must not delete it, even forced
    before = tree_digest(workspace.parent)
    code, _, err = run(["compile", "out/model.onnx", "-o", "out", "--force"], capsys)
    assert code == 2 and "contains the input" in err
    assert tree_digest(workspace.parent) == before


def test_force_replaces_a_foreign_directory_and_failure_keeps_the_old_output(workspace, capsys):
    code, _, err = run(["compile", "inputs/model.onnx", "-o", "mine", "--force"], capsys)
    assert code == 0, err
    assert not (workspace / "mine" / "data.csv").exists() and (workspace / "mine" / MARKER).is_file()
    assert (workspace.parent / "elsewhere" / "keep.txt").is_file()
    before = tree_digest(workspace.parent)
    (workspace / "broken.onnx").write_bytes(b"not a protobuf")
    code, _, err = run(["compile", "broken.onnx", "-o", "mine"], capsys)
    assert code == 2 and "not a readable ONNX model" in " ".join(err.split())
    (workspace / "broken.onnx").unlink()
    assert tree_digest(workspace.parent) == before


def test_an_existing_empty_directory_is_accepted(workspace, capsys):
    (workspace / "empty").mkdir()
    code, _, err = run(["rtl", "write", "inputs/model.onnx", "-o", "empty"], capsys)
    assert code == 0, err
    assert (workspace / "empty" / "rtl.json").is_file() and (workspace / "empty" / MARKER).is_file()


def test_demo_checks_its_sub_outputs_before_any_work(workspace, capsys):
    """``demo -w DIR`` replaces DIR/jet-mlp and DIR/out: a foreign one of those is refused up front too."""
    (workspace / "demo_out").mkdir()
    (workspace / "demo_out" / MARKER).write_text("written by `l1ml demo`\n")
    (workspace / "demo_out" / "out").mkdir()
    (workspace / "demo_out" / "out" / "results.txt").write_text("not l1ml's\n")
    before = tree_digest(workspace.parent)
    code, _, err = run(["demo", "-w", "demo_out", "--events", "100"], capsys)
    assert code == 2 and "demo_out/out" in err and "exists and was not written by l1ml" in err
    assert tree_digest(workspace.parent) == before


def test_demo_workdir_of_the_user_gets_no_marker(workspace):
    """``demo -w`` and ``offline search -o`` write into a directory; forced into a foreign one they add
    their outputs beside the user's files and never mark it as theirs."""
    from l1ml.atomic import output_container

    t = output_container("mine", "demo", force=True, what="work directory")
    assert t == workspace / "mine" and sorted(p.name for p in t.iterdir()) == ["data.csv"]
    fresh = output_container("new/work", "demo", what="work directory")
    assert (fresh / MARKER).is_file()
