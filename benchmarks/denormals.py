"""How much slower do subnormal weights make a conv net on this CPU, and does `archlint fix` undo it?

Builds, in code, a stack of 3x3 convolutions (64 channels, 56x56, ReLU between them) in five
versions: normal weights; 90% of the weights subnormal; 90% tiny but normal (scaled by 1e-20);
all of them tiny, so that activations shrink layer by layer until they are subnormal; and normal
weights followed by BatchNormalization whose gamma is 1e-37 on 90% of the channels (normal as
stored, subnormal once an engine folds it into the conv, as onnxruntime does by default).
For each it runs `archlint fix MODEL -o FIXED` as a child process and times both files with
onnxruntime on one thread (SessionOptions intra_op_num_threads=1, inter_op_num_threads=1,
default graph optimizations, median of --repeats runs after warm-up), and the original once
more with onnxruntime's own flush-to-zero switch (session.set_denormal_as_zero=1).

Timings run in child processes: flush-to-zero is a per-thread CPU flag (MXCSR) that a session
with that option sets and leaves set, so it gets a process of its own. Models compared with each
other (before and after the fix; the shares of the sweep) share one process and take turns run
by run, so that load from other processes on the machine hits them alike.

A second table times one conv with a growing share of subnormal weights: those ratios are the
`measured_slowdown` points AL401 uses for its estimate. Last, AL401 runs on the subnormal model
for the `cpu` and `gpu` targets: it must fire on the first and stay silent on the second.

    python benchmarks/denormals.py [--repeats 20] [--layers 8] [--channels 64] [--size 56]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # what opset 17 needs; onnxruntime refuses IR versions newer than it knows
SUBNORMAL_SHARE = 0.9  # "mostly subnormal"
SWEEP_SHARES = (0.0, 0.001, 0.01, 0.1, 1.0)

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Net:
    layers: int
    channels: int
    size: int


def he_weights(rng: np.random.Generator, net: Net) -> Array:
    fan_in = net.channels * 9
    shape = (net.channels, net.channels, 3, 3)
    return (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32)


def subnormal(w: Array, mask: Array) -> Array:
    """Masked weights rescaled below float32's smallest normal (1.1755e-38), signs kept."""
    out = w.copy()
    out[mask] = (w[mask] / np.abs(w).max() * 1.0e-38).astype(np.float32)
    return out


def tiny(w: Array, mask: Array) -> Array:
    """Masked weights scaled by 1e-20: still normal floats, but their products are subnormal."""
    out = w.copy()
    out[mask] = w[mask] * np.float32(1e-20)
    return out


