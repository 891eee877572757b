"""External data: analyzed without reading weight values; locations outside the folder refused."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import helper

from archlint.api import analyze
from archlint.errors import ModelLoadError
from tests.builders import model, value, weight


def _external_model(folder: Path, location: str = "weights.bin") -> Path:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    proto = model(nodes, [value("x", [1, 256])], [value("y", None)], [weight("w", (256, 512))])
    path = folder / "model.onnx"
    onnx.save(proto, str(path), save_as_external_data=True, location=location, size_threshold=0)
    return path


def test_external_weights_are_counted_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _external_model(tmp_path)
    assert (tmp_path / "weights.bin").stat().st_size == 256 * 512 * 4

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights were read")

    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", refuse)
    cost = analyze(path).cost
    assert cost.params == 256 * 512
    assert cost.weight_bytes == 256 * 512 * 4


def _point_external_data_at(path: Path, location: str) -> None:
    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save(proto, str(path))


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_location_outside_the_model_folder_is_refused(tmp_path: Path, location: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 16)
    path = _external_model(folder)
    _point_external_data_at(path, location)
    with pytest.raises(ModelLoadError, match="outside the model's folder"):
        analyze(path)


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * (256 * 512 * 4))
    path = _external_model(folder)
    (folder / "link.bin").symlink_to(tmp_path / "secret.bin")
    _point_external_data_at(path, "link.bin")
    with pytest.raises(ModelLoadError, match="outside the model's folder"):
        analyze(path)


def test_missing_external_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _external_model(tmp_path)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ModelLoadError, match=r"external data file 'weights\.bin' not found"):
        analyze(path)
