"""archlint check on many models: folders as arguments, a pool of ``-j N`` workers, results in
the order given, one unreadable model reported without stopping the others, the worst exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx import helper

from archlint.cli import main
from tests.builders import model, save, value, weight


def _conv(path: Path, channels: int) -> Path:
    """Convs 3 -> 32 -> ``channels`` -> 32: AL101 fires on gpu when ``channels`` is 30."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4, name="stem"),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1] * 4, name="narrow"),
        helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1] * 4, name="head"),
    ]
    inits = [
        weight("w0", (32, 3, 3, 3)),
        weight("w1", (channels, 32, 3, 3)),
        weight("w2", (32, channels, 3, 3)),
    ]
    return save(model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits), path)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["check", *args, "--target", "gpu", "--select", "AL101", "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_models_keep_the_input_order_and_a_bad_one_does_not_stop_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    clean = str(_conv(tmp_path / "b_clean.onnx", 32))
    flagged = str(_conv(tmp_path / "a_flagged.onnx", 30))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    code, document, err = _run(capsys, clean, str(broken), flagged, "-j", jobs)
    assert document["models"] == [clean, flagged]
    assert {d["path"] for d in document["diagnostics"]} == {flagged}  # type: ignore[union-attr]
    assert f"{broken}: not a readable ONNX model" in err
    assert code == 2  # the worst: an unreadable model (2) over findings (1)


def test_a_folder_stands_for_its_onnx_files_in_sorted_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sub").mkdir()
    paths = [_conv(tmp_path / "sub" / "b.onnx", 32), _conv(tmp_path / "a.onnx", 30)]
    (tmp_path / "notes.txt").write_text("not a model")
    code, document, _ = _run(capsys, str(tmp_path), "-j", "2")
    assert document["models"] == sorted(str(p) for p in paths)
    assert code == 1


def test_an_empty_folder_and_a_bad_worker_count_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert "no .onnx file" in capsys.readouterr().err
    model_path = str(_conv(tmp_path / "m.onnx", 32))
    assert main(["check", model_path, model_path, "-j", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
