"""The plugin contract: every hook archlint calls, typed and documented.

Plugins are modules or packages advertised under the ``archlint`` entry-point group; they
implement hooks with ``@archlint.hookimpl``. Each hook receives a ``register`` callback so one
plugin can add many things; the core rejects duplicates with an error naming both plugins.
Built-ins (the profiles in hardware/) register through exactly the same hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from archlint.profiles import HardwareProfile

hookspec = pluggy.HookspecMarker("archlint")


@hookspec
def archlint_register_hardware(register: Callable[[HardwareProfile], None]) -> None:
    """Register hardware profiles: call ``register(profile)`` once per profile.

    Profiles are usually loaded from YAML with ``archlint.profiles.load_profile``; names and
    aliases must be unique across all plugins.
    """
