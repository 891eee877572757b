"""archlint's immutable view of a model graph: tensors with resolved shapes, nodes, subgraphs.

Only ``onnx_loader`` builds these; every later stage reads them and nothing mutates them. A shape
dimension is an ``int`` once resolved and a ``str`` (the symbol or ``"?"``) when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archlint.model.dtypes import DType

Dim = int | str


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor: its element type and its shape, with the figures derived from a static one."""

    name: str
    dtype: DType
    shape: tuple[Dim, ...] | None  # None: rank unknown
    # Derived once here: every cost handler and the liveness walk read them, often repeatedly.
    static_shape: tuple[int, ...] | None = field(init=False, repr=False, compare=False)
    numel: int | None = field(init=False, repr=False, compare=False)
    nbytes: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = self.shape  # a dim is an int or a symbol (str): map and ``in`` loop in C
        static = tuple(map(int, shape)) if shape is not None and str not in map(type, shape) else None
        numel = math.prod(static) if static is not None else None
        object.__setattr__(self, "static_shape", static)
        object.__setattr__(self, "numel", numel)
        object.__setattr__(self, "nbytes", None if numel is None else self.dtype.nbytes(numel))


@dataclass(frozen=True, slots=True)
class Node:
    """An operator: its type, domain, tensor names, attributes and subgraphs."""

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
    """A graph: its nodes in order, its inputs and outputs, and every tensor it can see."""

    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]  # runtime inputs (initializers excluded)
    outputs: tuple[str, ...]
    tensors: Mapping[str, Tensor]  # every tensor visible here, outer scopes included
    initializers: frozenset[str]
    # Values of small constant tensors (trip counts, axes, shapes); large weights are never read.
    small_values: Mapping[str, Any] = field(default_factory=dict)
    # The stored form (an onnx.TensorProto) of every initializer and Constant value, read only on
    # request through archlint.model.weights: the cost model never needs weight values.
    stored: Mapping[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor | None:
        return self.tensors.get(name)

    def __getstate__(self) -> dict[str, Any]:
        """A graph sent to another process (``check -j N``'s workers send their results back)
        travels without its stored tensors: weights are read where the model was loaded, and
        pickling them would copy every embedded weight through the pipe."""
        return {**self.__dict__, "stored": {}}

    def has_unresolved_shapes(self) -> bool:
        """Whether a node output that something reads has no static shape (main graph)."""
        read = {name for node in self.nodes for name in node.inputs} | set(self.outputs)
        for node in self.nodes:
            for name in node.outputs:
                tensor = self.tensors.get(name)
                if name in read and (tensor is None or tensor.static_shape is None):
                    return True
        return False


@dataclass(frozen=True)
class Model:
    """A loaded model with every shape resolved at its binding."""

    path: str
    graph: Graph
    opsets: Mapping[str, int]
    producer: str
    # The proto's metadata_props: loaders record facts about the source here (the PyTorch loader
    # stores its module -> source line map under "archlint.source_map").
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Weights stored in If branches that the binding does not take (the branch was inlined away):
    # name -> (elements, dtype). They are loaded with the model, so they count as its parameters.
    untaken_weights: Mapping[str, tuple[int, DType]] = field(default_factory=dict)
    # Runtime inputs whose shape the file leaves symbolic: the binding fixed their dims, so the
    # shape arithmetic computed from them folded here, but an engine loading the file runs it.
    symbolic_inputs: frozenset[str] = frozenset()
    # Main-graph Ifs whose condition the binding decided: archlint inlined the branch taken; an
    # engine loading the file still runs the If, and pays for a subgraph run.
    decided_ifs: tuple[str, ...] = ()

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))
