"""Whole-process work of archlint and of onnx-tool, counted in CPU instructions (valgrind).

Wall time on a shared machine moves by tens of milliseconds from one run to the next, more than
the difference between the two tools beyond ``import onnx``; the number of instructions a
process executes does not. This counts them with callgrind for:

* ``import onnx`` alone, ending with ``os._exit`` (no interpreter teardown), and ending normally
  (the teardown onnx-tool's script pays, and the ``archlint`` command skips);
* ``archlint analyze M --format json --target cpu`` and onnx-tool's README script on the same
  model and binding (benchmarks/peer.py's commands);
* archlint's stages on their own: importing the modules ``analyze`` uses, then building the
  plugin manager and resolving ``--target cpu``, then the first onnx operator-schema lookup
  (which builds onnx's schema registry).

Each child runs under valgrind, about 60 times slower than natively: a model takes a few
minutes, two children at a time. Bytecode is compiled first, as ``pip install`` leaves it, and
every child runs with PYTHONHASHSEED=0: with random string hashes, the stages' counts move by
about 10 M instructions from run to run.

    python benchmarks/instructions.py [--model bert-torchscript]
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from peer import CHILD_ENV, archlint_command, corpus_benches, peer_command, zoo_benches

ROOT = Path(__file__).resolve().parent.parent

# The modules ``archlint analyze`` imports, the plugin manager and target, the schema registry.
STAGES = """
import os, sys
import onnx
import archlint.api, archlint.cli, archlint.commands.analyze, archlint.commands.progress
import archlint.analysis.throughput, archlint.model.batch_axis, archlint.model.loaders
import archlint.model.resolution, archlint.model.shapes, archlint.model.validate
import archlint.report.analysis_json, archlint.targets.registry
stage = sys.argv[1]
if stage != "imports":
    from archlint.plugins.manager import plugin_manager

    plugin_manager()
    archlint.targets.registry.resolve("cpu")
if stage == "registry":
    onnx.defs.get_schema("Add", 13)
os._exit(0)
"""


def instructions(command: list[str]) -> int:
    """Instructions ``command`` executes, children included, by callgrind's count."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out", *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**CHILD_ENV, "PYTHONHASHSEED": "0"},  # string hashes decide dict probing work
            check=False,
        )
    match = re.search(r"refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{' '.join(command[:4])}...: exit {done.returncode}\n{done.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert-torchscript", help="a corpus or zoo model's name")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count")
        return 0
    bench = next((b for b in corpus_benches() + zoo_benches() if b.name == args.model), None)
    if bench is None:
        raise SystemExit(f"no model named {args.model!r} in the corpus or the zoo")
    for package in ("archlint", "rules", "hardware"):
        compileall.compile_dir(ROOT / package, quiet=1)
    python = sys.executable
    commands = {
        "import onnx, os._exit": [python, "-c", "import onnx, os; os._exit(0)"],
        "import onnx, interpreter teardown": [python, "-c", "import onnx"],
        "archlint: imports": [python, "-c", STAGES, "imports"],
        "archlint: + plugin manager, --target cpu": [python, "-c", STAGES, "target"],
        "archlint: + onnx schema registry": [python, "-c", STAGES, "registry"],
        f"archlint analyze {bench.name}": archlint_command(bench),
        f"onnx-tool {bench.name}": peer_command(bench),
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(commands, pool.map(instructions, commands.values()), strict=True))
    base = counts["import onnx, os._exit"]
    print("| process | instructions (G) | beyond `import onnx` (M) |\n|---|---|---|")
    for label, count in counts.items():
        print(f"| {label} | {count / 1e9:.3f} | {(count - base) / 1e6:+.0f} |")
    archlint = counts[f"archlint analyze {bench.name}"]
    peer = counts[f"onnx-tool {bench.name}"]
    print(f"\nwhole process, archlint / onnx-tool: {archlint / peer:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
