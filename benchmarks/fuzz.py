"""Mutation fuzzing of archlint's command line: every case must end as a result or a clean error.

Seeds are small models built in code (a CNN, an MLP, an If, a Loop, contrib attention, QOperator
quantization) and the ONNX files the ``onnx`` wheel ships for its backend tests. Each case is a
seed with one mutation, either of its bytes (flips, truncation, insertion) or of its structure
(a dimension made 0, negative or huge; an attribute of the wrong type; a name that is not UTF-8;
raw data of the wrong length; an undefined dtype; a node reading its own output; an unknown
domain or opset; a Loop trip count of 0, -1 or NaN; an If condition of several elements or with
a branch missing; a Scan axis out of range; a Shape with no input; a cycle; an empty or a
2,000-node graph; an input or weight of another dtype, float8, int4, bfloat16 and string
included; external data at a bad location, offset or length). The case runs in this
process, as ``archlint check MODEL --target gpu,cpu --format json``, under a time limit, and is
classified:

* ok: exit 0 or 1 (a result);
* error: exit 2 with one line on stderr (the input was refused cleanly);
* internal: exit 3, any other exit code, more than one line of error, or an exception;
* hang: over the time limit.

The process runs under an address-space limit (``--memory``), so a case that allocates without
bound ends as a MemoryError, an internal error, rather than ending the run.

    python benchmarks/fuzz.py [--cases 2000] [--seed 0] [--timeout 10] [--show 5]

Prints the counts per class and mutation, the first cases of each internal error and hang
(mutation, seed model, message), and the peak resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from archlint.cli import main as archlint_main
from archlint.model.builder import model, value, weight

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
Mutation = Callable[[onnx.ModelProto, random.Random], None]


# --- seeds ----------------------------------------------------------------------------------------


def _cnn() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4, group=1),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
    ]
    return model(
        nodes,
        [value("x", [1, 8, 16, 16])],
        [value("y", None)],
        [weight("w", (16, 8, 3, 3)), weight("fc", (10, 16))],
    )


def _mlp() -> onnx.ModelProto:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["a"])]
    nodes.append(helper.make_node("MatMul", ["a", "w2"], ["y"]))
    return model(
        nodes,
        [value("x", ["batch", 32])],
        [value("y", None)],
        [weight("w1", (32, 64)), weight("w2", (64, 8))],
    )


def _branch(name: str) -> onnx.GraphProto:
    return helper.make_graph(
        [helper.make_node("Relu", ["x"], [f"{name}_y"])], name, [], [value(f"{name}_y", None)]
    )


def _control_flow() -> onnx.ModelProto:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c_in"], ["c_out"]),
            helper.make_node("MatMul", ["h_in", "w"], ["h_out"]),
        ],
        "body",
        [value("i", [], TensorProto.INT64), value("c_in", [], TensorProto.BOOL), value("h_in", [1, 16])],
        [value("c_out", [], TensorProto.BOOL), value("h_out", [1, 16])],
    )
    nodes = [
        helper.make_node("Loop", ["trips", "", "x"], ["h"], body=body),
        helper.make_node("If", ["cond"], ["y"], then_branch=_branch("t"), else_branch=_branch("e")),
    ]
    inits = [weight("w", (16, 16)), numpy_helper.from_array(np.array(4, np.int64), "trips")]
    inits.append(numpy_helper.from_array(np.array(True), "cond"))
    return model(nodes, [value("x", [1, 16])], [value("h", None), value("y", None)], inits)


def _attention() -> onnx.ModelProto:
    node = helper.make_node("Attention", ["x", "qkv", "b"], ["y"], domain="com.microsoft", num_heads=2)
    inits = [weight("qkv", (16, 48)), weight("b", (48,))]
    return model(
        [node], [value("x", [1, 8, 16])], [value("y", None)], inits, extra_opsets={"com.microsoft": 1}
    )


def _quantized() -> onnx.ModelProto:
    scale, zero = (
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.uint8), "z"),
    )
    w = numpy_helper.from_array(np.zeros((8, 8, 3, 3), np.uint8), "w")
    node = helper.make_node("QLinearConv", ["x", "s", "z", "w", "s", "z", "s", "z"], ["y"], pads=[1] * 4)
    return model([node], [value("x", [1, 8, 8, 8], TensorProto.UINT8)], [value("y", None)], [w, scale, zero])


BUILT_SEEDS: dict[str, Callable[[], onnx.ModelProto]] = {
    "cnn": _cnn,
    "mlp": _mlp,
    "control-flow": _control_flow,
    "attention": _attention,
    "quantized": _quantized,
}


def seeds() -> dict[str, bytes]:
    """Every seed, serialized: the built ones and the onnx wheel's test models."""
    found = {name: build().SerializeToString() for name, build in BUILT_SEEDS.items()}
    for path in sorted(ONNX_DATA.rglob("*.onnx")):
        found[str(path.relative_to(ONNX_DATA))] = path.read_bytes()
    return found


