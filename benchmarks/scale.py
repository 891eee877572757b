"""Does archlint stay small on a model whose weights could not fit its memory budget?

A 1.3 B-parameter decoder (hidden 2048, 24 layers, 4x FFN, 32000-token vocabulary) is saved with
external data: a ~90 KB .onnx plus a ~5 GB data file created sparse, so building it takes a second
and no disk. ``archlint analyze`` runs on it as a separate process, the way users run it, and
that process's wall time and peak RSS are measured through os.wait4, which reports the rusage of
exactly the child it reaps (RUSAGE_CHILDREN would be the max over every child ever waited for).

Targets: peak RSS < 1 GiB, and archlint's parameter count equal to the stored float elements.

    python benchmarks/scale.py [--repeats 3] [--seq 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _models

RSS_TARGET_MIB = 1024


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    max_rss_mib: float
    stdout: str


def run_child(command: list[str]) -> ChildRun:
    """Run ``command`` to completion; raise with its stderr if it fails."""
    # Output goes to files, not pipes: we reap the child with wait4 rather than communicate(),
    # and a full pipe would then block it.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        pid = os.posix_spawn(
            command[0],
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise RuntimeError(f"{' '.join(command)} exited {code}:\n{err.read()}")
        return ChildRun(wall, usage.ru_maxrss / 1024, out.read())  # ru_maxrss is KiB on Linux


def analyze_command(model: Path, profile: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "archlint",
        "analyze",
        str(model),
        "--format",
        "json",
        "--target",
        str(profile),
        *extra,
    ]


def describe_files(model: Path) -> None:
    data = model.with_name(model.name + ".data")
    on_disk = data.stat().st_blocks * 512
    print(f"model:     {model}  ({model.stat().st_size / 1024:.0f} KiB)")
    print(
        f"data file: {data.name}  ({data.stat().st_size / 2**30:.2f} GiB apparent, "
        f"{on_disk / 2**20:.1f} MiB on disk: sparse)"
    )


def print_runs(runs: list[ChildRun], baseline: ChildRun) -> None:
    header = f"{'run':<18}{'wall s':>9}{'peak RSS MiB':>15}"
    print(header)
    print("-" * len(header))
    for i, run in enumerate(runs, 1):
        print(f"{'analyze #' + str(i):<18}{run.wall_s:>9.3f}{run.max_rss_mib:>15.1f}")
    # The same command on a ~100 KB model: interpreter, imports and output, i.e. what the
    # process costs whatever the model, so the rest is what the 1.3 B model adds.
    print(f"{'small_cnn (same)':<18}{baseline.wall_s:>9.3f}{baseline.max_rss_mib:>15.1f}")
    print("-" * len(header))


def check_totals(totals: dict[str, Any], built: int, tensors: int) -> bool:
    params = int(totals["params"])
    same = params == built
    print(f"params (archlint JSON totals): {params:,}")
    print(
        f"params (stored floats, built): {built:,} in {tensors} initializers -> "
        f"{'match' if same else f'MISMATCH by {params - built:+,}'}"
    )
    print(
        f"flops {totals['flops']:.3e}, weight bytes {totals['weight_bytes'] / 2**30:.2f} GiB, "
        f"peak memory {totals['peak_memory_bytes'] / 2**30:.2f} GiB, "
        f"predicted latency {totals['predicted_latency_s']:.3f} s"
    )
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="analyze runs (default 3)")
    parser.add_argument("--seq", type=int, default=2048, help="value bound to the symbolic sequence length")
    args = parser.parse_args()

    model = _models.ensure_external_decoder(_models.DecoderConfig())
    profile = _models.write_profile()
    describe_files(model)
    built, tensors = _models.stored_float_params(model)

    runs = [run_child(analyze_command(model, profile, f"--dim=seq={args.seq}")) for _ in range(args.repeats)]
    baseline = run_child(analyze_command(_models.ensure(_models.SMALL_MODEL), profile))
    print()
    print_runs(runs, baseline)
    wall = statistics.median([r.wall_s for r in runs])
    rss = max(r.max_rss_mib for r in runs)
    print(
        f"median wall {wall:.3f} s; peak RSS {rss:.1f} MiB "
        f"(target < {RSS_TARGET_MIB} MiB: {'met' if rss < RSS_TARGET_MIB else 'MISSED'})\n"
    )

    document = json.loads(runs[0].stdout)
    print(f"nodes costed {len(document['nodes'])}, unknown ops {len(document['unknown_ops'])}")
    if not check_totals(document["totals"], built, tensors):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
