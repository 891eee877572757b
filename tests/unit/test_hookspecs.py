"""Every hook of the plugin contract is documented in the plugin guide and exercised by a test
(a plugin in the tests implements it), so that no hook exists that nobody has seen work."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from archlint.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("archlint_")
)


def test_the_contract_has_hooks() -> None:
    assert len(HOOKS) >= 4


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_plugin_guide(hook: str) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"`{hook}(register)`" in guide
    assert inspect.getdoc(getattr(hookspecs, hook)), f"{hook} has no docstring in hookspecs.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_by_a_plugin_under_test(hook: str) -> None:
    this = Path(__file__).resolve()
    implementers = [
        path
        for path in (ROOT / "tests").rglob("*.py")
        if path.resolve() != this and f"def {hook}(" in path.read_text(encoding="utf-8")
    ]
    assert implementers, f"no test plugin implements {hook}"
