"""The plugin manager: built-ins first, then every ``archlint`` entry point."""

from __future__ import annotations

import functools
import importlib

import pluggy

from archlint import hookspecs
from archlint.errors import ArchlintError

# Built-in plugins, registered exactly like third-party ones (by module, not by entry point, so
# a source checkout works without installing).
BUILTIN_PLUGINS = ("hardware", "rules", "archlint.report.builtin")


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("archlint")
    manager.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(module_name), name=f"archlint.builtin.{module_name}")
    try:
        manager.load_setuptools_entrypoints("archlint")
    except Exception as exc:
        raise ArchlintError(f"failed to load an archlint plugin: {type(exc).__name__}: {exc}") from exc
    manager.check_pending()
    return manager


def plugin_label(manager: pluggy.PluginManager, plugin: object) -> str:
    """The distribution a plugin came from ("name version"), or its module for built-ins."""
    for candidate, dist in manager.list_plugin_distinfo():
        if candidate is plugin:
            return f"{dist.project_name} {dist.version}"
    name = str(manager.get_name(plugin) or getattr(plugin, "__name__", repr(plugin)))
    builtin = "archlint.builtin."
    return f"{name.removeprefix(builtin)} (built-in)" if name.startswith(builtin) else name
