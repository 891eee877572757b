"""Find a hardware profile by name, alias or YAML path."""

from __future__ import annotations

from pathlib import Path

from archlint.errors import ProfileError
from archlint.plugins.registry import Registry
from archlint.targets.profile import HardwareProfile, load_profile

PROFILES: Registry[HardwareProfile] = Registry(
    "archlint_register_hardware",
    "hardware profile",
    keys=lambda profile: (profile.name, *profile.aliases),
    error=ProfileError,
)


def registered_profiles() -> dict[str, HardwareProfile]:
    """Every profile the built-ins and plugins register, by name."""
    return {entry.item.name: entry.item for entry in PROFILES.entries()}


def resolve(target: str) -> HardwareProfile:
    """A profile by name, alias, or path to a YAML file."""
    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        return load_profile(target)
    entry = PROFILES.get(target)
    if entry is not None:
        return entry.item
    known = ", ".join(sorted(PROFILES.keys()))
    raise ProfileError(f"unknown target {target!r}; known targets: {known}, or a path to a .yaml profile")


def resolve_many(targets: str) -> list[HardwareProfile]:
    """``"gpu,cpu"`` -> two profiles, in order."""
    return [resolve(t.strip()) for t in targets.split(",") if t.strip()]
