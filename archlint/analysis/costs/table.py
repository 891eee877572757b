"""The op-type table: (domain, op_type) -> cost handler, for every operator archlint models.

Every operator of the default ONNX domain (all opsets, deprecated ones included) has an entry;
tests/unit/test_cost_table.py checks that against onnx's own schema list. Control flow (If, Loop,
Scan, SequenceMap) is costed by the analysis, which walks into the subgraphs.
"""

from __future__ import annotations

from archlint.analysis.costs import (
    attention,
    classical,
    conv,
    linear,
    normalization,
    pooling,
    recurrent,
    resample,
)
from archlint.analysis.costs.families import (
    Handler,
    gather_dequantize,
    movement,
    partial_read,
    pointwise,
    reduction,
    shape_only,
    variadic,
    view,
)
from archlint.analysis.costs.record import OpClass

CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})

_ONE = pointwise(1)
_TWO = pointwise(2)

_UNARY_ONE = (
    "Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Floor IsInf IsNaN Log Neg Not "
    "Reciprocal Relu Round Sigmoid Sign Sin Sinh Sqrt Tan Tanh ThresholdedRelu BitwiseNot Cast "
    "CastLike Hardmax"
)
_BINARY_ONE = (
    "Add Sub Mul Div Pow Mod BitShift And Or Xor Equal Greater GreaterOrEqual Less LessOrEqual "
    "BitwiseAnd BitwiseOr BitwiseXor Where"
)
# Activations built of a few primitive operations: count those operations per element.
_COMPOSITE = {
    "Clip": 2,
    "Elu": 2,
    "Celu": 2,
    "Selu": 2,
    "LeakyRelu": 2,
    "PRelu": 2,
    "HardSigmoid": 2,
    "Shrink": 2,
    "Softplus": 2,
    "Softsign": 2,
    "Swish": 2,
    "HardSwish": 4,
    "Mish": 4,
    "Gelu": 5,
    "SwiGLU": 3,
    "RotaryEmbedding": 3,
    "EyeLike": 1,
    "Trilu": 1,
}
_MOVEMENT = (
    "Concat Split Pad Tile Expand Transpose DepthToSpace SpaceToDepth ReverseSequence Compress "
    "OneHot ScatterElements ScatterND Scatter TensorScatter CenterCropPad Col2Im MaxUnpool Range "
    "ConstantOfShape Constant NonZero Unique ConcatFromSequence SplitToSequence SequenceAt "
    "SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength StringConcat "
    "StringNormalizer StringSplit RegexFullMatch ImageDecoder"
)
_VIEW = (
    "Reshape Flatten Squeeze Unsqueeze Identity Dropout BitCast Optional OptionalGetElement "
    "OptionalHasElement"
)
_REDUCE_ONE = "ReduceMax ReduceMin ReduceMean ReduceSum ReduceProd ReduceLogSum ArgMax ArgMin CumSum CumProd"
_REDUCE_TWO = "ReduceL1 ReduceL2 ReduceSumSquare ReduceLogSumExp LpNormalization"
REDUCE_OPS = frozenset(op for op in f"{_REDUCE_ONE} {_REDUCE_TWO}".split() if op.startswith("Reduce"))
_RANDOM = "RandomNormal RandomNormalLike RandomUniform RandomUniformLike Bernoulli Multinomial"
_WINDOWS = "HannWindow HammingWindow BlackmanWindow MelWeightMatrix"


def _words(text: str, handler: Handler) -> dict[str, Handler]:
    return dict.fromkeys(text.split(), handler)


