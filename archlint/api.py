"""The library entry points: load a model with shapes resolved, analyze it for targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlint.graph import Model
from archlint.model_cost import ModelCost, ProgressCallback, compute_costs
from archlint.profiles import HardwareProfile
from archlint.roofline import Prediction, predict

if TYPE_CHECKING:
    from archlint.loaders import ModelRequest


@dataclass(frozen=True)
class Analysis:
    """A model's costs and, per target, the roofline prediction: what rules and reports read."""

    cost: ModelCost
    predictions: tuple[Prediction, ...]
    # Target-independent results rules compute once per model and reuse for every target (AL401's
    # scan of weight values, say); keyed by rule code and options.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def model(self) -> Model:
        return self.cost.model


def load_model(
    path: str | Path,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    request: ModelRequest | None = None,
) -> Model:
    """Read a model (an ONNX file, or what a loader builds from ``request``), bind its input
    shapes and resolve every shape it can."""
    from archlint import onnx_loader, shapes
    from archlint.loaders import ModelRequest, load_proto

    proto = load_proto(str(path), request or ModelRequest(str(path), inputs or {}))
    shapes.bind_inputs(proto, inputs or {}, dims or {})
    inferred = shapes.infer(proto)
    model = onnx_loader.to_model(inferred, path)
    if model.graph.has_unresolved_shapes():  # checked on our graph, where it is cheap
        model = onnx_loader.to_model(shapes.fold_and_infer(inferred), path)
    return model


def analyze(
    path: str | Path,
    targets: Sequence[HardwareProfile] = (),
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    request: ModelRequest | None = None,
) -> Analysis:
    cost = compute_costs(load_model(path, inputs, dims, request), progress)
    return Analysis(cost, tuple(predict(cost, profile) for profile in targets))
