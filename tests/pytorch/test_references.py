"""Model references and input specs, without torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlint.errors import UsageError
from archlint.lint.suppressions import parse as parse_noqa
from archlint.pytorch.reference import Reference, parse, split_dtype


def test_references() -> None:
    assert parse("models/net.py::resnet50") == Reference(
        "models/net.py::resnet50", "resnet50", file=Path("models/net.py")
    )
    assert parse("pkg.models:Zoo.small") == Reference(
        "pkg.models:Zoo.small", "Zoo.small", module="pkg.models"
    )
    assert parse("model.onnx") is None
    assert parse("models.py") is None
    assert parse("C:/models/model.onnx") is None


def test_input_dtypes() -> None:
    assert split_dtype("1x128:int64") == ("1x128", "int64")
    assert split_dtype("1x3x8x8") == ("1x3x8x8", None)
    with pytest.raises(UsageError, match="bad input dtype"):
        split_dtype("1x3:float")


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("self.c = nn.Conv2d(3, 30, 3)  # archlint: noqa: AL101", ("AL101",)),
        ("x  # archlint: noqa: AL101, depthwise-on-accelerator", ("AL101", "depthwise-on-accelerator")),
        ("x  # ARCHLINT: NOQA", ()),
        ("x  # noqa: E501", None),
        ("x = 1", None),
    ],
)
def test_noqa_comments(line: str, codes: tuple[str, ...] | None) -> None:
    assert parse_noqa(line) == codes


def test_a_missing_torch_says_which_extra_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archlint.errors import ModelLoadError
    from archlint.pytorch import reference

    (tmp_path / "needs_missing.py").write_text("import onnxscript_not_here\n")
    parsed = reference.parse(f"{tmp_path / 'needs_missing.py'}::Net")
    assert parsed is not None
    with pytest.raises(ModelLoadError, match="cannot import"):
        reference.import_module(parsed)
    monkeypatch.setitem(__import__("sys").modules, "onnxscript", None)  # import onnxscript -> ImportError
    (tmp_path / "needs_onnxscript.py").write_text("import onnxscript\n")
    parsed = reference.parse(f"{tmp_path / 'needs_onnxscript.py'}::Net")
    assert parsed is not None
    with pytest.raises(ModelLoadError, match=r"pip install 'archlint\[torch\]'"):
        reference.import_module(parsed)


def test_an_export_failure_reports_its_innermost_cause_without_colour_codes() -> None:
    from archlint.pytorch.export import failure_reason

    try:
        try:
            raise ValueError("\x1b[91mdata-dependent branch on x.sum() > 0\x1b[0m\nat model.py:12")
        except ValueError as inner:
            raise RuntimeError(
                "\x1b[96mFailed to export the model with torch.export.\x1b[0m step 1/3"
            ) from inner
    except RuntimeError as outer:
        assert failure_reason(outer) == "ValueError: data-dependent branch on x.sum() > 0"
