"""Every figure of every built-in profile names its source, and the docs list the weak ones.

A profile's ``sources[].figure`` is a comma-separated list of the figures an entry stands for:
a field (``memory_bandwidth``), one key of a table (``peak_flops.fp16``) or a whole table or
group (``peak_flops``, ``small_ops``); a note in brackets after a name (``(cross-check)``) is
ignored, and names that are no profile field (``clock``, ``SM count``) are context. An entry
whose ``source`` begins with "Estimate" is an estimate; one that begins with "Secondary" cites
the vendor's figure from a reproduction, not the vendor's own document. docs/hardware.md lists,
per profile, exactly the figures named by such entries.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import hardware
from archlint.targets.profile import HardwareProfile, Source, load_profile

HARDWARE = Path(hardware.__file__).parent
DOC = Path(__file__).parents[2] / "docs" / "hardware.md"
# Identity and prose, not figures.
NOT_FIGURES = frozenset({"name", "kind", "description", "aliases", "sources"})
MARKERS = ("estimate", "secondary")
NONE = "\N{EN DASH}"  # the docs' table writes an empty cell as a dash


def _built_in() -> dict[str, HardwareProfile]:
    profiles = (load_profile(path) for path in sorted(HARDWARE.glob("*.yaml")))
    return {profile.name: profile for profile in profiles}


PROFILES = _built_in()
# The fields each profile's file writes, defaults included: a figure written is a figure to source.
WRITTEN = {
    data["name"]: set(data) for data in (yaml.safe_load(path.read_text()) for path in HARDWARE.glob("*.yaml"))
}


def figures(profile: HardwareProfile) -> set[str]:
    """The dotted names of the figures a profile's file sets: one per key of a table."""
    names: set[str] = set()
    for field in WRITTEN[profile.name] - NOT_FIGURES:
        value = getattr(profile, field)
        if isinstance(value, dict) and value:
            names.update(f"{field}.{key}" for key in value)
        else:
            names.add(field)
    return names


def named(entry: Source) -> list[str]:
    """The names an entry lists, without their bracketed notes."""
    return [re.sub(r"\s*\(.*\)\s*$", "", part).strip() for part in entry.figure.split(",")]


def covers(name: str, figure: str) -> bool:
    return figure == name or figure.startswith(f"{name}.")


def marker(entry: Source) -> str | None:
    text = entry.source.strip().lower()
    return next((m for m in MARKERS if text.startswith(m)), None)


def marked(profile: HardwareProfile, kind: str) -> set[str]:
    """The names, among those that stand for a figure the profile sets, of entries marked ``kind``."""
    own = figures(profile)
    return {
        name
        for entry in profile.sources
        if marker(entry) == kind
        for name in named(entry)
        if any(covers(name, figure) for figure in own)
    }


def documented() -> dict[str, dict[str, set[str]]]:
    """docs/hardware.md's table of estimated and secondary figures, per profile."""
    section = DOC.read_text(encoding="utf-8").split("## Estimates and secondary sources", 1)[1]
    section = section.split("\n## ", 1)[0]
    table: dict[str, dict[str, set[str]]] = {}
    for row in re.findall(r"^\| `([\w.-]+)` \|(.*)\|(.*)\|\s*$", section, flags=re.MULTILINE):
        name, estimates, secondary = row
        cells = [{c.strip(" `") for c in cell.split(",")} - {"", NONE} for cell in (estimates, secondary)]
        table[name] = dict(zip(MARKERS, cells, strict=True))
    return table


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_figure_is_named_by_a_source(name: str) -> None:
    profile = PROFILES[name]
    names = [n for entry in profile.sources for n in named(entry)]
    unsourced = sorted(f for f in figures(profile) if not any(covers(n, f) for n in names))
    assert not unsourced, f"{name}: no sources entry names {unsourced}"
    assert all(entry.source.strip() for entry in profile.sources)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_docs_list_each_profile_s_estimates_and_secondary_figures(name: str) -> None:
    listed = documented().get(name)
    assert listed is not None, f"docs/hardware.md has no row for `{name}` under its estimates table"
    for kind in MARKERS:
        assert listed[kind] == marked(PROFILES[name], kind), f"{name}: {kind} figures differ from the docs"


def test_the_docs_list_no_profile_that_does_not_exist() -> None:
    assert set(documented()) <= set(PROFILES)


@pytest.mark.parametrize("name", sorted(n for n, p in PROFILES.items() if p.kind == "cpu"))
def test_every_cpu_profile_states_how_it_treats_subnormals(name: str) -> None:
    assert PROFILES[name].flush_to_zero is not None


def test_a_figure_without_a_source_entry_is_found() -> None:
    profile = replace(PROFILES["t4"], sources=PROFILES["t4"].sources[:1])
    names = [n for entry in profile.sources for n in named(entry)]
    assert any(not any(covers(n, f) for n in names) for f in figures(profile))
    assert covers("peak_flops", "peak_flops.fp16") and not covers("peak_flops.fp1", "peak_flops.fp16")
