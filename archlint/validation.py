"""Checking untrusted data (a profile or configuration file, rule options) against a schema.

The schemas are plain dataclasses (and, for rule options, pydantic models); pydantic checks
them here, and only here, so that a run that reads no such file never imports it: importing
pydantic and building a validator cost about 70 ms, a third of what ``archlint analyze`` spends
beyond ``import onnx`` on a small model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

T = TypeVar("T")

# What pydantic calls a key the schema does not have: a model's extra="forbid" error, and a
# dataclass's unexpected keyword.
_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def validate(schema: type[T], data: Mapping[str, Any]) -> T:
    """``data`` as a ``schema`` instance, values coerced as pydantic's lax mode does (``"2e9"`` is a
    float); raises pydantic's ValidationError."""
    adapter = _ADAPTERS.get(schema)
    if adapter is None:
        adapter = _ADAPTERS[schema] = TypeAdapter(schema)
    return cast(T, adapter.validate_python(data))


# One validator per schema, built on its first use (building one takes tens of milliseconds).
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def describe(exc: ValidationError, keys: Iterable[str]) -> str:
    """One line for the most useful error: a misspelt key first, with the key among ``keys`` it
    resembles."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] not in _UNKNOWN_KEY)
    error = errors[0]
    # A key is quoted only when it looks like one: a file that is not a profile at all (a
    # password file given as --target) must not have its contents echoed into a log.
    where = ".".join(_key_text(p) for p in error["loc"])
    if error["type"] in _UNKNOWN_KEY and len(error["loc"]) == 1:
        import difflib  # only to name the key a misspelt one resembles

        close = difflib.get_close_matches(str(error["loc"][0]), list(keys), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: unknown key{hint}"
    message = error["msg"].removeprefix("Value error, ")
    return message if not error["loc"] else f"{where}: {message}"


def schema_keys(schema: type[Any]) -> list[str]:
    """The keys a file may give for ``schema``: its fields, under their aliases where it has any."""
    if dataclasses.is_dataclass(schema):
        config = getattr(schema, "__pydantic_config__", {})
        alias = config.get("alias_generator") or (lambda name: name)
        return [alias(field.name) for field in dataclasses.fields(schema)]
    if issubclass(schema, BaseModel):
        return [field.alias or name for name, field in schema.model_fields.items()]
    raise TypeError(f"{schema!r} is no schema")


def _key_text(key: object) -> str:
    """A key or list index as written, or a stand-in when it is no plausible key."""
    text = str(key)
    plausible = isinstance(key, int) or re.fullmatch(r"[A-Za-z_][\w.-]{0,40}", text)
    return text if plausible else "(a key that is no profile field)"
