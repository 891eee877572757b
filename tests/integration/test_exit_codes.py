"""The exit codes docs/check.md promises, one test each: 0 clean, 1 findings, 2 bad input,
3 an internal error (a bug, here a plugin rule that raises), which CI must not take for findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from archlint import hookimpl
from archlint.cli import main
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.registry import RULES
from archlint.lint.rule import Rule, RuleContext
from archlint.plugins.manager import plugin_manager
from tests.builders import conv_model, save


class _Crashing(Rule):
    """## What it does
    Raises, as a rule with a bug would.
    """

    code = "XX999"
    name = "crashing"
    summary = "a rule with a bug"
    severity: Mapping[str, Severity] = {"gpu": Severity.WARNING, "cpu": Severity.WARNING}

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")


class _Plugin:
    @hookimpl
    def archlint_register_rules(self, register: Callable[[type[Rule]], None]) -> None:
        register(_Crashing)


@pytest.fixture
def model(tmp_path: Path) -> str:
    return str(save(conv_model(30, 30, 28, 3), tmp_path / "model.onnx"))


def test_0_when_nothing_is_found_at_the_fail_level(model: str) -> None:
    assert main(["check", model, "--target", "gpu", "--fail-level", "error", "--format", "concise"]) == 0


def test_1_when_findings_reach_the_fail_level(tmp_path: Path) -> None:
    from tests.rules.test_uncosted_operators import _with_custom_ops

    custom = str(save(_with_custom_ops(1), tmp_path / "custom.onnx"))  # AL002, an error
    assert main(["check", custom, "--target", "gpu", "--fail-level", "error", "--format", "concise"]) == 1


def test_2_for_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "missing.onnx")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.fixture
def crashing_rule() -> Iterator[None]:
    manager = plugin_manager()
    manager.register(_Plugin(), name="crashing")
    RULES.clear()
    try:
        yield
    finally:
        manager.unregister(name="crashing")
        RULES.clear()


def test_3_for_an_internal_error_in_one_line_with_the_version(
    crashing_rule: None, model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", model, "--target", "gpu", "--select", "XX999"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("archlint: internal error: rule XX999 (crashing) from 'crashing' failed on")
    assert "TypeError: unsupported operand" in err and "archlint 0." in err and "--debug" in err


def test_debug_prints_the_traceback(
    crashing_rule: None, model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--debug", "check", model, "--target", "gpu", "--select", "XX999"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "unsupported operand" in err


def test_a_directory_given_as_model_is_named_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path)]) == 2
    assert "a directory, not a model file" in capsys.readouterr().err
