"""Output that goes to a pipe or a file (a CI log, ``| less``) is not cut to 80 columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.builders import conv_model, save


def test_piped_tables_keep_long_operator_names_and_words_whole(tmp_path: Path) -> None:
    proto = conv_model(8, 8, 32, 3)
    proto.graph.node[0].name = "p2o.Conv.backbone.stage3.block2.depthwise.0"
    path = save(proto, tmp_path / "model.onnx")
    command = [sys.executable, "-m", "archlint", "analyze", str(path), "--target", "gpu"]
    env = {"COLUMNS": "", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    assert "p2o.Conv.backbone.stage3.block2.depthwise.0" in out
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) > 80
