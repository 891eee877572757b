"""fold-batchnorm: merge a BatchNormalization into the Conv before it (safe).

At inference BatchNormalization is a per-channel scale and shift, so
``BN(conv(x, w) + b) = conv(x, w * s) + (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``.
Only a Conv whose output feeds that BatchNormalization alone is folded: any other reader would
see the changed values. The fold is computed in float64 and rounded once to the weight's type;
``batchnorm_scale`` in the weight's own type is what engines compute when they fuse at load
time, and what AL401 checks for underflow.
"""

from __future__ import annotations

import numpy as np
import onnx

from archlint.fixes.proto import Array, MainGraph, attr, plural


def batchnorm_scale(gamma: Array, var: Array, epsilon: float, dtype: np.dtype[np.generic]) -> Array:
    """The per-channel scale ``gamma / sqrt(var + eps)``, computed in ``dtype``."""
    gamma, var = gamma.astype(dtype), var.astype(dtype)
    return np.asarray(gamma / np.sqrt(var + np.asarray(epsilon, dtype)), dtype=dtype)


def folded_weight(weight: Array, scale: Array) -> Array:
    """Scale each output channel (axis 0) of a Conv weight."""
    return np.asarray(weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1)), dtype=weight.dtype)


def fold_batchnorm(proto: onnx.ModelProto) -> tuple[int, str]:
    """Fold in place; return (BatchNormalization nodes removed, one-line summary)."""
    graph = MainGraph(proto)
    freed: set[str] = set()
    renamed: set[str] = set()
    folded = [bn for bn in list(proto.graph.node) if _fold(graph, bn, freed, renamed)]
    if folded:
        removed = {id(bn) for bn in folded}
        kept = [node for node in proto.graph.node if id(node) not in removed]
        del proto.graph.node[:]
        proto.graph.node.extend(kept)
        graph.drop_unread(freed)
        graph.forget_shapes(renamed)
    return len(folded), f"{plural(len(folded), 'BatchNormalization')} folded into the Conv before it"


def _fold(graph: MainGraph, bn: onnx.NodeProto, freed: set[str], renamed: set[str]) -> bool:
    conv = _foldable_conv(graph, bn)
    if conv is None:
        return False
    has_bias = len(conv.input) > 2 and bool(conv.input[2])
    weight, params = graph.value(conv.input[1]), [graph.value(name) for name in bn.input[1:5]]
    bias = graph.value(conv.input[2]) if has_bias else None
    if weight is None or any(p is None for p in params) or (has_bias and bias is None):
        return False  # a value computed at run time cannot be folded ahead of time
    gamma, beta, mean, var = (np.asarray(p, np.float64) for p in params)
    old_bias = np.zeros(weight.shape[0]) if bias is None else bias.astype(np.float64)
    scale = batchnorm_scale(gamma, var, float(attr(bn, "epsilon", 1e-5)), np.dtype(np.float64))
    new_weight = folded_weight(weight.astype(np.float64), scale).astype(weight.dtype)
    new_bias = ((old_bias - mean) * scale + beta).astype(weight.dtype)
    freed.update([*conv.input[1:], *bn.input[1:]])
    renamed.add(conv.output[0])
    weight_name = graph.add_initializer(f"{conv.input[1]}_bn", new_weight)
    bias_name = graph.add_initializer(f"{bn.output[0]}_bias", new_bias)
    graph.set_inputs(conv, [conv.input[0], weight_name, bias_name])
    graph.set_inputs(bn, [])  # the node is removed; its parameters may now be unread
    conv.output[0] = bn.output[0]
    graph.producers[bn.output[0]] = conv  # a second BatchNormalization after this one folds too
    return True


def _foldable_conv(graph: MainGraph, bn: onnx.NodeProto) -> onnx.NodeProto | None:
    """The Conv that produces this inference-mode BatchNormalization's input and feeds nothing else."""
    inference = attr(bn, "training_mode", 0) == 0 and attr(bn, "spatial", 1) == 1
    if bn.op_type != "BatchNormalization" or bn.domain not in ("", "ai.onnx") or not inference:
        return None
    if len([o for o in bn.output if o]) != 1 or len(bn.input) < 5:
        return None
    producer = graph.producers.get(bn.input[0])
    if producer is None or producer.op_type != "Conv" or producer.domain not in ("", "ai.onnx"):
        return None
    if not graph.only_reader_is(bn.input[0], bn) or bn.input[0] in graph.outputs:
        return None
    weight = producer.input[1]
    if weight not in graph.initializers or not graph.only_reader_is(weight, producer):
        return None
    return producer  # type: ignore[no-any-return]
