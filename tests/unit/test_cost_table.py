"""Every operator of the default ONNX domain, in every opset, has a cost handler."""

from __future__ import annotations

from pathlib import Path

import onnx.defs

from archlint.analysis.costs.table import CONTROL_FLOW, HANDLERS, handler_for


def test_every_default_domain_operator_has_a_handler() -> None:
    names = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""}
    missing = sorted(n for n in names if handler_for("", n) is None and n not in CONTROL_FLOW)
    assert missing == []


def test_ai_onnx_is_the_default_domain() -> None:
    assert handler_for("ai.onnx", "Conv") is handler_for("", "Conv")


def test_custom_domains_have_no_handler_by_default() -> None:
    assert handler_for("com.example", "Conv") is None
    assert ("com.microsoft", "FusedConv") in HANDLERS


def test_classical_ml_operators_of_a_converted_pipeline_are_costed(tmp_path: Path) -> None:
    """Scaler -> LinearClassifier and a TreeEnsembleRegressor, as skl2onnx writes them."""
    from onnx import TensorProto, helper

    from archlint.api import analyze
    from tests.builders import model, save, value

    samples, features, classes = 4, 10, 3
    ml = {"domain": "ai.onnx.ml"}
    nodes = [
        helper.make_node("Scaler", ["x"], ["scaled"], offset=[0.0] * features, scale=[1.0] * features, **ml),
        helper.make_node(
            "LinearClassifier",
            ["scaled"],
            ["label", "scores"],
            coefficients=[0.1] * (features * classes),
            intercepts=[0.0] * classes,
            classlabels_ints=list(range(classes)),
            **ml,
        ),
        helper.make_node(
            "TreeEnsembleRegressor",
            ["x"],
            ["target"],
            nodes_treeids=[0, 0, 0, 1, 1, 1],
            nodes_nodeids=[0, 1, 2, 0, 1, 2],
            nodes_featureids=[0, 0, 0, 1, 0, 0],
            nodes_values=[0.5, 0.0, 0.0, 0.5, 0.0, 0.0],
            nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"] * 2,
            nodes_truenodeids=[1, 0, 0, 1, 0, 0],
            nodes_falsenodeids=[2, 0, 0, 2, 0, 0],
            target_treeids=[0, 0, 1, 1],
            target_nodeids=[1, 2, 1, 2],
            target_ids=[0, 0, 0, 0],
            target_weights=[1.0, 2.0, 3.0, 4.0],
            n_targets=1,
            **ml,
        ),
    ]
    outputs = [value("label", None, TensorProto.INT64), value("scores", None), value("target", None)]
    proto = model(nodes, [value("x", [samples, features])], outputs, extra_opsets={"ai.onnx.ml": 3})
    cost = analyze(save(proto, tmp_path / "pipeline.onnx")).cost
    assert not cost.unknown_ops
    by_type = {n.op_type: n for n in cost.nodes}
    assert by_type["LinearClassifier"].flops == 2 * samples * features * classes
    assert by_type["Scaler"].flops == 2 * samples * features
    assert by_type["TreeEnsembleRegressor"].flops == samples * 2 * 2  # two 3-node trees, 2 levels each
