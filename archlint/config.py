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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from archlint.bounds import Bounds
from archlint.errors import UsageError
from archlint.exact_build import build_checked
from archlint.lint.severity import DEFAULT_MIN_SAVING_SHARE, Severity
from archlint.model.shape_text import parse_shape

# Keys are kebab-case in files, as in ruff (extend-select, per-file-ignores); a key the schema
# does not have is an error. pydantic reads this when a file is validated (archlint.validation).
_KEYS = {"extra": "forbid", "alias_generator": lambda name: name.replace("_", "-"), "populate_by_name": True}


@dataclass(frozen=True, kw_only=True)
class ShapeBinding:
    """Input shapes and symbol values for the models matching ``models``."""

    __pydantic_config__ = _KEYS

    models: str = "*"
    inputs: dict[str, str] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for text in self.inputs.values():
            parse_shape(text)


@dataclass(frozen=True, kw_only=True)
class ModelEntry:
    """A model definition (or an ONNX file) that ``archlint check`` lints when no MODEL is given."""

    __pydantic_config__ = _KEYS

    entry: str
    inputs: dict[str, str] = field(default_factory=dict)  # "1x3x224x224", or "1x128:int64"
    dims: dict[str, int] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)  # for the factory
    targets: list[str] = field(default_factory=list)  # empty: the configured or given targets

    def __post_init__(self) -> None:
        from archlint.pytorch.reference import split_dtype

        for text in self.inputs.values():
            parse_shape(split_dtype(text)[0])


@dataclass(frozen=True, kw_only=True)
class NodeIgnore:
    """ONNX has no comments: silence ``codes`` on the nodes whose names match ``nodes``."""

    __pydantic_config__ = _KEYS

    nodes: str
    codes: list[str]


@dataclass(frozen=True, kw_only=True)
class Config:
    """The project configuration: ``[tool.archlint]`` or archlint.yaml, every key defaulted."""

    __pydantic_config__ = _KEYS

    target: list[str] = field(default_factory=list)
    shapes: list[ShapeBinding] = field(default_factory=list)
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    ignore_nodes: list[NodeIgnore] = field(default_factory=list)
    models: list[ModelEntry] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # options by rule code or name
    fail_level: Severity = Severity.WARNING
    # A fix saving less than this share of the predicted latency is info, not a warning.
    min_saving_share: Annotated[float, Bounds(ge=0, lt=1)] = DEFAULT_MIN_SAVING_SHARE
    root: Path = Path()  # the folder the config file is in; model globs are relative to it

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
        if (
            pyproject.is_file()
            and _may_hold_archlint_table(pyproject)
            and _archlint_table(_read_toml(pyproject)) is not None
        ):
            return pyproject
    return None


def _read_toml(path: Path) -> dict[str, object]:
    import tomllib  # only a pyproject.toml that mentions archlint is parsed

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read configuration: {exc}") from None


# The ways TOML can write archlint's table: a header ``[tool.archlint]`` (``[ tool."archlint" ]``),
# a dotted key ``tool.archlint.target = ...`` or ``tool = { archlint = ... }``; or, under a plain
# ``[tool]`` header, a key ``archlint = ...`` / ``archlint.target = ...``.
_TOOL_ARCHLINT = re.compile(rb"tool\W{0,8}archlint")
_TOOL_HEADER = re.compile(rb"^\s*\[\s*tool\s*\]", re.MULTILINE)
_ARCHLINT_KEY = re.compile(rb"^\s*[\"']?archlint[\"']?\s*[.=]", re.MULTILINE)


def _may_hold_archlint_table(pyproject: Path) -> bool:
    """Whether the file could have a [tool.archlint] table: most pyproject.toml files a search
    passes have none (a project that merely depends on archlint, or names a script after it,
    included), and this spares importing a TOML parser and parsing them."""
    try:
        text = pyproject.read_bytes()
    except OSError:
        return True  # let the parse report it
    if _TOOL_ARCHLINT.search(text):
        return True
    return bool(_TOOL_HEADER.search(text) and _ARCHLINT_KEY.search(text))


def _archlint_table(document: dict[str, object]) -> object | None:
    tool = document.get("tool")
    return tool.get("archlint") if isinstance(tool, dict) else None


def load_config(explicit: str | None = None, start: Path | None = None) -> Config:
    path = Path(explicit) if explicit else find_config(start or Path.cwd())
    if path is None:
        return Config()  # every default, nothing to validate
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
    if isinstance(data.get("target"), str):  # target = "gpu" is one target
        data = {**data, "target": [data["target"]]}
    return build_checked(Config, {**data, "root": path.parent}, str(path), UsageError)
