"""The library entry points: load a model with shapes resolved, analyze it for targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlint.analysis.analysis import Analysis
from archlint.analysis.model_cost import ModelCost, ProgressCallback, compute_costs
from archlint.analysis.roofline import predict
from archlint.model.graph import Model
from archlint.targets.profile import HardwareProfile

if TYPE_CHECKING:
    import onnx

    from archlint.analysis.throughput import Batch, BatchCosts, Throughput
    from archlint.model.loader import ModelRequest


def load_model(
    path: str | Path,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    request: ModelRequest | None = None,
    values: Mapping[str, Any] | None = None,
) -> Model:
    """Read a model (an ONNX file, or what a loader builds from ``request``), bind its input
    shapes, symbols and values, and resolve every shape and control-flow decision it can."""
    return resolve_model(_load_proto(path, inputs, request), path, inputs, dims, values)


def _load_proto(
    path: str | Path, inputs: Mapping[str, tuple[int, ...]] | None, request: ModelRequest | None
) -> onnx.ModelProto:
    from archlint.model.loader import ModelRequest
    from archlint.model.loaders import load_proto

    return load_proto(str(path), request or ModelRequest(str(path), inputs or {}))


def resolve_model(
    proto: onnx.ModelProto,
    path: str | Path,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Model:
    """archlint's graph of an already loaded ``proto`` (left unchanged), resolved at the binding."""
    from archlint.model import onnx_loader, resolution, shapes, validate

    validate.validate(proto)
    work, weights = resolution.skeleton(proto)
    symbolic = shapes.symbolic_inputs(work)
    given = shapes.bind_inputs(work, inputs or {}, dims or {}, values)
    resolved = resolution.resolve(work, given)
    declared = onnx_loader.declared_tensors(resolved.proto.graph)
    resolution.check_consistency(resolved, declared)
    values, untaken, decided = resolved.values, resolved.untaken, resolved.decided_ifs
    return onnx_loader.to_model(resolved.proto, path, values, weights, untaken, symbolic, decided, declared)


def analyze(
    path: str | Path,
    targets: Sequence[HardwareProfile] = (),
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    request: ModelRequest | None = None,
    values: Mapping[str, Any] | None = None,
) -> Analysis:
    """Load the model at ``path`` (or what ``request`` builds) and analyze it for ``targets``."""
    return analyze_model(load_model(path, inputs, dims, request, values), targets, progress)


def analyze_model(
    model: Model, targets: Sequence[HardwareProfile] = (), progress: ProgressCallback | None = None
) -> Analysis:
    """Cost an already resolved model and predict it on every target (calibration, ``profile``
    and the benchmarks hold a model they loaded themselves)."""
    cost = compute_costs(model, progress)
    return Analysis(cost, tuple(predict(cost, profile) for profile in targets))


def analyze_throughput(
    path: str | Path,
    targets: Sequence[HardwareProfile] = (),
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    values: Mapping[str, Any] | None = None,
    batches: Sequence[Batch] = (),
) -> tuple[Analysis, tuple[Throughput, ...]]:
    """``analyze``, and per target the samples/s at ``batches`` and with the device full, from
    the model costed again at each batch (archlint/analysis/throughput.py)."""
    from archlint.analysis.throughput import throughput

    proto = _load_proto(path, inputs, None)
    analysis = analyze_model(resolve_model(proto, path, inputs, dims, values), targets, progress)
    costs = batch_costs(proto, path, analysis.cost, inputs, dims, values)
    return analysis, tuple(throughput(costs, target, batches) for target in targets)


def batch_costs(
    proto: onnx.ModelProto,
    path: str | Path,
    cost: ModelCost,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    dims: Mapping[str, int] | None = None,
    values: Mapping[str, Any] | None = None,
) -> BatchCosts:
    """``cost`` (``proto`` resolved at ``inputs``, ``dims``, ``values``) and the means to cost
    the same model at another batch: rebound, resolved and costed again from ``proto``."""
    from archlint.analysis.throughput import BatchCosts
    from archlint.model.batch_axis import batch_axis

    axis = batch_axis(proto, inputs or {}, dims or {}, values or {}, cost.model.graph)

    def cost_at(batch: int) -> ModelCost:
        at_inputs, at_dims = axis.binding(batch)
        return compute_costs(resolve_model(proto, path, at_inputs, at_dims, values))

    return BatchCosts(cost, axis.batch, cost_at, axis.reason)
