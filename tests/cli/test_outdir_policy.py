"""The output-directory policy of ``l1ml.atomic``, function by function (the CLI cases are in
test_outdir_safety.py)."""

from __future__ import annotations

import os
import stat

import pytest

from l1ml.atomic import MARKER, OutputDirError, atomic_dir, check_output_dir


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return work


def test_a_new_path_is_accepted_and_made_absolute(cwd):
    assert check_output_dir("a/b/out") == cwd / "a" / "b" / "out"
    assert not (cwd / "a").exists()  # checking creates nothing


@pytest.mark.parametrize("dest, reason", [
    ("/", "ancestor of the working directory"),
    (".", "is the working directory"),
    ("sub/../..", "ancestor of the working directory"),
])
def test_the_working_directory_and_its_ancestors_are_refused(cwd, dest, reason):
    (cwd / "sub").mkdir()
    with pytest.raises(OutputDirError, match=reason):
        check_output_dir(dest, force=True)


def test_home_and_its_ancestors_are_refused(cwd, tmp_path, monkeypatch):
    (tmp_path / "home" / "me").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home" / "me"))
    for dest in (tmp_path / "home" / "me", tmp_path / "home"):
        with pytest.raises(OutputDirError, match="home directory"):
            check_output_dir(dest, force=True)


def test_a_directory_holding_an_input_at_any_depth_is_refused(cwd):
    (cwd / "a" / "b").mkdir(parents=True)
    (cwd / "a" / "b" / "model.onnx").write_bytes(b"x")
    for dest in ("a", "a/b"):
        with pytest.raises(OutputDirError, match="contains the input"):
            check_output_dir(dest, inputs=["a/b/model.onnx"], force=True)
    with pytest.raises(OutputDirError, match="is the input"):
        check_output_dir("a/b", inputs=["a/b"], force=True)
    # writing beside or below an input directory is fine (l1ml rtl write OUTDIR -o OUTDIR/rtl)
    assert check_output_dir("a/b/rtl", inputs=["a/b"]) == cwd / "a" / "b" / "rtl"


def test_an_input_reached_through_a_link_still_protects_its_directory(cwd, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "model.onnx").write_bytes(b"x")
    (cwd / "model.onnx").symlink_to(real / "model.onnx")
    with pytest.raises(OutputDirError, match="contains the input"):
        check_output_dir(real, inputs=["model.onnx"], force=True)


def test_links_files_and_paths_under_a_file_are_refused(cwd):
    (cwd / "f").write_text("x")
    (cwd / "dangling").symlink_to(cwd / "nowhere")
    (cwd / "to_file").symlink_to(cwd / "f")
    for dest in ("dangling", "to_file"):
        with pytest.raises(OutputDirError, match="symbolic link"):
            check_output_dir(dest, force=True)
    with pytest.raises(OutputDirError, match="not a directory"):
        check_output_dir("f", force=True)
    with pytest.raises(OutputDirError, match="f is not a directory"):
        check_output_dir("f/out", force=True)


def test_existing_directories_need_the_marker_or_force(cwd):
    (cwd / "empty").mkdir()
    assert check_output_dir("empty") == cwd / "empty"
    (cwd / "mine").mkdir()
    (cwd / "mine" / "notes.txt").write_text("x")
    with pytest.raises(OutputDirError, match="pass --force to replace it"):
        check_output_dir("mine")
    assert check_output_dir("mine", force=True) == cwd / "mine"
    (cwd / "old_offline").mkdir()
    (cwd / "old_offline" / ".l1ml-offline").write_text("")  # the marker of earlier l1ml offline releases
    assert check_output_dir("old_offline") == cwd / "old_offline"
    (cwd / "fake").mkdir()
    (cwd / "fake" / MARKER).symlink_to(cwd / "mine" / "notes.txt")  # a linked marker is no marker
    with pytest.raises(OutputDirError, match="pass --force"):
        check_output_dir("fake")


def test_atomic_dir_writes_marker_and_ordinary_permissions(cwd):
    with atomic_dir("deep/out", "compile") as tmp:
        (tmp / "a.txt").write_text("1")
    out = cwd / "deep" / "out"
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.txt"]
    assert "l1ml compile" in (out / MARKER).read_text()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert sorted(p.name for p in (cwd / "deep").iterdir()) == ["out"]


def test_a_failure_mid_write_leaves_the_old_output_and_no_debris(cwd):
    with atomic_dir("out", "compile") as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_dir("out", "compile") as tmp:
        (tmp / "a.txt").write_text("new")
        (tmp / "half").mkdir()
        raise RuntimeError("boom")
    assert (cwd / "out" / "a.txt").read_text() == "old" and not (cwd / "out" / "half").exists()
    assert sorted(p.name for p in cwd.iterdir()) == ["out"]
    with pytest.raises(RuntimeError), atomic_dir("new/parents/out", "compile"):
        raise RuntimeError("boom")
    assert sorted(p.name for p in cwd.iterdir()) == ["out"]  # parents made for it are gone too


def test_replacing_an_output_unlinks_links_inside_it_without_following_them(cwd, tmp_path):
    precious = tmp_path / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "sub" / "data.txt").write_text("keep")
    with atomic_dir("out", "compile") as tmp:
        (tmp / "to_dir").symlink_to(precious, target_is_directory=True)
        (tmp / "to_file").symlink_to(precious / "sub" / "data.txt")
    with atomic_dir("out", "compile") as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in (cwd / "out").iterdir()) == [MARKER, "b.txt"]
    assert (precious / "sub" / "data.txt").read_text() == "keep"


def test_a_destination_that_changes_during_the_work_is_rechecked(cwd):
    with pytest.raises(OutputDirError, match="pass --force"), atomic_dir("out", "compile") as tmp:
        (tmp / "a.txt").write_text("1")
        (cwd / "out").mkdir()
        (cwd / "out" / "theirs.txt").write_text("x")  # someone else's files appeared meanwhile
    assert sorted(p.name for p in (cwd / "out").iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in cwd.iterdir()) == ["out"]