# --- mutations ------------------------------------------------------------------------------------


def _flip_bytes(proto: onnx.ModelProto, rng: random.Random) -> bytes:
    data = bytearray(proto.SerializeToString())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(proto: onnx.ModelProto, rng: random.Random) -> bytes:
    data = proto.SerializeToString()
    return data[: rng.randrange(len(data))]


def _nodes(proto: onnx.ModelProto) -> list[onnx.NodeProto]:
    found = list(proto.graph.node)
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                found += list(attr.g.node)
    return found


def _infos(proto: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    return [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]


def _bad_dim(proto: onnx.ModelProto, rng: random.Random) -> None:
    dims = [d for info in _infos(proto) for d in info.type.tensor_type.shape.dim]
    if dims:
        rng.choice(dims).dim_value = rng.choice([0, -1, -7, 2**40, 2**62])


def _bad_initializer(proto: onnx.ModelProto, rng: random.Random) -> None:
    if not proto.graph.initializer:
        return
    tensor = rng.choice(proto.graph.initializer)
    choice = rng.randrange(4)
    if choice == 0:
        tensor.raw_data = tensor.raw_data[: len(tensor.raw_data) // 2] or b"\x00"
    elif choice == 1:
        tensor.data_type = TensorProto.UNDEFINED
    elif choice == 2:
        tensor.data_type = rng.choice(
            [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.INT4, TensorProto.STRING]
        )
    else:
        tensor.dims[:] = [rng.choice([0, 3, 2**40]) for _ in tensor.dims] or [2**40]


def _bad_attribute(proto: onnx.ModelProto, rng: random.Random) -> None:
    nodes = [n for n in _nodes(proto) if n.attribute]
    if not nodes:
        return
    attr = rng.choice(rng.choice(nodes).attribute)
    kind = rng.randrange(4)
    if kind == 0 and attr.type == onnx.AttributeProto.INT:
        attr.i = rng.choice([0, -1, 2**40, -(2**40)])
    elif kind == 1:
        attr.type, attr.s = onnx.AttributeProto.STRING, b"\xff\xfe"
    elif kind == 2:
        attr.type = onnx.AttributeProto.INTS
        del attr.ints[:]
        attr.ints.extend([2, 3])
    else:
        attr.type = onnx.AttributeProto.FLOAT
        attr.f = float("nan")


def _bad_name(proto: onnx.ModelProto, rng: random.Random) -> bytes:
    node = rng.choice(_nodes(proto)) if _nodes(proto) else None
    if node is not None:
        node.op_type = "\u0000x"
    data = proto.SerializeToString()
    return data.replace(b"\x00x", b"\xff\xfe", 1)  # op_type not valid UTF-8


def _self_loop(proto: onnx.ModelProto, rng: random.Random) -> None:
    nodes = [n for n in proto.graph.node if n.input and n.output]
    if nodes:
        node = rng.choice(nodes)
        node.input[0] = node.output[0]


def _duplicate_output(proto: onnx.ModelProto, rng: random.Random) -> None:
    if len(proto.graph.node) > 1:
        a, b = rng.sample(list(proto.graph.node), 2)
        if a.output and b.output:
            b.output[0] = a.output[0]


def _unknown_domain(proto: onnx.ModelProto, rng: random.Random) -> None:
    if rng.random() < 0.5 and proto.graph.node:
        rng.choice(proto.graph.node).domain = "com.example.unknown"
    else:
        proto.opset_import[0].version = rng.choice([0, 1, 99, -3])


def _control_flow_values(proto: onnx.ModelProto, rng: random.Random) -> None:
    for init in proto.graph.initializer:
        if init.name == "trips":
            init.CopyFrom(numpy_helper.from_array(np.array(rng.choice([0, -1, 2**40]), np.int64), "trips"))
        elif init.name == "cond":
            init.CopyFrom(numpy_helper.from_array(np.array(rng.choice([[True, False], []]), bool), "cond"))
    for node in proto.graph.node:
        if node.op_type == "If" and rng.random() < 0.5:
            del node.attribute[rng.randrange(len(node.attribute))]
        if node.op_type in ("Scan", "Loop") and rng.random() < 0.5:
            node.attribute.append(helper.make_attribute("scan_input_axes", [rng.choice([5, -9])]))


def _empty_inputs(proto: onnx.ModelProto, rng: random.Random) -> None:
    nodes = _nodes(proto)
    if nodes:
        node = rng.choice(nodes)
        del node.input[:]


def _cycle(proto: onnx.ModelProto, rng: random.Random) -> None:
    """Two nodes that read each other's outputs: a graph that is no DAG."""
    nodes = [n for n in proto.graph.node if n.input and n.output]
    if len(nodes) > 1:
        first, second = sorted(rng.sample(range(len(nodes)), 2))
        nodes[first].input[0] = nodes[second].output[0]


def _empty_or_huge(proto: onnx.ModelProto, rng: random.Random) -> None:
    if rng.random() < 0.5:
        del proto.graph.node[:]
        return
    relu = helper.make_node("Relu", [proto.graph.input[0].name], ["r0"]) if proto.graph.input else None
    if relu is not None:  # a 2,000-node chain hanging off the first input
        chain = [relu] + [helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"]) for i in range(2_000)]
        proto.graph.node.extend(chain)


def _input_dtype(proto: onnx.ModelProto, rng: random.Random) -> None:
    infos = [*proto.graph.input, *proto.graph.initializer]
    if not infos:
        return
    dtype = rng.choice(
        [
            TensorProto.BFLOAT16,
            TensorProto.FLOAT8E4M3FN,
            TensorProto.FLOAT8E5M2,
            TensorProto.INT4,
            TensorProto.UINT4,
            TensorProto.STRING,
            TensorProto.COMPLEX64,
            TensorProto.BOOL,
        ]
    )
    target = rng.choice(infos)
    if isinstance(target, onnx.TensorProto):
        target.data_type = dtype
    else:
        target.type.tensor_type.elem_type = dtype


def _external_data(proto: onnx.ModelProto, rng: random.Random) -> None:
    """A weight moved to external data at a location, offset or length that is no good."""
    if not proto.graph.initializer:
        return
    tensor = rng.choice(proto.graph.initializer)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    location = rng.choice(["missing.bin", "../outside.bin", "/etc/passwd", "a\x00b", "case.onnx", ""])
    tensor.external_data.add(key="location", value=location)
    tensor.external_data.add(key="offset", value=rng.choice(["0", "-5", str(2**62), "x"]))
    tensor.external_data.add(key="length", value=rng.choice(["16", "-1", str(2**62)]))


MUTATIONS: dict[str, Callable[[onnx.ModelProto, random.Random], bytes | None]] = {
    "cycle": _cycle,
    "empty or huge graph": _empty_or_huge,
    "input or weight dtype": _input_dtype,
    "external data": _external_data,
    "flip bytes": _flip_bytes,
    "truncate": _truncate,
    "bad dim": _bad_dim,
    "bad initializer": _bad_initializer,
    "bad attribute": _bad_attribute,
    "name not UTF-8": _bad_name,
    "node reads its own output": _self_loop,
    "duplicate output": _duplicate_output,
    "unknown domain or opset": _unknown_domain,
    "control-flow values": _control_flow_values,
    "node without inputs": _empty_inputs,
}


# --- running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    seed: str
    mutation: str
    outcome: str  # ok, error, internal, hang
    message: str
    peak_growth_mib: float  # how far this case raised the process's peak resident memory


class _TimeoutError(Exception):
    """The case ran past its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise _TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(data: bytes, folder: Path, timeout: float) -> tuple[str, str]:
    """Run archlint on ``data``; the outcome and the first line of what it said."""
    path = folder / "case.onnx"
    path.write_bytes(data)
    err, out = io.StringIO(), io.StringIO()
    try:
        with _time_limit(timeout), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = archlint_main(["check", str(path), "--target", "gpu,cpu", "--format", "json"])
    except _TimeoutError:
        return "hang", f"over {timeout:g} s"
    except BaseException as exc:  # the point is to see everything that escapes
        return "internal", f"uncaught {type(exc).__name__}: {exc}"[:300]
    lines = err.getvalue().strip().splitlines()
    message = lines[0][:300] if lines else ""
    if code in (0, 1):
        return "ok", message
    if code == 2 and len(lines) == 1:
        return "error", message
    return "internal", f"exit {code}: {' | '.join(lines)[:300]}"


def fuzz(cases: int, seed: int, timeout: float) -> list[Case]:
    rng = random.Random(seed)
    pool = seeds()
    names = sorted(pool)
    results: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="archlint-fuzz-") as folder:
        for _ in range(cases):
            seed_name, mutation = rng.choice(names), rng.choice(sorted(MUTATIONS))
            proto = onnx.ModelProto()
            proto.ParseFromString(pool[seed_name])
            data = MUTATIONS[mutation](proto, rng)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            outcome, message = run_case(
                data if data is not None else proto.SerializeToString(), Path(folder), timeout
            )
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
            results.append(Case(seed_name, mutation, outcome, message, grew))
    return results


def report(results: list[Case], show: int) -> str:
    lines = [
        f"{len(results)} cases: "
        + ", ".join(f"{k} {n}" for k, n in Counter(r.outcome for r in results).most_common())
    ]
    by_mutation: dict[str, Counter[str]] = {}
    for r in results:
        by_mutation.setdefault(r.mutation, Counter())[r.outcome] += 1
    lines += [
        f"  {m:<28} " + ", ".join(f"{k} {n}" for k, n in c.most_common())
        for m, c in sorted(by_mutation.items())
    ]
    bad = [r for r in results if r.outcome in ("internal", "hang")]
    kinds = Counter(
        r.message.split(":")[0] + ":" + r.message.split(":")[1][:40] if ":" in r.message else r.message
        for r in bad
    )
    if bad:
        lines.append(f"\n{len(bad)} internal errors and hangs, {len(kinds)} kinds; the first {show}:")
        seen: set[str] = set()
        for r in bad:
            key = r.message[:80]
            if key not in seen and len(seen) < show:
                seen.add(key)
                lines.append(f"  [{r.outcome}] {r.mutation} on {r.seed}: {r.message}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hungriest = max(results, key=lambda r: r.peak_growth_mib)
    lines.append(
        f"\npeak RSS {peak:.0f} MiB; the case that raised it most (+{hungriest.peak_growth_mib:.0f} MiB): "
        f"{hungriest.mutation} on {hungriest.seed} -> {hungriest.outcome} {hungriest.message[:120]}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--show", type=int, default=10, help="distinct internal errors to print")
    parser.add_argument("--memory", type=float, default=4.0, help="GiB of address space the process may use")
    args = parser.parse_args(argv)
    # A case that allocates without bound fails with MemoryError (an internal error) instead of
    # taking the machine down.
    limit = int(args.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    start = time.perf_counter()
    results = fuzz(args.cases, args.seed, args.timeout)
    print(report(results, args.show))
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
