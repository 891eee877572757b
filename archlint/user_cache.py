"""archlint's folder of cached files (exported PyTorch models, parsed built-in profiles), and the
atomic write every entry goes through: concurrent runs (pre-commit runs hooks in parallel) never
read half a file, and a folder that cannot be written only means nothing is cached."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """``$ARCHLINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/archlint``, else ``~/.cache/archlint``."""
    explicit = os.environ.get("ARCHLINT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archlint"


def write_entry(name: str, data: bytes) -> None:
    """Store ``data`` as the cache entry ``name``, or nothing where the folder is read-only or full."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(data)
        Path(handle.name).replace(folder / name)
    except OSError:
        pass
