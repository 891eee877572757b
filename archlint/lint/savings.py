"""What a target's fixes save together: the latency with every non-conflicting fix applied.

The roofline's latency is a sum over operators, so applying fixes that change disjoint sets of
operators lowers it by the sum of their savings; two fixes of one operator (narrow its weights,
or fuse it away) cannot both be had, and only the larger counts. Each saving is already bounded
by the time of the operators it changes, so the total never exceeds the latency. Savings that
are estimates of time the prediction does not contain (a subnormal slow path) stay out.
"""

from __future__ import annotations

from collections.abc import Iterable

from archlint.lint.diagnostics import Diagnostic

_EVERYTHING = "*"  # a whole-model fix that names no operators conflicts with every other fix


def combined_saving(diagnostics: Iterable[Diagnostic]) -> float:
    """Predicted time saved by the best set of mutually compatible fixes (one target)."""
    taken: set[str] = set()
    total = 0.0
    for d in sorted(diagnostics, key=lambda d: -d.saving_s):
        if d.saving_s <= 0 or not d.in_latency:
            continue
        nodes = set(d.touched) or {_EVERYTHING}
        if _EVERYTHING in taken or (taken and _EVERYTHING in nodes) or nodes & taken:
            continue
        taken |= nodes
        total += d.saving_s
    return total


def latency_after_fixes(latency_s: float, diagnostics: Iterable[Diagnostic]) -> float:
    return max(0.0, latency_s - combined_saving(diagnostics))
