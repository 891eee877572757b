"""Graph questions and edits the fixes share, on the onnx protos they rewrite."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from archlint.model.onnx_loader import iter_graphs

Array = np.ndarray[Any, Any]


def set_values(tensor: onnx.TensorProto, values: Array) -> None:
    """Replace a tensor's values, keeping its name, doc string and metadata."""
    replacement = numpy_helper.from_array(values, tensor.name)
    tensor.ClearField("float_data")
    tensor.ClearField("int32_data")
    tensor.ClearField("double_data")
    tensor.ClearField("external_data")
    tensor.data_location = onnx.TensorProto.DEFAULT
    tensor.raw_data = replacement.raw_data
    tensor.data_type = replacement.data_type
    del tensor.dims[:]
    tensor.dims.extend(replacement.dims)


def readers(proto: onnx.ModelProto) -> dict[str, int]:
    """How many node inputs read each tensor name, in any graph, plus one per graph output."""
    counts: dict[str, int] = {}
    for graph in iter_graphs(proto.graph):
        for name in [i for node in graph.node for i in node.input] + [o.name for o in graph.output]:
            if name:
                counts[name] = counts.get(name, 0) + 1
    return counts


class MainGraph:
    """Lookups on the main graph that the fixes need: initializers, producers, consumers."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self.proto = proto
        self.graph = proto.graph
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.outputs = {o.name for o in self.graph.output}
        self.reads = readers(proto)
        self.producers = {o: node for node in self.graph.node for o in node.output if o}
        self._consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in dict.fromkeys(node.input):
                self._consumers.setdefault(name, []).append(node)
        self._taken = (
            set(self.initializers) | set(self.reads) | {o for n in self.graph.node for o in n.output}
        )

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        """Main-graph nodes that read ``name`` (as built; fixes keep it valid for what they read)."""
        return self._consumers.get(name, [])

    def only_reader_is(self, name: str, node: onnx.NodeProto) -> bool:
        """Whether ``node`` reads ``name`` once and nothing else does (no subgraph, no output)."""
        return self.reads.get(name, 0) == 1 and list(node.input).count(name) == 1

    def value(self, name: str) -> Array | None:
        tensor = self.initializers.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def fresh_name(self, stem: str) -> str:
        name, index = stem, 1
        while name in self._taken:
            index += 1
            name = f"{stem}_{index}"
        self._taken.add(name)
        return name

    def add_initializer(self, stem: str, values: Array) -> str:
        name = self.fresh_name(stem)
        tensor = numpy_helper.from_array(values, name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def set_inputs(self, node: onnx.NodeProto, names: list[str]) -> None:
        """Rewire ``node``'s inputs, keeping the read counts that ``drop_unread`` relies on."""
        for name in node.input:
            self.reads[name] = self.reads.get(name, 0) - 1
        for name in names:
            self.reads[name] = self.reads.get(name, 0) + 1
        del node.input[:]
        node.input.extend(names)

    def drop_unread(self, names: set[str]) -> None:
        """Remove initializers (and their graph-input entries) that no node reads any more."""
        unread = {n for n in names if self.reads.get(n, 0) <= 0}
        kept = [t for t in self.graph.initializer if t.name not in unread]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept)
        inputs = [i for i in self.graph.input if i.name not in unread]
        del self.graph.input[:]
        self.graph.input.extend(inputs)
        for name in unread:
            self.initializers.pop(name, None)

    def forget_shapes(self, names: set[str]) -> None:
        """Drop value_info for tensors a fix renamed or reshaped: stale shapes make runtimes refuse."""
        kept = [v for v in self.graph.value_info if v.name not in names]
        del self.graph.value_info[:]
        self.graph.value_info.extend(kept)


def plural(count: int, noun: str) -> str:
    """``plural(1, "Conv")`` -> "1 Conv"; ``plural(11, "Conv")`` -> "11 Convs"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default
