from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from archlint.analysis.model_cost import ModelCost
from archlint.api import analyze
from tests.builders import save


@pytest.fixture
def cost_of(tmp_path: Path) -> Callable[..., ModelCost]:
    """Save a proto to a temporary file and return its ModelCost."""

    def run(proto: onnx.ModelProto, **kwargs: object) -> ModelCost:
        path = save(proto, tmp_path / "model.onnx")
        return analyze(path, **kwargs).cost  # type: ignore[arg-type]

    return run
