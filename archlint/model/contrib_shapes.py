"""Output shapes of operators onnx's shape inference skips: onnxruntime's com.microsoft ones,
and the ai.onnx.ml classifiers and transformers whose schemas infer no shape.

onnx knows no schema for the contrib operators that onnxruntime's transformer optimizer and
quantizer write (Attention, SkipLayerNormalization, QLinearConv, ...), so every tensor after the
first of them would stay unresolved. Each function here maps the input shapes (None where unknown)
and the node's attributes to output shapes, following the operator definitions in onnxruntime's
``onnxruntime/core/graph/contrib_ops/contrib_defs.cc``, ``bert_defs.cc`` and
``quantization_defs.cc``; an output a function cannot tell is None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

Shape = tuple[int, ...]
Shapes = Sequence[Shape | None]
ShapeFn = Callable[[Shapes, Mapping[str, Any]], list[Shape | None]]


def _same_as(index: int) -> ShapeFn:
    return lambda shapes, attrs: [shapes[index] if len(shapes) > index else None]


def _broadcast(*shapes: Shape) -> Shape | None:
    rank = max(len(s) for s in shapes)
    result = []
    for dims in zip(*[(1,) * (rank - len(s)) + s for s in shapes], strict=True):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            return None
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def _matmul_shape(a: Shape, b: Shape, trans_a: bool = False, trans_b: bool = False) -> Shape | None:
    if len(a) < 1 or len(b) < 1:
        return None
    a2 = a if len(a) > 1 else (1, *a)
    b2 = b if len(b) > 1 else (*b, 1)
    m, k = (a2[-1], a2[-2]) if trans_a else (a2[-2], a2[-1])
    k2, n = (b2[-1], b2[-2]) if trans_b else (b2[-2], b2[-1])
    batch = _broadcast(a2[:-2], b2[:-2])
    if k != k2 or batch is None:
        return None
    out = (*batch, m, n)
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _matmul(a_index: int, b_index: int) -> ShapeFn:
    def shape(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
        a, b = shapes[a_index], shapes[b_index]
        if a is None or b is None:
            return [None]
        trans_a, trans_b = bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0))
        return [_matmul_shape(a, b, trans_a, trans_b)]

    return shape


def _gemm(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    a, b = shapes[0], shapes[1]
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return [None]
    return [_matmul_shape(a, b, bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0)))]


def _spatial_out(size: int, kernel: int, stride: int, dilation: int, pads: int, auto_pad: str) -> int:
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return -(-size // stride)
    if auto_pad == "VALID":
        return (size - (kernel - 1) * dilation - 1) // stride + 1
    return (size + pads - (kernel - 1) * dilation - 1) // stride + 1


def _window(spatial: Shape, kernel: Sequence[int], attrs: Mapping[str, Any]) -> tuple[int, ...]:
    rank = len(spatial)
    strides = list(attrs.get("strides") or [1] * rank)
    dilations = list(attrs.get("dilations") or [1] * rank)
    pads = list(attrs.get("pads") or [0] * 2 * rank)
    auto_pad = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    return tuple(
        _spatial_out(spatial[i], kernel[i], strides[i], dilations[i], pads[i] + pads[i + rank], auto_pad)
        for i in range(rank)
    )


def _conv(data: int, weight: int, channels_last: bool = False) -> ShapeFn:
    def shape(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
        x, w = shapes[data], shapes[weight]
        if x is None or w is None or len(x) < 3:
            return [None]
        spatial = x[1:-1] if channels_last else x[2:]
        kernel = list(attrs.get("kernel_shape") or w[2:])
        out = _window(spatial, kernel, attrs)
        return [(x[0], *out, w[0]) if channels_last else (x[0], w[0], *out)]

    return shape


def _pool(channels_last: bool = False) -> ShapeFn:
    def shape(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
        x = shapes[0]
        if x is None or len(x) < 3 or "kernel_shape" not in attrs:
            return [None]
        spatial = x[1:-1] if channels_last else x[2:]
        out = _window(spatial, list(attrs["kernel_shape"]), attrs)
        return [(x[0], *out, x[-1]) if channels_last else (x[0], x[1], *out)]

    return shape


def _global_pool(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    x = shapes[0]
    if x is None or len(x) < 3:
        return [None]
    if attrs.get("channels_last", 0):
        return [(x[0], *[1] * (len(x) - 2), x[-1])]
    return [(x[0], x[1], *[1] * (len(x) - 2))]


def _layer_norm_stats(shapes: Shapes, attrs: Mapping[str, Any]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    axis = int(attrs.get("axis", -1)) % max(len(x), 1)
    return (*x[:axis], *[1] * (len(x) - axis))


def _layer_norm(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    stats = _layer_norm_stats(shapes, attrs)
    return [shapes[0], stats, stats]


def _skip_layer_norm(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    x = shapes[0]
    stats = None if x is None else (*x[:-1], 1)
    return [x, stats, stats, x]


def _attention(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """Attention / QAttention: (B, S, Din) x weights (Din, Dq + Dk + Dv) -> (B, S, Dv)."""
    x, w = shapes[0], shapes[1]
    if x is None or w is None or len(x) != 3:
        return [None]
    sizes = attrs.get("qkv_hidden_sizes")
    v_hidden = int(sizes[2]) if sizes else w[-1] // 3
    return [(x[0], x[1], v_hidden)]


def _multihead_attention(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """MultiHeadAttention: query (B, S, D), or packed QKV (B, S, N, 3, H); value sets the width."""
    query = shapes[0]
    if query is None:
        return [None]
    heads = int(attrs.get("num_heads", 1))
    value = shapes[2] if len(shapes) > 2 else None
    if len(query) == 5:
        return [(query[0], query[1], query[2] * query[4])]
    if value is not None and len(value) == 4:  # (B, N, L, Hv)
        return [(query[0], query[1], heads * value[3])]
    if value is not None and len(value) == 3:
        return [(query[0], query[1], value[2])]
    return [(query[0], query[1], query[2])]


def _group_query_attention(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """GroupQueryAttention: a packed (B, S, (N + 2 Nkv) H) query when no key is given."""
    query = shapes[0]
    if query is None or len(query) != 3:
        return [None]
    heads, kv_heads = int(attrs.get("num_heads", 1)), int(attrs.get("kv_num_heads", 1))
    key = shapes[1] if len(shapes) > 1 else None
    if key is None:
        head = query[2] // (heads + 2 * kv_heads)
        return [(query[0], query[1], heads * head)]
    return [query]


def _embed_layer_norm(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    ids, words = shapes[0], shapes[2] if len(shapes) > 2 else None
    if ids is None or words is None or len(ids) != 2:
        return [None]
    hidden = (ids[0], ids[1], words[1])
    return [hidden, (ids[0],), hidden]


def _bias_split_gelu(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    x = shapes[0]
    return [None if x is None else (*x[:-1], x[-1] // 2)]


def _matmul_nbits(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    a = shapes[0]
    return [None if a is None or "N" not in attrs else (*a[:-1], int(attrs["N"]))]


def _qlinear_binary(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    a, b = shapes[0], shapes[3] if len(shapes) > 3 else None
    return [None if a is None or b is None else _broadcast(a, b)]


def _qlinear_concat(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """Inputs: Y_scale, Y_zero_point, then (tensor, scale, zero point) per concatenated input."""
    parts = list(shapes[2::3])
    if not parts or any(p is None for p in parts):
        return [None]
    known = [p for p in parts if p is not None]
    axis = int(attrs.get("axis", 0)) % len(known[0])
    total = sum(p[axis] for p in known)
    return [(*known[0][:axis], total, *known[0][axis + 1 :])]


def _dynamic_quantize_lstm(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """X (S, B, I); W (D, I, 4H) in this operator's transposed layout; outputs as ONNX LSTM."""
    x, w = shapes[0], shapes[1]
    if x is None or w is None or "hidden_size" not in attrs:
        return [None, None, None]
    hidden, directions = int(attrs["hidden_size"]), w[0]
    state = (directions, x[1], hidden)
    return [(x[0], directions, x[1], hidden), state, state]


