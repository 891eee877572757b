"""DequantizeLinear -> op -> QuantizeLinear groups run as one integer kernel where the profile's
engine does so, priced like the QOp model that writes the kernel out; groups the engine cannot
take stay float, and their stored weights are dequantized at every run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.analysis.quantized import quantized_plan
from archlint.api import analyze
from archlint.targets.profile import HardwareProfile
from tests.builders import model, save, value

IC, OC, SIZE = 32, 64, 28
KERNELS = {"Conv": "QLinearConv", "Add": "QLinearAdd", "Reshape": "Reshape"}
BASE = HardwareProfile(
    name="int8-cpu",
    kind="cpu",
    peak_flops={"fp32": 1.0e11, "int8": 4.0e11},
    memory_bandwidth=2.0e10,
    op_overhead_s=5e-7,
)
ENGINE = dataclasses.replace(BASE, quantized_kernels=KERNELS, dequantizes_weights=True)


def _scalar(name: str, v: float, dtype: type) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


def _params(weight_dtype: type = np.int8) -> list[onnx.TensorProto]:
    return [
        numpy_helper.from_array(np.ones((OC, IC, 3, 3), dtype=weight_dtype), "w"),
        numpy_helper.from_array(np.zeros(OC, dtype=np.int32), "b"),
        _scalar("xs", 0.1, np.float32),
        _scalar("xz", 0, np.uint8),
        _scalar("ws", 0.1, np.float32),
        _scalar("wz", 0, weight_dtype),
        _scalar("bs", 0.01, np.float32),
        _scalar("ys", 0.2, np.float32),
        _scalar("yz", 0, np.uint8),
    ]


def qdq_conv(
    *,
    bias_through_identity: bool = False,
    relu: bool = False,
    two_readers: bool = False,
    weight: type = np.int8,
) -> onnx.ModelProto:
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], name="dq_w"),
        helper.make_node("DequantizeLinear", ["b", "bs"], ["bf"], name="dq_b"),
    ]
    bias = "bf"
    if bias_through_identity:  # how the torchscript exporter passes a shared bias on
        nodes.append(helper.make_node("Identity", ["bf"], ["bf2"], name="same_bias"))
        bias = "bf2"
    nodes.append(helper.make_node("Conv", ["xf", "wf", bias], ["c"], name="conv", pads=[1] * 4))
    last = "c"
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["r"], name="relu"))
        last = "r"
    nodes.append(helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["y"], name="q"))
    outputs = [value("y", None, TensorProto.UINT8)]
    if two_readers:
        nodes.append(helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["y2"], name="q2"))
        outputs.append(value("y2", None, TensorProto.UINT8))
    inputs = [value("x", [1, IC, SIZE, SIZE], TensorProto.UINT8)]
    return model(nodes, inputs, outputs, _params(weight))


def qop_conv() -> onnx.ModelProto:
    node = helper.make_node(
        "QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], name="conv", pads=[1] * 4
    )
    inputs = [value("x", [1, IC, SIZE, SIZE], TensorProto.UINT8)]
    return model([node], inputs, [value("y", None, TensorProto.UINT8)], _params())


def _latency(tmp_path: Path, proto: onnx.ModelProto, profile: HardwareProfile) -> float:
    return analyze(save(proto, tmp_path / "m.onnx"), targets=[profile]).predictions[0].latency_s


def _times(tmp_path: Path, proto: onnx.ModelProto, profile: HardwareProfile) -> dict[str, float]:
    prediction = analyze(save(proto, tmp_path / "m.onnx"), targets=[profile]).predictions[0]
    return {t.cost.name: t.time_s for t in prediction.nodes}


def test_a_qdq_conv_is_priced_as_the_qlinearconv_it_becomes(tmp_path: Path) -> None:
    qdq, qop = _latency(tmp_path, qdq_conv(), ENGINE), _latency(tmp_path, qop_conv(), ENGINE)
    assert qdq == pytest.approx(qop, rel=1e-9)
    assert qdq < 0.5 * _latency(tmp_path, qdq_conv(), BASE)  # float conv + DQ/Q: what it was
    times = _times(tmp_path, qdq_conv(), ENGINE)
    assert times["dq_x"] == times["q"] == 0.0


def test_the_kernel_reads_and_writes_8_bit_activations(tmp_path: Path) -> None:
    analysis = analyze(save(qdq_conv(), tmp_path / "m.onnx"), targets=[ENGINE])
    (kernel,) = quantized_plan(analysis.cost, ENGINE).kernels.values()
    assert kernel.op_type == "QLinearConv"
    assert kernel.compute_dtype == "int8"
    weights = OC * IC * 9 + 4 * OC  # int8 weights, int32 bias: stored sizes
    assert kernel.bytes_read == IC * SIZE * SIZE + weights
    assert kernel.bytes_written == OC * SIZE * SIZE


def test_a_relu_between_the_conv_and_its_q_runs_inside_the_kernel(tmp_path: Path) -> None:
    times = _times(tmp_path, qdq_conv(relu=True), ENGINE)
    assert times["relu"] == 0.0
    assert sum(times.values()) == pytest.approx(_latency(tmp_path, qop_conv(), ENGINE), rel=1e-9)


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ({"bias_through_identity": True}, "the bias is not read from a DequantizeLinear"),
        ({"two_readers": True}, "two QuantizeLinear read the output"),
    ],
)
def test_groups_the_engine_cannot_take_stay_float(tmp_path: Path, variant: dict[str, bool], why: str) -> None:
    analysis = analyze(save(qdq_conv(**variant), tmp_path / "m.onnx"), targets=[ENGINE])
    assert not quantized_plan(analysis.cost, ENGINE).kernels, why


def test_uint8_activations_take_uint8_weights(tmp_path: Path) -> None:
    analysis = analyze(save(qdq_conv(weight=np.uint8), tmp_path / "m.onnx"), targets=[ENGINE])
    assert len(quantized_plan(analysis.cost, ENGINE).kernels) == 1


def test_int8_activations_need_int8_weights(tmp_path: Path) -> None:
    proto = qdq_conv(weight=np.uint8)
    for tensor in proto.graph.initializer:  # int8 activations and output
        if tensor.name in ("xz", "yz"):
            tensor.CopyFrom(_scalar(tensor.name, 0, np.int8))
    proto.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    proto.graph.output[0].type.tensor_type.elem_type = TensorProto.INT8
    analysis = analyze(save(proto, tmp_path / "m.onnx"), targets=[ENGINE])
    assert not quantized_plan(analysis.cost, ENGINE).kernels


def test_a_float_conv_pays_for_dequantizing_its_stored_weight_every_run(tmp_path: Path) -> None:
    proto = qdq_conv(two_readers=True)  # not a kernel: two QuantizeLinear read the conv
    with_dq, folded = _times(tmp_path, proto, ENGINE), _times(tmp_path, proto, BASE)
    dequantize = dataclasses.replace(BASE, dequantizes_weights=True)
    weights_only = _times(tmp_path, proto, dequantize)
    assert weights_only["conv"] > folded["conv"]
    # Converting 18 432 int8 weights and 64 biases to float: read 1 and 4 bytes, write 4 each,
    # at 20 GB/s, plus a kernel's fixed cost each.
    expected = (OC * IC * 9 * 5 + OC * 8) / 2.0e10 + 2 * 5e-7
    assert weights_only["conv"] - folded["conv"] == pytest.approx(expected, rel=1e-6)
    assert with_dq["conv"] == pytest.approx(weights_only["conv"], rel=1e-9)


def test_data_movement_runs_on_8_bit_data_when_the_q_keeps_the_scale(tmp_path: Path) -> None:
    def reshape_model(out_scale: float) -> onnx.ModelProto:
        nodes = [
            helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"], name="dq"),
            helper.make_node("Reshape", ["xf", "shape"], ["r"], name="reshape"),
            helper.make_node("QuantizeLinear", ["r", "ys", "xz"], ["y"], name="q"),
        ]
        inits = [
            _scalar("xs", 0.1, np.float32),
            _scalar("ys", out_scale, np.float32),
            _scalar("xz", 0, np.uint8),
            numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape"),
        ]
        inputs = [value("x", [1, 64, 32, 32], TensorProto.UINT8)]
        return model(nodes, inputs, [value("y", None, TensorProto.UINT8)], inits)

    same = quantized_plan(
        analyze(save(reshape_model(0.1), tmp_path / "a.onnx"), targets=[ENGINE]).cost, ENGINE
    )
    (kernel,) = same.kernels.values()
    assert kernel.op_type == "Reshape" and kernel.bytes_written == 64 * 32 * 32
    assert len(same.absorbed) == 2
    other = quantized_plan(
        analyze(save(reshape_model(0.2), tmp_path / "b.onnx"), targets=[ENGINE]).cost, ENGINE
    )
    assert not other.kernels and not other.absorbed


def test_a_profile_without_the_tables_prices_qdq_models_as_before(tmp_path: Path) -> None:
    analysis = analyze(save(qdq_conv(), tmp_path / "m.onnx"), targets=[BASE])
    plan = quantized_plan(analysis.cost, BASE)
    assert not plan.kernels and not plan.absorbed and not plan.dequantized


def test_a_qdq_add_runs_as_qlinearadd_of_the_quantize_class(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("DequantizeLinear", ["a", "xs", "xz"], ["af"], name="dq_a"),
        helper.make_node("DequantizeLinear", ["b", "xs", "xz"], ["bf"], name="dq_b"),
        helper.make_node("Add", ["af", "bf"], ["s"], name="add"),
        helper.make_node("QuantizeLinear", ["s", "xs", "xz"], ["y"], name="q"),
    ]
    shape = [1, 64, 16, 16]
    inputs = [value("a", shape, TensorProto.UINT8), value("b", shape, TensorProto.UINT8)]
    proto = model(nodes, inputs, [value("y", None, TensorProto.UINT8)], _params()[2:4])
    analysis = analyze(save(proto, tmp_path / "m.onnx"), targets=[ENGINE])
    (kernel,) = quantized_plan(analysis.cost, ENGINE).kernels.values()
    assert (kernel.op_type, kernel.op_class) == ("QLinearAdd", "quantize")
    assert kernel.bytes == 3 * 64 * 16 * 16  # two uint8 inputs, one uint8 output
