"""What a target's fixes save together: the latency with every non-conflicting fix applied.

The roofline's latency is a sum over operators, so applying fixes that change disjoint sets of
operators lowers it by the sum of their savings; two fixes of one operator (narrow its weights,
or fuse it away) cannot both be had, and only the larger counts. Each saving is already bounded
by the time of the operators it changes, so the total never exceeds the latency. Savings that
are estimates of time the prediction does not contain (a subnormal slow path) stay out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from archlint.lint.diagnostics import Diagnostic

_EVERYTHING = "*"  # a whole-model fix that names no operators conflicts with every other fix


def combined_saving(diagnostics: Iterable[Diagnostic]) -> float:
    """Predicted time saved by the best set of mutually compatible fixes (one target)."""
    return sum(d.saving_s for d in compatible(diagnostics)[0])


def compatible(diagnostics: Iterable[Diagnostic]) -> tuple[list[Diagnostic], dict[int, Diagnostic]]:
    """The fixes that count, largest saving first, and for each one left out (by id) the
    counted fix it overlaps: both change the same operators, so only one saving can be had."""
    counted: list[Diagnostic] = []
    owner: dict[str, Diagnostic] = {}
    overlapped: dict[int, Diagnostic] = {}
    for d in sorted(diagnostics, key=lambda d: (-d.saving_s, d.code)):
        if d.saving_s <= 0 or not d.in_latency:
            continue
        nodes = set(d.touched) or {_EVERYTHING}
        clash = next((owner[n] for n in nodes if n in owner), None)
        if clash is None and (_EVERYTHING in owner or (owner and _EVERYTHING in nodes)):
            clash = owner.get(_EVERYTHING) or next(iter(owner.values()))
        if clash is not None:
            overlapped[id(d)] = clash
            continue
        owner.update(dict.fromkeys(nodes, d))
        counted.append(d)
    return counted, overlapped


def with_overlaps_noted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each fix that overlaps a larger one on the same target says so, in its message."""
    by_target: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_target.setdefault(d.target, []).append(d)
    notes: dict[int, Diagnostic] = {}
    for found in by_target.values():
        by_id = {id(d): d for d in found}
        for key, larger in compatible(found)[1].items():
            smaller = by_id[key]
            # Said only where the two fixes are mostly the same change; a fix that shares a few
            # operators with another is still its own advice (the summary stays conservative).
            if len(smaller.touched & larger.touched) * 2 >= len(smaller.touched):
                notes[key] = larger
    return [
        replace(d, message=f"{d.message} {_overlap_note(notes[id(d)])}") if id(d) in notes else d
        for d in diagnostics
    ]


def _overlap_note(larger: Diagnostic) -> str:
    return (
        f"Its fix changes the operators {larger.code}'s fix changes: the latency after fixes counts "
        "only the larger saving."
    )
