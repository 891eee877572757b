"""One registry for every kind of plugin: rules, hardware profiles, output formats, loaders.

A ``Registry`` collects what the plugins give its hook's ``register`` callback, each thing under
its keys (a name, a code, aliases), with the plugin that brought it. Two things may not share a
key: the error names both plugins and the key, whichever kind of thing it is. Registries load on
first use, so a command that needs no rule never imports one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, NamedTuple, TypeVar

from archlint.errors import ArchlintError

T = TypeVar("T")


class Registered(NamedTuple, Generic[T]):
    item: T
    plugin: str  # the distribution (or built-in module) that registered it


class Registry(Generic[T]):
    def __init__(
        self,
        hook: str,
        what: str,
        keys: Callable[[T], Iterable[str]],
        validate: Callable[[T, str], None] | None = None,
        error: type[ArchlintError] = ArchlintError,
    ) -> None:
        self.hook, self.what = hook, what
        self._keys, self._validate, self._error = keys, validate, error
        self._entries: list[Registered[T]] | None = None
        self._by_key: dict[str, Registered[T]] = {}

    def entries(self) -> list[Registered[T]]:
        """Everything registered, in registration order (built-ins first)."""
        if self._entries is None:
            self._load()
        assert self._entries is not None
        return self._entries

    @property
    def loaded(self) -> bool:
        """Whether the plugins have been asked already (so lookups cost nothing)."""
        return self._entries is not None

    def get(self, key: str) -> Registered[T] | None:
        self.entries()
        return self._by_key.get(key)

    def keys(self) -> list[str]:
        self.entries()
        return list(self._by_key)

    def clear(self) -> None:
        """Forget what was loaded: the next use asks the plugins again."""
        self._entries, self._by_key = None, {}

    def _load(self) -> None:
        from archlint.plugins.manager import call_register_hook

        entries: list[Registered[T]] = []
        by_key: dict[str, Registered[T]] = {}

        def register_for(plugin: str) -> Callable[[T], None]:
            def register(item: T) -> None:
                if self._validate is not None:
                    self._validate(item, plugin)
                keys = list(self._keys(item))
                self._refuse_clash(keys, plugin, by_key)
                entry = Registered(item, plugin)
                entries.append(entry)
                by_key.update(dict.fromkeys(keys, entry))

            return register

        call_register_hook(self.hook, f"{self.what}s", register_for)
        self._entries, self._by_key = entries, by_key

    def _refuse_clash(self, keys: list[str], plugin: str, by_key: dict[str, Registered[T]]) -> None:
        """One error naming both sides of a shared key: both plugins and both things."""
        for key in keys:
            if key in by_key:
                other = by_key[key]
                other_name = next(iter(self._keys(other.item)))
                raise self._error(
                    f"plugin {plugin!r}: {self.what} {keys[0]!r} uses {key!r}, which {other.plugin!r} "
                    f"registered for its {self.what} {other_name!r}"
                )