def _gather_block_quantized(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """Gather rows of a block-quantized table; 4-bit data packs two values per byte."""
    data, indices = shapes[0], shapes[1]
    if data is None or indices is None:
        return [None]
    axis = int(attrs.get("gather_axis", 0)) % len(data)
    unpacked = (*data[:-1], data[-1] * (8 // int(attrs.get("bits", 4))))
    return [(*unpacked[:axis], *indices, *unpacked[axis + 1 :])]


def _classes(attrs: Mapping[str, Any]) -> int:
    labels = attrs.get("classlabels_ints") or attrs.get("classlabels_strings") or []
    return len(labels) or len(attrs.get("intercepts") or []) or 1


def _classifier(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """ai.onnx.ml classifiers: a label per sample and a score per sample and class."""
    x = shapes[0]
    if x is None:
        return [None, None]
    samples = x[0] if len(x) > 1 else 1
    return [(samples,), (samples, _classes(attrs))]


def _regressor(shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    x = shapes[0]
    if x is None:
        return [None]
    targets = int(attrs.get("n_targets") or attrs.get("targets") or 1)
    return [(x[0] if len(x) > 1 else 1, targets)]


SHAPE_FUNCTIONS: dict[str, ShapeFn] = {
    **dict.fromkeys(
        [
            "BiasGelu",
            "FastGelu",
            "QuickGelu",
            "Gelu",
            "BiasAdd",
            "BiasDropout",
            "RotaryEmbedding",
            "QuantizeLinear",
            "DequantizeLinear",
            "QLinearSigmoid",
            "QLinearLeakyRelu",
            "QLinearSoftmax",
            "Trilu",
            "BiasSoftmax",
            "GroupNorm",
            "SkipGroupNorm",
            "DynamicQuantizeLinear",
        ],
        _same_as(0),
    ),
    "Attention": _attention,
    "QAttention": _attention,
    "MultiHeadAttention": _multihead_attention,
    "GroupQueryAttention": _group_query_attention,
    "SkipLayerNormalization": _skip_layer_norm,
    "SkipSimplifiedLayerNormalization": _skip_layer_norm,
    "LayerNormalization": _layer_norm,
    "SimplifiedLayerNormalization": _layer_norm,
    "EmbedLayerNormalization": _embed_layer_norm,
    "BiasSplitGelu": _bias_split_gelu,
    "FusedConv": _conv(0, 1),
    "NhwcConv": _conv(0, 1, channels_last=True),
    "QLinearConv": _conv(0, 3),
    "FusedMatMul": _matmul(0, 1),
    "MatMulIntegerToFloat": _matmul(0, 1),
    "DynamicQuantizeMatMul": _matmul(0, 1),
    "QLinearMatMul": _matmul(0, 3),
    "FusedGemm": _gemm,
    "QGemm": lambda shapes, attrs: _gemm([shapes[0], shapes[3] if len(shapes) > 3 else None], attrs),
    "MatMulNBits": _matmul_nbits,
    "QLinearAdd": _qlinear_binary,
    "QLinearMul": _qlinear_binary,
    "QLinearConcat": _qlinear_concat,
    "QLinearGlobalAveragePool": _global_pool,
    "QLinearAveragePool": _pool(),
    "NhwcMaxPool": _pool(channels_last=True),
    "DynamicQuantizeLSTM": _dynamic_quantize_lstm,
    "GatherBlockQuantized": _gather_block_quantized,
    **dict.fromkeys(["Scaler", "Normalizer", "Binarizer", "Imputer"], _same_as(0)),
    **dict.fromkeys(["LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier"], _classifier),
    **dict.fromkeys(["LinearRegressor", "SVMRegressor", "TreeEnsembleRegressor"], _regressor),
}

# Outputs whose element type is not that of the first input: index -> ONNX elem type.
_FLOAT, _INT32, _INT64, _UINT8 = 1, 6, 7, 2
OUTPUT_TYPES: dict[str, Mapping[int, int]] = {
    "DynamicQuantizeMatMul": {0: _FLOAT},
    "MatMulIntegerToFloat": {0: _FLOAT},
    "EmbedLayerNormalization": {0: _FLOAT, 1: _INT32, 2: _FLOAT},
    "DynamicQuantizeLSTM": {0: _FLOAT, 1: _FLOAT, 2: _FLOAT},
    "QAttention": {0: _FLOAT},
    "DequantizeLinear": {0: _FLOAT},
    "QuantizeLinear": {0: _UINT8},
    "DynamicQuantizeLinear": {0: _UINT8, 1: _FLOAT, 2: _UINT8},
    **{op: MappingProxyType({0: _FLOAT}) for op in ["Scaler", "Normalizer", "LinearRegressor"]},
    **{op: MappingProxyType({0: _FLOAT}) for op in ["SVMRegressor", "TreeEnsembleRegressor"]},
    **{op: MappingProxyType({0: _INT64, 1: _FLOAT}) for op in ["LinearClassifier", "SVMClassifier"]},
    "TreeEnsembleClassifier": {0: _INT64, 1: _FLOAT},
}


def output_shapes(op_type: str, shapes: Shapes, attrs: Mapping[str, Any]) -> list[Shape | None]:
    """The outputs' shapes (None where unknown); [] for an operator without a function."""
    function = SHAPE_FUNCTIONS.get(op_type)
    if function is None:
        return []
    try:
        results = function(shapes, attrs)
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return []
    return [r if r is not None and all(d >= 0 for d in r) else None for r in results]


def element_count(shape: Shape) -> int:
    return math.prod(shape)
