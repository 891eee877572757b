"""The CI output formats: SARIF against the official schema, JSON against ours, GitHub
annotations and the markdown comment against golden files.

Golden files live in tests/golden/. After an intended change of output, rewrite them with
``ARCHLINT_UPDATE_GOLDEN=1 python -m pytest tests/integration/test_reporters.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from onnx import helper

from archlint.cli import main
from archlint.lint.diagnostics import Diagnostic, Location, Severity
from archlint.lint.registry import registered_rules
from archlint.report.base import CheckReport
from archlint.report.github import GithubReporter, escape_data, escape_property
from archlint.report.markdown import MarkdownReporter
from archlint.report.registry import reporter_for
from archlint.report.sarif import FINGERPRINT, SarifReporter
from tests.builders import model, save, value, weight

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
CHECK_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "archlint.check.schema.json").read_text())
# AL101 only: the golden files must not change when another rule is added.
GOLDEN_ARGS = ["--target", "gpu,cpu", "--select", "AL101"]


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ARCHLINT_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"no golden file {name}: run with ARCHLINT_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs: see the module docstring"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, so the model's path is the same relative name on every machine."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def thirty_channels(in_tmp: Path) -> str:
    """An RGB stem (3 -> 32), a conv 32 -> 30 and a conv 30 -> 32: AL101 fires twice per target."""
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["a"], name="stem", pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="narrow", pads=[1] * 4),
        helper.make_node("Conv", ["b", "w2"], ["features"], name="widen", pads=[1] * 4),
    ]
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (30, 32, 3, 3)), weight("w2", (32, 30, 3, 3))]
    save(
        model(nodes, [value("image", [1, 3, 56, 56])], [value("features", None)], inits), in_tmp / "net.onnx"
    )
    return "net.onnx"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def handmade(path: str = "models/v2,final:net.onnx") -> CheckReport:
    """Findings whose texts hold every character the formats must escape."""
    diagnostics = (
        Diagnostic(
            code="AL101",
            name="channel-alignment",
            severity=Severity.WARNING,
            target="a100",
            path=path,
            node="block:1,conv|a",
            message="100% of 30 channels, 2 blocks: padded\nto 32 <b>*twice*</b>",
            fix="use 32\r\nchannels",
            saving_s=1.5e-6,
        ),
        Diagnostic(
            code="AL101",
            name="channel-alignment",
            severity=Severity.ERROR,
            target="a100",
            path=path,
            node="head",
            message="defined in the model's source",
            fix="round to 16",
            saving_s=0.0,
            location=Location("src/net,v2.py", 12),
        ),
        Diagnostic(
            code="XY900",
            name="not-registered",
            severity=Severity.INFO,
            target="a100",
            path=path,
            node=None,
            message="a rule this run does not know",
            fix="none",
            saving_s=0.0,
        ),
    )
    return CheckReport((), diagnostics, registered_rules(), ("a100",), Severity.WARNING)


@pytest.mark.parametrize("name", ["sarif", "github", "markdown"])
def test_the_ci_formats_are_registered(name: str) -> None:
    assert reporter_for(name).name == name


# --- SARIF -----------------------------------------------------------------------------------


def _sarif(capsys: pytest.CaptureFixture[str], model_path: str) -> dict[str, Any]:
    code, out = run(capsys, model_path, "--target", "gpu,cpu", "--format", "sarif")
    assert code == 1
    document: dict[str, Any] = json.loads(out)
    return document


def test_sarif_validates_against_the_official_schema(
    thirty_channels: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _sarif(capsys, thirty_channels)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    (run_,) = document["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "archlint" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == sorted(registered_rules())
    assert run_["results"]


def test_sarif_results_point_at_their_rule_and_model(
    thirty_channels: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _sarif(capsys, thirty_channels)
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    results = [r for r in document["runs"][0]["results"] if r["ruleId"] == "AL101"]
    assert {(r["properties"]["node"], r["properties"]["target"]) for r in results} == {
        ("narrow", "a100"),
        ("widen", "a100"),
        ("narrow", "xeon-avx512"),
        ("widen", "xeon-avx512"),
    }
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == "AL101"
        assert result["level"] == ("warning" if result["properties"]["target"] == "a100" else "note")
        (where,) = result["locations"]
        assert where["physicalLocation"]["artifactLocation"] == {"uri": "net.onnx", "uriBaseId": "%SRCROOT%"}
        assert where["physicalLocation"]["region"] == {"startLine": 1}
        assert where["logicalLocations"][0]["name"] == result["properties"]["node"]
        assert "Fix: " in result["message"]["text"]
    narrow = next(r for r in results if r["properties"]["node"] == "narrow")
    assert narrow["properties"]["saving_s"] > 0 and "Saves " in narrow["message"]["text"]


def test_sarif_rules_carry_their_documentation(
    thirty_channels: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _sarif(capsys, thirty_channels)["runs"][0]["tool"]["driver"]["rules"]
    al101 = next(r for r in rules if r["id"] == "AL101")
    assert al101["name"] == "channel-alignment"
    assert al101["shortDescription"]["text"] == registered_rules()["AL101"].rule.summary
    assert al101["help"]["markdown"].startswith("## What it does")
    assert al101["fullDescription"]["text"].startswith("Finds convolutions")
    assert al101["defaultConfiguration"]["level"] == "warning"  # its worst: warning on GPUs and NPUs
    assert al101["properties"]["tags"] == ["performance", "layout-and-alignment"]


def test_sarif_fingerprints_are_stable_and_distinct(
    thirty_channels: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _sarif(capsys, thirty_channels)["runs"][0]["results"]
    second = _sarif(capsys, thirty_channels)["runs"][0]["results"]
    prints = [r["partialFingerprints"][FINGERPRINT] for r in first]
    assert prints == [r["partialFingerprints"][FINGERPRINT] for r in second]
    assert len(set(prints)) == len(prints)


def test_sarif_source_locations_unknown_rules_and_absolute_paths() -> None:
    report = handmade(path="/abs/dir/my model.onnx")
    document = json.loads(SarifReporter().render(report))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    warning, error, unknown = document["runs"][0]["results"]
    assert warning["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///abs/dir/my%20model.onnx"
    }
    assert error["level"] == "error"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "src/net%2Cv2.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12},
    }
    assert rules[unknown["ruleIndex"]] == {"id": "XY900", "name": "not-registered"}
    assert unknown["level"] == "note" and "logicalLocations" not in unknown["locations"][0]


def test_sarif_without_findings_is_valid(in_tmp: Path) -> None:
    report = CheckReport((), (), registered_rules(), ("a100",), Severity.WARNING)
    document = json.loads(SarifReporter().render(report))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    assert document["runs"][0]["results"] == []


# --- JSON ------------------------------------------------------------------------------------


def test_check_json_validates_against_its_schema(
    thirty_channels: str, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonschema.Draft202012Validator.check_schema(CHECK_SCHEMA)
    code, out = run(capsys, thirty_channels, "--target", "gpu,cpu", "--format", "json")
    assert code == 1
    document = json.loads(out)
    jsonschema.Draft202012Validator(CHECK_SCHEMA).validate(document)
    assert document["models"] == ["net.onnx"] and document["targets"] == ["a100", "xeon-avx512"]
    assert {d["code"] for d in document["diagnostics"]} >= {"AL101"}


def test_check_json_schema_covers_locations_and_rejects_drift() -> None:
    reporter = reporter_for("json")()
    document = json.loads(reporter.render(handmade()))
    validator = jsonschema.Draft202012Validator(CHECK_SCHEMA)
    validator.validate(document)
    assert document["diagnostics"][1]["location"] == {"path": "src/net,v2.py", "line": 12}
    document["diagnostics"][0]["sevirity"] = "warning"
    assert not validator.is_valid(document)


# --- GitHub annotations ----------------------------------------------------------------------


def test_github_escaping_follows_the_actions_toolkit() -> None:
    assert escape_data("50%\r\n: a, b") == "50%25%0D%0A: a, b"
    assert escape_property("50%\r\n: a, b") == "50%25%0D%0A%3A a%2C b"
    assert escape_data("%0A") == "%250A"  # % first, or an escape would be decoded


def test_github_golden(thirty_channels: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, thirty_channels, *GOLDEN_ARGS, "--format", "github")
    assert code == 1
    assert_golden("github.txt", out)


def test_github_escaping_golden() -> None:
    out = GithubReporter().render(handmade())
    assert out.count("\n") == 3  # one line per finding, whatever the message holds
    assert_golden("github-escaping.txt", out)


def test_github_without_findings_prints_nothing() -> None:
    report = CheckReport((), (), registered_rules(), ("a100",), Severity.WARNING)
    assert GithubReporter().render(report) == ""


# --- markdown --------------------------------------------------------------------------------


def test_markdown_golden(thirty_channels: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, thirty_channels, *GOLDEN_ARGS, "--format", "markdown")
    assert code == 1
    assert_golden("markdown.md", out)


def test_markdown_escaping_golden() -> None:
    out = MarkdownReporter().render(handmade())
    table = out.split("### Findings", 1)[1].split("### Rules", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 4 and all(row.count(" | ") == 6 for row in rows)  # header + 3, 7 cells each
    assert_golden("markdown-escaping.md", out)


@pytest.mark.parametrize("limit", [1000, 700])
def test_markdown_stays_within_the_comment_limit(limit: int) -> None:
    class Short(MarkdownReporter):
        pass

    Short.limit = limit
    report = handmade()
    full = MarkdownReporter().render(report)
    short = Short().render(report)
    assert len(full) > limit >= len(short)
    assert "<details>" in full and "<details>" not in short  # the documentation goes first
    assert "Rule documentation left out" in short
    rows = short.count("| `a100` |") - 1  # less the per-target summary's row
    if rows < len(report.diagnostics):
        assert f"{rows} of {len(report.diagnostics)} findings shown" in short
    assert rows == (3 if limit == 1000 else 1)


def test_markdown_without_findings(in_tmp: Path) -> None:
    report = CheckReport((), (), registered_rules(), ("a100", "xeon-avx512"), Severity.WARNING)
    out = MarkdownReporter().render(report)
    assert out.startswith("## archlint: no findings\n")
    assert "### Findings" not in out and "passing" in out