DEFAULT_DOMAIN: dict[str, Handler] = {
    **_words(_UNARY_ONE, _ONE),
    **_words(_BINARY_ONE, _ONE),
    **{op: pointwise(flops) for op, flops in _COMPOSITE.items()},
    **_words("Sum Max Min Mean", variadic),
    **_words(_MOVEMENT, movement),
    **_words(_VIEW, view),
    **_words("Shape Size", shape_only),
    **_words("Gather GatherElements GatherND Slice", partial_read),
    **_words(_REDUCE_ONE, reduction(1)),
    **_words(_REDUCE_TWO, reduction(2)),
    **_words(_RANDOM, pointwise(2)),
    **_words(_WINDOWS, pointwise(4, OpClass.SIGNAL)),
    "Conv": conv.conv,
    "ConvInteger": conv.conv,
    "QLinearConv": conv.conv_with(data=0, weight=3),
    "ConvTranspose": conv.conv_transpose,
    "DeformConv": conv.deform_conv,
    "CausalConvWithState": conv.causal_conv_with_state,
    "Gemm": linear.gemm,
    "MatMul": linear.matmul,
    "MatMulInteger": linear.matmul,
    "QLinearMatMul": linear.matmul_with(a=0, b=3),
    "Einsum": linear.einsum,
    "LSTM": recurrent.lstm,
    "GRU": recurrent.gru,
    "RNN": recurrent.rnn,
    "Attention": attention.onnx_attention,
    "LinearAttention": attention.linear_attention,
    "AveragePool": pooling.window_pool,
    "MaxPool": pooling.window_pool,
    "LpPool": pooling.window_pool,
    "GlobalAveragePool": pooling.global_pool,
    "GlobalMaxPool": pooling.global_pool,
    "GlobalLpPool": pooling.global_pool,
    "MaxRoiPool": pooling.max_roi_pool,
    "RoiAlign": pooling.roi_align,
    "BatchNormalization": normalization.per_element(2),
    "InstanceNormalization": normalization.per_element(normalization.LAYER_NORM_FLOPS),
    "GroupNormalization": normalization.per_element(normalization.LAYER_NORM_FLOPS),
    "LayerNormalization": normalization.per_element(normalization.LAYER_NORM_FLOPS),
    "MeanVarianceNormalization": normalization.per_element(5),
    "RMSNormalization": normalization.per_element(normalization.RMS_NORM_FLOPS),
    # onnxruntime defines this one in the default domain; its transformer optimizer writes it.
    "SimplifiedLayerNormalization": normalization.per_element(normalization.RMS_NORM_FLOPS),
    "LRN": normalization.lrn,
    "Softmax": normalization.per_element(5, OpClass.ELEMENTWISE),
    "LogSoftmax": normalization.per_element(5, OpClass.ELEMENTWISE),
    "SoftmaxCrossEntropyLoss": normalization.per_element(6, OpClass.REDUCTION),
    "NegativeLogLikelihoodLoss": normalization.per_element(1, OpClass.REDUCTION),
    "Resize": resample.resize,
    "Upsample": resample.resize,
    "GridSample": resample.grid_sample,
    "AffineGrid": resample.affine_grid,
    "DFT": resample.dft,
    "STFT": resample.stft,
    "Det": resample.determinant,
    "NonMaxSuppression": resample.non_max_suppression,
    "TopK": resample.top_k,
    "QuantizeLinear": pointwise(2, OpClass.QUANTIZE),
    "DequantizeLinear": pointwise(2, OpClass.QUANTIZE),
    "DynamicQuantizeLinear": pointwise(5, OpClass.QUANTIZE),
    "TfIdfVectorizer": movement,
}

_LN = normalization.LAYER_NORM_FLOPS
_RMS = normalization.RMS_NORM_FLOPS

