"""Analyze and lint the models of one ``archlint check``, in this process or in a pool of ``-j N``.

Each model's work (load, resolve, cost, predict, run the rules) is independent of the others', so
with ``-j N`` a process pool of N workers takes one model at a time; results come back in the
order the models were given, whichever finishes first. A model that cannot be read is reported
in one line and the others are still checked; when several models are given, the run's exit code
is the worst of them (2 for such a model).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlint.errors import ArchlintError

if TYPE_CHECKING:
    from archlint.analysis.analysis import Analysis
    from archlint.commands.check_models import Job
    from archlint.lint.checker import CheckOptions
    from archlint.lint.diagnostics import Diagnostic

EXIT_ERROR = 2


@dataclass(frozen=True)
class Checked:
    """What the models gave: analyses and findings in input order, and the exit code of the
    models that could not be read (0 when all could)."""

    analyses: tuple[Analysis, ...]
    diagnostics: tuple[Diagnostic, ...]
    error_code: int


def check_models(jobs: Sequence[Job], options: CheckOptions, workers: int = 1) -> Checked:
    if workers < 1:
        raise ArchlintError(f"-j {workers}: the number of workers must be at least 1")
    if len(jobs) == 1:  # one model: its error is the run's error, raised as before
        analysis, diagnostics = check_one(jobs[0], options, progress=True)
        return Checked((analysis,), tuple(diagnostics), 0)
    outcomes = _in_pool(jobs, options, workers) if workers > 1 else _in_turn(jobs, options)
    analyses, diagnostics, code = [], [], 0
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, str):
            print(f"archlint: error: {job.request.reference}: {outcome}", file=sys.stderr)
            code = EXIT_ERROR
            continue
        analyses.append(outcome[0])
        diagnostics.extend(outcome[1])
    return Checked(tuple(analyses), tuple(diagnostics), code)


def _in_turn(jobs: Sequence[Job], options: CheckOptions) -> list[tuple[Analysis, list[Diagnostic]] | str]:
    return [_guarded(job, options, progress=True) for job in jobs]


def _in_pool(
    jobs: Sequence[Job], options: CheckOptions, workers: int
) -> list[tuple[Analysis, list[Diagnostic]] | str]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(_guarded, job, options, False) for job in jobs]
        return [future.result() for future in futures]


def _guarded(job: Job, options: CheckOptions, progress: bool) -> tuple[Analysis, list[Diagnostic]] | str:
    """The model's results, or its one-line error when it cannot be read (a bug still raises)."""
    try:
        return check_one(job, options, progress)
    except ArchlintError as exc:
        return str(exc)


def check_one(job: Job, options: CheckOptions, progress: bool) -> tuple[Analysis, list[Diagnostic]]:
    from archlint.api import analyze
    from archlint.commands.progress import DelayedProgress
    from archlint.lint.checker import check
    from archlint.lint.registry import registered_rules

    request = job.request
    # A bar on the terminal in this process; workers of a pool would draw over one another.
    with DelayedProgress(f"analyzing {request.reference}", enabled=None if progress else False) as bar:
        analysis = analyze(
            request.reference, job.profiles, request.inputs, job.dims, bar, request, request.values
        )
    return analysis, list(check(analysis, registered_rules(), options))
