"""Building a schema dataclass from a file's data when every value already has its field's type.

A profile or configuration file is nearly always well formed: its strings are strings, its
numbers numbers, its keys known. For such data this builds the instance directly, checking each
value against the field's annotation exactly (no coercion), the numeric ``Bounds`` included.
Anything else (a key the schema lacks, a missing field, a value of another type that pydantic's
lax mode might coerce, an error raised by the schema's ``__post_init__``) gives None, and
``build_checked`` hands the data to pydantic (archlint.validation), which coerces it or says what
is wrong. The result is the one pydantic builds from the same data; the tests compare the two on every
built-in profile and on configuration files. Importing pydantic and building a validator cost
80-140 ms per run; a project with a ``[tool.archlint]`` table paid it on every run.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, cast

from archlint.bounds import Bounds

T = TypeVar("T")


class _NotExactError(Exception):
    """The value is not exactly of its field's type: pydantic decides."""


def build_exact(schema: type[T], data: Mapping[str, Any]) -> T | None:
    """``schema`` built from ``data``, or None where pydantic has to coerce or refuse it."""
    try:
        return cast(T, _dataclass(schema, data))
    except _NotExactError:
        return None


def build_checked(schema: type[T], data: Mapping[str, Any], where: str, error: type[Exception]) -> T:
    """``schema`` from a file's ``data``: directly when every value has its field's type, else by
    pydantic, whose refusal becomes one ``error`` line naming ``where`` (the misspelt key first)."""
    exact = build_exact(schema, data)
    if exact is not None:
        return exact
    from pydantic import ValidationError  # only for data that needs coercing, or is wrong

    from archlint import validation

    try:
        return validation.validate(schema, data)
    except ValidationError as exc:
        raise error(f"{where}: {validation.describe(exc, validation.schema_keys(schema))}") from None


def _dataclass(schema: type[Any], data: object) -> object:
    if isinstance(data, schema):
        return data  # pydantic takes an instance as it is
    if type(data) is not dict:
        raise _NotExactError
    fields = _fields(schema)
    config = getattr(schema, "__pydantic_config__", {})
    alias: Callable[[str], str] = config.get("alias_generator") or (lambda name: name)
    by_key = {alias(name): name for name in fields}
    if config.get("populate_by_name"):
        by_key |= {name: name for name in fields}
    values: dict[str, object] = {}
    for key, value in data.items():
        name = by_key.get(key) if type(key) is str else None
        if name is None or name in values:  # unknown, or given twice (by alias and by name)
            raise _NotExactError
        values[name] = _value(fields[name], value)
    try:
        return schema(**values)  # a required field missing, or __post_init__ refusing
    except Exception:
        raise _NotExactError from None


def _fields(schema: type[Any]) -> dict[str, Any]:
    found = _FIELDS.get(schema)
    if found is None:
        if not dataclasses.is_dataclass(schema):
            raise _NotExactError
        hints = typing.get_type_hints(schema, include_extras=True)
        found = _FIELDS[schema] = {f.name: hints[f.name] for f in dataclasses.fields(schema) if f.init}
    return found


_FIELDS: dict[type[Any], dict[str, Any]] = {}


def _value(annotation: Any, value: object) -> object:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        checked = _value(annotation.__origin__, value)
        for meta in annotation.__metadata__:
            if not isinstance(meta, Bounds) or not _within(meta, checked):
                raise _NotExactError
        return checked
    if origin is None:
        return _plain(annotation, value)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if value is None and len(others) < len(args):
            return None
        if len(others) != 1:
            raise _NotExactError  # a choice between types: pydantic's smart mode picks
        return _value(others[0], value)
    if origin is Literal:
        if any(type(value) is type(arg) and value == arg for arg in args):
            return value
        raise _NotExactError
    if origin is list and isinstance(value, list):
        return [_value(args[0], item) for item in value]
    if (
        origin is tuple
        and isinstance(value, list | tuple)
        and type(value) in (list, tuple)
        and args[1:] == (...,)
    ):
        return tuple(_value(args[0], item) for item in value)
    if origin is dict and isinstance(value, dict):
        return {_value(args[0], key): _value(args[1], item) for key, item in value.items()}
    raise _NotExactError


def _plain(annotation: Any, value: object) -> object:
    if annotation is Any:
        return value
    if annotation is float and type(value) in (int, float):
        return float(cast(float, value))
    if annotation in (str, int, bool) and type(value) is annotation:
        return value
    if annotation is Path and isinstance(value, str | os.PathLike):
        return Path(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return value
        if type(value) is str and value in annotation._value2member_map_:
            return annotation(value)
        raise _NotExactError
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _dataclass(annotation, value)
    raise _NotExactError


def _within(bounds: Bounds, value: object) -> bool:
    if type(value) not in (int, float):
        return False
    number = cast(float, value)
    limits = bounds.limits
    return (
        ("gt" not in limits or number > limits["gt"])
        and ("ge" not in limits or number >= limits["ge"])
        and ("le" not in limits or number <= limits["le"])
        and ("lt" not in limits or number < limits["lt"])
    )
