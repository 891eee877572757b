"""The on-disk cache of exported models, keyed by everything the export depends on.

The key hashes the source files of the model (the factory's module and every module of the
repository it reaches through its globals: imported modules, classes and functions), the
reference, the factory arguments, the input shapes and dtypes, the repository root (source
paths are stored relative to it) and the torch and onnxscript versions. Files are hashed as
tokens without comments, so adding ``# archlint: noqa`` does not cost an export; every token keeps
its position, so a line moving does. Exports are written atomically: concurrent runs (pre-commit
runs hooks in parallel) never read half a file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import sys
import tokenize
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from archlint.model.source_locations import project_relative, repository_root
from archlint.user_cache import cache_dir, write_entry

if TYPE_CHECKING:
    import onnx

FORMAT = 2  # bump when what is stored in an entry changes


def project_files(module: ModuleType) -> list[Path]:
    """``module``'s file and the repository files of every module its globals reach."""
    files: dict[str, Path] = {}
    pending = [module]
    while pending:
        current = pending.pop()
        file = getattr(current, "__file__", None)
        if not file or current.__name__ in files:
            continue
        if current is not module and project_relative(file) is None:
            continue  # torch, the standard library: their versions are in the key
        files[current.__name__] = Path(file).resolve()
        pending.extend(_reached(current))
    return sorted(set(files.values()))


def _reached(module: ModuleType) -> list[ModuleType]:
    reached = []
    for value in vars(module).values():
        if inspect.ismodule(value):
            reached.append(value)
        elif inspect.isclass(value) or inspect.isfunction(value):
            owner = sys.modules.get(value.__module__)
            if owner is not None:
                reached.append(owner)
    return reached


def key(reference: str, files: list[Path], kwargs: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
    payload = {
        "format": FORMAT,
        "reference": reference,
        "kwargs": kwargs,
        "inputs": inputs,
        "root": str(repository_root()),
        "versions": [_version("torch"), _version("onnxscript")],
        "files": {str(file): _fingerprint(file) for file in files},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def _version(distribution: str) -> str:
    try:  # read from the installed metadata: no import
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _fingerprint(file: Path) -> str:
    digest = hashlib.sha256()
    try:
        with tokenize.open(file) as handle:
            for token in tokenize.generate_tokens(handle.readline):
                if token.type in (tokenize.COMMENT, tokenize.NL):
                    continue
                # A line's end moves with a trailing comment; only its row matters.
                where = token.start[0] if token.type == tokenize.NEWLINE else token.start
                digest.update(f"{token.type}\0{token.string}\0{where}\n".encode())
    except (OSError, SyntaxError, tokenize.TokenError):  # hash what is there; importing will complain
        digest.update(file.read_bytes() if file.is_file() else b"")
    return digest.hexdigest()


def read(entry: str) -> onnx.ModelProto | None:
    import onnx

    path = cache_dir() / f"{entry}.onnx"
    try:
        return onnx.load_model_from_string(path.read_bytes())
    except Exception:  # missing, or cut short by a full disk: export again
        return None


def write(entry: str, proto: onnx.ModelProto) -> None:
    write_entry(f"{entry}.onnx", proto.SerializeToString())  # read-only home: exports every time
