"""Configuration: discovery, shapes per model glob, targets, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archlint.cli import main
from archlint.config import Config, find_config, load_config
from archlint.errors import UsageError
from tests.builders import model, save, value, weight


def _encoder(folder: Path) -> Path:
    from onnx import helper

    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    proto = model([node], [value("x", ["batch", "seq", 64])], [value("y", None)], [weight("w", (64, 32))])
    (folder / "models").mkdir(parents=True, exist_ok=True)
    return save(proto, folder / "models" / "encoder.onnx")


def test_pyproject_table_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.archlint]\ntarget = "t4"\n')
    (tmp_path / "deep" / "er").mkdir(parents=True)
    assert find_config(tmp_path / "deep" / "er") == tmp_path / "pyproject.toml"
    assert load_config(start=tmp_path / "deep" / "er").target == ["t4"]


def test_pyproject_without_our_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    assert load_config(start=tmp_path) == Config()


@pytest.mark.parametrize(
    "text",
    [
        '[tool.archlint]\ntarget = ["t4"]\n',
        '[ tool . "archlint" ]\ntarget = ["t4"]\n',
        'tool.archlint.target = ["t4"]\n',
        'tool = { archlint = { target = ["t4"] } }\n',
        '[tool]\narchlint = { target = ["t4"] }\n',
        '[tool]\n"archlint".target = ["t4"]\n',
    ],
)
def test_every_toml_spelling_of_the_table_is_read(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    assert load_config(start=tmp_path).target == ["t4"]


def test_a_project_that_only_names_archlint_is_not_parsed(tmp_path: Path) -> None:
    # Its dependencies and scripts name archlint; a parse would also find this file broken.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["archlint>=0.1",\n  "archlint[torch]"]\n'
        '[project.scripts]\narchlint = "archlint.cli:run"\nbroken = [\n'
    )
    assert find_config(tmp_path) is None


def test_shapes_by_glob_later_bindings_win(tmp_path: Path) -> None:
    (tmp_path / "archlint.yaml").write_text(
        "shapes:\n"
        "  - models: 'models/*.onnx'\n    inputs: {x: 2x16x64}\n    dims: {seq: 16}\n"
        "  - models: 'models/encoder.onnx'\n    dims: {seq: 32}\n"
        "  - models: 'other/*.onnx'\n    dims: {seq: 99}\n"
    )
    config = load_config(start=tmp_path)
    inputs, dims = config.shapes_for(tmp_path / "models" / "encoder.onnx")
    assert inputs == {"x": (2, 16, 64)}
    assert dims == {"seq": 32}


def test_cli_takes_shapes_from_config_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _encoder(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.archlint]\ntarget = ["t4"]\n'
        '[[tool.archlint.shapes]]\nmodels = "models/*"\ndims = { seq = 8 }\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["target"] == "t4"
    assert document["totals"]["flops"] == 2 * 8 * 64 * 32
    assert main(["analyze", str(path), "--format", "json", "--dim", "seq=4", "--target", "a100"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["target"], document["totals"]["flops"]) == ("a100", 2 * 4 * 64 * 32)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targets: [gpu]\n", r"targets: unknown key \(did you mean 'target'\?\)"),
        ("shapes:\n  - models: '*'\n    input: {x: 1x2}\n", r"shapes\.0\.input"),
        ("shapes:\n  - inputs: {x: 1xfoo}\n", "bad shape '1xfoo'"),
        ("- a\n- list\n", "must be a table of keys"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "archlint.yaml").write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(start=tmp_path)


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_config(str(tmp_path / "nope.yaml"))
