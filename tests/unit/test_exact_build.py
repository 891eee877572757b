"""Data whose values already have their fields' types is built without pydantic, into exactly
what pydantic builds; anything else is left to pydantic, which coerces it or names the error."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from archlint.bounds import Bounds
from archlint.config import Config, load_config
from archlint.errors import UsageError
from archlint.exact_build import build_exact
from archlint.lint.severity import Severity
from archlint.targets.profile import HardwareProfile
from archlint.validation import validate

FULL_CONFIG = """
[tool.archlint]
target = ["gpu", "cpu"]
select = ["AL"]
ignore = ["AL4"]
extend-select = ["AL401"]
fail-level = "error"
min-saving-share = 0
per-file-ignores = { "models/legacy/*.onnx" = ["AL2"] }

[[tool.archlint.shapes]]
models = "models/detector*.onnx"
inputs = { images = "1x3x640x640" }
dims = { seq = 128 }

[[tool.archlint.ignore-nodes]]
nodes = "backbone/stem/*"
codes = ["AL101"]

[tool.archlint.rules.AL301]
max-share = 0.2
nested = { deep = [1, "two"] }

[[tool.archlint.models]]
entry = "models/net.py::resnet50"
inputs = { x = "1x3x224x224", ids = "1x128:int64" }
kwargs = { width = 0.5 }
targets = ["gpu"]
"""

CONFIGS = {
    "full": FULL_CONFIG,
    "empty table": "[tool.archlint]\n",
    "python names": '[tool.archlint]\nextend_select = ["AL1"]\nfail_level = "info"\n',
    "null select": "[tool.archlint]\nmin-saving-share = 0.5\n",
}


@pytest.mark.parametrize("text", CONFIGS.values(), ids=list(CONFIGS))
def test_a_well_formed_configuration_is_exactly_what_pydantic_builds(text: str) -> None:
    data = {**tomllib.loads(text)["tool"]["archlint"], "root": Path("/project")}
    exact = build_exact(Config, data)
    assert exact is not None
    assert repr(exact) == repr(validate(Config, data))


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"targett": ["gpu"]}, "an unknown key"),
        ({"fail-level": "loud"}, "not a severity"),
        ({"min-saving-share": 1.5}, "out of its bounds"),
        ({"min-saving-share": "0.5"}, "a string pydantic may coerce"),
        ({"min-saving-share": True}, "a bool is no number here"),
        ({"ignore": "AL4"}, "a string where a list is due"),
        ({"shapes": [{"inputs": {"x": "1xQ"}}]}, "__post_init__ refuses the shape"),
        ({"ignore-nodes": [{"nodes": "a/*"}]}, "a required field missing"),
        ({"extend-select": ["AL1"], "extend_select": ["AL2"]}, "one field given twice"),
    ],
)
def test_anything_else_is_left_to_pydantic(data: dict[str, Any], why: str) -> None:
    assert build_exact(Config, data) is None, why


def test_pydantic_still_coerces_what_it_coerced(tmp_path: Path) -> None:
    (tmp_path / "archlint.yaml").write_text('min-saving-share: "0.05"\ntarget: gpu\n', encoding="utf-8")
    config = load_config(start=tmp_path)
    assert config.min_saving_share == 0.05
    assert config.target == ["gpu"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targett = ['gpu']", "targett: unknown key (did you mean 'target'?)"),
        ("min-saving-share = 1.5", "min-saving-share: Input should be less than 1"),
        ("fail-level = 'loud'", "fail-level: Input should be 'info', 'warning' or 'error'"),
    ],
)
def test_errors_are_pydantics_one_line_messages(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.archlint]\n{text}\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_config(start=tmp_path)
    assert str(caught.value) == f"{tmp_path / 'pyproject.toml'}: {message}"


@dataclass(frozen=True, kw_only=True)
class _Inner:
    share: Annotated[float, Bounds(gt=0, le=1)] = 1.0


@dataclass(frozen=True, kw_only=True)
class _Schema:
    __pydantic_config__ = {"extra": "forbid"}  # noqa: RUF012 - read by pydantic

    kind: Literal["gpu", "cpu"] = "cpu"
    flag: Literal[True] | None = None
    count: int = 0
    names: tuple[str, ...] = ()
    by_level: dict[Severity, float] = field(default_factory=dict)
    where: Path = Path()
    inner: _Inner = field(default_factory=_Inner)
    either: int | str = 0
    anything: Any = None


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "gpu", "count": 3, "names": ["a", "b"], "by_level": {"info": 2}, "where": "a/b"},
        {"inner": {"share": 1}, "flag": True, "anything": {"x": [1, None]}},
        {"by_level": {Severity.ERROR: 0.5}, "names": ("x",), "flag": None},
    ],
)
def test_each_kind_of_annotation_builds_as_pydantic_builds_it(data: dict[str, Any]) -> None:
    exact = build_exact(_Schema, data)
    assert exact is not None
    assert repr(exact) == repr(validate(_Schema, data))


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "npu"},
        {"flag": 1},  # 1 == True, but not the literal
        {"count": 2.0},
        {"count": True},
        {"by_level": {"loud": 1.0}},
        {"inner": {"share": 0}},
        {"inner": {"share": float("nan")}},
        {"either": 1},  # a union of two types: pydantic's smart mode chooses
        {"where": 3},
    ],
)
def test_values_not_exactly_of_their_type_are_refused(data: dict[str, Any]) -> None:
    assert build_exact(_Schema, data) is None


def test_a_profile_with_a_figure_out_of_bounds_is_refused_then_explained(tmp_path: Path) -> None:
    from archlint.errors import ProfileError
    from archlint.targets.profile import load_profile

    data = {"name": "x", "peak_flops": {"fp32": 1.0e12}, "memory_bandwidth": -1.0}
    assert build_exact(HardwareProfile, data) is None
    path = tmp_path / "x.yaml"
    path.write_text("name: x\npeak_flops: {fp32: 1.0e+12}\nmemory_bandwidth: -1.0\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="memory_bandwidth: Input should be greater than 0"):
        load_profile(path)


def test_a_configured_project_runs_without_importing_the_validator(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(FULL_CONFIG, encoding="utf-8")
    model = Path("examples/mobilenet_tiny.onnx").resolve()
    argv = ["analyze", str(model), "--format", "json", "--target", "cpu", "--output-file", "/dev/null"]
    code = (
        f"import sys; from archlint.cli import main; main({argv!r}); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert out.stdout.strip() == "[]"
