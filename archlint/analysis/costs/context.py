"""Read-only access to tensor shapes and small constant values for cost handlers."""

from __future__ import annotations

from typing import Any

from archlint.analysis.costs.record import UnknownShapeError
from archlint.model.dtypes import DType
from archlint.model.graph import Graph, Node, Tensor


class CostContext:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    def _resolved(self, name: str) -> Tensor:
        tensor = self._graph.tensors.get(name) if name else None
        if tensor is None or tensor.static_shape is None:
            raise UnknownShapeError(name)
        return tensor

    def shape(self, name: str) -> tuple[int, ...]:
        """Static shape of ``name``; raises UnknownShapeError when it is not resolved."""
        return self._resolved(name).static_shape or ()

    def numel(self, name: str) -> int:
        return self._resolved(name).numel or 0

    def nbytes(self, name: str) -> int:
        """Storage bytes of a tensor; 0 for values without a tensor type (sequences, maps)."""
        tensor = self._graph.tensors.get(name)
        if tensor is None:
            return 0
        if tensor.nbytes is None:
            raise UnknownShapeError(name)
        return tensor.nbytes

    def out_numel(self, node: Node, index: int = 0) -> int:
        return self.numel(node.outputs[index])

    def dtype(self, name: str) -> DType | None:
        tensor = self._graph.tensors.get(name)
        return tensor.dtype if tensor is not None else None

    def value(self, name: str) -> Any:
        """The numpy value of a small constant tensor, or None."""
        return self._graph.small_values.get(name) if name else None
