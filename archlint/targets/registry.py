"""Find a hardware profile by name, alias or YAML path."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from archlint.errors import ProfileError
from archlint.plugins.registry import Registry
from archlint.targets.profile import HardwareProfile, load_builtin_profile, load_profile

#: The package of the built-in profiles (hardware/), one YAML file per device.
BUILTIN_HARDWARE = "archlint.hardware"

PROFILES: Registry[HardwareProfile] = Registry(
    "archlint_register_hardware",
    "hardware profile",
    keys=lambda profile: (profile.name, *profile.aliases),
    error=ProfileError,
)

# A top-level ``name: x`` or ``aliases: [x, y]`` line, as the built-in profiles write them.
_KEY_LINE = re.compile(r"^(name|aliases):(.*)$", re.MULTILINE)
_NAME = re.compile(r"\s*([\w.+-]+)\s*(#.*)?")
_ALIASES = re.compile(r"\s*\[([\w.+\-, ]*)\]\s*(#.*)?")


def registered_profiles() -> dict[str, HardwareProfile]:
    """Every profile the built-ins and plugins register, by name."""
    return {entry.item.name: entry.item for entry in PROFILES.entries()}


def resolve(target: str) -> HardwareProfile:
    """A profile by name, alias, or path to a YAML file."""
    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        return load_profile(target)
    builtin = _builtin_profile(target)
    if builtin is not None:
        return builtin
    entry = PROFILES.get(target)
    if entry is not None:
        return entry.item
    known = ", ".join(sorted(PROFILES.keys()))
    raise ProfileError(f"unknown target {target!r}; known targets: {known}, or a path to a .yaml profile")


def resolve_many(targets: str) -> list[HardwareProfile]:
    """``"gpu,cpu"`` -> two profiles, in order."""
    return [resolve(t.strip()) for t in targets.split(",") if t.strip()]


def _builtin_profile(target: str) -> HardwareProfile | None:
    """The built-in profile ``target`` names, read from its file alone, where the full registry
    could only find that same profile: it is not loaded yet and no plugin but the built-ins
    registers profiles. None otherwise; the registry then decides, clashes and errors included.
    Validating one profile instead of all ~30 is most of what resolving ``cpu`` costs."""
    if PROFILES.loaded:
        return None
    from archlint.plugins.manager import plugin_manager

    impls = plugin_manager().hook.archlint_register_hardware.get_hookimpls()
    if [impl.plugin_name for impl in impls] != [f"archlint.builtin.{BUILTIN_HARDWARE}"]:
        return None
    folder = _builtin_folder()
    if folder is None:
        return None
    matches: list[Path] = []
    for path in folder.glob("*.yaml"):
        keys = declared_keys(path.read_text(encoding="utf-8"))
        if keys is None:
            return None
        if target in keys:
            matches.append(path)
    if len(matches) != 1:
        return None
    profile = load_builtin_profile(matches[0])
    return profile if target in (profile.name, *profile.aliases) else None


def _builtin_folder() -> Path | None:
    """The folder of the built-in profiles where it is one on disk (a regular or an editable
    install), found without importing importlib.resources; None otherwise."""
    spec = importlib.util.find_spec(BUILTIN_HARDWARE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if len(locations) == 1 and Path(locations[0]).is_dir() else None


def declared_keys(text: str) -> tuple[str, ...] | None:
    """The name and aliases a profile's YAML declares, read from its top-level ``name:`` and
    ``aliases: [...]`` lines without parsing it; None when it writes them any other way."""
    lines = _KEY_LINE.findall(text)
    if not any(key == "name" for key, _ in lines):
        return None
    keys: list[str] = []
    for key, value in lines:
        match = (_NAME if key == "name" else _ALIASES).fullmatch(value)
        if match is None:
            return None
        keys.extend(item.strip() for item in match.group(1).split(",") if item.strip())
    return tuple(keys)
