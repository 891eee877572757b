"""Precision of archlint's findings, measured: apply each mechanical fix, time the model before and after.

For every model of the real-world corpus (``benchmarks/corpus.py``, at its manifest binding) and
of the zoo (``_zoo.py``), ``archlint check --format json`` is run against a hardware profile of
this machine (``archlint calibrate``'s, by default ``benchmarks/.models/host.yaml``, calibrated
first when missing), so that every predicted saving is a prediction for the CPU the models are
timed on. Each finding with a predicted saving whose rule has a mechanical fix
(``_precision_fixes.py``: fold a BatchNormalization or constant scale into the layer before,
fuse SiLU, round widths down to the channel block, equal 1x1 widths, fewer groups, a stack of
3x3 convs, flush subnormal weights) is applied at every location the finding lists, to a copy
of the model. The copy is run once with graph optimizations off: a fix that should keep the
outputs must keep them (archlint fix's tolerance), one that changes widths must keep the output
shapes; otherwise it is rejected and not timed.

Before and after are then timed with onnxruntime on the CPU: one intra-op thread, sequential
execution, all graph optimizations (what a deployment runs and what calibration measured), in
alternating pairs (before-after, after-before, ...) so that load from other processes falls on
both alike, after a warm-up, in three rounds that each build both sessions afresh (two sessions
of one model differ by up to 3 % here). Each sample is the mean of enough consecutive runs to
last about 5 ms of the calling thread's CPU time: with one intra-op thread onnxruntime computes
in that thread, so time the scheduler gives other processes on a shared machine is left out (it
made wall-clock samples of one model spread 5x here; CPU time spreads about 2x, from caches and
memory bandwidth the other processes share). The measured saving is the median of the paired
differences; its noise is the larger of the standard error of that median (1.25 x 1.4826 x MAD
/ sqrt(pairs)) and that of the rounds' medians. A finding holds when the measured saving is at
least half the predicted one.

    python benchmarks/precision.py [--target host.yaml] [--only NAME,...] [--no-zoo] [--no-corpus]
                                   [--budget SECONDS] [--json FILE] [--markdown docs/precision.md]
    python benchmarks/precision.py --from-json FILE --markdown docs/precision.md  # the page again

The exit status is 0: the tables are the result.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from _models import MODELS_DIR
from _precision_fixes import REWRITES, Finding, NotApplicableError, apply_fix, static_shapes

from archlint.fixes.verify import compare_outputs
from archlint.measure import runtime

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = MODELS_DIR / "corpus"
HOST_PROFILE = MODELS_DIR / "host.yaml"
THREADS = 1
HOLDS = 0.5  # a finding holds when at least this share of its predicted saving is measured
SAMPLE_S = 0.005  # each timed sample runs the model this long (consecutive runs, mean taken)
MIN_PAIRS, MAX_PAIRS = 10, 400  # per round
ROUNDS = 3  # fresh sessions of both models each round (see saving_and_noise)
WARMUP = 3

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Subject:
    """A model to check and time: its file, input binding, and how to make its inputs."""

    name: str
    source: str  # "corpus" or "zoo"
    path: Path
    inputs: dict[str, list[int]]
    values: dict[str, Any] = field(default_factory=dict)
    entry: dict[str, Any] | None = None  # the corpus manifest's entry


@dataclass
class Result:
    model: str
    code: str
    node: str | None
    locations: int
    severity: str
    predicted_s: float
    status: str  # measured, rejected, not applied, no mechanical fix, no predicted saving
    detail: str = ""
    before_s: float | None = None
    after_s: float | None = None
    measured_s: float | None = None
    noise_s: float | None = None
    pairs: int = 0

    @property
    def holds(self) -> bool:
        return self.measured_s is not None and self.measured_s >= HOLDS * self.predicted_s

    @property
    def resolved(self) -> bool:
        """Whether the verdict stands two standard errors clear of the threshold, either way."""
        if self.measured_s is None or self.noise_s is None:
            return False
        return abs(self.measured_s - HOLDS * self.predicted_s) >= 2 * self.noise_s


# --- models ---------------------------------------------------------------------------------------


def corpus_subjects(folder: Path = CORPUS_DIR) -> list[Subject]:
    manifest = folder / "manifest.json"
    if not manifest.exists():
        print(f"no corpus at {folder}: build it with python benchmarks/corpus.py", file=sys.stderr)
        return []
    entries = json.loads(manifest.read_text(encoding="utf-8"))["models"]
    return [
        Subject(e["name"], "corpus", folder / e["path"], e["inputs"], e.get("values", {}), e)
        for e in entries
        if e.get("path") and not e.get("error") and (folder / e["path"]).exists()
    ]


def zoo_subjects() -> list[Subject]:
    from _zoo import ZOO, ensure_zoo, runtime_inputs

    subjects = []
    for spec in ZOO:
        path = ensure_zoo(spec)
        inputs = {name: shape for name, (shape, _) in runtime_inputs(path).items()}
        subjects.append(Subject(spec.name, "zoo", path, inputs))
    return subjects


def feeds_for(subject: Subject, proto: onnx.ModelProto) -> dict[str, Array]:
    if subject.entry is not None:
        from corpus_check import random_feeds

        return random_feeds(subject.entry, subject.entry["inputs"])
    return runtime.random_inputs(proto, {k: tuple(v) for k, v in subject.inputs.items()})


# --- findings -------------------------------------------------------------------------------------


def check(subject: Subject, target: Path) -> tuple[list[Finding], float]:
    """archlint's findings on the model and its predicted latency, from the JSON report."""
    command = [sys.executable, "-m", "archlint", "check", str(subject.path), "--target", str(target)]
    command += ["--format", "json", "--fail-level", "error"]
    for name, shape in subject.inputs.items():
        if subject.entry is not None:
            command += ["--input", f"{name}={'x'.join(map(str, shape)) or 'scalar'}"]
    for name, value in subject.values.items():
        command += ["--value", f"{name}={value}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        )
    report = json.loads(done.stdout)
    latency = report["summary"][0]["latency_s"] if report["summary"] else 0.0
    return [Finding.from_json(d) for d in report["diagnostics"]], float(latency)


# --- timing ---------------------------------------------------------------------------------------


def session(proto: onnx.ModelProto) -> Any:
    return runtime.make_session(proto, optimization="all", threads=THREADS)


def _sample(sess: Any, names: list[str], feeds: Mapping[str, Array], runs: int) -> float:
    # CPU time of this thread: with one intra-op thread onnxruntime computes in the caller's
    # thread, so time the scheduler gives other processes on a shared machine is not counted.
    start = time.thread_time()
    for _ in range(runs):
        sess.run(names, feeds)
    return (time.thread_time() - start) / runs


def paired_times(
    before: Any, after: Any, feeds: Mapping[str, Array], budget_s: float
) -> tuple[list[float], list[float]]:
    """Seconds per run of each session, sampled in alternating order for at least ``budget_s``."""
    names_b = [o.name for o in before.get_outputs()]
    names_a = [o.name for o in after.get_outputs()]
    feed = dict(feeds)
    for _ in range(WARMUP):
        before.run(names_b, feed)
        after.run(names_a, feed)
    one = min(_sample(before, names_b, feed, 1) for _ in range(3))
    runs = max(1, math.ceil(SAMPLE_S / max(one, 1e-7)))
    times_b: list[float] = []
    times_a: list[float] = []
    start = time.perf_counter()
    while len(times_b) < MIN_PAIRS or (time.perf_counter() - start < budget_s and len(times_b) < MAX_PAIRS):
        if len(times_b) % 2 == 0:
            times_b.append(_sample(before, names_b, feed, runs))
            times_a.append(_sample(after, names_a, feed, runs))
        else:
            times_a.append(_sample(after, names_a, feed, runs))
            times_b.append(_sample(before, names_b, feed, runs))
    return times_b, times_a


def saving_and_noise(rounds: Sequence[tuple[Sequence[float], Sequence[float]]]) -> tuple[float, float]:
    """Median paired saving over all rounds, and its standard error.

    Within a round the error of the median comes from the MAD of the paired differences. Between
    rounds there is more: two sessions of the very same model differ by up to 3 % here (where
    onnxruntime placed their buffers), so each round builds both sessions afresh, and the error
    is the larger of the within-round one and the spread of the rounds' medians.
    """
    per_round = [[b - a for b, a in zip(tb, ta, strict=True)] for tb, ta in rounds]
    diffs = [d for r in per_round for d in r]
    middle = statistics.median(diffs)
    mad = statistics.median(abs(d - middle) for d in diffs)
    within = 1.2533 * 1.4826 * mad / math.sqrt(len(diffs))
    medians = [statistics.median(r) for r in per_round]
    between = statistics.stdev(medians) / math.sqrt(len(medians)) if len(medians) > 1 else 0.0
    return middle, max(within, between)


def measure(
    before: onnx.ModelProto, after: onnx.ModelProto, feeds: Mapping[str, Array], budget_s: float
) -> tuple[list[float], list[float], list[tuple[list[float], list[float]]]]:
    """Times of both models over ROUNDS rounds, each with fresh sessions of both."""
    rounds = [paired_times(session(before), session(after), feeds, budget_s / ROUNDS) for _ in range(ROUNDS)]
    return [t for r in rounds for t in r[0]], [t for r in rounds for t in r[1]], rounds


# --- one finding ----------------------------------------------------------------------------------


class Bench:
    """One model's original session, reference outputs and shapes, shared by its findings."""

    def __init__(self, subject: Subject, proto: onnx.ModelProto, feeds: Mapping[str, Array]) -> None:
        self.subject, self.proto, self.feeds = subject, proto, dict(feeds)
        self.shapes = static_shapes(proto, subject.inputs)
        self._expected: dict[str, Array] | None = None

    @property
    def expected(self) -> dict[str, Array]:
        if self._expected is None:
            self._expected = runtime.run(
                runtime.make_session(self.proto, optimization="disabled"), self.feeds
            )
        return self._expected


def evaluate(bench: Bench, finding: Finding, budget_s: float) -> Result:
    """Apply the finding's fix to a copy of the model, check it, and time it against the original."""
    result = Result(
        bench.subject.name,
        finding.code,
        finding.node,
        len(finding.locations),
        finding.severity,
        finding.saving_s,
        "no predicted saving",
    )
    if finding.saving_s <= 0:
        return result
    if finding.code not in REWRITES:
        result.status = "no mechanical fix"
        return result
    try:
        fixed, result.detail = apply_fix(bench.proto, finding, bench.shapes)
    except NotApplicableError as exc:
        result.status, result.detail = "not applied", str(exc)
        return result
    problem = _verify(bench, fixed, REWRITES[finding.code].preserves_outputs)
    if problem is not None:
        result.status, result.detail = "rejected", f"{result.detail}: {problem}"
        return result
    times_b, times_a, rounds = measure(bench.proto, fixed, bench.feeds, budget_s)
    result.status, result.pairs = "measured", len(times_b)
    result.before_s, result.after_s = statistics.median(times_b), statistics.median(times_a)
    result.measured_s, result.noise_s = saving_and_noise(rounds)
    return result


def _verify(bench: Bench, fixed: onnx.ModelProto, preserves_outputs: bool) -> str | None:
    """Why the fixed model is not a valid rewrite, or None."""
    try:
        actual = runtime.run(runtime.make_session(fixed, optimization="disabled"), bench.feeds)
    except Exception as exc:  # onnxruntime's own error types; the first line says what broke
        return f"onnxruntime cannot run it: {str(exc).strip().splitlines()[0][:200]}"
    if preserves_outputs:
        verdict = compare_outputs(bench.expected, actual)
        return None if verdict.same else verdict.detail
    for name, want in bench.expected.items():
        if actual.get(name) is None or actual[name].shape != want.shape:
            return f"output {name!r} changed shape"
    return None


def evaluate_model(subject: Subject, target: Path, budget_s: float) -> tuple[list[Result], float, str | None]:
    """Every finding of one model, evaluated; the predicted latency; an error that stopped it."""
    try:
        findings, latency = check(subject, target)
    except RuntimeError as exc:
        return [], 0.0, f"archlint check failed: {exc}"
    if not any(f.saving_s > 0 and f.code in REWRITES for f in findings):
        return [evaluate(_NoBench(subject), f, budget_s) for f in findings], latency, None
    proto = onnx.load(str(subject.path))
    bench = Bench(subject, proto, feeds_for(subject, proto))
    return [evaluate(bench, f, budget_s) for f in findings], latency, None


class _NoBench(Bench):
    """A model none of whose findings will be timed: nothing is loaded."""

    def __init__(self, subject: Subject) -> None:
        self.subject = subject


# --- reports --------------------------------------------------------------------------------------


def us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.1f}"


