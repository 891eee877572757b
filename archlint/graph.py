"""archlint's immutable view of a model graph: tensors with resolved shapes, nodes, subgraphs.

Only ``onnx_loader`` builds these; every later stage reads them and nothing mutates them. A shape
dimension is an ``int`` once resolved and a ``str`` (the symbol or ``"?"``) when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archlint.dtypes import DType

Dim = int | str


@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    dtype: DType
    shape: tuple[Dim, ...] | None  # None: rank unknown

    @property
    def static_shape(self) -> tuple[int, ...] | None:
        """The shape when every dimension is a known integer, else None."""
        if self.shape is None or not all(isinstance(d, int) for d in self.shape):
            return None
        return tuple(int(d) for d in self.shape)

    @property
    def numel(self) -> int | None:
        shape = self.static_shape
        if shape is None:
            return None
        count = 1
        for d in shape:
            count *= d
        return count

    @property
    def nbytes(self) -> int | None:
        count = self.numel
        return None if count is None else self.dtype.nbytes(count)


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    op_type: str
    domain: str  # "" is the default ONNX domain
    inputs: tuple[str, ...]  # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    subgraphs: Mapping[str, Graph] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, index: int) -> str:
        """Name of input ``index``, or "" when it is absent or omitted."""
        return self.inputs[index] if index < len(self.inputs) else ""


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]  # runtime inputs (initializers excluded)
    outputs: tuple[str, ...]
    tensors: Mapping[str, Tensor]  # every tensor visible here, outer scopes included
    initializers: frozenset[str]
    # Values of small constant tensors (trip counts, axes, shapes); large weights are never read.
    small_values: Mapping[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor | None:
        return self.tensors.get(name)


@dataclass(frozen=True)
class Model:
    path: str
    graph: Graph
    opsets: Mapping[str, int]
    producer: str

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))
