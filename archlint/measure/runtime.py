"""onnxruntime sessions, inputs and timings: what ``fix``, ``profile`` and ``calibrate`` share.

onnxruntime is the optional extra ``archlint[runtime]``; nothing here imports it at module level,
so importing this module is free.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from archlint.errors import ArchlintError

Array = np.ndarray[Any, Any]
Optimization = Literal["disabled", "basic", "extended", "all"]
OPTIMIZATIONS: tuple[Optimization, ...] = ("disabled", "basic", "extended", "all")

SEED = 0
# onnxruntime reads models from bytes only below protobuf's 2 GiB limit.
_MAX_INLINE_BYTES = 2**31 - 2**20


def onnxruntime_version() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    return str(onnxruntime.__version__)


def require_onnxruntime(command: str) -> None:
    if onnxruntime_version() is None:
        raise ArchlintError(
            f"{command} measures with onnxruntime, which is not installed: pip install 'archlint[runtime]'"
        )


def random_inputs(proto: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    """Seeded inputs: standard normal floats, zeros for integers (safe as indices), False."""
    rng = np.random.default_rng(SEED)
    stored = {t.name for t in proto.graph.initializer}
    feeds: dict[str, Array] = {}
    for value in proto.graph.input:
        if value.name in stored:
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        shape = shapes[value.name]
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[value.name] = np.zeros(shape, dtype)
    return feeds


def make_session(
    proto: onnx.ModelProto,
    *,
    optimization: Optimization = "disabled",
    threads: int | None = None,
    profile_prefix: str | None = None,
    optimized_model_path: str | None = None,
) -> Any:
    """A CPU session; ``threads`` None lets onnxruntime pick (one per physical core).

    Operators run one after another (sequential execution, one inter-op thread), which is what
    a per-operator roofline sum models. With ``optimized_model_path`` onnxruntime writes the graph
    it will run there (weights in a ``.data`` file beside it), which is how a profile's fused and
    renamed kernels are traced back to the model's nodes.
    """
    import onnxruntime

    levels = onnxruntime.GraphOptimizationLevel
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = {
        "disabled": levels.ORT_DISABLE_ALL,
        "basic": levels.ORT_ENABLE_BASIC,
        "extended": levels.ORT_ENABLE_EXTENDED,
        "all": levels.ORT_ENABLE_ALL,
    }[optimization]
    options.log_severity_level = 3  # errors only: warnings about unused initializers are expected
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
        # Spinning threads burn the other cores between operators; a shared machine punishes it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0" if threads == 1 else "1")
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
        # A session that fails to load (an IR version to lower, below) logs from its destructor
        # that it has no profile to write; the exception already says what failed.
        options.log_severity_level = 4
    if optimized_model_path is not None:
        options.optimized_model_filepath = optimized_model_path
        # Weights go to a side file so that reading the graph back never loads them.
        external = "session.optimized_model_external_initializers_"
        options.add_session_config_entry(external + "file_name", f"{Path(optimized_model_path).name}.data")
        options.add_session_config_entry(external + "min_size_in_bytes", "0")
    try:
        return _load(proto, options)
    except Exception as exc:
        if "Unsupported model IR version" not in str(exc):
            raise
    # The writer's default IR version can be newer than the runtime knows (onnx 1.23 writes 14
    # for any opset); the opsets the model imports say which IR version it really needs.
    lowered = onnx.ModelProto()
    lowered.CopyFrom(proto)
    lowered.ir_version = onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    return _load(lowered, options)


def _load(proto: onnx.ModelProto, options: Any) -> Any:
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if proto.ByteSize() <= _MAX_INLINE_BYTES:
        return onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=providers)
    with tempfile.TemporaryDirectory(prefix="archlint-session-") as folder:
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)  # saving as external data rewrites the tensors it saves
        path = f"{folder}/model.onnx"
        onnx.save_model(copy, path, save_as_external_data=True, location="model.onnx.data")
        return onnxruntime.InferenceSession(path, options, providers=providers)


def run(session: Any, feeds: Mapping[str, Array]) -> dict[str, Array]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def time_runs(
    session: Any,
    feeds: Mapping[str, Array],
    *,
    runs: int,
    warmup: int = 1,
    min_seconds: float = 0.0,
    tick: Callable[[], None] | None = None,
) -> list[float]:
    """Wall-clock seconds of ``runs`` runs after ``warmup`` untimed ones (allocations, caches).

    With ``min_seconds`` the loop goes on past ``runs`` until that much time was measured, so
    microsecond-scale graphs get enough samples for a stable median.
    """
    names = [o.name for o in session.get_outputs()]
    feed = dict(feeds)
    for _ in range(warmup):
        session.run(names, feed)
    times: list[float] = []
    spent = 0.0
    while len(times) < runs or spent < min_seconds:
        start = time.perf_counter()
        session.run(names, feed)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
        if tick is not None:
            tick()
    return times
