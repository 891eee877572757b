"""Project configuration: ``[tool.archlint]`` in pyproject.toml, or an archlint.yaml.

Found like ruff finds its settings: ``--config F`` if given, else the nearest archlint.yaml or
pyproject.toml with a ``[tool.archlint]`` table in the current folder or its parents. Keys are
checked (``extra="forbid"``): a misspelt key stops archlint with exit 2 and names the key.

    [tool.archlint]
    target = ["gpu", "cpu"]
    select = ["AL"]                      # codes, prefixes or rule names
    ignore = ["AL4"]
    extend-select = ["AL401"]
    fail-level = "warning"
    per-file-ignores = { "models/legacy/*.onnx" = ["AL2"] }

    [[tool.archlint.shapes]]
    models = "models/detector*.onnx"     # a glob, relative to the config file's folder
    inputs = { images = "1x3x640x640" }
    dims = { seq = 128 }

    [[tool.archlint.ignore-nodes]]
    nodes = "backbone/stem/*"            # ONNX has no comments: silence findings by node name
    codes = ["AL101"]

    [tool.archlint.rules.AL301]          # a rule's options, by code or name
    max-share = 0.2

    [[tool.archlint.models]]             # model definitions a bare `archlint check` lints
    entry = "models/net.py::resnet50"    # or "package.module:factory"; relative to this folder
    inputs = { x = "1x3x224x224" }       # "1x128:int64" for token ids
    kwargs = { width = 0.5 }
    targets = ["gpu"]
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archlint.errors import UsageError
from archlint.lint.diagnostics import DEFAULT_MIN_SAVING_SHARE, Severity
from archlint.model.shape_text import parse_shape
from archlint.targets.profile import describe_validation_error


class _Strict(BaseModel):
    # Keys are kebab-case in files, as in ruff (extend-select, per-file-ignores).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=lambda name: name.replace("_", "-"),
        populate_by_name=True,
        # The schema is built on the first validation: a run with no configuration file never
        # validates one, and pays nothing for it.
        defer_build=True,
    )


class ShapeBinding(_Strict):
    """Input shapes and symbol values for the models matching ``models``."""

    models: str = "*"
    inputs: dict[str, str] = Field(default_factory=dict)
    dims: dict[str, int] = Field(default_factory=dict)

    @field_validator("inputs")
    @classmethod
    def _parseable(cls, inputs: dict[str, str]) -> dict[str, str]:
        for text in inputs.values():
            parse_shape(text)
        return inputs


class ModelEntry(_Strict):
    """A model definition (or an ONNX file) that ``archlint check`` lints when no MODEL is given."""

    entry: str
    inputs: dict[str, str] = Field(default_factory=dict)  # "1x3x224x224", or "1x128:int64"
    dims: dict[str, int] = Field(default_factory=dict)
    kwargs: dict[str, Any] = Field(default_factory=dict)  # for the factory
    targets: list[str] = Field(default_factory=list)  # empty: the configured or given targets

    @field_validator("inputs")
    @classmethod
    def _parseable(cls, inputs: dict[str, str]) -> dict[str, str]:
        from archlint.pytorch.reference import split_dtype

        for text in inputs.values():
            parse_shape(split_dtype(text)[0])
        return inputs


class NodeIgnore(_Strict):
    """ONNX has no comments: silence ``codes`` on the nodes whose names match ``nodes``."""

    nodes: str
    codes: list[str]


class Config(_Strict):
    target: list[str] = Field(default_factory=list)
    shapes: list[ShapeBinding] = Field(default_factory=list)
    select: list[str] | None = None
    ignore: list[str] = Field(default_factory=list)
    extend_select: list[str] = Field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = Field(default_factory=dict)
    ignore_nodes: list[NodeIgnore] = Field(default_factory=list)
    models: list[ModelEntry] = Field(default_factory=list)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)  # options by rule code or name
    fail_level: Severity = Severity.WARNING
    # A fix saving less than this share of the predicted latency is info, not a warning.
    min_saving_share: float = Field(DEFAULT_MIN_SAVING_SHARE, ge=0, lt=1)
    root: Path = Path()  # the folder the config file is in; model globs are relative to it

    @field_validator("target", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def shapes_for(self, model: str | Path) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
        """Inputs and dims of every binding whose glob matches ``model``, later ones winning."""
        inputs: dict[str, tuple[int, ...]] = {}
        dims: dict[str, int] = {}
        relative = _relative(Path(model), self.root)
        for binding in self.shapes:
            if fnmatch.fnmatch(relative, binding.models):
                inputs |= {name: parse_shape(text) for name, text in binding.inputs.items()}
                dims |= binding.dims
        return inputs, dims


def _relative(model: Path, root: Path) -> str:
    try:
        return model.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return model.as_posix()


def find_config(start: Path) -> Path | None:
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / "archlint.yaml").is_file():
            return folder / "archlint.yaml"
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _archlint_table(_read_toml(pyproject)) is not None:
            return pyproject
    return None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read configuration: {exc}") from None


def _archlint_table(document: dict[str, object]) -> object | None:
    tool = document.get("tool")
    return tool.get("archlint") if isinstance(tool, dict) else None


def load_config(explicit: str | None = None, start: Path | None = None) -> Config:
    path = Path(explicit) if explicit else find_config(start or Path.cwd())
    if path is None:
        return Config.model_construct()  # every default, nothing to validate
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    if path.suffix == ".toml":
        data = _archlint_table(_read_toml(path)) or {}
    else:
        import yaml  # only archlint.yaml files need it

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read configuration: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the archlint configuration must be a table of keys")
    try:
        return Config.model_validate({**data, "root": path.parent})
    except ValidationError as exc:
        raise UsageError(f"{path}: {describe_validation_error(exc, Config)}") from None
