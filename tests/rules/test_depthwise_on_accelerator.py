"""AL201 depthwise-on-accelerator."""

from __future__ import annotations

from pathlib import Path

import onnx
from archlint.rules.depthwise_on_accelerator import DepthwiseOnAccelerator, _dense_alternative
from onnx import helper

from archlint.api import analyze
from archlint.lint.rule import RuleContext
from archlint.targets.registry import resolve
from archlint.units import count, seconds
from tests.builders import conv_model, model, save, value, weight
from tests.rules.helpers import findings

SHUFFLENET = Path(onnx.__file__).parent / "backend/test/data/light/light_shufflenet.onnx"


def _separable(channels: int, out: int, size: int) -> onnx.ModelProto:
    """Depthwise 3x3 -> BatchNorm -> Relu -> 1x1 conv ``channels -> out``, as in MobileNet."""
    nodes = [
        helper.make_node("Conv", ["x", "dw"], ["a"], pads=[1] * 4, group=channels),
        helper.make_node("BatchNormalization", ["a", "s", "b", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Conv", ["r", "pw"], ["y"]),
    ]
    inits = [weight("dw", (channels, 1, 3, 3)), weight("pw", (out, channels, 1, 1))]
    inits += [weight(name, (channels,), 1.0) for name in "sbmv"]
    return model(nodes, [value("x", [1, channels, size, size])], [value("y", None)], inits)


def _compute_bound_s(flops: float, target: str) -> float:
    """Predicted time of a small fp32 op that is compute-bound on ``target`` (closed form)."""
    profile = resolve(target)
    return flops / profile.peak_for("fp32") / profile.small_ops.efficiency + profile.op_overhead_s


def test_a_separable_block_on_a_gpu_is_replaced_by_one_regular_conv(tmp_path: Path) -> None:
    (found,) = findings(DepthwiseOnAccelerator, _separable(32, 64, 14), tmp_path, "gpu")
    dense_flops = 2 * 64 * 14 * 14 * 32 * 9  # 3x3 conv 32 -> 64 on 14x14
    depthwise_intensity = (2 * 32 * 14 * 14 * 9) / (4 * (2 * 32 * 14 * 14 + 32 * 9))
    assert found.node == "Conv_0"
    assert f"it does {depthwise_intensity:.1f} FLOP/B" in found.message
    assert "fp32 ridge point of 9.6" in found.message  # a100: 19.5 TFLOP/s / 2.039 TB/s
    assert "regular 3x3 conv 32 -> 64 in place of 'Conv_0' and the 1x1 conv 'Conv_3'" in found.message
    assert f"{count(dense_flops)} FLOPs" in found.message
    assert f"in a predicted {seconds(_compute_bound_s(dense_flops, 'gpu'))}" in found.message
    assert found.fix == "replace 'Conv_0' and the 1x1 conv 'Conv_3' with one regular 3x3 conv 32 -> 64."
    assert found.saving_s > 0


def test_shufflenet_fires_on_a_gpu_and_not_on_an_arm_cpu(tmp_path: Path) -> None:
    proto = onnx.load(str(SHUFFLENET))
    on_gpu = findings(DepthwiseOnAccelerator, proto, tmp_path, "gpu")
    # The three stride-2 units, where one grouped 3x3 conv beats the depthwise + 1x1 pair; the
    # other 13 depthwise convs would be slower as regular convs and raise nothing.
    assert [f.node for f in on_gpu] == ["n10", "n59", "n156"]
    assert all("all 16 depthwise convs" in f.message and (f.saving_s or 0) > 0 for f in on_gpu)
    assert findings(DepthwiseOnAccelerator, proto, tmp_path, "arm") == []
    assert not DepthwiseOnAccelerator.applies_to(resolve("arm"))


def test_dense_convs_stay_quiet(tmp_path: Path) -> None:
    assert findings(DepthwiseOnAccelerator, conv_model(32, 64, 14, 3), tmp_path, "gpu") == []


def _depthwise_then_dense(layers: int) -> onnx.ModelProto:
    """A depthwise conv followed by ``layers`` heavy 3x3 convs: its share of latency is small."""
    nodes = [helper.make_node("Conv", ["x", "dw"], ["h0"], pads=[1] * 4, group=64)]
    nodes += [
        helper.make_node("Conv", [f"h{i}", f"w{i}"], ["y" if i == layers - 1 else f"h{i + 1}"], pads=[1] * 4)
        for i in range(layers)
    ]
    inits = [weight("dw", (64, 1, 3, 3))] + [weight(f"w{i}", (64, 64, 3, 3)) for i in range(layers)]
    return model(nodes, [value("x", [1, 64, 56, 56])], [value("y", None)], inits)


def test_a_depthwise_conv_whose_regular_replacement_is_slower_raises_nothing(tmp_path: Path) -> None:
    # A regular 3x3 conv 64 -> 64 on 56x56 does 64x the FLOPs of the depthwise one: no saving.
    assert findings(DepthwiseOnAccelerator, _depthwise_then_dense(5), tmp_path, "gpu") == []


def test_the_alternative_costs_what_the_same_conv_costs_in_a_real_model(tmp_path: Path) -> None:
    separable = analyze(save(_separable(32, 64, 14), tmp_path / "separable.onnx"), [resolve("gpu")])
    ctx = RuleContext(separable, separable.predictions[0])
    depthwise = next(n for n in ctx.cost.nodes if n.name == "Conv_0")
    dense = _dense_alternative(ctx, depthwise)
    assert dense is not None
    real = analyze(save(conv_model(32, 64, 14, 3), tmp_path / "dense.onnx"), [resolve("gpu")])
    (conv,) = [n for n in real.cost.nodes if n.op_type == "Conv"]
    fields = ("flops", "bytes_read", "bytes_written", "weight_bytes", "padded_dims", "padded_roles")
    fields += ("op_class", "row_width", "reduction_length", "compute_dtype")
    assert {f: getattr(dense.cost, f) for f in fields} == {f: getattr(conv, f) for f in fields}
