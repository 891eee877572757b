"""The benchmark zoo (benchmarks/_zoo.py: 17 classic architectures built in code) through archlint:
no operator it cannot cost, and multiply-adds and parameters within 5 % of the published figures.

The figures, their sources and why each residual is what it is are in benchmarks/_zoo.py; the
largest are RepVGG-A0's -2.8 % multiply-adds (the paper rounds 1.36 G to 1.4 G) and DenseNet-121's
+1.05 % parameters (BatchNorm running statistics, which archlint counts and papers do not).

Models are built with external-data placeholders, so no weight bytes are generated or read: the
whole module takes a few seconds. benchmarks/zoo_check.py prints the same comparison for the
models with real weights, plus onnxruntime latencies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pytest

from archlint.api import analyze
from archlint.model.builder import ExternalData

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))  # benchmarks is not a package: its scripts import it this way

import _zoo  # noqa: E402


def test_zoo_has_every_architecture_once() -> None:
    names = [spec.name for spec in _zoo.ZOO]
    assert len(names) >= 16
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("spec", _zoo.ZOO, ids=lambda spec: spec.name)
def test_zoo_model_matches_published_figures(spec: _zoo.ZooModel, tmp_path: Path) -> None:
    external = ExternalData(f"{spec.name}.onnx.data")
    model = spec.build(external)  # runs strict shape inference
    external.create_file(tmp_path)
    path = tmp_path / f"{spec.name}.onnx"
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path))  # by path, so the external-data entries are checked too

    cost = analyze(path, [], spec.inputs, spec.dims).cost

    assert cost.unknown_ops == ()
    assert _zoo.matrix_macs(cost) == pytest.approx(spec.published_macs, rel=_zoo.TOLERANCE)
    assert cost.params == pytest.approx(spec.published_params, rel=_zoo.TOLERANCE)
    if isinstance(spec.published_params, int):  # an exact count (torchvision's num_params)
        # Less BatchNorm statistics, ours is exact too, but for scalar constants (GELU's 0.5, 1 and
        # sqrt(2)): initializers read by a Mul or Div, so archlint counts them as weights.
        scalars = sum(
            1 for t in model.graph.initializer if not t.dims and t.data_type == onnx.TensorProto.FLOAT
        )
        assert 0 <= cost.params - _zoo.batchnorm_stats(model) - spec.published_params <= scalars


def test_repeated_calibrations_are_tabulated_per_figure_and_per_calibration() -> None:
    import accuracy

    from archlint.targets.profile import HardwareProfile, OpFigures

    def profile(peak: float, overhead: float) -> HardwareProfile:
        return HardwareProfile(
            name="h",
            peak_flops={"fp32": peak},
            memory_bandwidth=1e10,
            class_overhead_s={"matmul": overhead},
            op_types={"Erf": OpFigures(efficiency=0.2, overhead_s=1e-6)},
        )

    table = accuracy.spread_table([profile(1e11, 1e-6), profile(1.2e11, 1e-6), profile(0.9e11, 2e-6)])
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert rows["peak_flops.fp32"].endswith("| 30% |")  # (1.2 - 0.9) / 1.0
    assert rows["class_overhead_s.matmul"].endswith("| 100% |")
    assert "op_types.Erf.efficiency" in rows
    row = accuracy.Row("m", "1x1", 10, 1e-3, 9e-4, 0.0, 1.2e-3, 1e-3)
    scored = accuracy.per_calibration_table("zoo", [[row]])
    assert scored[2].startswith("| 1 | 100% (1/1) | 20.0%")
