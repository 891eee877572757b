"""The pull-request formats: rdjson for reviewdog (against a schema of reviewdog's format) and
review-json for GitHub's create-a-review request, both against golden files.

Rewrite the golden files with ``ARCHLINT_UPDATE_GOLDEN=1`` (see test_reporters.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from onnx import helper

from archlint.cli import main
from archlint.lint.diagnostics import Diagnostic, Location, Severity
from archlint.lint.registry import registered_rules
from archlint.report.base import CheckReport
from archlint.report.rdjson import RdjsonReporter
from archlint.report.registry import reporter_for
from archlint.report.review_json import ReviewJsonReporter
from tests.builders import model, save, value, weight
from tests.integration.test_reporters import GOLDEN_ARGS, ROOT, assert_golden, handmade

RDJSON_SCHEMA = json.loads((ROOT / "tests" / "data" / "rdjson.schema.json").read_text())


@pytest.fixture
def narrow_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A conv 32 -> 30 -> 32, saved in an empty working folder: AL101 on 'narrow' and 'widen'."""
    monkeypatch.chdir(tmp_path)
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["a"], name="stem", pads=[1] * 4),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="narrow", pads=[1] * 4),
        helper.make_node("Conv", ["b", "w2"], ["features"], name="widen", pads=[1] * 4),
    ]
    inits = [weight("w0", (32, 3, 3, 3)), weight("w1", (30, 32, 3, 3)), weight("w2", (32, 30, 3, 3))]
    proto = model(nodes, [value("image", [1, 3, 56, 56])], [value("features", None)], inits)
    save(proto, tmp_path / "net.onnx")
    return "net.onnx"


def located() -> CheckReport:
    """Findings from a model definition: two targets on line 12, one on line 7, one without a line."""

    def finding(
        target: str, line: int | None, severity: Severity, node: str | None = "features.dw"
    ) -> Diagnostic:
        return Diagnostic(
            code="AL201" if line == 7 else "AL101",
            name="depthwise-on-accelerator" if line == 7 else "channel-alignment",
            severity=severity,
            target=target,
            path="models.py::net",
            node=node,
            message=f"layer {node} on {target}: 30 channels",
            fix="use 32 channels.",
            saving_s=2e-6 if target == "a100" else 0.0,
            location=Location("src/models.py", line) if line else None,
        )

    diagnostics = (
        finding("a100", 12, Severity.WARNING),
        finding("xeon-avx512", 12, Severity.INFO),
        finding("a100", 7, Severity.ERROR, "features.0"),
        finding("a100", None, Severity.INFO, None),
    )
    return CheckReport((), diagnostics, registered_rules(), ("a100", "xeon-avx512"), Severity.WARNING)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("name", ["rdjson", "review-json"])
def test_the_pull_request_formats_are_registered(name: str) -> None:
    assert reporter_for(name).name == name


# --- rdjson ----------------------------------------------------------------------------------


def test_rdjson_schema_is_a_valid_schema() -> None:
    jsonschema.Draft7Validator.check_schema(RDJSON_SCHEMA)


def test_rdjson_golden_and_valid(narrow_net: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, narrow_net, *GOLDEN_ARGS, "--format", "rdjson")
    assert code == 1  # the exit code does not depend on the format
    document = json.loads(out)
    jsonschema.Draft7Validator(RDJSON_SCHEMA).validate(document)
    assert document["source"] == {"name": "archlint"} and document["severity"] == "WARNING"
    places = {
        (d["location"]["path"], d["location"]["range"]["start"]["line"]) for d in document["diagnostics"]
    }
    assert places == {("net.onnx", 1)}  # ONNX nodes: line 1 of the model, the node in the message
    assert all(
        d["message"].split("] ", 1)[1].startswith(("narrow: ", "widen: ")) for d in document["diagnostics"]
    )
    assert_golden("rdjson.json", out)


def test_rdjson_places_source_findings_on_their_line() -> None:
    document = json.loads(RdjsonReporter().render(located()))
    jsonschema.Draft7Validator(RDJSON_SCHEMA).validate(document)
    first, second, error, unplaced = document["diagnostics"]
    assert first["location"] == {"path": "src/models.py", "range": {"start": {"line": 12}}}
    assert first["code"] == {"value": "AL101"} and second["severity"] == "INFO"
    assert error["severity"] == document["severity"] == "ERROR"
    assert unplaced["location"] == {"path": "models.py::net", "range": {"start": {"line": 1}}}
    assert "suggestions" not in first


def test_rdjson_escapes_through_json_and_without_findings_has_no_severity() -> None:
    document = json.loads(RdjsonReporter().render(handmade()))
    jsonschema.Draft7Validator(RDJSON_SCHEMA).validate(document)
    assert "\n" in document["diagnostics"][0]["message"]  # JSON carries it; no markup to escape
    empty = CheckReport((), (), registered_rules(), ("a100",), Severity.WARNING)
    document = json.loads(RdjsonReporter().render(empty))
    jsonschema.Draft7Validator(RDJSON_SCHEMA).validate(document)
    assert document == {"source": {"name": "archlint"}, "diagnostics": []}


# --- review-json -----------------------------------------------------------------------------


def _review(report: CheckReport) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ReviewJsonReporter().render(report))
    return document


def test_review_json_is_a_create_review_body() -> None:
    document = _review(located())
    assert set(document) == {"event", "body", "comments"} and document["event"] == "COMMENT"
    for comment in document["comments"]:
        assert set(comment) == {"path", "line", "side", "body"} and comment["side"] == "RIGHT"
        assert isinstance(comment["line"], int) and comment["line"] >= 1


def test_review_json_merges_findings_on_one_line() -> None:
    seven, twelve = _review(located())["comments"]
    assert (seven["path"], seven["line"], twelve["line"]) == ("src/models.py", 7, 12)
    assert seven["body"].startswith("**AL201 depthwise-on-accelerator** · error on `a100`")
    assert twelve["body"].count("**AL101 channel-alignment**") == 2 and "\n\n---\n\n" in twelve["body"]
    assert "Saves 2 µs on `a100`." in twelve["body"]


def test_review_json_body_holds_findings_without_a_line() -> None:
    body = _review(located())["body"]
    assert body.startswith("## archlint: 4 findings\n")
    findings = body.split("### Findings", 1)[1]
    assert findings.count("\n| info |") == 1 and "layer None" in findings  # the one without a line
    assert "3 findings commented on the lines below." in body


def test_review_json_golden(narrow_net: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, narrow_net, *GOLDEN_ARGS, "--format", "review-json")
    assert code == 1
    assert json.loads(out)["comments"] == []  # ONNX nodes have no line to comment on
    assert_golden("review-json.json", out)


def test_review_json_located_golden() -> None:
    assert_golden("review-json-located.json", ReviewJsonReporter().render(located()))
