"""Which models ``archlint check`` lints, and what each needs: the MODEL arguments, else every
``[[tool.archlint.models]]`` entry; with ``--changed FILES`` only the entries whose source files
(the definition and the repository modules it reaches) are among FILES, for pre-commit.

A MODEL that is also a configured entry takes that entry's inputs, arguments and targets; flags
override them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlint.commands.common import DEFAULT_TARGET, flag_dims, flag_values
from archlint.config import Config, ModelEntry
from archlint.errors import UsageError
from archlint.model.loader import ModelRequest
from archlint.model.shape_text import parse_shape
from archlint.pytorch import reference

if TYPE_CHECKING:
    from archlint.targets.profile import HardwareProfile


@dataclass(frozen=True)
class Job:
    request: ModelRequest
    dims: dict[str, int]
    profiles: list[HardwareProfile]


def jobs(args: argparse.Namespace, config: Config) -> list[Job]:
    from archlint.targets.registry import resolve_many

    result = []
    for model, entry in _entries(args, config):
        request, dims = _request(args, config, model, entry)
        names = args.target or ",".join(entry.targets) or ",".join(config.target) or DEFAULT_TARGET
        result.append(Job(request, dims, resolve_many(names)))
    return result


def _entries(args: argparse.Namespace, config: Config) -> list[tuple[str, ModelEntry]]:
    configured = {_relative_to_cwd(entry.entry, config.root): entry for entry in config.models}
    if args.changed is not None:
        if args.models:
            raise UsageError("--changed selects among the configured models: give no MODEL with it")
        changed = {Path(file).resolve() for file in args.changed}
        return [(model, entry) for model, entry in configured.items() if _touched(model, changed)]
    if args.models:
        models = [file for model in args.models for file in _expand(model)]
        return [(model, configured.get(model, ModelEntry(entry=model))) for model in models]
    if not configured:
        raise UsageError("no MODEL given and no [[tool.archlint.models]] in the configuration")
    return list(configured.items())


def _expand(model: str) -> list[str]:
    """A folder stands for the ONNX files under it, in sorted order; anything else for itself."""
    folder = Path(model)
    if not folder.is_dir():
        return [model]
    files = sorted(
        str(path) for path in folder.rglob("*") if path.suffix.lower() == ".onnx" and path.is_file()
    )
    if not files:
        raise UsageError(f"{model}: a folder with no .onnx file in it")
    return files


def _relative_to_cwd(entry: str, root: Path) -> str:
    """A configured file path is relative to the configuration's folder; name it from here."""
    file, sep, attr = entry.partition("::")
    if not sep and not entry.lower().endswith(".onnx"):
        return entry  # package.module:attr is found on sys.path
    path = Path(file) if Path(file).is_absolute() else root / file
    return os.path.relpath(path) + sep + attr


def _touched(model: str, changed: set[Path]) -> bool:
    parsed = reference.parse(model)
    if parsed is None:  # an ONNX file: its own file is its source
        return Path(model).resolve() in changed
    from archlint.pytorch.cache import project_files

    return not changed.isdisjoint(project_files(reference.import_module(parsed)))


def model_request(
    args: argparse.Namespace, config: Config, model: str
) -> tuple[ModelRequest, dict[str, int]]:
    """What loading ``model`` needs, from the flags alone (used for a model outside the config)."""
    return _request(args, config, model, ModelEntry(entry=model))


def _request(
    args: argparse.Namespace, config: Config, model: str, entry: ModelEntry
) -> tuple[ModelRequest, dict[str, int]]:
    inputs, dims = config.shapes_for(model)
    texts = entry.inputs | dict(_name_value(text) for text in args.input)
    dtypes: dict[str, str] = {}
    for name, text in texts.items():
        shape, dtype = reference.split_dtype(text)
        inputs[name] = parse_shape(shape)
        if dtype is not None:
            dtypes[name] = dtype
    kwargs = entry.kwargs | _kwargs(args.kwargs)
    request = ModelRequest(model, inputs, dtypes, kwargs, flag_values(args))
    return request, dims | entry.dims | flag_dims(args.dim)


def _name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"bad --input {text!r}: expected NAME=1x3x224x224")
    return name, value


def _kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--kwargs {text!r}: not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--kwargs {text!r}: expected a JSON object of keyword arguments")
    return value


def target_names(jobs: Iterable[Job]) -> tuple[str, ...]:
    """Every target of every job, in first-seen order."""
    return tuple(dict.fromkeys(profile.name for job in jobs for profile in job.profiles))
