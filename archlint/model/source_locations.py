"""Where in the model's source a node comes from: a file and line relative to the repository root.

Loaders that build a model from code record, in the proto's metadata, a map from module paths
(``backbone.stage2.0.dw``) to the line that constructs each module (``SOURCE_MAP_KEY``). The
PyTorch exporter tags every node with the module path it ran in and a Python stack trace. A node
run by a library layer (``nn.Conv2d``) is placed on the line constructing that layer, which is the
line a reviewer changes; an operator written in a ``forward`` is placed on that line of the trace.

A node the exporter fused from several operations (a BatchNorm folded into its Conv) also lists
the operations it absorbed (``ORIGINS_KEY``). It is placed on the module whose operator it
performs, the conv for a Conv and the linear layer for a Gemm, whatever module torch tagged it
with; the other modules' lines are its secondary locations.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlint.lint.diagnostics import Location
from archlint.model.graph import Model, Node

SOURCE_MAP_KEY = "archlint.source_map"
NAME_SCOPES = "pkg.torch.onnx.name_scopes"
CLASS_HIERARCHY = "pkg.torch.onnx.class_hierarchy"
ORIGINS_KEY = "archlint.origins"  # see archlint.pytorch.origins
STACK_TRACE = "pkg.torch.onnx.stack_trace"
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_LIBRARY_PARTS = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True)
class NodeSource:
    location: Location
    module: str  # the module path the node ran in; "" at the top level
    # The lines of the other modules a fused node comes from (the BatchNorm folded into a conv).
    secondary: tuple[Location, ...] = ()


@dataclass(frozen=True)
class _Origin:
    """One torch operation a node comes from."""

    module: str  # module path; "" at the top level
    layer: str  # the innermost module's class, "torch.nn.modules.conv.Conv2d"
    op: str  # the torch operator, "aten.conv2d.default"
    frame: Location | None  # the innermost line of the repository in its stack


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


def node_sources(model: Model) -> dict[str, NodeSource]:
    """The source of every node that has one, by node name (empty for an ONNX file)."""
    modules = source_map(model)
    sources = ((node.name, locate(model, node, modules)) for node in model.graph.nodes)
    return {name: source for name, source in sources if source is not None}


def source_lines(sources: Iterable[NodeSource]) -> set[Location]:
    """Every line some node comes from, the secondary lines of fused nodes included."""
    return {line for source in sources for line in (source.location, *source.secondary)}


def locate(model: Model, node: Node, modules: dict[str, Location] | None = None) -> NodeSource | None:
    """The source line of ``node``, or None when the loader recorded nothing (an ONNX file)."""
    modules = source_map(model) if modules is None else modules
    placed = [(origin, _place(origin, modules)) for origin in _origins(node)]
    found = [(origin, line) for origin, line in placed if line is not None]
    if not found:
        return None
    # The module whose own operator the node performs (the conv of a Conv that absorbed its
    # BatchNorm), else the one torch tagged the node with, which comes first.
    primary, line = next(((o, at) for o, at in found if _performs(node.op_type, o)), found[0])
    secondary = dict.fromkeys(at for _, at in found if at != line)
    return NodeSource(line, primary.module, tuple(secondary))


def module_path(node: Node) -> str | None:
    """The module a node belongs to, as ``locate`` places it ("" at the top level), or None for a
    node no exporter tagged with a module. It needs no source lines: an ONNX file torch exported
    has it too."""
    if NAME_SCOPES not in node.metadata:
        return None
    origins = _origins(node)
    return next((o for o in origins if _performs(node.op_type, o)), origins[0]).module


def _origins(node: Node) -> list[_Origin]:
    """What torch tagged the node with, then the operations it absorbed when fused."""
    scopes = _literal_list(node.metadata.get(NAME_SCOPES))
    hierarchy = _literal_list(node.metadata.get(CLASS_HIERARCHY))
    own = _Origin(
        module=next((scope for scope in reversed(scopes[:-1]) if scope), ""),
        layer=hierarchy[-2] if len(hierarchy) >= 2 else "",
        op=hierarchy[-1] if hierarchy else "",
        frame=innermost_project_frame(node.metadata.get(STACK_TRACE, "")),
    )
    return [own, *_absorbed(node.metadata.get(ORIGINS_KEY))]


def _absorbed(text: str | None) -> list[_Origin]:
    try:
        entries = json.loads(text) if text else []
    except ValueError:
        return []
    return [_absorbed_origin(entry) for entry in entries]


def _absorbed_origin(entry: dict[str, Any]) -> _Origin:
    frame = Location(*entry["frame"]) if entry["frame"] else None
    return _Origin(str(entry["module"]), str(entry["layer"]), str(entry["op"]), frame)


def _place(origin: _Origin, modules: dict[str, Location]) -> Location | None:
    """A library layer's constructor line; an operation written in a forward, its line there."""
    if origin.module and _is_library_layer(origin.layer):
        for ancestor in _ancestors(origin.module):  # a layer built in a loop: its container's line
            if ancestor in modules:
                return modules[ancestor]
    return origin.frame


def _performs(op_type: str, origin: _Origin) -> bool:
    """Whether ``origin`` is the kind of operation an ``op_type`` node computes."""
    keywords = _OPERATOR_KEYWORDS.get(op_type, ())
    operator = origin.op.split(".")[1] if origin.op.count(".") >= 2 else origin.op  # aten.conv2d.default
    names = (operator, origin.layer.rsplit(".")[-1])
    return any(keyword in name.lower() for keyword in keywords for name in names)


_CONV = ("conv",)
_MATMUL = ("linear", "mm", "matmul", "einsum")
_OPERATOR_KEYWORDS = {
    "Conv": _CONV,
    "ConvTranspose": _CONV,
    "ConvInteger": _CONV,
    "QLinearConv": _CONV,
    "Gemm": _MATMUL,
    "MatMul": _MATMUL,
    "MatMulInteger": _MATMUL,
    "QLinearMatMul": _MATMUL,
}


def _literal_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(item) for item in value] if isinstance(value, list) else []


def _is_library_layer(layer: str) -> bool:
    """Whether the innermost module is a library class (the op is its whole job), not user code."""
    return not layer or layer.startswith("torch.")


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def innermost_project_frame(trace: str) -> Location | None:
    for match in reversed(list(_FRAME.finditer(trace))):
        relative = project_relative(match["file"])
        if relative is not None:
            return Location(relative, int(match["line"]))
    return None
