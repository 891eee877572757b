"""Every built-in rule keeps the contract: documented, a docs page, options, and tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlint.rule_docs import expected_pages
from archlint.rule_registry import registered_rules
from rules import builtin_rules

SECTIONS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Options",
    "## References",
)
TESTS = Path(__file__).parent


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.code)
def test_rule_is_documented_in_ruff_structure(rule: type) -> None:
    doc = rule.documentation()
    positions = [doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), f"{rule.code} lacks a section"
    assert positions == sorted(positions)
    assert rule.code.startswith("AL") and rule.summary and rule.severity


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.code)
def test_rule_has_a_test_module(rule: type) -> None:
    module = rule.__module__.rsplit(".", 1)[1]
    assert (TESTS / f"test_{module}.py").is_file(), f"{rule.code}: no tests/rules/test_{module}.py"


def test_docs_pages_match_the_rules() -> None:
    for path, text in expected_pages().items():
        assert path.is_file(), f"missing {path.name}: run python -m archlint.rule_docs"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python -m archlint.rule_docs"
        )


def test_built_in_rules_are_registered_through_the_plugin_hook() -> None:
    registered = registered_rules()
    for rule in builtin_rules():
        assert registered[rule.code].rule is rule
        assert registered[rule.code].plugin == "rules (built-in)"
