"""Does archlint stay small on a model whose weights could not fit its memory budget?

A 1.3 B-parameter decoder (hidden 2048, 24 layers, 4x FFN, 32000-token vocabulary) is saved with
external data: a ~90 KB .onnx plus a ~5 GB data file created sparse, so building it takes a second
and no disk. ``archlint analyze`` runs on it as a separate process, the way users run it, and
that process's wall time and peak RSS are measured through os.wait4, which reports the rusage of
exactly the child it reaps (RUSAGE_CHILDREN would be the max over every child ever waited for).

With ``--llama7b`` the model is LLaMA-2-7B-shaped instead (hidden 4096, 32 layers, 32 heads,
SwiGLU FFN of 11008, 32000-token vocabulary, RMSNorm, untied head; Touvron et al. 2023,
"Llama 2", Table 1 and the released config.json), every weight float16: 6.74 B parameters,
13.5 GB of external data, sparse on disk. Both ``analyze`` and ``check --target h100,cpu`` are
timed there.

Targets: peak RSS < 1 GiB, and archlint's parameter count equal to the stored float elements;
``check`` on the 7B model also < 10 s.

    python benchmarks/scale.py [--repeats 3] [--seq 2048] [--llama7b]
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
import numpy as np
import onnx
from onnx import TensorProto

from archlint.model.builder import ExternalData, GraphBuilder

RSS_TARGET_MIB = 1024
CHECK_TARGET_S = 10.0


#: A LLaMA-2-7B-shaped decoder's sizes, in the configuration the GPT-style decoder uses too.
LLAMA_7B = _models.DecoderConfig(layers=32, width=4096, heads=32, ffn=11008, vocab=32000)


def _fp16(b: GraphBuilder, shape: tuple[int, ...]) -> str:
    assert b.external is not None
    name = b.fresh("w")
    b.initializers.append(b.external.tensor(name, shape, TensorProto.FLOAT16))
    return name


def _rms_norm(b: GraphBuilder, x: str, width: int) -> str:
    mean = b.op("ReduceMean", [b.op("Mul", [x, x])], axes=[-1])
    eps = b.const(np.array(1e-5, np.float16))
    return b.op("Mul", [b.op("Div", [x, b.op("Sqrt", [b.op("Add", [mean, eps])])]), _fp16(b, (width,))])


def _heads(b: GraphBuilder, x: str, config: _models.DecoderConfig, perm: list[int]) -> str:
    split = b.ints([0, 0, config.heads, config.width // config.heads])
    return b.op("Transpose", [b.op("Reshape", [x, split])], perm=perm)


def _llama_attention(b: GraphBuilder, x: str, config: _models.DecoderConfig) -> str:
    width = config.width
    q, k, v = (b.op("MatMul", [x, _fp16(b, (width, width))]) for _ in range(3))
    scores = b.op("MatMul", [_heads(b, q, config, [0, 2, 1, 3]), _heads(b, k, config, [0, 2, 3, 1])])
    scale = b.const(np.array(1 / np.sqrt(width // config.heads), np.float16))
    probs = b.op("Softmax", [b.op("Mul", [scores, scale])], axis=-1)
    mixed = b.op(
        "Transpose", [b.op("MatMul", [probs, _heads(b, v, config, [0, 2, 1, 3])])], perm=[0, 2, 1, 3]
    )
    merged = b.op("Reshape", [mixed, b.ints([0, 0, width])])
    return b.op("MatMul", [merged, _fp16(b, (width, width))])


def llama(config: _models.DecoderConfig, external: ExternalData) -> onnx.ModelProto:
    """A LLaMA-shaped decoder in float16: RMSNorm, attention, SwiGLU FFN, untied LM head."""
    b = GraphBuilder("llama", external=external)
    width = config.width
    x = b.op("Gather", [_fp16(b, (config.vocab, width)), b.input("ids", ("batch", "seq"), TensorProto.INT64)])
    for _ in range(config.layers):
        x = b.op("Add", [x, _llama_attention(b, _rms_norm(b, x, width), config)])
        h = _rms_norm(b, x, width)
        gate = b.op("MatMul", [h, _fp16(b, (width, config.ffn))])
        up = b.op("MatMul", [h, _fp16(b, (width, config.ffn))])
        silu = b.op("Mul", [gate, b.op("Sigmoid", [gate])])
        x = b.op("Add", [x, b.op("MatMul", [b.op("Mul", [silu, up]), _fp16(b, (config.ffn, width))])])
    logits = b.op("MatMul", [_rms_norm(b, x, width), _fp16(b, (width, config.vocab))])
    b.output(logits, TensorProto.FLOAT16)
    return b.build()


def ensure_llama(name: str = "llama2_7b_fp16") -> Path:
    """The 7B model in its own folder, built if missing (seconds; the data file is sparse)."""
    folder = _models.MODELS_DIR / name
    path = folder / f"{name}.onnx"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    external = ExternalData(f"{name}.onnx.data")
    model = llama(LLAMA_7B, external)
    external.create_file(folder)  # before the .onnx appears: its existence means "complete"
    partial = path.with_suffix(".partial")
    onnx.save(model, str(partial))
    partial.replace(path)
    return path


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


def check_command(model: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "archlint", "check", str(model), "--target", "h100,cpu", *extra]


def main_llama(repeats: int, seq: int) -> int:
    model = ensure_llama()
    describe_files(model)
    built, tensors = _models.stored_float_params(model)
    dims = (f"--dim=seq={seq}", "--dim=batch=1")
    runs = {
        "analyze": [
            run_child(analyze_command(model, _models.write_profile(), *dims)) for _ in range(repeats)
        ],
        "check --target h100,cpu": [
            _run_any_exit(check_command(model, "--format", "json", *dims)) for _ in range(repeats)
        ],
    }
    print(f"\n{'command':<26}{'median wall s':>15}{'peak RSS MiB':>15}")
    met = True
    for label, done in runs.items():
        wall, rss = statistics.median(r.wall_s for r in done), max(r.max_rss_mib for r in done)
        print(f"{label:<26}{wall:>15.2f}{rss:>15.0f}")
        met &= rss < RSS_TARGET_MIB and (label == "analyze" or wall < CHECK_TARGET_S)
    print(f"targets (< {RSS_TARGET_MIB} MiB; check < {CHECK_TARGET_S:.0f} s): {'met' if met else 'MISSED'}")
    findings = json.loads(runs["check --target h100,cpu"][0].stdout)["diagnostics"]
    print(f"check findings: {len(findings)} ({', '.join(sorted({d['code'] for d in findings}))})")
    return 0 if check_totals(json.loads(runs["analyze"][0].stdout)["totals"], built, tensors) else 1


def _run_any_exit(command: list[str]) -> ChildRun:
    """``check`` exits 1 when it has findings: that is a result, not a failure."""
    try:
        return run_child(command)
    except RuntimeError as exc:
        if " exited 1:" not in str(exc):
            raise
    return run_child([*command, "--fail-level", "error"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="analyze runs (default 3)")
    parser.add_argument("--seq", type=int, default=2048, help="value bound to the symbolic sequence length")
    parser.add_argument("--llama7b", action="store_true", help="the LLaMA-2-7B-shaped fp16 model")
    args = parser.parse_args()
    if args.llama7b:
        raise SystemExit(main_llama(args.repeats, args.seq))

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
