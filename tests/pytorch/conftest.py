"""Shared by the PyTorch tests: one cache folder per module, so each tiny model is exported once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import require_torch

require_torch()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("archlint-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARCHLINT_CACHE_DIR", str(folder))
        yield folder
