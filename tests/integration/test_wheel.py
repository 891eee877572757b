"""rules/ and hardware/ work from a built wheel installed in a fresh virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.integration.test_light_models import LIGHT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = dist.glob("archlint-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)

    def run(*args: str) -> str:
        # Run from an empty folder so that nothing of the source tree can be imported.
        result = subprocess.run(
            [str(python), *args], capture_output=True, text=True, cwd=tmp_path, check=True
        )
        return result.stdout

    located = run("-c", "import hardware, rules, archlint; print(hardware.__file__, rules.__file__)")
    assert str(env_dir) in located and str(ROOT) not in located
    listing = run("-m", "archlint", "hardware")
    assert "a100" in listing and "cortex-a53" in listing
    document = json.loads(
        run(
            "-m",
            "archlint",
            "analyze",
            str(LIGHT / "light_resnet50.onnx"),
            "--target",
            "gpu",
            "--format",
            "json",
        )
    )
    assert document["target"] == "a100"
    assert document["totals"]["params"] > 25e6
    # The HTML report inlines its script and style sheet from package data.
    page = run("-m", "archlint", "analyze", str(LIGHT / "light_resnet50.onnx"), "--format", "html")
    assert "function" in page and "</style>" in page
