"""Do archlint's cost figures match the published ones on classic architectures?

For every model of the zoo (``_zoo.py``: 17 architectures built in code with random weights,
cached in benchmarks/.models/zoo/, ~1.9 GB on the first run) this prints archlint's
multiply-adds of convolutions and matrix products and its parameter count next to the published
figures, the part of the parameters that is BatchNorm running statistics (which papers do not
count), and onnxruntime's latency on one CPU thread (median of ``--repeats`` runs after a
warm-up): the ground truth a roofline prediction for this machine is to be compared with.

    python benchmarks/zoo_check.py [--only resnet50,vit_b_16] [--repeats 5]

Exits 1 if a model has an operator archlint cannot cost or a figure off by more than 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import _zoo
import numpy as np
import onnx

from archlint.api import analyze
from archlint.measure import runtime


@dataclass(frozen=True)
class Row:
    spec: _zoo.ZooModel
    macs: int
    params: int
    bn_stats: int
    unknown: int
    latency_ms: float

    @property
    def macs_error(self) -> float:
        return self.macs / self.spec.published_macs - 1

    @property
    def params_error(self) -> float:
        return self.params / self.spec.published_params - 1

    @property
    def ok(self) -> bool:
        within = abs(self.macs_error) <= _zoo.TOLERANCE and abs(self.params_error) <= _zoo.TOLERANCE
        return within and self.unknown == 0


def sample_inputs(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs: normal floats, and for integer ids indices valid for the table they gather."""
    rng = np.random.default_rng(seed)
    rows = {t.name: t.dims[0] for t in model.graph.initializer if t.dims}
    tables = {
        n.input[1]: rows[n.input[0]] for n in model.graph.node if n.op_type == "Gather" and n.input[0] in rows
    }
    feeds: dict[str, np.ndarray] = {}
    for value in model.graph.input:
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            feeds[value.name] = rng.integers(0, tables[value.name], shape, dtype=np.int64)
        else:
            feeds[value.name] = rng.standard_normal(shape, dtype=np.float32)
    return feeds


def ort_latency_ms(model: onnx.ModelProto, feeds: dict[str, np.ndarray], repeats: int) -> float:
    session = runtime.make_session(model, optimization="all", threads=1)
    outputs = runtime.run(session, feeds)  # warm-up, and a check that random weights stay finite
    if not all(np.isfinite(o).all() for o in outputs.values() if np.issubdtype(o.dtype, np.floating)):
        raise RuntimeError(f"{model.graph.name}: onnxruntime produced non-finite outputs")
    return 1e3 * statistics.median(runtime.time_runs(session, feeds, runs=repeats, warmup=0))


def measure(spec: _zoo.ZooModel, repeats: int) -> Row:
    path = _zoo.ensure_zoo(spec)
    model = onnx.load(str(path))
    cost = analyze(path, [], spec.inputs, spec.dims).cost
    return Row(
        spec,
        _zoo.matrix_macs(cost),
        cost.params,
        _zoo.batchnorm_stats(model),
        len(cost.unknown_ops),
        ort_latency_ms(model, sample_inputs(model), repeats),
    )


def print_table(rows: Sequence[Row]) -> None:
    header = (
        f"{'model':<19} {'input':<16} {'MACs G':>8} {'published':>9} {'diff':>7}  "
        f"{'params M':>9} {'published':>9} {'diff':>7} {'BN stats':>8}  {'ORT ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.spec.name:<19} {r.spec.input_desc:<16} {r.macs / 1e9:8.3f} "
            f"{r.spec.published_macs / 1e9:9.3f} {r.macs_error:+7.2%}  {r.params / 1e6:9.3f} "
            f"{r.spec.published_params / 1e6:9.3f} {r.params_error:+7.2%} {r.bn_stats / 1e6:8.3f}  "
            f"{r.latency_ms:8.1f}" + ("" if r.ok else "  <-- off")
        )
    print("\nMACs: Conv + Gemm + MatMul (+ LSTM) multiply-adds; params include BatchNorm running mean")
    print("and variance (BN stats column), which the published counts leave out. ORT: onnxruntime")
    version = runtime.onnxruntime_version()
    print(f"{version}, CPU execution provider, 1 thread, median. Sources: benchmarks/_zoo.py.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    names = set(args.only.split(",")) if args.only else None
    specs = [s for s in _zoo.ZOO if names is None or s.name in names]
    if names is not None and len(specs) != len(names):
        parser.error(f"unknown model in --only; known: {', '.join(s.name for s in _zoo.ZOO)}")
    rows = []
    for spec in specs:
        print(f"{spec.name} ...", file=sys.stderr, flush=True)
        rows.append(measure(spec, args.repeats))
    print_table(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
