"""``archlint analyze --batches``: the samples/s curve in the table, the JSON and the HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from onnx import helper

from archlint.cli import main
from tests.builders import minimal_profile_yaml, model, save, value, weight

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "archlint.analysis.schema.json").read_text())
SAMPLE = 2 * 16 * 28 * 28 * 4  # a sample's input and output of the conv
WEIGHTS = 16 * 16 * 9 * 4


@pytest.fixture
def conv(tmp_path: Path) -> str:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1] * 4)
    proto = model([node], [value("x", ["N", 16, 28, 28])], [value("y", None)], [weight("w", (16, 16, 3, 3))])
    return str(save(proto, tmp_path / "conv.onnx"))


@pytest.fixture
def gpu(tmp_path: Path) -> str:
    memory = WEIGHTS + 100 * SAMPLE
    return str(minimal_profile_yaml(tmp_path / "gpu.yaml", op_overhead_s=4e-6, device_memory_bytes=memory))


def test_json_carries_the_curve_in_samples_per_second(
    conv: str, gpu: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["analyze", conv, "--target", gpu, "--format", "json", "--dim", "N=4", "--batches", "1,16,max"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    found = document["throughput"]
    assert found["batch"] == 4
    assert found["samples_per_s"] == pytest.approx(4 / document["totals"]["predicted_latency_s"])
    assert [p["batch"] for p in found["curve"]] == [1, 16, 100]
    assert found["largest_batch"] == found["saturating_batch"] == 100
    assert found["saturated_samples_per_s"] == found["curve"][-1]["samples_per_s"] >= found["samples_per_s"]
    assert 101 in [p["batch"] for p in found["costed"]] and found["note"] is None


def test_the_table_shows_samples_per_second_and_the_curve(
    conv: str, gpu: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", conv, "--target", gpu, "--batches", "1,max"]) == 0
    text = capsys.readouterr().out
    assert "throughput, batch 1" in text and "samples/s" in text
    assert "at batch 100, the largest that fits" in text
    assert "Throughput by batch on minimal" in text
    assert "inferences/s" not in text


def test_the_html_page_shows_the_saturated_figure(conv: str, gpu: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["analyze", conv, "--target", gpu, "--format", "html", "--output-file", str(out)]) == 0
    text = out.read_text()
    assert "Throughput, device full" in text and "samples/s" in text


@pytest.mark.parametrize("batches", ["0", "1,x", "16,,max"])
def test_bad_batches_are_one_line_and_exit_2(
    conv: str, batches: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", conv, "--batches", batches]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "bad --batches item" in error
