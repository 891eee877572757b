"""A built-in profile's parsed YAML is cached as JSON, keyed by and checked against its text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from archlint.errors import ProfileError
from archlint.targets.profile_file import read_builtin_mapping, read_mapping

BUILTIN_FILES = sorted(
    entry.name for entry in resources.files("archlint.hardware").iterdir() if entry.name.endswith(".yaml")
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ARCHLINT_CACHE_DIR", str(folder))
    return folder


@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_a_cached_builtin_profile_is_exactly_what_its_yaml_holds(name: str, cache: Path) -> None:
    with resources.as_file(resources.files("archlint.hardware") / name) as path:
        parsed = read_mapping(path)
        first = read_builtin_mapping(path)  # parses and stores
        assert len(list(cache.glob("profile-*.json"))) == 1
        second = read_builtin_mapping(path)  # from the cache
    # repr, not ==: an int read back as a float (or the reverse) would change the profile.
    assert repr(first) == repr(second) == repr(parsed)


def test_an_edited_profile_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("name: edge\npeak_flops: {fp32: 1.0e+12}\nmemory_bandwidth: 1.0e+10\n", encoding="utf-8")
    assert read_builtin_mapping(path)["memory_bandwidth"] == 1.0e10
    path.write_text("name: edge\npeak_flops: {fp32: 1.0e+12}\nmemory_bandwidth: 2.0e+10\n", encoding="utf-8")
    assert read_builtin_mapping(path)["memory_bandwidth"] == 2.0e10
    assert len(list(cache.glob("profile-*.json"))) == 2


def test_an_entry_made_from_other_text_is_not_used(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("name: edge\nmemory_bandwidth: 1.0e+10\n", encoding="utf-8")
    read_builtin_mapping(path)
    (entry,) = cache.glob("profile-*.json")
    stored = json.loads(entry.read_text(encoding="utf-8"))
    # Same file name (a checksum collision, or a stale entry): the stored text decides.
    entry.write_text(json.dumps({**stored, "source": "name: other\n", "data": {"name": "other"}}))
    assert read_builtin_mapping(path)["name"] == "edge"
    entry.write_text("{cut short")
    assert read_builtin_mapping(path)["name"] == "edge"


def test_yaml_only_data_is_parsed_every_time(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("name: keys\ntable: {1: 2}\n", encoding="utf-8")  # an int key: JSON makes it "1"
    assert read_builtin_mapping(path)["table"] == {1: 2}
    assert not list(cache.glob("profile-*.json"))


def test_a_cache_folder_that_cannot_be_written_only_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ARCHLINT_CACHE_DIR", str(blocker / "cache"))
    with resources.as_file(resources.files("archlint.hardware") / "h100.yaml") as path:
        assert read_builtin_mapping(path)["name"] == "h100"


def test_bad_files_are_one_line_errors(tmp_path: Path, cache: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid YAML"):
        read_builtin_mapping(bad)
    bad.write_bytes(b"name: \xff\n")
    with pytest.raises(ProfileError, match="UTF-8"):
        read_mapping(bad)
    with pytest.raises(ProfileError, match="cannot read"):
        read_mapping(tmp_path / "absent.yaml")


def test_a_second_run_on_a_builtin_target_never_imports_a_yaml_parser(tmp_path: Path) -> None:
    model = Path("examples/mobilenet_tiny.onnx").resolve()
    argv = ["analyze", str(model), "--format", "json", "--target", "cpu,t4", "--output-file", "/dev/null"]
    code = f"import sys; from archlint.cli import main; main({argv!r}); print('yaml' in sys.modules)"
    env = {**os.environ, "ARCHLINT_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env
        )
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]
