"""archlint's built-in hardware profiles: one YAML file per device, registered as a plugin."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from archlint import hookimpl
from archlint.targets.profile import HardwareProfile, load_builtin_profile


@hookimpl
def archlint_register_hardware(register: Callable[[HardwareProfile], None]) -> None:
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                register(load_builtin_profile(path))
