"""How long does ``archlint check models.py::factory`` take, first run and cached run?

The first run pays for importing torch and exporting the model with the dynamo exporter (seconds);
a second run with the source unchanged should read the cached ONNX proto and skip both. Each run
is a fresh process, as a user or pre-commit starts it, on the hand-written zoo models in
tests/zoo/, with a cache folder of its own so that earlier runs do not count.

    python benchmarks/torch_export.py [--models resnet50,mobilenet_v2,efficientnet_b0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = {
    "resnet50": "tests/zoo/resnet.py::resnet50",
    "mobilenet_v2": "tests/zoo/mobilenet_v2.py::mobilenet_v2",
    "efficientnet_b0": "tests/zoo/efficientnet.py::efficientnet_b0",
}


def run_once(reference: str, cache: Path) -> float:
    command = [sys.executable, "-m", "archlint", "check", reference, "--input", "x=1x3x224x224"]
    env = {**os.environ, "ARCHLINT_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1 means findings, which is not a failure here
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def measure(reference: str, repeats: int) -> tuple[float, float]:
    """Median first-run and cached-run seconds, each first run with an empty cache."""
    first, cached = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            first.append(run_once(reference, Path(folder)))
            cached.append(run_once(reference, Path(folder)))
    return statistics.median(first), statistics.median(cached)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50", help=f"comma-joined, of {', '.join(ZOO)}")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':<16} {'first run':>10} {'cached':>10}")
    for name in args.models.split(","):
        first, cached = measure(ZOO[name], args.repeats)
        print(f"{name:<16} {first:>9.2f}s {cached:>9.2f}s")


if __name__ == "__main__":
    main()
