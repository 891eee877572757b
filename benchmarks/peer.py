"""archlint against onnx-tool, the peer people compare it with, on the same models in one run.

For every model of the real-world corpus (``benchmarks/corpus.py``) and of the zoo (``_zoo.py``),
at the binding the manifest gives (static input shapes, and values for scalar inputs):

* whole process: ``archlint analyze M --format json --target cpu`` against a ``python -c`` script
  that does what onnx-tool's README does (``onnx_tool.Model(M)``, ``graph.shape_infer(inputs)``,
  ``graph.profile()``), each a fresh process, run in pairs (archlint, onnx-tool, archlint, ...)
  so that drift on a shared machine hits both alike; per model the medians of each side and of
  the per-pair ratio, and peak RSS (``/usr/bin/time``'s maximum resident set size);
* in process: ``archlint.api.analyze`` against the same onnx-tool calls, in this process,
  interleaved after a warm-up, medians;
* which models each reads: a model counts as read when its warm-up run exits 0. Totals and
  ratios are over the models both read.

onnx-tool is not a dependency of archlint: install it into the benchmark's environment
(``pip install onnx-tool``); without it the onnx-tool columns are skipped with a message.

    python benchmarks/peer.py [--repeats 3] [--only bert-dynamo,resnet18] [--no-zoo]
                              [--no-inprocess] [--markdown docs/speed.md]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import redirect_stdout, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _models import MODELS_DIR

CORPUS_DIR = MODELS_DIR / "corpus"
CHILD_TIMEOUT_S = 300
# Children write their .pyc files in the warm-up, as the first run after ``pip install`` finds
# them already compiled; an inherited PYTHONDONTWRITEBYTECODE would have every timed archlint
# run compile whichever of its modules changed since bytecode was last written, while the
# peer's modules, compiled at install, never pay that.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# What onnx-tool's README shows for a model with dynamic inputs: load, infer shapes from dummy
# inputs, profile (MACs, memory, params per node). argv: the model and its inputs as JSON.
ONNX_TOOL_SCRIPT = """
import json, sys
import numpy as np
import onnx_tool
spec = json.loads(sys.argv[2])
inputs = {n: np.full(s["shape"], s.get("value", 1), dtype=s["dtype"]) for n, s in spec.items()}
model = onnx_tool.Model(sys.argv[1])
model.graph.shape_infer(inputs or None)
model.graph.profile()
"""


@dataclass(frozen=True)
class Bench:
    """A model and its binding: input name -> shape, dtype and (for scalar inputs) value."""

    name: str
    source: str  # corpus or zoo
    path: Path
    inputs: Mapping[str, Mapping[str, Any]]

    def archlint_flags(self) -> list[str]:
        flags = []
        for name, spec in self.inputs.items():
            shape = "x".join(str(d) for d in spec["shape"]) or "scalar"
            flags.append(f"--input={name}={shape}")
            if "value" in spec:
                flags.append(f"--value={name}={spec['value']}")
        return flags


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    max_rss_mib: float
    code: int
    error: str


@dataclass
class Row:
    bench: Bench
    archlint: list[ChildRun] = field(default_factory=list)
    peer: list[ChildRun] = field(default_factory=list)
    archlint_in: list[float] = field(default_factory=list)
    peer_in: list[float] = field(default_factory=list)
    archlint_error: str = ""
    peer_error: str = ""

    @property
    def both(self) -> bool:
        return not self.archlint_error and not self.peer_error and bool(self.archlint and self.peer)

    def median(self, runs: Sequence[ChildRun]) -> float:
        return statistics.median(r.wall_s for r in runs)

    @property
    def pair_ratio(self) -> float:
        return statistics.median(a.wall_s / p.wall_s for a, p in zip(self.archlint, self.peer, strict=True))


def corpus_benches() -> list[Bench]:
    manifest = CORPUS_DIR / "manifest.json"
    if not manifest.exists():
        print(f"{manifest} missing: run python benchmarks/corpus.py first; corpus skipped")
        return []
    benches = []
    for entry in json.loads(manifest.read_text(encoding="utf-8"))["models"]:
        path = CORPUS_DIR / entry["path"]
        if not path.exists():
            continue
        inputs = {
            name: {"shape": list(shape), "dtype": entry.get("dtypes", {}).get(name, "float32")}
            | ({"value": entry["values"][name]} if name in entry.get("values", {}) else {})
            for name, shape in entry["inputs"].items()
        }
        benches.append(Bench(entry["name"], "corpus", path, inputs))
    return benches


def zoo_benches() -> list[Bench]:
    from _zoo import ZOO, ensure_zoo, runtime_inputs

    benches = []
    for spec in ZOO:
        path = ensure_zoo(spec)
        found = runtime_inputs(path)
        inputs = {name: {"shape": shape, "dtype": dtype} for name, (shape, dtype) in found.items()}
        benches.append(Bench(spec.name, "zoo", path, inputs))
    return benches


def archlint_command(bench: Bench) -> list[str]:
    script = Path(sys.executable).parent / "archlint"
    archlint = [str(script)] if script.exists() else [sys.executable, "-m", "archlint"]
    return [
        *archlint,
        "analyze",
        str(bench.path),
        "--format",
        "json",
        "--target",
        "cpu",
        *bench.archlint_flags(),
    ]


def peer_command(bench: Bench) -> list[str]:
    return [sys.executable, "-c", ONNX_TOOL_SCRIPT, str(bench.path), json.dumps(bench.inputs)]


def run_child(command: list[str]) -> ChildRun:
    """Run ``command`` once; wall time, its peak RSS, exit code, last stderr line.

    The child is started through ``/usr/bin/time``, a small process: Linux carries the peak RSS
    of the process that forks over exec, so a child forked from this benchmark (which holds
    models in memory) would report this process's size instead of its own."""
    with tempfile.NamedTemporaryFile("w+") as rss, tempfile.TemporaryFile("w+") as err:
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss.name, *command]
        start = time.perf_counter()
        pid = os.posix_spawn(
            timed[0],
            timed,
            CHILD_ENV,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
            setpgroup=0,  # a group of its own, so that a timeout ends the tool under time too
        )
        timer = threading.Timer(CHILD_TIMEOUT_S, _kill, (pid,))
        timer.start()
        _, status = os.waitpid(pid, 0)
        timer.cancel()
        wall = time.perf_counter() - start
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip() and "exited with" not in line]
        kib = rss.read().split()
    code = os.waitstatus_to_exitcode(status)
    max_rss = int(kib[-1]) / 1024 if kib and kib[-1].isdigit() else float("nan")
    return ChildRun(wall, max_rss, code, lines[-1][:160] if code and lines else "")


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def whole_process(row: Row, repeats: int, with_peer: bool) -> None:
    """One warm-up each (page cache, .pyc files; it also says whether the tool reads the model),
    then ``repeats`` pairs."""
    commands = {"archlint": archlint_command(row.bench), "peer": peer_command(row.bench)}
    if not with_peer:
        del commands["peer"]
    for side, command in commands.items():
        warm = run_child(command)
        if warm.code != 0:
            setattr(row, f"{side}_error", warm.error or f"exit {warm.code}")
    live = {side: c for side, c in commands.items() if not getattr(row, f"{side}_error")}
    for _ in range(repeats):
        for side, command in live.items():
            getattr(row, side).append(run_child(command))