def rule_rows(results: Sequence[Result]) -> list[list[str]]:
    rows = []
    for code in sorted({r.code for r in results}):
        mine = [r for r in results if r.code == code]
        timed = [r for r in mine if r.status == "measured"]
        resolved = [r for r in timed if r.resolved]
        held = sum(r.holds for r in timed)
        rows.append(
            [
                code,
                str(len(mine)),
                str(sum(r.predicted_s > 0 for r in mine)),
                str(len(timed)),
                f"{held}/{len(timed)} ({held / len(timed):.0%})" if timed else "-",
                f"{sum(r.holds for r in resolved)}/{len(resolved)}" if resolved else "-",
                us(statistics.median(r.predicted_s for r in timed)) if timed else "-",
                us(statistics.median(r.measured_s or 0.0 for r in timed)) if timed else "-",
                _why_not(mine),
            ]
        )
    return rows


def _why_not(results: Sequence[Result]) -> str:
    counts = Counter(r.status for r in results if r.status != "measured")
    return "; ".join(f"{n} {status}" for status, n in counts.most_common()) or "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


NOTES = (
    "Reading the table:",
    "",
    "- A width is a property of a tensor: rounding a layer's output channels down also narrows "
    "every layer that reads them (and a residual stream's other layers), so a width fix's measured "
    "saving includes time its finding's prediction does not count.",
    "- A verdict within about two ± of the threshold could be turned by noise; 'of those resolved' "
    "counts only the findings whose measured saving is farther than that from half the predicted one.",
    "- Findings about the whole model (AL301 launch overhead, AL302 elementwise share, AL502 "
    "batching) and advice that is not a graph rewrite (AL501 and AL502's int8 storage) have no "
    "mechanical fix here; AL102 and AL201 are not checked on CPU targets.",
)

