"""The one output-directory policy of every l1ml command that writes a directory.

A command builds its output in a temporary sibling of the destination and renames it into place when
everything succeeded; on any error the temporary directory is removed and an earlier destination is
untouched. An existing destination is replaced only if l1ml wrote it (it holds the ``MARKER`` file every
output gets) or the user passed ``--force``; an existing *empty* directory is accepted as if it were new.
Refused always, even with ``--force``, before any work starts: a symbolic link, an existing
non-directory, a mount point, ``/``, the home directory, the working directory, an ancestor of any of
these, and a directory that is or contains one of the command's inputs. Replaced trees are renamed aside
and removed with ``shutil.rmtree``, which unlinks symbolic links inside the tree and never follows them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer

from l1ml.errors import L1MLError

MARKER = ".l1ml-output"  # written into every output directory; its presence lets l1ml replace it
LEGACY_MARKERS = (".l1ml-offline",)  # markers of earlier releases that identify l1ml outputs as well

OUT_HELP = "Output directory: written beside it and renamed into place; replaced only if l1ml wrote it."
FORCE_HELP = ("Replace the output directory even if l1ml did not write it (never one that is or holds an "
              "input, the working or home directory, a symlink or a file).")
Force = Annotated[bool, typer.Option("--force", help=FORCE_HELP)]
# simulate and surrogate report had --overwrite before --force existed; it stays an alias there
ForceOrOverwrite = Annotated[bool, typer.Option("--force", "--overwrite", help=FORCE_HELP)]

Inputs = Iterable[Path | str | None]


class OutputDirError(L1MLError):
    """An output path l1ml refuses to write to, with the reason and what to do instead."""


def _target(dest: Path | str) -> Path:
    """The absolute destination with symbolic links resolved in its parents but not in its last component,
    so that a link at the destination itself can be seen (and refused)."""
    raw = Path(dest).expanduser()
    if raw.name in ("", ".", ".."):  # ".", "..", "/", "a/..": the directory they name, fully resolved
        return Path(os.path.realpath(raw))
    return Path(os.path.realpath(raw.parent)) / raw.name


def _input_paths(inputs: Inputs) -> list[Path]:
    """Every form of each input: as named (parents resolved) and fully resolved (through links)."""
    out = []
    for i in inputs:
        if i is None or str(i) == "":
            continue
        out += [_target(i), Path(os.path.realpath(Path(i).expanduser()))]
    return out


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def is_l1ml_output(path: Path) -> bool:
    """True if ``path`` holds the marker file l1ml writes into every output directory."""
    return any((path / m).is_file() and not (path / m).is_symlink() for m in (MARKER, *LEGACY_MARKERS))


def check_output_dir(dest: Path | str, inputs: Inputs = (), force: bool = False,
                     what: str = "output directory") -> Path:
    """Refuse ``dest`` (OutputDirError, one line) unless l1ml may create or replace it; returns its
    absolute path. Cheap: every command calls it before its work starts, and ``atomic_dir`` again."""
    t = _target(dest)
    name = f"{what} {dest}" + (f" ({t})" if str(t) != str(dest) else "")
    if t.is_symlink():
        raise OutputDirError(f"{name} is a symbolic link; l1ml does not write through links, name the real "
                             "directory or a new path")
    if t.exists() and not t.is_dir():
        raise OutputDirError(f"{name} exists and is not a directory; choose another path")
    cwd, home = Path(os.path.realpath(Path.cwd())), Path(os.path.realpath(Path.home()))
    for where, protected in (("the working directory", cwd), ("the home directory", home)):
        if _within(protected, t):
            rel = "is" if t == protected else "is an ancestor of"
            raise OutputDirError(f"{name} {rel} {where}; name a new directory inside it instead, e.g. "
                                 f"{Path(dest) / 'l1ml_out'}")
    for i in _input_paths(inputs):
        if _within(i, t):
            rel = "is" if i == t else "contains"
            raise OutputDirError(f"{name} {rel} the input {i}; write the output somewhere else "
                                 "(--force does not change this)")
    parent = t.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputDirError(f"{name}: {parent} is not a directory; choose another path")
    if t.is_dir():
        if os.path.ismount(t):
            raise OutputDirError(f"{name} is a mount point; name a new directory inside it")
        try:
            empty = not any(t.iterdir())
        except OSError as e:
            raise OutputDirError(f"{name} cannot be read ({e.strerror}); choose another path") from None
        if not force and not is_l1ml_output(t) and not empty:
            raise OutputDirError(f"{name} exists and was not written by l1ml; pass --force to replace it, "
                                 "or choose another path")
    return t


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parents(path: Path) -> list[Path]:
    """Create the missing ancestors of ``path``; returns those created, deepest first."""
    made = []
    p = path.parent
    while not p.exists():
        made.append(p)
        p = p.parent
    for d in reversed(made):
        d.mkdir()
    return made


def remove_tree(path: Path) -> None:
    """Delete a directory tree l1ml owns without following any symbolic link inside it: ``shutil.rmtree``
    unlinks links (it tests entries with ``follow_symlinks=False``) and refuses a link as the root."""
    if Path(path).is_symlink():
        raise OutputDirError(f"{path} is a symbolic link; not deleting through it")
    shutil.rmtree(path)


def _put_in_place(tmp: Path, t: Path) -> Path | None:
    """Rename ``tmp`` to ``t``; an existing ``t`` is renamed aside first (and restored if the rename
    fails). Returns the directory holding the replaced tree, for the caller to remove."""
    old = None
    if t.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{t.name}.old-", dir=t.parent))
        try:
            os.rename(t, old / "replaced")
        except OSError:
            old.rmdir()
            raise
    try:
        os.rename(tmp, t)
    except OSError:
        if old is not None:
            os.rename(old / "replaced", t)
            old.rmdir()
        raise
    return old


@contextmanager
def atomic_dir(dest: Path | str, command: str = "l1ml", inputs: Inputs = (), force: bool = False,
               what: str = "output directory") -> Iterator[Path]:
    """Yield a new empty directory that replaces ``dest`` (under the policy above) only if the block
    finishes without error; ``command`` is recorded in the marker file."""
    t = check_output_dir(dest, inputs, force, what)
    try:
        made = _make_parents(t)
        tmp = Path(tempfile.mkdtemp(prefix=f".{t.name}.tmp-", dir=t.parent))
    except OSError as e:
        raise OutputDirError(f"{what} {dest}: cannot create it ({e.strerror})") from None
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the output should look like any new directory
        yield tmp
        (tmp / MARKER).write_text(f"written by `l1ml {command}`; l1ml may replace this directory\n")
        check_output_dir(dest, inputs, force, what)  # the destination may have changed while we worked
        try:
            old = _put_in_place(tmp, t)
        except OSError as e:
            raise OutputDirError(f"{what} {dest}: cannot put the new output in place ({e.strerror}); "
                                 "the old one is unchanged") from None
        if old is not None:
            try:
                remove_tree(old)
            except OSError as e:
                raise OutputDirError(f"{what} {dest} was written, but the directory it replaced could not be "
                                     f"deleted completely ({e.strerror}); remove {old} yourself") from None
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        for d in made:  # parents created for this output, deepest first, if nothing else went into them
            try:
                d.rmdir()
            except OSError:
                break
        raise


def output_container(dest: Path | str, command: str, inputs: Inputs = (), force: bool = False,
                     what: str = "output directory") -> Path:
    """Prepare a directory l1ml writes *into* rather than replacing (``demo -w``, ``offline search -o``):
    checked like an output, created with the marker when new or empty, never deleted. A foreign directory
    the user allowed with --force gets no marker, so it never becomes replaceable by a later run."""
    t = check_output_dir(dest, inputs, force, what)
    if not t.exists() or not any(t.iterdir()):
        try:
            t.mkdir(parents=True, exist_ok=True)
            (t / MARKER).write_text(f"written by `l1ml {command}`; l1ml may replace this directory\n")
        except OSError as e:
            raise OutputDirError(f"{what} {dest}: cannot create it ({e.strerror})") from None
    return t


def check_output_file(dest: Path | str, inputs: Inputs = ()) -> Path:
    """Refuse an output *file* path that is a directory, a symbolic link or one of the command's inputs
    (OutputDirError, one line); an existing regular file of the same name is replaced."""
    t = _target(dest)
    if t.is_symlink():
        raise OutputDirError(f"{dest}: is a symbolic link; l1ml does not write through links. Give a plain file path")
    if t.exists() and not t.is_file():
        raise OutputDirError(f"{dest}: exists and is not a regular file (a directory?); give a file path such "
                             "as outputs.npy")
    if t in _input_paths(inputs):
        raise OutputDirError(f"{dest}: is an input of this command; writing it would destroy the input. "
                             "Choose another output file")
    return t


@contextmanager
def atomic_file(dest: Path | str, inputs: Inputs = ()) -> Iterator[Path]:
    """Yield a scratch path for one output file; it replaces ``dest`` in one rename only if the block
    finishes without error (checked like ``check_output_file``)."""
    t = check_output_file(dest, inputs)
    created = _make_parents(t)
    scratch = Path(tempfile.mkdtemp(prefix=f".{t.name}.", suffix=".partial", dir=t.parent))
    staged = scratch / t.name
    try:
        yield staged
        if not staged.exists():
            raise RuntimeError(f"nothing was written for {t}")
        check_output_file(dest, inputs)
        os.replace(staged, t)
        created = []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for d in created:  # deepest first
            with suppress(OSError):
                d.rmdir()
