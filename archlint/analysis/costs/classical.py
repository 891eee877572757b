"""ai.onnx.ml: the classical-ML operators that converted scikit-learn, LightGBM and XGBoost
pipelines use (skl2onnx, onnxmltools).

With N samples and F features:
  LinearClassifier / LinearRegressor: 2 * N * F * T (T classes or targets).
  SVMClassifier / SVMRegressor: 2 * N * F per support vector (the kernel's dot product), plus
    2 * N per vector for the weighted sum; a linear SVM without support vectors is linear.
  TreeEnsemble*: one comparison per level of each tree a sample walks, log2 of the tree's
    node count, which is exact for balanced trees.
Scalers, normalizers and encoders are per-element work; maps and feature extraction move data.
"""

from __future__ import annotations

import math
from collections import Counter

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import Handler, log2_at_least_1
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node


def _samples_features(node: Node, ctx: CostContext) -> tuple[int, int]:
    shape = ctx.shape(node.inputs[0])
    samples = shape[0] if len(shape) > 1 else 1
    return samples, math.prod(shape) // max(samples, 1)


def linear_model(node: Node, ctx: CostContext) -> OpCost:
    samples, features = _samples_features(node, ctx)
    coefficients = len(node.attr("coefficients", []) or [])
    return OpCost(2 * samples * max(coefficients, features), OpClass.MATMUL)


def svm(node: Node, ctx: CostContext) -> OpCost:
    samples, features = _samples_features(node, ctx)
    vectors = len(node.attr("support_vectors", []) or []) // max(features, 1)
    if vectors == 0:
        return linear_model(node, ctx)
    return OpCost(2 * samples * vectors * (features + 1), OpClass.MATMUL)


def tree_ensemble(node: Node, ctx: CostContext) -> OpCost:
    samples, _ = _samples_features(node, ctx)
    tree_ids = node.attr("nodes_treeids") or []
    sizes: list[int]
    if tree_ids:
        sizes = list(Counter(int(t) for t in tree_ids).values())
    else:  # TreeEnsemble (ai.onnx.ml opset 5): roots, and interior nodes shared among trees
        roots = len(node.attr("tree_roots", []) or [1])
        splits = len(node.attr("nodes_featureids", []) or [])
        sizes = [max(splits // max(roots, 1), 1)] * roots
    comparisons = sum(math.ceil(log2_at_least_1(size + 1)) for size in sizes)
    return OpCost(samples * comparisons, OpClass.OTHER)


def per_input_element(flops: int) -> Handler:
    def handler(node: Node, ctx: CostContext) -> OpCost:
        return OpCost(flops * ctx.numel(node.inputs[0]), OpClass.ELEMENTWISE)

    return handler
