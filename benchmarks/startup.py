"""How long does a whole ``archlint`` process take on a tiny model, and which imports cost most?

On a ~100 KB model the analysis itself is a few milliseconds; what a user waits for is the
interpreter, the imports (onnx, numpy, pydantic, rich) and the output. Each command below is run
as a fresh process, round-robin so that machine noise spreads evenly over them, and the median
is reported. Two reference commands put the numbers in context: a bare interpreter and a bare
``import onnx``, which archlint cannot avoid for an analysis.

Target: ``archlint analyze`` on the small model in <= 1.0 s. With onnx-tool installed in the
benchmark's environment, its README's load, ``shape_infer`` and ``profile`` of the same model is
timed in the same rounds. What each tool spends beyond ``import onnx`` is the median over rounds
of its time minus that round's ``import onnx`` (paired, so drift on a shared machine cancels).

    python benchmarks/startup.py [--repeats 7] [--model examples/mobilenet_tiny.onnx] [--target cpu]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import _models

TARGET_S = 1.0
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def archlint_executable() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m archlint``."""
    script = Path(sys.executable).parent / "archlint"
    return [str(script)] if script.exists() else [sys.executable, "-m", "archlint"]


# onnx-tool's README for one model: load, infer shapes, profile (argv: the model). Symbolic
# dimensions are bound to 1 from the model's declared inputs, as archlint binds them by default.
ONNX_TOOL_SCRIPT = """
import contextlib, io, sys
import numpy as np, onnx, onnx_tool
graph = onnx.load(sys.argv[1]).graph
stored = {i.name for i in graph.initializer}
inputs = {
    i.name: np.ones([d.dim_value or 1 for d in i.type.tensor_type.shape.dim],
                    onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type))
    for i in graph.input if i.name not in stored
}
with contextlib.redirect_stdout(io.StringIO()):
    model = onnx_tool.Model(sys.argv[1])
    model.graph.shape_infer(inputs)
    model.graph.profile()
"""


def commands(model: Path, profile: Path | str) -> dict[str, list[str]]:
    archlint = archlint_executable()
    table = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import onnx'": [sys.executable, "-c", "import onnx"],
        "archlint --version": [*archlint, "--version"],
        "archlint analyze (json)": [
            *archlint,
            "analyze",
            str(model),
            "--format",
            "json",
            "--target",
            str(profile),
        ],
    }
    if importlib.util.find_spec("onnx_tool") is not None:
        table["onnx-tool (profile)"] = [sys.executable, "-c", ONNX_TOOL_SCRIPT, str(model)]
    return table


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def time_commands(table: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label in table}
    for command in table.values():
        run_once(command)  # warm-up: page cache and .pyc files
    for _ in range(repeats):
        for label, command in table.items():
            times[label].append(run_once(command))
    return times


def print_times(times: dict[str, list[float]]) -> None:
    header = f"{'command':<28}{'median s':>10}{'min s':>8}{'max s':>8}"
    print(header)
    print("-" * len(header))
    for label, values in times.items():
        print(f"{label:<28}{statistics.median(values):>10.3f}{min(values):>8.3f}{max(values):>8.3f}")
    print("-" * len(header))
    base = times["python -c 'import onnx'"]
    for label in ("archlint analyze (json)", "onnx-tool (profile)"):
        if label in times:
            beyond = statistics.median(t - b for t, b in zip(times[label], base, strict=True))
            print(f"{label}: {beyond:.3f} s beyond import onnx (median of paired differences)")


@dataclass
class Import:
    module: str
    self_us: int
    cumulative_us: int
    depth: int
    imported_by: str = ""
    children: list[Import] = field(default_factory=list)


def parse_importtime(stderr: str) -> list[Import]:
    """Entries of ``-X importtime``, each with the module that imported it.

    The log is post-order (a module is printed after everything it imported) and nesting is
    two spaces of indent per level, so an entry adopts the pending entries one level deeper.
    """
    entries: list[Import] = []
    pending: dict[int, list[Import]] = defaultdict(list)
    for match in IMPORT_LINE.finditer(stderr):
        own, cumulative, indent, module = match.groups()
        entry = Import(module, int(own), int(cumulative), len(indent) // 2)
        for child in pending.pop(entry.depth + 1, []):
            child.imported_by = module
            entry.children.append(child)
        pending[entry.depth].append(entry)
        entries.append(entry)
    return entries


def print_imports(entries: list[Import], top: int = 10) -> None:
    total_ms = sum(e.cumulative_us for e in entries if e.depth == 0) / 1000
    print(
        f"\n-X importtime of `archlint analyze` (total {total_ms:.0f} ms of imports; "
        "importtime itself inflates these)"
    )
    print(f"top {top} by cumulative time (a module's time includes what it imports):")
    print(f"{'cumulative ms':>14}{'self ms':>9}  {'module':<36}imported by")
    for e in sorted(entries, key=lambda e: e.cumulative_us, reverse=True)[:top]:
        parent = e.imported_by or "(top level)"
        print(f"{e.cumulative_us / 1000:>14.1f}{e.self_us / 1000:>9.1f}  {e.module:<36}{parent}")
    by_package: dict[str, int] = defaultdict(int)
    for e in entries:
        by_package[e.module.split(".")[0]] += e.self_us
    print(f"\nself time summed per top-level package (no double counting), top {top}:")
    for package, us in sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"{us / 1000:>14.1f} ms  {package}")


def importtime(command: list[str]) -> list[Import]:
    # -X importtime needs the interpreter itself, so the module form replaces the console script.
    args = command[command.index("analyze") :]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "archlint", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return parse_importtime(done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--model", type=Path, help="an ONNX file (default: the small benchmark model)")
    parser.add_argument("--target", help="archlint's --target (default: a profile written for the run)")
    args = parser.parse_args()
    model = args.model or _models.ensure(_models.SMALL_MODEL)
    table = commands(model, args.target or _models.write_profile())
    print(f"archlint: {' '.join(archlint_executable())}")
    print(
        f"model: {model.name} ({model.stat().st_size / 1024:.0f} KiB); "
        f"median of {args.repeats} fresh processes after 1 warm-up\n"
    )
    times = time_commands(table, args.repeats)
    print_times(times)
    analyze_s = statistics.median(times["archlint analyze (json)"])
    print(
        f"archlint analyze: {analyze_s:.3f} s (target <= {TARGET_S:.1f} s: "
        f"{'met' if analyze_s <= TARGET_S else 'MISSED'})"
    )
    print_imports(importtime(table["archlint analyze (json)"]))


if __name__ == "__main__":
    main()