def conv_stack(net: Net, weights: Callable[[int], Array], batchnorm: Array | None = None) -> onnx.ModelProto:
    nodes, inits, x = [], [], "x"
    for i in range(net.layers):
        inits.append(numpy_helper.from_array(weights(i), f"w{i}"))
        nodes.append(helper.make_node("Conv", [x, f"w{i}"], [f"conv{i}"], pads=[1] * 4, name=f"conv{i}"))
        x = f"conv{i}"
        if batchnorm is not None:
            gamma, beta, mean, var = batchnorm
            for param, values in zip(("gamma", "beta", "mean", "var"), (gamma, beta, mean, var), strict=True):
                inits.append(numpy_helper.from_array(values.astype(np.float32), f"{param}{i}"))
            bn_inputs = [x, f"gamma{i}", f"beta{i}", f"mean{i}", f"var{i}"]
            nodes.append(helper.make_node("BatchNormalization", bn_inputs, [f"bn{i}"], name=f"bn{i}"))
            x = f"bn{i}"
        nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
        x = f"relu{i}"
    shape = [1, net.channels, net.size, net.size]
    graph = helper.make_graph(
        nodes,
        "denormals",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def models(net: Net, seed: int = 0) -> dict[str, onnx.ModelProto]:
    rng = np.random.default_rng(seed)
    base = [he_weights(rng, net) for _ in range(net.layers)]
    masks = [rng.random(w.shape) < SUBNORMAL_SHARE for w in base]
    # BatchNorm whose gamma trained to ~0 on most channels: 1e-37 is a normal float32, but
    # w * 1e-37 is subnormal for every |w| below ~0.12, i.e. nearly all He-initialised weights.
    channels = net.channels
    gamma = np.where(rng.random(channels) < SUBNORMAL_SHARE, 1e-37, 1.0)
    bn = np.stack([gamma, np.full(channels, 0.1), np.zeros(channels), np.ones(channels)])
    return {
        "normal": conv_stack(net, lambda i: base[i]),
        "subnormal": conv_stack(net, lambda i: subnormal(base[i], masks[i])),
        "tiny-1e-20": conv_stack(net, lambda i: tiny(base[i], masks[i])),
        "all-tiny-1e-20": conv_stack(net, lambda i: tiny(base[i], np.ones(base[i].shape, bool))),
        "bn-gamma-1e-37": conv_stack(net, lambda i: base[i], batchnorm=bn),
    }


def weight_shares(model: onnx.ModelProto) -> tuple[float, float]:
    """Share of conv weights that are subnormal, and share that are tiny (0 < |w| <= 1e-15) normals."""
    values = np.concatenate(
        [numpy_helper.to_array(t).ravel() for t in model.graph.initializer if t.name.startswith("w")]
    )
    magnitude = np.abs(values.astype(np.float64))
    smallest = float(np.finfo(np.float32).smallest_normal)
    sub = np.count_nonzero((magnitude > 0) & (magnitude < smallest))
    small = np.count_nonzero((magnitude >= smallest) & (magnitude <= 1e-15))
    return sub / values.size, small / values.size


# ---- timing, in a child process per measurement ----


def measure_here(paths: list[str], repeats: int, ftz: bool) -> list[float]:
    """Median latency of each model; the models take turns, so machine noise hits all alike."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    if ftz:
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    sessions = [onnxruntime.InferenceSession(p, options, providers=["CPUExecutionProvider"]) for p in paths]
    feed = sessions[0].get_inputs()[0]
    x = {feed.name: np.random.default_rng(1).standard_normal(feed.shape).astype(np.float32)}
    for session in sessions:  # warm-up: allocations, prepacked weights, caches
        for _ in range(3):
            session.run(None, x)
    times: list[list[float]] = [[] for _ in paths]
    for _ in range(repeats):
        for session, runs in zip(sessions, times, strict=True):
            start = time.perf_counter()
            session.run(None, x)
            runs.append(time.perf_counter() - start)
    return [statistics.median(runs) for runs in times]


def measure(paths: list[Path], repeats: int, ftz: bool = False) -> list[float]:
    command = [sys.executable, __file__, "--repeats", str(repeats), "--measure", *map(str, paths)]
    command += ["--ftz"] if ftz else []
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return [float(s) for s in json.loads(result.stdout)["median_s"]]


def archlint_fix(model: Path, out: Path) -> list[str]:
    command = [sys.executable, "-m", "archlint", "fix", str(model), "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"archlint fix failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip().splitlines()


# ---- the three tables ----


def before_after(folder: Path, net: Net, repeats: int) -> None:
    print(f"\n== {net.layers} x Conv 3x3 {net.channels}->{net.channels}, {net.size}x{net.size}, ReLU; "
          f"median of {repeats} single-thread runs ==")  # fmt: skip
    header = (
        f"{'weights':<16}{'subnormal':>10}{'tiny':>8}{'before ms':>11}{'after fix ms':>14}"
        f"{'before/after':>14}{'before, ORT FTZ ms':>20}"
    )
    print(header)
    print("-" * len(header))
    for name, proto in models(net).items():
        path = folder / f"{name}.onnx"
        onnx.save(proto, str(path))
        fixed = path.with_name(path.stem + "_fixed.onnx")
        log = archlint_fix(path, fixed)
        before, after = measure([path, fixed], repeats)
        [with_ftz] = measure([path], repeats, ftz=True)
        sub, small = weight_shares(proto)
        print(
            f"{name:<16}{100 * sub:>9.1f}%{100 * small:>7.1f}%{1e3 * before:>11.1f}{1e3 * after:>14.1f}"
            f"{before / after:>13.1f}x{1e3 * with_ftz:>20.1f}"
        )
        for line in log:  # only the fixes that changed something
            if ": nothing" not in line and "not run" not in line and not line.startswith(("verif", "wrote")):
                print(f"{'':<16}  archlint fix: {line}")


def sweep(folder: Path, net: Net, repeats: int) -> None:
    """One conv, a growing share of subnormal weights: AL401's measured_slowdown points."""
    print(f"\n== one Conv 3x3 {net.channels}->{net.channels}, {net.size}x{net.size}: time vs share of "
          f"subnormal weights (median of {repeats}) ==")  # fmt: skip
    rng = np.random.default_rng(2)
    one = Net(1, net.channels, net.size)
    w = he_weights(rng, one)
    order = rng.permutation(w.size)
    paths = []
    for share in SWEEP_SHARES:
        mask = np.zeros(w.size, bool)
        mask[order[: round(share * w.size)]] = True
        paths.append(folder / f"sweep_{share:g}.onnx")
        weights = subnormal(w, mask.reshape(w.shape))
        onnx.save(conv_stack(one, lambda _, fixed=weights: fixed), str(paths[-1]))
    medians = measure(paths, repeats)
    print(f"{'subnormal share':>16}{'ms':>10}{'slowdown':>10}")
    for share, seconds in zip(SWEEP_SHARES, medians, strict=True):
        print(f"{100 * share:>15.1f}%{1e3 * seconds:>10.2f}{seconds / medians[0]:>9.1f}x")


def rule_check(folder: Path, net: Net) -> None:
    from archlint.api import analyze
    from archlint.lint.checker import CheckOptions, check
    from archlint.lint.registry import registered_rules
    from archlint.lint.selection import Selection
    from archlint.targets.registry import resolve

    path = folder / "al401.onnx"
    onnx.save(models(net)["subnormal"], str(path))
    analysis = analyze(path, [resolve("cpu"), resolve("gpu")])
    found = check(analysis, registered_rules(), CheckOptions(Selection(select=("AL401",))))
    print("\n== AL401 on the subnormal model ==")
    for target in ("cpu", "gpu"):
        profile = resolve(target)
        mine = [d for d in found if d.target == profile.name]
        print(f"{target} ({profile.name}, flush_to_zero: {profile.flush_to_zero}): {len(mine)} findings")
        if mine:
            print(f"  e.g. [{mine[0].severity.value}] {mine[0].message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per measurement (default 20)")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)  # child mode: time models
    parser.add_argument("--ftz", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps({"median_s": measure_here(args.measure, args.repeats, args.ftz)}))
        return
    import onnxruntime

    cpu = _cpu_name()
    print(f"onnxruntime {onnxruntime.__version__}, CPU: {cpu}, Python {platform.python_version()}")
    net = Net(args.layers, args.channels, args.size)
    with tempfile.TemporaryDirectory(prefix="archlint-denormals-") as tmp:
        folder = Path(tmp)
        before_after(folder, net, args.repeats)
        sweep(folder, net, args.repeats)
        rule_check(folder, net)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
