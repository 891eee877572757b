"""A slice of the real-world corpus (benchmarks/corpus.py), built here and held to onnxruntime's
own shapes and torch's counters (benchmarks/corpus_check.py).

The models are exports that other tools make: Hugging Face transformers architectures with
random weights through both torch exporters, onnxruntime's transformer optimizer and quantizer,
an old opset, and the patterns real exports contain (an If chosen by a shape or by a scalar
input, a computed Reshape before an LSTM, -1 declared dims, a Loop over an input's length), and
two exports whose graph or weights fix a size that a second binding changes.
For every tensor onnxruntime computes, archlint's resolved shape must be the same, at the
export's binding and at a second one (batch 4 and another length or resolution); every operator
must be costed; dense multiply-adds must be within 1 % of torch's, and scale with the second
binding as torch's do.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))  # benchmarks is not a package: its scripts import it this way

SLICE = (
    "bert-dynamo",
    "bert-torchscript",
    "bert-torchscript-ort-opt",
    "bert-torchscript-quant-qop",
    "bert-dynamo-quant-qdq",
    "bert-torchscript-opset11",
    "vad-shape-if-torchscript",
    "vad-scalar-if-torchscript",
    "cond-dynamo",
    "crnn-torchscript",
    "dim-minus-one-torchscript",
    "step-loop-torchscript",
)
# Exports whose graph or weights fix a size the second binding changes: refused in one line.
FROZEN = ("mixer-torchscript", "static-cnn-dynamo")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    from tests.builders import require_torch

    require_torch()
    pytest.importorskip("transformers")
    import json

    import corpus as build

    folder = tmp_path_factory.mktemp("corpus")
    assert build.main(["--only", ",".join(SLICE + FROZEN), "--dir", str(folder)]) == 0
    entries = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["models"]
    return folder, {e["name"]: e for e in entries}


def _checked(corpus: tuple[Path, dict[str, dict[str, Any]]], name: str) -> tuple[dict[str, Any], Any]:
    """The model's manifest entry (it must have built) and corpus_check's result for it."""
    import corpus_check

    folder, entries = corpus
    entry = entries[name]
    assert "error" not in entry, entry.get("error")
    return entry, corpus_check.check(entry, folder)


@pytest.mark.parametrize("name", SLICE)
def test_archlint_reads_the_export_as_onnxruntime_runs_it(
    name: str, corpus: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    _, result = _checked(corpus, name)
    assert result.ort_error is None and result.archlint_error is None
    assert result.shapes.compared > 0
    assert result.shapes.mismatches == [] and result.shapes.unresolved == []
    assert result.uncosted == {}
    assert result.macs_error is not None and abs(result.macs_error) <= 0.01
    # Quantized files also store scales and zero points (metadata, not parameters) and int32
    # biases (parameters): what the file stores and what archlint counts differ by those alone.
    assert result.params == pytest.approx(result.stored_params, rel=0.005)
    assert result.rebind_error is None
    assert result.rebind_shapes.mismatches == [] and result.rebind_shapes.unresolved == []
    assert result.rebind_macs is not None and result.torch_rebind_macs
    expected = result.torch_rebind_macs / result.torch_macs  # type: ignore[operator]
    assert result.rebind_macs / result.dense_macs == pytest.approx(expected, rel=0.01)  # type: ignore[operator]


@pytest.mark.parametrize("name", FROZEN)
def test_a_size_the_model_fixes_refuses_the_rebinding_in_one_line(
    name: str, corpus: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    entry, result = _checked(corpus, name)
    assert entry["frozen"]
    assert result.archlint_error is None and result.shapes.mismatches == [] and result.uncosted == {}
    assert result.rebind_ort_error is not None  # onnxruntime cannot run it there either
    assert result.rebind_error is not None and result.rebind_error.startswith("ShapeError: ")
    assert "\n" not in result.rebind_error and "does not run with these input shapes" in result.rebind_error
