"""Map every submodule of a live ``nn.Module`` to the source line that constructs it.

A child is constructed where its parent's class assigns it (``self.dw = nn.Conv2d(...)``, in
``__init__`` or a helper method such as ``_make_layer``) or registers it (``self.add_module("dw",
...)``); the elements of a container written out in place (``nn.Sequential(conv, bn, act)`` or
``nn.ModuleList([a, b])``) are placed on their own lines. Layers appended in a loop have no line
of their own and are found through their container. Only classes in the repository are read.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlint.model.source_locations import project_relative

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class _Site:
    file: str  # relative to the repository root
    line: int
    elements: tuple[int, ...] = ()  # lines of a container's elements written out in place


def module_lines(model: torch.nn.Module) -> dict[str, tuple[str, int]]:
    """{module path: (file, line)} for every submodule whose construction is found."""
    lines: dict[str, tuple[str, int]] = {}
    for path, module in model.named_modules():
        sites = _sites(type(module))
        for name, child in module.named_children():
            site = sites.get(name)
            if site is None:
                continue
            child_path = f"{path}.{name}" if path else name
            lines[child_path] = (site.file, site.line)
            for index, grandchild in enumerate(dict(child.named_children())):
                if grandchild == str(index) and index < len(site.elements):
                    lines[f"{child_path}.{grandchild}"] = (site.file, site.elements[index])
    return lines


_SITES: dict[type, dict[str, _Site]] = {}  # a class's source is parsed once per process


def _sites(cls: type) -> dict[str, _Site]:
    """Attribute name -> where the class (or a base in the repository) assigns it."""
    if cls not in _SITES:
        sites: dict[str, _Site] = {}
        for klass in reversed(cls.__mro__):  # a subclass's assignment wins over its base's
            sites |= _class_sites(klass)
        _SITES[cls] = sites
    return _SITES[cls]


def _class_sites(klass: type) -> dict[str, _Site]:
    try:
        file = inspect.getsourcefile(klass)
        source, first_line = inspect.getsourcelines(klass)
    except (OSError, TypeError):  # builtins, classes made at run time
        return {}
    relative = project_relative(file) if file else None
    if relative is None:
        return {}
    tree = ast.parse(textwrap.dedent("".join(source)))
    offset = first_line - 1
    return {
        name: _Site(relative, value.lineno + offset, tuple(e.lineno + offset for e in _elements(value)))
        for name, value in _assignments(tree)
    }


def _assignments(tree: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(attribute, value) of every ``self.x = value`` and ``self.add_module("x", value)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                attr = _self_attribute(target)
                if attr is not None:
                    yield attr, node.value
        elif isinstance(node, ast.Call) and _is_add_module(node):
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                yield name.value, node.args[1]


def _self_attribute(target: ast.expr) -> str | None:
    """``x`` for ``self.x``."""
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return target.attr
    return None


def _is_add_module(call: ast.Call) -> bool:
    method = _self_attribute(call.func)
    return method in ("add_module", "register_module") and len(call.args) == 2


def _elements(value: ast.expr) -> list[ast.expr]:
    """The elements written out in ``nn.Sequential(a, b)`` or ``nn.ModuleList([a, b])``."""
    if not isinstance(value, ast.Call):
        return []
    items = value.args
    if len(items) == 1 and isinstance(items[0], ast.List | ast.Tuple):
        items = items[0].elts
    if any(isinstance(item, ast.Starred) for item in items):
        return []  # built in a loop: the elements have no line of their own
    return list(items)
