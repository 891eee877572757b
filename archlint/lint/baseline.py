"""Bulk suppressions (as ESLint's): ``check --write-baseline F`` records today's findings, and
``check --baseline F`` stops reporting them, so CI fails only on findings that are new.

    {"schema": "archlint.lint.baseline/1",
     "suppressions": [{"path": "models/net.onnx", "code": "AL101", "node": "conv_2", "count": 2}]}

A finding's key is its model path, code and node, without the target and the numbers: the same
layer on two targets counts 2, and a message whose figures change is still the same finding. Up to
``count`` findings of a key are suppressed and any beyond it are reported (a layer that starts
failing on one more target is news). Counts that are no longer reached are "fixed": one line on
stderr asks to prune the baseline; that never fails a run, as fixing a finding should not.
Paths are stored relative to the working directory, as given on the command line (run from the
repository root, as CI does), with ``/`` separators, so one file serves every OS.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

from archlint.errors import UsageError
from archlint.lint.diagnostics import Diagnostic

SCHEMA = "archlint.lint.baseline/1"

Key = tuple[str, str, str | None]  # (model path, code, node)


def key(d: Diagnostic) -> Key:
    return (_relative(d.path), d.code, d.node)


def _relative(path: str) -> str:
    pure = PurePath(path)
    if pure.is_absolute():
        # Outside the working folder it stays absolute: it can only match itself.
        with contextlib.suppress(ValueError):
            pure = Path(path).relative_to(Path.cwd())
    return pure.as_posix()


def counts(diagnostics: Iterable[Diagnostic]) -> Counter[Key]:
    return Counter(key(d) for d in diagnostics)


def _ordered(found: Counter[Key]) -> list[tuple[Key, int]]:
    return sorted(found.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or ""))


def dumps(found: Counter[Key]) -> str:
    """Sorted, one suppression per line-group: a baseline's diff in review shows what changed."""
    suppressions = [{"path": p, "code": c, "node": n, "count": k} for (p, c, n), k in _ordered(found)]
    return json.dumps({"schema": SCHEMA, "suppressions": suppressions}, indent=2) + "\n"


def load(path: str) -> Counter[Key]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--baseline {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--baseline {path}: not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UsageError(f"--baseline {path}: not an {SCHEMA} file (write one with --write-baseline)")
    return Counter(dict(_entry(path, item) for item in document.get("suppressions", [])))


def _entry(path: str, item: Any) -> tuple[Key, int]:
    try:
        node = item["node"]
        if not isinstance(node, str | None) or not isinstance(item["count"], int):
            raise TypeError
        return (str(item["path"]), str(item["code"]), node), item["count"]
    except (KeyError, TypeError):
        raise UsageError(f"--baseline {path}: bad suppression {json.dumps(item)}") from None


def suppress(
    diagnostics: Sequence[Diagnostic], baseline: Counter[Key]
) -> tuple[list[Diagnostic], Counter[Key]]:
    """The findings left to report, and the suppressions not used up (fixed since the baseline)."""
    left = Counter(baseline)
    reported = []
    for d in diagnostics:
        k = key(d)
        if left[k] > 0:
            left[k] -= 1
        else:
            reported.append(d)
    return reported, +left


def apply(diagnostics: Sequence[Diagnostic], baseline: str | None, write: str | None) -> list[Diagnostic]:
    """What ``check`` does with ``--baseline`` and ``--write-baseline``: the findings to report.

    Writing records every finding and reports none (the run that adopts a baseline passes);
    reading suppresses the recorded ones and says on stderr which can be pruned."""
    if write is not None:
        found = counts(diagnostics)
        try:
            Path(write).write_text(dumps(found), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--write-baseline {write}: {exc.strerror}") from None
        print(f"archlint: wrote {sum(found.values())} suppressions to {write}", file=sys.stderr)
        return []
    if baseline is None:
        return list(diagnostics)
    reported, fixed = suppress(diagnostics, load(baseline))
    if fixed:
        print(_prune_note(baseline, fixed), file=sys.stderr)
    return reported


def _prune_note(baseline: str, fixed: Counter[Key]) -> str:
    where = ", ".join(f"{p}:{n or '-'} {c}" + (f" x{k}" if k > 1 else "") for (p, c, n), k in _ordered(fixed))
    return (
        f"archlint: {sum(fixed.values())} baselined findings are fixed ({where}); "
        f"prune {baseline} with --write-baseline {baseline}"
    )
