"""A model definition as it was at a git revision: the repository's files at that revision in a
temporary folder, and the Python modules imported from it forgotten afterwards.

``archlint diff BASE HEAD --model models.py::Net`` loads the same definition from two
revisions in one process; modules a definition imports (``from layers import Block``) would
otherwise be cached from the first revision and reused for the second.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archlint.errors import UsageError


def repository_root(start: Path) -> Path:
    result = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UsageError(f"{start}: not inside a git repository; --model compares two git revisions")
    return Path(result.stdout.strip())


@contextmanager
def snapshot(root: Path, revision: str) -> Iterator[Path]:
    """The tree of ``revision`` extracted into a temporary folder, removed on exit."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=root, capture_output=True, check=False
    )
    if archive.returncode != 0:
        reason = archive.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git revision {revision!r}: {reason[-1] if reason else 'cannot be read'}")
    with tempfile.TemporaryDirectory(prefix="archlint-rev-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")  # "data": no absolute paths, links out, devices
        forget_shadowed_modules(Path(folder))
        try:
            yield Path(folder)
        finally:
            forget_modules_under(Path(folder))


def forget_shadowed_modules(folder: Path) -> None:
    """Drop imported project modules that share a name with a module of the snapshot, so that its
    own modules are imported, as when its files run as a script. Installed packages (anything
    under the interpreter's prefixes: torch, numpy) are never dropped."""
    names = {path.stem for path in folder.rglob("*.py")} | {
        p.parent.name for p in folder.rglob("__init__.py")
    }
    installed = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.split(".")[0] not in names or not file:
            continue
        path = Path(file).resolve()
        if not path.is_relative_to(folder.resolve()) and not any(path.is_relative_to(p) for p in installed):
            del sys.modules[name]


def forget_modules_under(folder: Path) -> None:
    """Drop every imported module whose file lies in ``folder``, and the folder from sys.path."""
    resolved = folder.resolve()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(resolved):
            del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if not _inside(entry, resolved)]


def _inside(entry: str, folder: Path) -> bool:
    try:
        return Path(entry).resolve().is_relative_to(folder)
    except OSError:
        return False


def reference_in(snapshot_root: Path, root: Path, reference: str) -> str:
    """``models.py::Net`` (relative to the cwd) as the same file inside a snapshot of ``root``."""
    file, sep, attr = reference.partition("::")
    if not sep:
        raise UsageError(f"--model {reference!r}: give a file and a name, like models.py::Net")
    absolute = Path(file).resolve()
    if not absolute.is_relative_to(root):
        raise UsageError(f"--model {reference!r}: the file is outside the repository {str(root)!r}")
    return f"{snapshot_root / absolute.relative_to(root)}::{attr}"
