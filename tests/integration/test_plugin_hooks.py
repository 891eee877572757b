"""The output-format and loader hooks, through a plugin registered like a third-party one: its
format is chosen with --format, its loader claims its references, and a name it shares with a
built-in is refused with an error that names both plugins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
import pytest

from archlint import hookimpl
from archlint.cli import main
from archlint.errors import ArchlintError
from archlint.model.loader import Loader
from archlint.model.loaders import LOADERS
from archlint.plugins.manager import plugin_manager
from archlint.report.base import CheckReport, Reporter
from archlint.report.registry import REPORTERS
from tests.builders import conv_model


class _CountReporter(Reporter):
    name = "count"
    description = "the number of findings per code"

    def render(self, report: CheckReport) -> str:
        codes = sorted({d.code for d in report.diagnostics})
        return "".join(f"{code} {sum(d.code == code for d in report.diagnostics)}\n" for code in codes)


def _tiny_model(reference: str) -> onnx.ModelProto:
    """A "model description" file: its one line is the channel count of a 3x3 conv."""
    channels = int(Path(reference).read_text().strip())
    return conv_model(channels, channels, 16, 3)


class _Plugin:
    @hookimpl
    def archlint_register_reporters(self, register: Callable[[type[Reporter]], None]) -> None:
        register(_CountReporter)

    @hookimpl
    def archlint_register_loaders(self, register: Callable[[Loader], None]) -> None:
        register(Loader("tiny", lambda reference: reference.endswith(".tiny"), _tiny_model))


class _ClashingReporter(Reporter):
    name = "json"
    description = "a second json"

    def render(self, report: CheckReport) -> str:
        return ""


class _Clash:
    @hookimpl
    def archlint_register_reporters(self, register: Callable[[type[Reporter]], None]) -> None:
        register(_ClashingReporter)


@contextmanager
def _registered(plugin: object, name: str) -> Iterator[None]:
    manager = plugin_manager()
    manager.register(plugin, name=name)
    REPORTERS.clear()
    LOADERS.clear()
    try:
        yield
    finally:
        manager.unregister(name=name)
        REPORTERS.clear()
        LOADERS.clear()


@pytest.fixture
def plugin() -> Iterator[None]:
    with _registered(_Plugin(), "test-hooks"):
        yield


def test_a_plugin_format_and_loader_run_from_the_command_line(
    plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from collections import Counter

    model = tmp_path / "narrow.tiny"
    model.write_text("30\n")
    flags = [str(model), "--target", "gpu,cpu"]
    status = main(["check", *flags, "--format", "json"])
    found = Counter(d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"])
    assert found, "the tiny conv model gives findings to count"
    assert main(["check", *flags, "--format", "count"]) == status
    assert capsys.readouterr().out == "".join(f"{code} {n}\n" for code, n in sorted(found.items()))


def test_a_format_name_taken_by_a_built_in_names_both_plugins() -> None:
    expected = r"output format 'json' uses 'json', which .*(clash|built-in)"
    with _registered(_Clash(), "clash"), pytest.raises(ArchlintError, match=expected):
        REPORTERS.entries()


def test_the_tiny_loader_is_not_used_for_onnx_files(plugin: None, tmp_path: Path) -> None:
    from archlint.model.loaders import find_loader

    assert find_loader(str(tmp_path / "m.onnx")) is not None
    assert find_loader(str(tmp_path / "m.onnx")).name == "onnx"  # type: ignore[union-attr]
    assert find_loader(str(tmp_path / "m.tiny")).name == "tiny"  # type: ignore[union-attr]
