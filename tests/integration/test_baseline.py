"""``check --write-baseline F`` and ``--baseline F``: bulk suppressions counted per model path,
code and node, so CI fails only on findings that are new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx import helper

from archlint.cli import main
from archlint.lint import baseline
from archlint.lint.diagnostics import Diagnostic, Severity
from tests.builders import model, save, value, weight

ARGS = ["--target", "gpu,cpu", "--select", "AL101", "--format", "concise"]


def net(path: Path, narrow: int, stem: int = 32) -> str:
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["a"], name="stem", pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="narrow", pads=[1] * 4),
        helper.make_node("Conv", ["b", "w2"], ["features"], name="widen", pads=[1] * 4),
    ]
    inits = [
        weight("w0", (stem, 3, 3, 3)),
        weight("w1", (narrow, stem, 3, 3)),
        weight("w2", (32, narrow, 3, 3)),
    ]
    save(model(nodes, [value("image", [1, 3, 56, 56])], [value("features", None)], inits), path)
    return str(path.relative_to(Path.cwd()))


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_write_baseline_records_counts_sorted_and_passes(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = net(models_dir / "net.onnx", 30)
    code, out, err = check(capsys, path, *ARGS, "--write-baseline", "archlint-baseline.json")
    assert code == 0 and out == "Found 0 findings.\n"
    assert "wrote 4 suppressions to archlint-baseline.json" in err
    document = json.loads(Path("archlint-baseline.json").read_text())
    assert document == {
        "schema": "archlint.lint.baseline/1",
        "suppressions": [
            {"path": "models/net.onnx", "code": "AL101", "node": "narrow", "count": 2},  # a100 and xeon
            {"path": "models/net.onnx", "code": "AL101", "node": "widen", "count": 2},
        ],
    }


def test_baseline_suppresses_known_findings_and_reports_new_ones(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = net(models_dir / "net.onnx", 30)
    check(capsys, path, *ARGS, "--write-baseline", "b.json")
    assert check(capsys, path, *ARGS, "--baseline", "b.json")[:2] == (0, "Found 0 findings.\n")
    net(models_dir / "net.onnx", 30, stem=30)  # a 30-channel stem: new findings on 'stem'
    code, out, _ = check(capsys, path, *ARGS, "--baseline", "b.json", "--fail-level", "info")
    assert code == 1  # the stem's findings save under 1% of the latency: info
    assert out.count("models/net.onnx:stem: AL101") == 2 and "widen" not in out


def test_fixed_findings_ask_for_a_prune_and_do_not_fail(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = net(models_dir / "net.onnx", 30)
    check(capsys, path, *ARGS, "--write-baseline", "b.json")
    net(models_dir / "net.onnx", 32)
    code, out, err = check(capsys, path, *ARGS, "--baseline", "b.json")
    assert code == 0 and out == "Found 0 findings.\n"
    assert "4 baselined findings are fixed" in err and "models/net.onnx:narrow AL101 x2" in err
    assert "prune b.json with --write-baseline b.json" in err


def test_paths_are_relative_to_the_working_folder(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = net(models_dir / "net.onnx", 30)
    check(capsys, str(Path(path).resolve()), *ARGS, "--write-baseline", "b.json")
    assert {s["path"] for s in json.loads(Path("b.json").read_text())["suppressions"]} == {"models/net.onnx"}
    assert check(capsys, f"./{path}", *ARGS, "--baseline", "b.json")[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        ("{not json", "not JSON"),
        ('{"schema": "eslint"}', "not an archlint.lint.baseline/1 file"),
        ('{"schema": "archlint.lint.baseline/1", "suppressions": [{"path": "a"}]}', "bad suppression"),
    ],
)
def test_bad_baselines_are_usage_errors(
    models_dir: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = net(models_dir / "net.onnx", 30)
    if content is not None:
        Path("b.json").write_text(content)
    code, _, err = check(capsys, path, *ARGS, "--baseline", "b.json")
    assert code == 2 and message in err


def test_suppress_counts_per_key() -> None:
    def finding(node: str | None, target: str) -> Diagnostic:
        return Diagnostic("AL101", "channel-alignment", Severity.WARNING, target, "m.onnx", node, "", "", 0.0)

    found = [finding("a", "t1"), finding("a", "t2"), finding("a", "t3"), finding(None, "t1")]
    known = baseline.counts(found[:2])
    reported, fixed = baseline.suppress(found, known)
    assert reported == found[2:] and not fixed
    reported, fixed = baseline.suppress(found[:1], known)
    assert reported == [] and fixed == {("m.onnx", "AL101", "a"): 1}
