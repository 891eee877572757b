"""The plugin manager: built-ins first, then every ``archlint`` entry point."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import types
from collections.abc import Callable

import pluggy

from archlint import hookimpl
from archlint.errors import ArchlintError
from archlint.plugins import hookspecs

# Built-in plugins, registered exactly like third-party ones, by module rather than by entry
# point: the rules/ and hardware/ folders are installed as archlint.rules and archlint.hardware.
# Each is named with the hooks it implements, so the manager can register a stand-in that imports
# the module on its first hook call: building the manager then imports none of them, and a command
# that only needs a hardware profile never loads the rule base class or the reporters (rich).
# tests/unit/test_plugin_manager.py checks these lists against the modules' own hookimpls.
BUILTIN_PLUGINS: dict[str, tuple[str, ...]] = {
    "archlint.hardware": ("archlint_register_hardware",),
    "archlint.rules": ("archlint_register_rules",),
    "archlint.report.builtin": ("archlint_register_reporters",),
    "archlint.pytorch.plugin": ("archlint_register_loaders",),
}


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("archlint")
    manager.add_hookspecs(hookspecs)
    for module_name, hooks in BUILTIN_PLUGINS.items():
        manager.register(lazy_plugin(module_name, hooks), name=f"archlint.builtin.{module_name}")
    try:
        manager.load_setuptools_entrypoints("archlint")
    except Exception as exc:
        raise ArchlintError(
            f"plugin {_failing_entry_point()} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        manager.check_pending()  # a hook name the contract does not know: most likely a typo
    except pluggy.PluginValidationError as exc:
        raise ArchlintError(
            f"plugin {plugin_label(manager, exc.plugin)!r} implements a hook archlint does not have: {exc}"
        ) from None
    return manager


def lazy_plugin(module_name: str, hooks: tuple[str, ...]) -> types.ModuleType:
    """A stand-in for the plugin module ``module_name`` whose ``hooks`` import it when called."""
    stand_in = types.ModuleType(module_name, f"imports {module_name} on its first hook call")
    for hook in hooks:
        setattr(stand_in, hook, _forward(module_name, hook))
    return stand_in


def _forward(module_name: str, hook: str) -> Callable[[Callable[..., None]], None]:
    # The argument is named like the hookspec's: pluggy passes hook arguments by name.
    def forward(register: Callable[..., None]) -> None:
        getattr(importlib.import_module(module_name), hook)(register=register)

    forward.__name__ = forward.__qualname__ = hook
    return hookimpl(forward)


def _failing_entry_point() -> str:
    """Which ``archlint`` entry point does not import (only asked once loading has failed)."""
    for entry_point in importlib.metadata.entry_points(group="archlint"):
        try:
            entry_point.load()
        except Exception:
            dist = entry_point.dist
            return f"{dist.name} {dist.version} ({entry_point.value})" if dist else entry_point.value
    return "(unknown)"


def call_register_hook(hook_name: str, what: str, register_for: Callable[[str], Callable[..., None]]) -> None:
    """Call every plugin's ``hook_name(register=...)``, giving each the callback
    ``register_for(plugin label)``; a plugin that raises becomes one error naming it."""
    manager = plugin_manager()
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        label = plugin_label(manager, impl.plugin)
        try:
            impl.function(register=register_for(label))
        except ArchlintError:
            raise
        except Exception as exc:
            raise ArchlintError(
                f"plugin {label!r} failed to register its {what}: {type(exc).__name__}: {exc}"
            ) from exc


def plugin_label(manager: pluggy.PluginManager, plugin: object) -> str:
    """The distribution a plugin came from ("name version"), or its module for built-ins."""
    for candidate, dist in manager.list_plugin_distinfo():
        if candidate is plugin:
            return f"{dist.project_name} {dist.version}"
    name = str(manager.get_name(plugin) or getattr(plugin, "__name__", repr(plugin)))
    builtin = "archlint.builtin."
    return f"{name.removeprefix(builtin)} (built-in)" if name.startswith(builtin) else name
