"""A third-party plugin, found through its entry point like an installed package.

The example plugin (tests/fixtures/archlint_example_plugin, the one docs/plugins.md describes)
is "installed" without pip: a ``.dist-info`` folder with its METADATA and entry_points.txt on
the PYTHONPATH of a subprocess is all importlib.metadata needs to find the entry point.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import conv_model, save

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "fixtures" / "archlint_example_plugin"

BROKEN_PLUGIN = """
from archlint import hookimpl

@hookimpl
def archlint_register_{hook}(register):
    raise RuntimeError("boom in {hook}")
"""


def install(site: Path, distribution: str, version: str, entry_point: str) -> None:
    """Write the metadata pip would write for ``distribution``, with one ``archlint`` entry point."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[archlint]\n{entry_point}\n")


def archlint(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), str(EXAMPLE), os.environ.get("PYTHONPATH", "")])
    # A wide "terminal" so that rich does not wrap the names the tests look for.
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "archlint", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site, "archlint-example-plugin", "0.1.0", "example = archlint_example_plugin")
    return site


def test_the_plugin_s_rule_profile_and_name_are_listed(site: Path, tmp_path: Path) -> None:
    rules = archlint(site, "rules", cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert "EX101" in rules.stdout and "dominant-operator" in rules.stdout
    assert "AL101" in rules.stdout  # the built-ins are still there

    hardware = archlint(site, "hardware", cwd=tmp_path)
    assert hardware.returncode == 0, hardware.stderr
    assert "example-npu" in hardware.stdout and "a100" in hardware.stdout

    plugins = archlint(site, "plugins", cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    line = next(line for line in plugins.stdout.splitlines() if "archlint-example-plugin" in line)
    assert "0.1.0" in line and "hardware, rules" in line and "EX101" in line

    explained = archlint(site, "rule", "EX101", cwd=tmp_path)
    assert "From archlint-example-plugin 0.1.0." in explained.stdout
    assert "## What it does" in explained.stdout


def test_the_plugin_s_rule_fires_on_its_profile(site: Path, tmp_path: Path) -> None:
    model = save(conv_model(16, 32, 28, 3), tmp_path / "one_conv.onnx")
    result = archlint(site, "check", str(model), "--target", "ex-npu", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # EX101 is a warning on NPUs
    document = json.loads(result.stdout)
    assert document["targets"] == ["example-npu"]
    (finding,) = [d for d in document["diagnostics"] if d["code"] == "EX101"]
    assert finding["name"] == "dominant-operator" and finding["severity"] == "warning"
    assert finding["node"] == "Conv_0" and "100% of the predicted" in finding["message"]

    quiet = archlint(site, "check", str(model), "--target", "ex-npu", "--ignore", "EX1", cwd=tmp_path)
    assert "EX101" not in quiet.stdout


@pytest.mark.parametrize(
    ("hook", "command"),
    [
        ("rules", ["rules"]),
        ("hardware", ["hardware"]),
        ("reporters", ["check", "model.onnx", "--format", "json"]),
    ],
)
def test_a_failing_hook_is_one_line_naming_the_plugin(hook: str, command: list[str], tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "archlint-broken-plugin", "0.2.0", "broken = archlint_broken_plugin")
    (site / "archlint_broken_plugin.py").write_text(BROKEN_PLUGIN.format(hook=hook))
    save(conv_model(8, 8, 8, 3), tmp_path / "model.onnx")
    result = archlint(site, *command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "archlint-broken-plugin" in result.stderr and f"boom in {hook}" in result.stderr


def test_a_plugin_that_fails_to_import_is_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "archlint-broken-plugin", "0.2.0", "broken = archlint_broken_plugin")
    (site / "archlint_broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    result = archlint(site, "rules", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "archlint-broken-plugin" in result.stderr and "boom at import" in result.stderr


def test_the_plugin_guide_shows_this_plugin_verbatim() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    listings = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", guide, re.S))
    assert sorted(listings) == [
        "archlint_example_plugin/__init__.py",
        "archlint_example_plugin/example-npu.yaml",
        "pyproject.toml",
    ]
    for name, text in listings.items():
        assert text == (EXAMPLE / name).read_text(encoding="utf-8"), f"docs/plugins.md: {name} is stale"


def test_a_misspelt_hook_is_one_line_naming_the_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "archlint-typo-plugin", "0.3.0", "typo = archlint_typo_plugin")
    (site / "archlint_typo_plugin.py").write_text(
        "from archlint import hookimpl\n\n@hookimpl\ndef archlint_register_rule(register):\n    pass\n"
    )
    result = archlint(site, "rules", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "archlint-typo-plugin 0.3.0" in result.stderr and "archlint_register_rule" in result.stderr