# com.microsoft contrib ops common in onnxruntime-optimized and quantized exports.
MICROSOFT_DOMAIN: dict[str, Handler] = {
    "FusedConv": conv.conv_plus_activation,
    "NhwcConv": conv.conv_plus_activation,
    "FusedMatMul": linear.fused_matmul,
    "FusedGemm": linear.gemm,
    "MatMulNBits": linear.matmul_nbits,
    "MatMulIntegerToFloat": linear.matmul,
    "DynamicQuantizeMatMul": linear.matmul_with(compute_dtype="int8"),
    "QGemm": linear.matmul_with(a=0, b=3),
    "QLinearConv": conv.conv_with(data=0, weight=3),
    "Attention": attention.ms_attention,
    "QAttention": attention.ms_attention,
    "MultiHeadAttention": attention.ms_multihead_attention,
    "GroupQueryAttention": attention.ms_multihead_attention,
    "PackedAttention": attention.ms_multihead_attention,
    "PackedMultiHeadAttention": attention.ms_multihead_attention,
    "SkipLayerNormalization": normalization.skip_layer_norm(_LN),
    "SkipSimplifiedLayerNormalization": normalization.skip_layer_norm(_RMS),
    "SimplifiedLayerNormalization": normalization.per_element(_RMS),
    "LayerNormalization": normalization.per_element(_LN),
    "EmbedLayerNormalization": normalization.embed_layer_norm,
    "GroupNorm": normalization.per_element(_LN),
    "SkipGroupNorm": normalization.per_element(_LN + 1),
    "Gelu": pointwise(5),
    "FastGelu": pointwise(8),
    "BiasGelu": pointwise(6),
    "QuickGelu": pointwise(3),
    "BiasSplitGelu": pointwise(6),
    "BiasAdd": pointwise(2),
    "BiasSoftmax": normalization.per_element(6, OpClass.ELEMENTWISE),
    "BiasDropout": pointwise(2),
    "RotaryEmbedding": pointwise(3),
    "QuantizeLinear": pointwise(2, OpClass.QUANTIZE),
    "DequantizeLinear": pointwise(2, OpClass.QUANTIZE),
    "QLinearAdd": pointwise(3, OpClass.QUANTIZE),
    "QLinearMul": pointwise(3, OpClass.QUANTIZE),
    "QLinearSigmoid": pointwise(3, OpClass.QUANTIZE),
    "QLinearLeakyRelu": pointwise(3, OpClass.QUANTIZE),
    "QLinearSoftmax": normalization.per_element(6, OpClass.QUANTIZE),
    "QLinearAveragePool": pooling.window_pool,
    "QLinearGlobalAveragePool": pooling.global_pool,
    "QLinearConcat": movement,
    "QLinearMatMul": linear.matmul_with(a=0, b=3),
    "NhwcMaxPool": pooling.window_pool,
    "Trilu": pointwise(1),
    "DynamicQuantizeLSTM": recurrent.dynamic_quantize_lstm,
    "GatherBlockQuantized": gather_dequantize,
}

# ai.onnx.ml: classical-ML pipelines converted by skl2onnx and onnxmltools.
ML_DOMAIN: dict[str, Handler] = {
    "LinearClassifier": classical.linear_model,
    "LinearRegressor": classical.linear_model,
    "SVMClassifier": classical.svm,
    "SVMRegressor": classical.svm,
    "TreeEnsembleClassifier": classical.tree_ensemble,
    "TreeEnsembleRegressor": classical.tree_ensemble,
    "TreeEnsemble": classical.tree_ensemble,
    "Normalizer": classical.per_input_element(3),
    "Scaler": classical.per_input_element(2),
    "Binarizer": classical.per_input_element(1),
    "Imputer": classical.per_input_element(1),
    **_words(
        "ZipMap CastMap DictVectorizer FeatureVectorizer ArrayFeatureExtractor LabelEncoder "
        "CategoryMapper OneHotEncoder",
        movement,
    ),
}

HANDLERS: dict[tuple[str, str], Handler] = {
    **{("", op): h for op, h in DEFAULT_DOMAIN.items()},
    **{("com.microsoft", op): h for op, h in MICROSOFT_DOMAIN.items()},
    **{("ai.onnx.ml", op): h for op, h in ML_DOMAIN.items()},
}


def handler_for(domain: str, op_type: str) -> Handler | None:
    return HANDLERS.get(("" if domain == "ai.onnx" else domain, op_type))
