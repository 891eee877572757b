"""The docs keep up with the code: profiles listed, the Quick start two commands, links live."""

from __future__ import annotations

import re
from pathlib import Path

from archlint.targets.registry import registered_profiles

ROOT = Path(__file__).resolve().parents[2]


def test_every_profile_is_in_the_hardware_guide() -> None:
    guide = (ROOT / "docs" / "hardware.md").read_text()
    missing = [name for name in registered_profiles() if f"`{name}`" not in guide]
    assert missing == []


def test_quick_start_is_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && archlint analyze examples/")
    model = commands[0].split("archlint analyze ", 1)[1].split()[0]
    assert (ROOT / model).is_file()
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_relative_links_in_docs_resolve() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