RULE_HEADER = (
    "rule",
    "findings",
    "with a predicted saving",
    "fixes measured",
    "measured >= half predicted",
    "of those resolved (held/resolved)",
    "median predicted (µs)",
    "median measured (µs)",
    "not measured",
)


def false_positives(results: Sequence[Result]) -> list[Result]:
    bad = [r for r in results if r.status == "measured" and not r.holds]
    return sorted(bad, key=lambda r: (r.code, -(r.predicted_s - (r.measured_s or 0.0))))


def _row(r: Result) -> list[str]:
    """Rule, model, node (with its other locations), predicted, measured ± noise, latency before."""
    node = f"`{r.node}`" + (f" (+{r.locations - 1})" if r.locations > 1 else "")
    return [r.code, r.model, node, us(r.predicted_s), f"{us(r.measured_s)} ± {us(r.noise_s)}", us(r.before_s)]


def fp_rows(results: Sequence[Result]) -> list[list[str]]:
    return [_row(r) for r in results]


def measured_rows(results: Sequence[Result]) -> list[list[str]]:
    return [[*_row(r), "yes" if r.holds else "no", r.detail] for r in results if r.status == "measured"]


def not_applied_rows(results: Sequence[Result]) -> list[list[str]]:
    reasons = Counter(
        (r.code, r.status, _general(r.detail)) for r in results if r.status in ("not applied", "rejected")
    )
    return [[code, status, reason, str(n)] for (code, status, reason), n in sorted(reasons.items())]


