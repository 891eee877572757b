"""Reading the model file ahead, while the command imports onnx: the loader parses those bytes
only when they are still the file's."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest

from archlint.cli import main
from archlint.model import prefetch
from archlint.model.onnx_loader import read_proto
from tests.builders import conv_model, save


def test_the_bytes_read_ahead_are_the_files_and_are_handed_out_once(tmp_path: Path) -> None:
    path = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    prefetch.start(str(path))
    assert prefetch.take(path) == path.read_bytes()
    assert prefetch.take(path) is None


def test_a_file_changed_after_the_read_began_is_read_again(tmp_path: Path) -> None:
    path = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    prefetch.start(str(path))
    save(conv_model(8, 16, 16, 3), path)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1))  # a coarse clock cannot hide it
    assert prefetch.take(path) is None
    assert read_proto(path).graph.initializer[0].dims[0] == 16  # the file as it is now


@pytest.mark.parametrize("name", ["models.py::Net", "missing.onnx", "folder.onnx"])
def test_only_an_existing_onnx_file_is_read_ahead(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder.onnx").mkdir()
    prefetch.start(str(tmp_path / name))
    assert prefetch.take(tmp_path / name) is None


def test_the_loader_parses_what_the_command_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    started: list[str] = []
    monkeypatch.setattr(prefetch, "start", lambda name: started.append(name))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert started == [str(path)]  # the command named one model: it is read ahead

    def no_second_read(*args: object, **kwargs: object) -> onnx.ModelProto:
        raise AssertionError("the file was read again")

    monkeypatch.undo()
    monkeypatch.setattr(onnx, "load", no_second_read)
    prefetch.start(str(path))
    assert len(read_proto(path).graph.node) == len(onnx.load_model_from_string(path.read_bytes()).graph.node)
