"""Weight values, read one tensor at a time and only when a rule or a fix asks.

Analysis never reads weights; the numerics rules (subnormal weights) and ``archlint fix`` do.
External data is read for the requested tensor alone, from inside the model's folder (the
loader has already refused locations outside it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from archlint.model.graph import Graph, Model


def weight_array(model: Model, name: str, graph: Graph | None = None) -> np.ndarray[Any, Any] | None:
    """The value of a stored weight (initializer or Constant), or None if it is not stored."""
    from onnx import numpy_helper

    proto = (graph or model.graph).stored.get(name)
    if proto is None:
        return None
    return numpy_helper.to_array(proto, base_dir=str(Path(model.path).parent))


def float_weights(model: Model) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """(name, values) of every stored floating-point weight of the main graph."""
    for name in model.graph.stored:
        tensor = model.graph.tensor(name)
        if tensor is not None and tensor.dtype.is_float and (tensor.numel or 0) > 1:
            values = weight_array(model, name)
            if values is not None:
                yield name, values