def _general(detail: str) -> str:
    """A reason without the node names, so that like reasons are counted together."""
    words = [w for w in detail.split() if not (w.startswith("'") or w.endswith("'") or w.endswith("':"))]
    return " ".join(words)[:140]


def environment(target: Path) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in _lscpu().splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    cpu = fields.get("Model name", platform.processor() or "unknown")
    if "CPU family" in fields:
        cpu += f" (lscpu: CPU family {fields['CPU family']}, model {fields.get('Model', '?')}"
        cpu += f", {'with' if 'avx512f' in fields.get('Flags', '').split() else 'without'} AVX-512"
        cpu += f", hypervisor {fields['Hypervisor vendor']})" if "Hypervisor vendor" in fields else ")"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return {
        "cpu": cpu,
        "logical CPUs": str(os.cpu_count()),
        "onnxruntime": runtime.onnxruntime_version() or "missing",
        "onnx": onnx.__version__,
        "python": platform.python_version(),
        "archlint commit": commit.stdout.strip() or "unknown",
        "target": str(target),
        "date": datetime.date.today().isoformat(),
    }


def _lscpu() -> str:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def markdown(
    results: Sequence[Result],
    env: Mapping[str, str],
    models: Mapping[str, str],
    failed: Mapping[str, str],
    budget: float,
) -> str:
    measured = [r for r in results if r.status == "measured"]
    held = sum(r.holds for r in measured)
    fps = false_positives(results)
    pairs = [r.pairs for r in measured]
    parts = [
        "# Precision of the findings, measured",
        "",
        "Written by `python benchmarks/precision.py --json FILE --markdown docs/precision.md` (one run; "
        "`--from-json FILE` writes the page again from its saved results). For each "
        "model of the real-world corpus ([corpus.md](corpus.md)) and of the zoo, `archlint check "
        "--format json` ran against a profile `archlint calibrate` measured on this machine; each "
        "finding whose rule has a mechanical fix was applied at all of its locations to a copy of the "
        "model, and the two models were timed with onnxruntime on the same CPU. How the fixes are "
        "made and timed: the docstrings of `benchmarks/precision.py` and "
        "`benchmarks/_precision_fixes.py`.",
        "",
        "## Setup",
        "",
        *[f"- {k}: {v.replace(f'{REPO}/', '')}" for k, v in env.items()],
        f"- onnxruntime CPU execution provider, {THREADS} intra-op thread, sequential execution, all graph "
        "optimizations",
        f"- timing: {ROUNDS} rounds per finding, each with fresh sessions of both models, {WARMUP} "
        "warm-up runs of each, then before/after samples in alternating order (each sample the mean of "
        f"consecutive runs lasting about {SAMPLE_S * 1e3:g} ms of the timing thread's CPU time), at "
        f"least {MIN_PAIRS} pairs a round and {budget:g} s per finding; pairs per measured finding: "
        f"median {statistics.median(pairs) if pairs else 0:g}, range {min(pairs, default=0)}-"
        f"{max(pairs, default=0)}",
        "- measured saving: median of the paired differences; ± is its standard error (the larger of "
        "the within-round and between-round estimates); "
        f"a finding holds when the measured saving is at least {HOLDS:g} x the predicted one; "
        "'resolved' findings are those whose measured saving is at least two standard errors away "
        "from half the predicted one (either way), so that noise cannot turn the verdict",
        f"- models: {len(models)} ({', '.join(f'{n} {s}' for s, n in Counter(models.values()).items())})",
        "",
        "## Per rule",
        "",
        table(RULE_HEADER, rule_rows(results)),
        "",
        f"All rules: {held} of {len(measured)} measured fixes saved at least half the predicted time.",
        "",
        *NOTES,
        "",
        "## False positives",
        "",
        "Measured fixes that saved less than half the predicted time (before: the model's median "
        "latency, µs).",
        "",
        table(
            ("rule", "model", "node (+ more locations)", "predicted (µs)", "measured (µs)", "before (µs)"),
            fp_rows(fps),
        )
        if fps
        else "None.",
        "",
        "## Fixes not measured",
        "",
        table(("rule", "status", "why", "findings"), not_applied_rows(results))
        if not_applied_rows(results)
        else "None.",
        "",
        "## Every measured fix",
        "",
        table(
            (
                "rule",
                "model",
                "node",
                "predicted (µs)",
                "measured (µs)",
                "before (µs)",
                "holds",
                "fix applied",
            ),
            measured_rows(results),
        ),
    ]
    if failed:
        parts += [
            "",
            "## Models archlint could not check",
            "",
            *[f"- {m}: {e}" for m, e in sorted(failed.items())],
        ]
    return "\n".join(parts) + "\n"


