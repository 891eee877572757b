"""archlint check over every classic model onnx ships x every built-in hardware profile.

One `archlint check` process per model with all targets at once (as a user would run it), timed
end to end, plus one process for all models together. It must not crash; the table shows each
model's time and its findings per severity.

    python benchmarks/check_all.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def run_check(models: list[Path], targets: str) -> tuple[float, int, dict[str, object]]:
    command = [
        sys.executable,
        "-m",
        "archlint",
        "check",
        *map(str, models),
        "--target",
        targets,
        "--format",
        "json",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    return elapsed, result.returncode, json.loads(result.stdout)


def main() -> None:
    from archlint.targets.registry import registered_profiles

    targets = ",".join(registered_profiles())
    models = sorted(LIGHT.glob("*.onnx"))
    print(f"{len(models)} models x {len(registered_profiles())} targets\n")
    print(
        f"{'model':24s} {'time s':>7s} {'exit':>4s} {'errors':>6s} {'warnings':>8s} {'info':>5s}  rules fired"
    )
    total_findings = 0
    for model in models:
        elapsed, code, document = run_check([model], targets)
        diagnostics = document["diagnostics"]
        assert isinstance(diagnostics, list)
        severities = Counter(d["severity"] for d in diagnostics)
        codes = " ".join(sorted({d["code"] for d in diagnostics}))
        total_findings += len(diagnostics)
        print(
            f"{model.stem:24s} {elapsed:7.2f} {code:4d} {severities['error']:6d} {severities['warning']:8d} "
            f"{severities['info']:5d}  {codes}"
        )
    elapsed, code, _ = run_check(models, targets)
    print(
        f"\nall {len(models)} models in one process: {elapsed:.2f} s (exit {code}), {total_findings} findings"
    )


if __name__ == "__main__":
    main()
