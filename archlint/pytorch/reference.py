"""Parse and resolve a model reference: ``path/to/models.py::factory`` or ``package.module:attr``.

Resolving imports the user's module (and with it torch) but builds nothing; the factory is a
class or a function returning an ``nn.Module``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from archlint.errors import ArchlintError, ModelLoadError, UsageError

_IMPORTABLE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
INPUT_DTYPES = ("float32", "float16", "bfloat16", "int64", "int32", "bool")


class Reference(NamedTuple):
    text: str
    attr: str  # dotted: a class attribute path is allowed (``models.py::Zoo.small``)
    file: Path | None = None  # for ``file.py::attr``
    module: str | None = None  # for ``package.module:attr``


def claims(text: str) -> bool:
    return parse(text) is not None


def parse(text: str) -> Reference | None:
    file, sep, attr = text.partition("::")
    if sep and file.endswith(".py") and attr:
        return Reference(text, attr, file=Path(file))
    if _IMPORTABLE.fullmatch(text):
        module, _, attr = text.partition(":")
        return Reference(text, attr, module=module)
    return None


def split_dtype(text: str) -> tuple[str, str | None]:
    """``"1x128:int64"`` -> ("1x128", "int64"); a shape without a dtype is float32."""
    shape, sep, dtype = text.partition(":")
    if sep and dtype not in INPUT_DTYPES:
        raise UsageError(f"bad input dtype {dtype!r} in {text!r}: one of {', '.join(INPUT_DTYPES)}")
    return shape, (dtype if sep else None)


def import_module(reference: Reference) -> ModuleType:
    """The module that defines the factory; a file is executed afresh so that edits are seen."""
    if reference.file is None:
        return _guarded_import(reference, lambda: importlib.import_module(str(reference.module)))
    file = reference.file.resolve()
    if not file.is_file():
        raise ModelLoadError(f"{reference.text}: no such file {str(reference.file)!r}")
    return _guarded_import(reference, lambda: _exec_file(file))


def _exec_file(file: Path) -> ModuleType:
    name, search_path = _qualified_name(file)
    if search_path in sys.path:
        sys.path.remove(search_path)
    sys.path.insert(0, search_path)  # sibling modules and the file's package import as in a script
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{file}: not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _qualified_name(file: Path) -> tuple[str, str]:
    """The dotted name of ``file`` inside its package (folders with __init__.py), and the folder
    to put on sys.path for it: pytest's "prepend" import mode."""
    parts = [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), str(folder)


def _guarded_import(reference: Reference, load: Callable[[], ModuleType]) -> ModuleType:
    try:
        return load()
    except ArchlintError:
        raise
    except ImportError as exc:
        hint = ""
        if getattr(exc, "name", None) in ("torch", "onnxscript"):
            hint = " (model definitions need torch and onnxscript: pip install 'archlint[torch]')"
        raise ModelLoadError(f"{reference.text}: cannot import: {exc}{hint}") from exc
    except Exception as exc:  # the user's module raised while importing
        raise ModelLoadError(f"{reference.text}: importing raised {type(exc).__name__}: {exc}") from exc


def factory(reference: Reference, module: ModuleType) -> Callable[..., object]:
    target: object = module
    for part in reference.attr.split("."):
        if not hasattr(target, part):
            raise ModelLoadError(f"{reference.text}: {module.__name__} has no attribute {reference.attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelLoadError(f"{reference.text}: {reference.attr!r} is not a class or a function")
    return target