# --- main -----------------------------------------------------------------------------------------


def ensure_profile(target: Path, recalibrate: bool) -> None:
    if target.exists() and not recalibrate:
        return
    print(f"calibrating this machine into {target} (a few minutes)...", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "archlint", "calibrate", "-o", str(target), "--threads", str(THREADS)]
    subprocess.run(command, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", type=Path, default=HOST_PROFILE, help="profile of this machine")
    parser.add_argument("--recalibrate", action="store_true", help="calibrate the target again first")
    parser.add_argument("--only", default="", help="model names, comma-joined")
    parser.add_argument("--no-zoo", action="store_true")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--corpus-dir", type=Path, default=CORPUS_DIR)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timing per finding")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--markdown", type=Path, help="write the report page here")
    parser.add_argument("--from-json", type=Path, help="write the page from a saved run instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        write(json.loads(args.from_json.read_text(encoding="utf-8")), None, args.markdown)
        return 0
    ensure_profile(args.target, args.recalibrate)
    subjects = ([] if args.no_corpus else corpus_subjects(args.corpus_dir)) + (
        [] if args.no_zoo else zoo_subjects()
    )
    only = {n for n in args.only.split(",") if n}
    subjects = [s for s in subjects if not only or s.name in only]
    results: list[Result] = []
    models: dict[str, str] = {}  # name -> corpus or zoo
    failed: dict[str, str] = {}  # name -> why archlint check failed
    for subject in subjects:
        started = time.perf_counter()
        found, latency, error = evaluate_model(subject, args.target, args.budget)
        models[subject.name] = subject.source
        if error:
            failed[subject.name] = error
        results += found
        timed = [r for r in found if r.status == "measured"]
        print(
            f"{subject.name}: {len(found)} findings, {len(timed)} measured, predicted {us(latency)} µs"
            f"{', ' + error if error else ''} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        for r in timed:
            measured = f"{us(r.measured_s)} ± {us(r.noise_s)}"
            print(f"  {r.code} {r.node}: predicted {us(r.predicted_s)}, measured {measured} µs")
    print()
    print(table(RULE_HEADER, rule_rows(results)))
    run = {
        "environment": environment(args.target),
        "budget": args.budget,
        "models": models,
        "failed": failed,
        "results": [asdict(r) for r in results],
    }
    write(run, args.json, args.markdown)
    return 0


def write(run: Mapping[str, Any], json_path: Path | None, markdown_path: Path | None) -> None:
    results = [Result(**r) for r in run["results"]]
    if json_path:
        json_path.write_text(json.dumps(run, indent=1), encoding="utf-8")
    if markdown_path:
        page = markdown(results, run["environment"], run["models"], run["failed"], run["budget"])
        markdown_path.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
