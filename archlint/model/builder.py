"""Build ONNX graphs in code: what the tests, the benchmarks and calibration's microbenchmarks
all need, in one place.

``GraphBuilder`` accumulates nodes and weights and checks the result with onnx's strict shape
inference; ``ExternalData`` lays out multi-GB weights without producing their bytes; ``value``,
``weight`` and ``model`` are the one-line helpers for a graph written node by node.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # the first opset with LayerNormalization; every runtime of interest supports it


def value(name: str, shape: Sequence[Any] | None, dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    """A graph input's or output's declaration (None: no shape declared)."""
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def weight(
    name: str, shape: tuple[int, ...], fill: float = 0.01, dtype: Any = np.float32
) -> onnx.TensorProto:
    """An initializer of one repeated value (costs depend on shapes, not values)."""
    return numpy_helper.from_array(np.full(shape, fill, dtype=dtype), name)


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = OPSET,
    extra_opsets: dict[str, int] | None = None,
) -> onnx.ModelProto:
    """A model of one graph, at ``opset`` of the default domain plus ``extra_opsets``."""
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    return helper.make_model(graph, opset_imports=opsets)


class ExternalData:
    """Lays weights out back to back in one external data file without ever producing their bytes.

    Each tensor gets location/offset/length entries; the file itself is created sparse (truncated
    to its total size), so a multi-GB model costs no time and no disk. Readers that only need
    dims and dtype, as archlint does, cannot tell the difference.
    """

    def __init__(self, location: str, alignment: int = 4096) -> None:
        self.location = location
        self.alignment = alignment  # what onnx's own writer uses, so offsets look familiar
        self.size = 0

    def tensor(self, name: str, shape: Sequence[int], elem_type: int = TensorProto.FLOAT) -> TensorProto:
        tensor = TensorProto(name=name, data_type=elem_type, dims=list(shape))
        length = int(np.prod(shape, dtype=np.int64)) * helper.tensor_dtype_to_np_dtype(elem_type).itemsize
        offset = -(-self.size // self.alignment) * self.alignment
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (
            ("location", self.location),
            ("offset", str(offset)),
            ("length", str(length)),
        ):
            tensor.external_data.add(key=key, value=value)
        self.size = offset + length
        return tensor

    def create_file(self, folder: Path) -> Path:
        path = folder / self.location
        with path.open("wb") as file:
            file.truncate(self.size)
        return path


class GraphBuilder:
    """Accumulates nodes and initializers; every helper returns the name of its output.

    With ``external`` set, weights are external-data placeholders instead of random values.
    """

    def __init__(
        self, name: str, seed: int = 0, external: ExternalData | None = None, producer: str = "archlint"
    ) -> None:
        self.name = name
        self.external = external
        self.producer = producer
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._rng = np.random.default_rng(seed)
        self._counter = 0

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter}"

    def input(self, name: str, shape: Sequence[int | str], elem_type: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, name: str, elem_type: int = TensorProto.FLOAT) -> None:
        # The shape is filled in by build(): the checker wants one and computing it by hand is
        # error-prone.
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, None))

    def weight(self, shape: Sequence[int], scale: float = 0.02) -> str:
        """A random float32 initializer (values are irrelevant to cost, but files must be real)."""
        if self.external is not None:
            return self._placeholder(shape)
        data = self._rng.standard_normal(tuple(shape), dtype=np.float32) * np.float32(scale)
        return self.const(data, "w")

    def he_weight(self, shape: Sequence[int], fan_in: int) -> str:
        """Random weights He-scaled for ``fan_in``, so that activations along a chain of layers
        neither vanish into subnormals nor overflow."""
        return self.weight(shape, scale=float(np.sqrt(2.0 / max(fan_in, 1))))

    def positive(self, shape: Sequence[int]) -> str:
        """Random values in [0.5, 1.5): BatchNorm variances, which a checker may expect positive."""
        if self.external is not None:
            return self._placeholder(shape)
        return self.const(self._rng.uniform(0.5, 1.5, tuple(shape)).astype(np.float32), "v")

    def _placeholder(self, shape: Sequence[int]) -> str:
        assert self.external is not None
        name = self.fresh("w")
        self.initializers.append(self.external.tensor(name, shape))
        return name

    def const(self, value: np.ndarray[Any, Any], prefix: str = "c") -> str:
        name = self.fresh(prefix)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def ints(self, values: Sequence[int]) -> str:
        return self.const(np.array(values, dtype=np.int64), "shape")

    def op(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        """Append a single-output node (optional outputs, like LSTM's Y_h, are left off)."""
        output = self.fresh(op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [output], name=self.fresh(op_type), **attrs)
        )
        return output

    def build(self) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=self.producer
        )
        model.ir_version = 8  # opset 17's IR version, so older onnx releases read the files too
        # strict_mode makes a builder mistake fail here rather than inside a timing loop.
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        for declared, found in zip(model.graph.output, inferred.graph.output, strict=True):
            declared.type.CopyFrom(found.type)
        return model
