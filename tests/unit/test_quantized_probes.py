"""calibrate's QDQ probes: which DequantizeLinear -> op -> QuantizeLinear groups onnxruntime runs as
one integer kernel, read from its profiler; the built-in CPU profiles list exactly those."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import pytest

from archlint.measure.calibration import fit, quantized
from archlint.measure.calibration.measure import executed_kernels
from archlint.targets.profile import load_builtin_profile


def test_the_kernel_that_replaced_the_group_is_read_off_the_profiler() -> None:
    executed = {
        "Conv": Counter({"Transpose": 2, "QLinearConv": 1}),  # channels-last Transposes aside
        "Reshape": Counter({"Reshape": 1}),  # on the 8-bit tensor
        "Gemm": Counter({"Reshape": 1, "QGemm": 1}),
        "Softmax": Counter({"DequantizeLinear": 1, "Softmax": 1, "QuantizeLinear": 1}),  # stayed float
        "Pad": Counter({"QLinearPad": 1, "QLinearOther": 1}),  # ambiguous: left out
    }
    assert fit.quantized_kernels(executed) == {"Conv": "QLinearConv", "Reshape": "Reshape", "Gemm": "QGemm"}


@pytest.fixture(scope="module")
def probed() -> dict[str, str]:
    return fit.quantized_kernels(
        {op: executed_kernels(quantized.group_probe(op), 1) for op in quantized.CANDIDATES}
    )


@pytest.mark.parametrize(
    "name", ["epyc-9654", "xeon-8480", "xeon-avx512", "x86-avx2-desktop", "cortex-a76", "cortex-a53"]
)
def test_builtin_cpu_profiles_list_what_onnxruntime_runs(name: str, probed: dict[str, str]) -> None:
    with resources.as_file(resources.files("archlint.hardware") / f"{name}.yaml") as path:
        profile = load_builtin_profile(path)
    assert profile.quantized_kernels == probed
    assert profile.dequantizes_weights


def test_onnxruntime_runs_a_stored_weights_dequantize_at_every_inference() -> None:
    assert executed_kernels(quantized.weight_probe(), 1)["DequantizeLinear"] == 1
