"""Every built-in rule keeps the contract: documented, a docs page, options, and tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from archlint.rules import builtin_rules

from archlint.lint.registry import registered_rules

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))  # scripts/ holds developer scripts, not an installed package

from rule_docs import expected_pages  # noqa: E402

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
def test_every_option_is_described_once_by_its_field(rule: type) -> None:
    for name, field in rule.options_type.model_fields.items():
        assert field.description, f"{rule.code}: option {name} has no description"
        assert f"`{name}` (default `{field.default}`)" in rule.documentation()
    raw = rule.__doc__ or ""
    assert not any(
        f"`{name}`" in raw.split("## Options")[1].split("## ")[0] for name in rule.options_type.model_fields
    )


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.code)
def test_rule_has_a_test_module(rule: type) -> None:
    module = rule.__module__.rsplit(".", 1)[1]
    assert (TESTS / f"test_{module}.py").is_file(), f"{rule.code}: no tests/rules/test_{module}.py"


def test_docs_pages_match_the_rules() -> None:
    for path, text in expected_pages().items():
        assert path.is_file(), f"missing {path.name}: run python scripts/rule_docs.py"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python scripts/rule_docs.py"
        )


def test_built_in_rules_are_registered_through_the_plugin_hook() -> None:
    registered = registered_rules()
    for rule in builtin_rules():
        assert registered[rule.code].rule is rule
        assert registered[rule.code].plugin == "archlint.rules (built-in)"
