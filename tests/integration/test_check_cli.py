"""archlint check: exit codes, selection, ignores by file and node, rule options, statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from onnx import helper

from archlint.cli import main
from tests.builders import model, save, value, weight


def _thirty_channels(tmp_path: Path, name: str = "model.onnx") -> Path:
    """An RGB stem to 32 channels, then a conv to 30 and back: AL101 fires on gpu (a100)."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4, name="stem"),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1] * 4, name="narrow"),
        helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1] * 4, name="head"),
    ]
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (30, 32, 3, 3)), weight("w2", (32, 30, 3, 3))]
    return save(model(nodes, [value("x", [1, 3, 56, 56])], [value("y", None)], inits), tmp_path / name)


def _check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["check", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)["diagnostics"]


def test_findings_exit_1_and_carry_the_contract_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check_json(capsys, str(_thirty_channels(tmp_path)), "--target", "gpu", "--select", "AL101")
    assert code == 1
    assert {d["node"] for d in found} == {"narrow", "head"}
    first = found[0]
    assert set(first) == {
        "code",
        "name",
        "severity",
        "target",
        "path",
        "node",
        "message",
        "fix",
        "saving_s",
        "location",
        "locations",
    }
    assert (first["code"], first["name"], first["target"], first["location"]) == (
        "AL101",
        "channel-alignment",
        "a100",
        None,
    )


def test_the_default_command_is_check(tmp_path: Path) -> None:
    path = _thirty_channels(tmp_path)
    args = [str(path), "--target", "gpu", "--select", "channel-alignment", "--format", "concise"]
    result = subprocess.run(
        [sys.executable, "-m", "archlint", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "AL101 [a100]" in result.stdout


def test_ignore_wins_over_a_shorter_select_and_extend_select_over_a_shorter_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_thirty_channels(tmp_path))
    _, found = _check_json(capsys, path, "--target", "gpu", "--select", "AL", "--ignore", "AL1")
    assert all(not str(d["code"]).startswith("AL1") for d in found)
    _, found = _check_json(capsys, path, "--target", "gpu", "--select", "AL101", "--ignore", "AL1")
    assert any(d["code"] == "AL101" for d in found)  # AL101 is more specific than AL1


def test_fail_level_error_turns_warnings_into_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check_json(
        capsys,
        str(_thirty_channels(tmp_path)),
        "--target",
        "gpu",
        "--select",
        "AL101",
        "--fail-level",
        "error",
    )
    assert found and code == 0


def test_node_and_file_ignores_and_rule_options_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _thirty_channels(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "archlint.yaml").write_text(
        "target: gpu\nselect: [AL101]\nignore-nodes:\n  - nodes: 'nar*'\n    codes: [AL1]\n"
    )
    _, found = _check_json(capsys, str(path))
    assert {d["node"] for d in found} == {"head"}
    (tmp_path / "archlint.yaml").write_text(
        "target: gpu\nselect: [AL101]\nper-file-ignores: {'*.onnx': [AL101]}\n"
    )
    code, found = _check_json(capsys, str(path))
    assert (code, found) == (0, [])
    (tmp_path / "archlint.yaml").write_text(
        "target: gpu\nselect: [AL101]\nrules:\n  channel-alignment: {min-padding-share: 0.5}\n"
    )
    assert _check_json(capsys, str(path)) == (0, [])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("rules:\n  AL999: {x: 1}\n", "rules.AL999: unknown rule"),
        ("rules:\n  AL101: {min-padding: 0.5}\n", "unknown key (did you mean 'min_padding_share'?)"),
        ("select: [ZZ9]\n", "unknown rule or code prefix 'ZZ9'"),
        ("fail-level: fatal\n", "fail-level"),
    ],
)  # fmt: skip
def test_bad_configuration_is_one_line_and_exit_2(tmp_path: Path, config: str, message: str) -> None:
    path = _thirty_channels(tmp_path)
    (tmp_path / "archlint.yaml").write_text(config)
    result = subprocess.run(
        [sys.executable, "-m", "archlint", "check", str(path), "--target", "gpu"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_statistics_counts_per_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_thirty_channels(tmp_path))
    assert main(["check", path, "--target", "gpu,cpu", "--select", "AL101", "--statistics"]) == 1
    out = capsys.readouterr().out
    assert "    4  AL101  channel-alignment" in out
    assert out.strip().endswith("Found 4 findings.")


def test_several_targets_are_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_thirty_channels(tmp_path))
    main(["check", path, "--target", "gpu,t4", "--select", "AL101"])
    out = capsys.readouterr().out
    assert "Which findings hold on which target" in out
    assert "a100" in out and "t4" in out  # t4 runs fp32 on CUDA cores: no channel blocks, no finding


def test_rule_and_rules_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "channel-alignment"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# AL101 channel-alignment")
    assert "## Why is this bad?" in text
    assert main(["rules"]) == 0
    assert "AL101" in capsys.readouterr().out
    assert main(["rule", "AL999"]) == 2
