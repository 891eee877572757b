"""Read the model file on another core while the command imports onnx.

``import onnx`` is most of a short run (0.6-1 s on a 2-core AMD EPYC host, nearly all of it
ml_dtypes registering its numpy loops), and reading the model file needs none of it. The command
line names the file before anything heavy is imported, so a thread reads it then, and the loader
parses the bytes once onnx is there. A file read releases the GIL: with a second core the read
(a 100 MB model: 60-190 ms from the page cache in a fresh process, far longer from a cold disk)
costs the run nothing.

Only an ONNX file is read ahead; a model definition, a folder or a missing path is left to its
loader, which says what is wrong. The bytes are used only if the file still has the size and
modification time it had when the read began.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

# protobuf refuses a serialized message over 2 GiB: such a file fails the same way either way.
_MAX_BYTES = 2**31


class _Read:
    """One file being read by a daemon thread: a run that ends before it needs the bytes (a
    usage error) does not wait for them."""

    def __init__(self, path: str, signature: tuple[int, int]) -> None:
        self.path = path
        self.signature = signature
        self.data: bytes | None = None
        self.thread = threading.Thread(target=self._read, name="archlint-prefetch", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            self.data = Path(self.path).read_bytes()
        except OSError:  # the loader reads it again and reports the error itself
            self.data = None


_pending: dict[Path, _Read] = {}


def start(path: str) -> None:
    """Begin reading ``path`` if it is an ONNX file."""
    if not path.lower().endswith(".onnx"):
        return
    found = _signature(path)
    if found is not None:
        _pending[_key(path)] = _Read(path, found)


def take(path: str | Path) -> bytes | None:
    """The bytes ``start`` read for ``path`` (None: not read ahead, unreadable, or changed
    since); each read is handed out once."""
    read = _pending.pop(_key(path), None)
    if read is None:
        return None
    read.thread.join()
    return read.data if _signature(str(path)) == read.signature else None


def _key(path: str | Path) -> Path:
    return Path(path).absolute()


def _signature(path: str) -> tuple[int, int] | None:
    try:
        info = Path(path).stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size >= _MAX_BYTES:
        return None
    return info.st_size, info.st_mtime_ns
