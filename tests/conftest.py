from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import onnx
import pytest

from archlint.analysis.model_cost import ModelCost
from archlint.api import analyze
from tests.builders import save


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Cached files go to a folder of the test session's, never the user's cache (subprocesses
    inherit it); tests about the cache itself set their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARCHLINT_CACHE_DIR", str(tmp_path_factory.mktemp("archlint-cache")))
        yield


@pytest.fixture
def cost_of(tmp_path: Path) -> Callable[..., ModelCost]:
    """Save a proto to a temporary file and return its ModelCost."""

    def run(proto: onnx.ModelProto, **kwargs: object) -> ModelCost:
        path = save(proto, tmp_path / "model.onnx")
        return analyze(path, **kwargs).cost  # type: ignore[arg-type]

    return run
