"""Find a hardware profile by name, alias or YAML path."""

from __future__ import annotations

import functools
from pathlib import Path

from archlint.errors import ProfileError
from archlint.targets.profile import HardwareProfile, load_profile


@functools.cache
def registered_profiles() -> dict[str, HardwareProfile]:
    """Every profile the built-ins and plugins register, by name."""
    from archlint.plugins.manager import call_register_hook

    profiles: dict[str, HardwareProfile] = {}

    def register(profile: HardwareProfile) -> None:
        taken = set(profiles) | {a for p in profiles.values() for a in p.aliases}
        clash = sorted(({profile.name, *profile.aliases}) & taken)
        if clash:
            raise ProfileError(
                f"hardware profile {profile.name!r}: name or alias {clash[0]!r} is already registered"
            )
        profiles[profile.name] = profile

    call_register_hook("archlint_register_hardware", "hardware profiles", lambda _label: register)
    return profiles


def resolve(target: str) -> HardwareProfile:
    """A profile by name, alias, or path to a YAML file."""
    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        return load_profile(target)
    profiles = registered_profiles()
    if target in profiles:
        return profiles[target]
    for profile in profiles.values():
        if target in profile.aliases:
            return profile
    known = ", ".join(sorted([*profiles, *(a for p in profiles.values() for a in p.aliases)]))
    raise ProfileError(f"unknown target {target!r}; known targets: {known}, or a path to a .yaml profile")


def resolve_many(targets: str) -> list[HardwareProfile]:
    """``"gpu,cpu"`` -> two profiles, in order."""
    return [resolve(t.strip()) for t in targets.split(",") if t.strip()]
