"""Built-in plugins are registered as stand-ins that import their module on the first hook call;
a target name is resolved from its own YAML file when nothing else could claim it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from archlint import hookimpl
from archlint.plugins.manager import BUILTIN_PLUGINS, plugin_manager
from archlint.targets.profile import HardwareProfile, load_profile
from archlint.targets.registry import PROFILES, registered_profiles, resolve
from archlint.validation import validate


@pytest.mark.parametrize("module_name", sorted(BUILTIN_PLUGINS))
def test_each_stand_in_names_exactly_the_hooks_its_module_implements(module_name: str) -> None:
    module = importlib.import_module(module_name)
    implemented = {name for name in dir(module) if hasattr(getattr(module, name), "archlint_impl")}
    assert implemented == set(BUILTIN_PLUGINS[module_name])
    for hook in implemented:  # default options only: a stand-in could not carry tryfirst & co.
        stand_in = plugin_manager().get_plugin(f"archlint.builtin.{module_name}")
        assert getattr(module, hook).archlint_impl == getattr(stand_in, hook).archlint_impl


def test_analyze_imports_neither_rules_nor_reporters_nor_rich() -> None:
    code = (
        "import sys; from archlint.cli import main; main(['analyze', 'examples/mobilenet_tiny.onnx', "
        "'--format', 'json', '--target', 'cpu', '--output-file', '/dev/null']); "
        "print(sorted(m for m in sys.modules if m.startswith(('rich', 'archlint.rules', "
        "'archlint.report.builtin', 'archlint.lint.rule'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_analyze_without_a_configuration_file_never_imports_the_validator(tmp_path: Path) -> None:
    # pydantic (and building its validators) is most of archlint's own start-up time: only a
    # run that reads a profile or configuration file of the user's should pay for it.
    model = Path("examples/mobilenet_tiny.onnx").resolve()
    argv = ["analyze", str(model), "--format", "json", "--target", "cpu,t4", "--output-file", "/dev/null"]
    validator = {"pydantic", "pydantic_core", "annotated_types"}
    code = (
        f"import sys; from archlint.cli import main; main({argv!r}); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {validator!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


BUILTIN_FILES = sorted(
    entry.name for entry in resources.files("archlint.hardware").iterdir() if entry.name.endswith(".yaml")
)


@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_a_builtin_profile_read_without_the_validator_is_the_validated_one(name: str) -> None:
    from archlint.targets.profile import load_builtin_profile
    from archlint.targets.profile_file import read_mapping

    with resources.as_file(resources.files("archlint.hardware") / name) as path:
        # repr, not ==: 1 == 1.0, but the JSON report would write them differently.
        validated = validate(HardwareProfile, read_mapping(path))
        assert repr(load_builtin_profile(path)) == repr(load_profile(path)) == repr(validated)


def test_the_first_lines_scan_reads_what_the_yaml_parser_reads() -> None:
    from archlint.targets.registry import declared_keys

    files = [e for e in resources.files("archlint.hardware").iterdir() if e.name.endswith(".yaml")]
    assert len(files) > 20
    for entry in files:
        with resources.as_file(entry) as path:
            profile = load_profile(path)
        assert declared_keys(entry.read_text(encoding="utf-8")) == (profile.name, *profile.aliases)


def test_the_scan_gives_up_on_a_form_it_does_not_read() -> None:
    from archlint.targets.registry import declared_keys

    assert declared_keys("name: x\naliases:\n  - y\n") is None
    assert declared_keys("name: 'x'\n") is None
    assert declared_keys("peak_flops: {fp32: 1}\n") is None
    assert declared_keys("# c\nname: x  # why\naliases: [y, z]\n") == ("x", "y", "z")


def test_every_name_and_alias_resolves_to_the_profile_the_registry_holds() -> None:
    PROFILES.clear()
    by_key = {key: p for p in registered_profiles().values() for key in (p.name, *p.aliases)}
    assert "cpu" in by_key and "gpu" in by_key
    for key, profile in by_key.items():
        PROFILES.clear()  # the next resolve takes the one-file path
        assert resolve(key) == profile
        assert not PROFILES.loaded
    PROFILES.clear()


class _Shadow:
    @hookimpl
    def archlint_register_hardware(self, register: Callable[[HardwareProfile], None]) -> None:
        register(
            validate(HardwareProfile, {"name": "cpu", "peak_flops": {"fp32": 1.0}, "memory_bandwidth": 1.0})
        )


def test_a_plugin_profile_sends_resolution_through_the_registry() -> None:
    manager = plugin_manager()
    manager.register(_Shadow(), name="shadow")
    PROFILES.clear()
    try:  # the alias clash is reported, as it is when every profile is listed
        with pytest.raises(Exception, match="'cpu'"):
            resolve("cpu")
        with pytest.raises(Exception, match="'cpu'"):
            registered_profiles()
    finally:
        manager.unregister(name="shadow")
        PROFILES.clear()
