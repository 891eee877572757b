"""``archlint calibrate`` end to end: a real measurement of this machine, written as a profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archlint.analysis.costs.record import OpClass
from archlint.cli import main
from archlint.targets.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "mobilenet_tiny.onnx")


pytestmark = pytest.mark.slow  # one whole calibration: about a minute of microbenchmarks


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calibrate") / "this-host.yaml"
    assert main(["calibrate", "-o", str(path)]) == 0
    return path


def test_the_profile_loads_and_every_figure_was_measured(calibrated: Path) -> None:
    profile = load_profile(calibrated)
    assert profile.name == "this-host"
    assert profile.kind == "cpu"
    assert profile.peak_flops["fp32"] > 1e9  # any CPU of the last decade, one thread
    assert profile.memory_bandwidth > 1e9
    assert 0 < profile.op_overhead_s < 1e-3
    assert set(profile.efficiency) >= {OpClass.CONV, OpClass.DEPTHWISE_CONV, OpClass.ELEMENTWISE}
    # onnxruntime's CPU provider folds BatchNorm into a preceding Conv at every optimization level.
    assert "BatchNormalization" in profile.fusion["Conv"]
    figures = " ".join(source.figure for source in profile.sources)
    for key in (
        "peak_flops.fp32",
        "memory_bandwidth",
        "op_overhead_s",
        "fusion",
        "efficiency.conv",
        "conv_shape",
        "class_overhead_s.matmul",
        "op_types.LayerNormalization",
        "subnormal_slowdown",
        "confidence",
    ):
        assert key in figures
    # Fixed costs per kernel and the transformer op types were measured, and the subnormal penalty.
    assert OpClass.MATMUL in profile.class_overhead_s and OpClass.NORMALIZATION in profile.class_overhead_s
    assert {"LayerNormalization", "Softmax", "Erf"} <= set(profile.op_types)
    assert profile.subnormal_slowdown is not None and profile.subnormal_slowdown >= 1
    assert "MAD" in " ".join(source.source for source in profile.sources)
    assert "onnxruntime" in profile.description


def test_a_calibrated_profile_is_a_target(calibrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE, "--target", str(calibrated), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["target"] == "this-host"
    assert document["totals"]["predicted_latency_s"] > 0
    assert any(node["bound"] == "fused" for node in document["nodes"])


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--threads", "0"]) == 2
    assert main(["calibrate", "-o", str(tmp_path / "missing" / "x.yaml")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("archlint: error:") for line in errors)
