"""Where in the model's source a node comes from: a file and line relative to the repository root.

Loaders that build a model from code record, in the proto's metadata, a map from module paths
(``backbone.stage2.0.dw``) to the line that constructs each module (``SOURCE_MAP_KEY``). The
PyTorch exporter tags every node with the module path it ran in and a Python stack trace. A node
run by a library layer (``nn.Conv2d``) is placed on the line constructing that layer, which is the
line a reviewer changes; an operator written in a ``forward`` is placed on that line of the trace.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from archlint.lint.diagnostics import Location
from archlint.model.graph import Model, Node

SOURCE_MAP_KEY = "archlint.source_map"
NAME_SCOPES = "pkg.torch.onnx.name_scopes"
CLASS_HIERARCHY = "pkg.torch.onnx.class_hierarchy"
STACK_TRACE = "pkg.torch.onnx.stack_trace"
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_LIBRARY_PARTS = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True)
class NodeSource:
    location: Location
    module: str  # the module path the node ran in; "" at the top level


def repository_root() -> Path:
    """The git work tree around the current folder, else the current folder."""
    return _root_of(Path.cwd().resolve())


@functools.cache  # one git call per folder and process
def _root_of(folder: Path) -> Path:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, cwd=folder, check=False
        )
    except OSError:  # no git at all
        return folder
    top = result.stdout.strip()
    return Path(top).resolve() if result.returncode == 0 and top else folder


def project_relative(file: str | Path) -> str | None:
    """``file`` relative to the repository root, or None for a library or a file outside it."""
    path = Path(file).resolve()
    if _LIBRARY_PARTS.intersection(path.parts):
        return None
    try:
        return path.relative_to(repository_root()).as_posix()
    except ValueError:
        return None


def source_map(model: Model) -> dict[str, Location]:
    text = model.metadata.get(SOURCE_MAP_KEY)
    if not text:
        return {}
    return {module: Location(path, line) for module, (path, line) in json.loads(text).items()}


def locate(model: Model, node: Node, modules: dict[str, Location] | None = None) -> NodeSource | None:
    """The source line of ``node``, or None when the loader recorded nothing (an ONNX file)."""
    scopes = _literal_list(node.metadata.get(NAME_SCOPES))
    module = next((scope for scope in reversed(scopes[:-1]) if scope), "")
    modules = source_map(model) if modules is None else modules
    if module and _run_by_library_layer(node):
        for ancestor in _ancestors(module):  # a layer built in a loop: the line building its container
            if ancestor in modules:
                return NodeSource(modules[ancestor], module)
    frame = _innermost_project_frame(node.metadata.get(STACK_TRACE, ""))
    return NodeSource(frame, module) if frame is not None else None


def _literal_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(item) for item in value] if isinstance(value, list) else []


def _run_by_library_layer(node: Node) -> bool:
    """Whether the innermost module is a library class (the op is its whole job), not user code."""
    hierarchy = _literal_list(node.metadata.get(CLASS_HIERARCHY))
    return len(hierarchy) < 2 or hierarchy[-2].startswith("torch.")


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _innermost_project_frame(trace: str) -> Location | None:
    for match in reversed(list(_FRAME.finditer(trace))):
        relative = project_relative(match["file"])
        if relative is not None:
            return Location(relative, int(match["line"]))
    return None
