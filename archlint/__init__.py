"""archlint: lint neural-network architectures against the hardware they will run on."""

import pluggy

__version__ = "0.1.0"

#: Marks a function in a plugin module as an implementation of an archlint hook.
hookimpl = pluggy.HookimplMarker("archlint")

__all__ = ["__version__", "hookimpl"]
