"""Run a model with onnxruntime's profiler on: wall-clock time per run and kernel time per node.

One CPU session, operators one after another (as the roofline sum assumes), ``warmup`` untimed
runs, then ``runs`` timed ones. The profile and the graph onnxruntime actually runs (after its
optimizations, which the profile's node names refer to) are written to a temporary folder, read,
and deleted. The model file is never modified: names given to unnamed nodes, and weights loaded
from external data, live in the in-memory copy only.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import onnx

from archlint.errors import ArchlintError
from archlint.measure import ort_profile, runtime
from archlint.measure.ort_mapping import EngineGraph, read_engine_graph
from archlint.measure.ort_profile import KernelTimes
from archlint.measure.runtime import Optimization
from archlint.model.graph import Model

_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")


@dataclass(frozen=True)
class RunSettings:
    threads: int = 1
    runs: int = 10
    warmup: int = 2
    optimization: Optimization = "all"  # what a deployment runs


@dataclass(frozen=True)
class Measurement:
    settings: RunSettings
    runtime_version: str
    wall_s: tuple[float, ...]  # session.run, per timed run
    kernels: KernelTimes
    engine: EngineGraph  # what onnxruntime ran, after its optimizations


def prepare_to_run(proto: onnx.ModelProto, reference: str, model: Model) -> None:
    """Ready the proto the analysis read (in memory; the file is never written) for onnxruntime:
    its external weights loaded, and every node named as archlint names it (``Conv_3`` for the
    unnamed fourth node), so that onnxruntime's names are ours."""
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    from archlint.model.onnx_loader import stored_tensors

    if any(uses_external_data(t) for t in stored_tensors(proto)):
        load_external_data_for_model(proto, str(Path(reference).parent))
    nodes = proto.graph.node
    if len(nodes) == len(model.graph.nodes):  # unless a loader built another graph or an If was inlined
        for proto_node, node in zip(nodes, model.graph.nodes, strict=True):
            proto_node.name = proto_node.name or node.name


def input_shapes(model: Model) -> dict[str, tuple[int, ...]]:
    """The run-time inputs' shapes as the analysis resolved them (all static by then)."""
    return {name: model.graph.tensors[name].static_shape or () for name in model.graph.inputs}


def measure(
    proto: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...]], settings: RunSettings
) -> Measurement:
    runtime.require_onnxruntime("archlint profile")
    version = runtime.onnxruntime_version() or "?"
    feeds = runtime.random_inputs(proto, shapes)
    with tempfile.TemporaryDirectory(prefix="archlint-profile-") as folder:
        engine_path = Path(folder) / "engine.onnx"
        try:
            session = runtime.make_session(
                proto,
                optimization=settings.optimization,
                threads=settings.threads,
                profile_prefix=str(Path(folder) / "profile"),
                optimized_model_path=str(engine_path),
            )
        except Exception as exc:  # onnxruntime's error types vary by build; its message says why
            raise ArchlintError(f"onnxruntime {version} cannot load the model: {_first_line(exc)}") from None
        try:
            wall = runtime.time_runs(session, feeds, runs=settings.runs, warmup=settings.warmup)
        except Exception as exc:
            raise ArchlintError(f"onnxruntime {version} cannot run the model: {_first_line(exc)}") from None
        finally:
            profile_path = Path(session.end_profiling())
        kernels = ort_profile.read(profile_path, settings.warmup)
        engine = read_engine_graph(engine_path)
    return Measurement(settings, version, tuple(wall), kernels, engine)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    # "[ONNXRuntimeError] : 10 : INVALID_GRAPH : Load model ... failed: ..." -> what failed.
    return _ORT_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
