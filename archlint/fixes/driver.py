"""Run the selected fixes in order, each checked with onnxruntime before it is kept.

Order matters: BatchNormalization is folded first because folding can create the subnormal
weights that flushing then removes; padding comes last so that it meets folded Convs. Each fix
edits a copy of the model as the previous fixes left it; the copy is kept only if its outputs
match the original model's, so a fix that fails verification leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import onnx

from archlint.errors import UsageError
from archlint.fixes.flush_denormals import TINY, flush_denormals
from archlint.fixes.fold_batchnorm import fold_batchnorm
from archlint.fixes.pad_channels import pad_channels
from archlint.fixes.verify import Verifier

Status = Literal["applied", "unverified", "rejected", "nothing", "unsafe"]


@dataclass(frozen=True)
class Settings:
    alignment: Callable[[str], int]  # the target's channel block per compute dtype
    tiny: float = TINY


@dataclass(frozen=True)
class Fix:
    name: str
    codes: tuple[str, ...]  # the rules whose findings it removes
    applicability: Literal["safe", "unsafe"]
    apply: Callable[[onnx.ModelProto, Settings], tuple[int, str]]  # edits in place: (changes, summary)


FIXES = (
    # AL303 reports BatchNormalization left unfused; AL401 the subnormals folding creates.
    Fix("fold-batchnorm", ("AL303", "AL401"), "safe", lambda proto, _: fold_batchnorm(proto)),
    Fix("flush-denormals", ("AL401",), "safe", lambda proto, s: flush_denormals(proto, s.tiny)),
    Fix("pad-channels", ("AL101",), "unsafe", lambda proto, s: pad_channels(proto, s.alignment)),
)


@dataclass(frozen=True)
class Outcome:
    fix: Fix
    status: Status
    changes: int = 0
    detail: str = ""

    def line(self) -> str:
        text = {
            "applied": self.detail,
            "unverified": f"{self.detail} (not verified)",
            "rejected": f"not applied: {self.detail}",
            "nothing": "nothing to fix",
            "unsafe": "not run: unsafe fix, pass --unsafe-fixes to apply it",
        }[self.status]
        return f"{self.fix.name}: {text}"


def select(entries: Sequence[str] | None) -> list[Fix]:
    """Fixes named by name, rule code or code prefix ("AL4"); all of them when none is given."""
    if not entries:
        return list(FIXES)
    chosen: list[Fix] = []
    for entry in (e.strip() for e in entries if e.strip()):
        matches = [f for f in FIXES if entry in (f.name, "ALL") or _code_match(entry, f)]
        if not matches:
            names = ", ".join(f"{f.name} ({'/'.join(f.codes)})" for f in FIXES)
            raise UsageError(f"--select {entry}: no fix has that name or code (fixes: {names})")
        chosen.extend(m for m in matches if m not in chosen)
    return [f for f in FIXES if f in chosen]  # always in the order the fixes must run


def _code_match(entry: str, fix: Fix) -> bool:
    return any(code.startswith(entry.upper()) for code in fix.codes)


def run_fixes(
    proto: onnx.ModelProto,
    fixes: Sequence[Fix],
    settings: Settings,
    verifier: Verifier | None,
    unsafe: bool = False,
) -> tuple[onnx.ModelProto, list[Outcome]]:
    """The model with every fix that passed verification, and what happened to each fix."""
    current, outcomes = proto, []
    for fix in fixes:
        if fix.applicability == "unsafe" and not unsafe:
            outcomes.append(Outcome(fix, "unsafe"))
            continue
        candidate = onnx.ModelProto()
        candidate.CopyFrom(current)
        changes, summary = fix.apply(candidate, settings)
        outcome = _judge(fix, candidate, changes, summary, verifier)
        if outcome.status in ("applied", "unverified"):
            current = candidate
        outcomes.append(outcome)
    return current, outcomes


def _judge(
    fix: Fix, candidate: onnx.ModelProto, changes: int, summary: str, verifier: Verifier | None
) -> Outcome:
    if changes == 0:
        return Outcome(fix, "nothing")
    if verifier is None:
        return Outcome(fix, "unverified", changes, summary)
    verdict = verifier.compare(candidate)
    if not verdict.same:
        return Outcome(fix, "rejected", changes, verdict.detail)
    return Outcome(fix, "applied", changes, f"{summary}; outputs match ({verdict.detail})")