def _archlint_call(bench: Bench) -> Callable[[], object]:
    from archlint.api import analyze
    from archlint.targets.registry import resolve

    profile = resolve("cpu")
    shapes = {n: tuple(s["shape"]) for n, s in bench.inputs.items()}
    values = {n: s["value"] for n, s in bench.inputs.items() if "value" in s}
    return lambda: analyze(bench.path, [profile], shapes, values=values or None)


def _peer_call(bench: Bench) -> Callable[[], object]:
    import onnx_tool

    inputs = {n: np.full(s["shape"], s.get("value", 1), dtype=s["dtype"]) for n, s in bench.inputs.items()}

    def run() -> object:
        with redirect_stdout(io.StringIO()):  # onnx-tool prints progress
            model = onnx_tool.Model(str(bench.path))
            model.graph.shape_infer(inputs or None)
            model.graph.profile()
        return model

    return run


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()  # the previous run's garbage is not billed to this one
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_process(row: Row, repeats: int) -> None:
    """Both tools in this process, interleaved, after one warm-up each (only if both read it)."""
    calls = [(row.archlint_in, _archlint_call(row.bench)), (row.peer_in, _peer_call(row.bench))]
    for _, call in calls:
        call()
    for _ in range(repeats):
        for times, call in calls:
            times.append(_timed(call))


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}"


