"""docs/rules/: one page per built-in rule, generated from the rule's docstring.

    python scripts/rule_docs.py        # rewrite docs/rules/ after changing a rule

A test checks that every page matches its rule, so the docs cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path

from archlint.lint.rule import Rule

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def page(rule: type[Rule]) -> str:
    severities = ", ".join(f"{kind}: {severity.value}" for kind, severity in rule.severity.items())
    fix = f"Fix: {rule.fix_applicability} (`archlint fix`)." if rule.fix_applicability else "Fix: manual."
    header = f"# {rule.code} {rule.name}\n\n{rule.summary[:1].upper()}{rule.summary[1:]}.\n\n"
    meta = f"Severity by target kind: {severities}. {fix}\n\n"
    return header + meta + rule.documentation() + "\n"


def index(rules: list[type[Rule]]) -> str:
    rows = "\n".join(f"| [{r.code}]({r.name}.md) | `{r.name}` | {r.summary} |" for r in rules)
    return (
        "# Rules\n\nEvery built-in rule, generated from the rules' docstrings by "
        "`python scripts/rule_docs.py`. `archlint rule CODE` prints the same text.\n\n"
        "| code | name | what it finds |\n|---|---|---|\n" + rows + "\n"
    )


def expected_pages() -> dict[Path, str]:
    from archlint.lint.registry import registered_rules
    from archlint.plugins.manager import BUILTIN_PLUGINS

    # The built-in rules, as registered (third-party plugins' rules are documented by their own).
    builtin = {f"{module} (built-in)" for module in BUILTIN_PLUGINS}
    rules = [r.rule for r in registered_rules().values() if r.plugin in builtin]
    pages = {DOCS / f"{rule.name}.md": page(rule) for rule in rules}
    pages[DOCS / "README.md"] = index(rules)
    return pages


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, text in expected_pages().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(DOCS.parent.parent)}")


if __name__ == "__main__":
    main()