def table(rows: Sequence[Row], with_peer: bool) -> str:
    head = "| model | set | archlint ms | onnx-tool ms | ratio | archlint MiB | onnx-tool MiB |"
    head += " in-process archlint ms | in-process onnx-tool ms | in-process ratio |"
    lines = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for row in rows:
        cells = [row.bench.name, row.bench.source]
        cells += [_ms(row.median(row.archlint)) if row.archlint else f"fails: {row.archlint_error}"]
        if not with_peer:
            cells += ["not run"]
        elif row.peer:
            cells += [_ms(row.median(row.peer))]
        else:
            cells += [f"fails: {row.peer_error}".replace("|", "/")]
        cells += [f"{row.pair_ratio:.2f}" if row.both else ""]
        cells += [
            f"{max(r.max_rss_mib for r in runs):.0f}" if runs else "" for runs in (row.archlint, row.peer)
        ]
        if row.archlint_in and row.peer_in:
            a, p = statistics.median(row.archlint_in), statistics.median(row.peer_in)
            cells += [_ms(a), _ms(p), f"{a / p:.2f}"]
        else:
            cells += ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def totals(rows: Sequence[Row]) -> str:
    both = [r for r in rows if r.both]
    archlint_read = sum(1 for r in rows if not r.archlint_error)
    peer_read = sum(1 for r in rows if r.peer and not r.peer_error)
    out = [
        f"- models: {len(rows)}; archlint reads {archlint_read}, onnx-tool reads {peer_read}, "
        f"both read {len(both)}"
    ]
    if both:
        a = sum(r.median(r.archlint) for r in both)
        p = sum(r.median(r.peer) for r in both)
        ratios = [r.pair_ratio for r in both]
        out.append(
            f"- whole process, models both read: archlint {a:.1f} s, onnx-tool {p:.1f} s in total, "
            f"ratio {a / p:.2f}; per model median {statistics.median(ratios):.2f}, "
            f"{min(ratios):.2f} to {max(ratios):.2f}"
        )
        rss = [max(x.max_rss_mib for x in r.archlint) / max(x.max_rss_mib for x in r.peer) for r in both]
        out.append(f"- peak RSS, archlint / onnx-tool: median {statistics.median(rss):.2f}")
    timed = [r for r in both if r.archlint_in and r.peer_in]
    if timed:
        a = sum(statistics.median(r.archlint_in) for r in timed)
        p = sum(statistics.median(r.peer_in) for r in timed)
        out.append(
            f"- in process ({len(timed)} models): archlint {a:.1f} s, onnx-tool {p:.1f} s, ratio {a / p:.2f}"
        )
    return "\n".join(out)


def environment() -> str:
    import onnx

    versions = [f"python {sys.version.split()[0]}", f"onnx {onnx.__version__}"]
    try:
        from importlib.metadata import version

        versions.append(f"onnx-tool {version('onnx-tool')}")
    except Exception:
        versions.append("onnx-tool absent")
    return f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs, " + ", ".join(versions)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed pairs per model (default 3)")
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--no-zoo", action="store_true", help="the corpus only")
    parser.add_argument("--no-inprocess", action="store_true", help="whole-process timings only")
    parser.add_argument("--markdown", type=Path, help="also write the table and totals to this file")
    args = parser.parse_args(argv)
    with_peer = importlib.util.find_spec("onnx_tool") is not None
    if not with_peer:
        print("onnx-tool is not installed (pip install onnx-tool): archlint alone is timed")
    benches = corpus_benches() + ([] if args.no_zoo else zoo_benches())
    if args.only:
        wanted = set(args.only.split(","))
        benches = [b for b in benches if b.name in wanted]
    rows = [Row(bench) for bench in benches]
    for row in rows:
        whole_process(row, args.repeats, with_peer)
        print(f"{row.bench.name}: whole process done", file=sys.stderr, flush=True)
    # In-process runs come after every whole-process one: they leave this process large, and
    # nothing measured in a child should depend on that.
    for row in rows:
        if row.both and not args.no_inprocess:
            in_process(row, args.repeats)
    text = f"{environment()}; medians of {args.repeats} pairs after one warm-up each\n\n"
    text += table(rows, with_peer) + "\n\n" + totals(rows) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
