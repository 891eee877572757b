"""Which rules run: select / ignore / extend-select by code prefix or rule name.

As in flake8 and ruff, the most specific entry wins: with ``select = ["AL"]`` and
``ignore = ["AL4"]``, AL401 is ignored, but ``extend-select = ["AL401"]`` brings it back because
"AL401" is longer than "AL4". On a tie, ignore wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from archlint.errors import UsageError

DEFAULT_SELECT = ("ALL",)


@dataclass(frozen=True)
class Selection:
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()

    def is_selected(self, code: str) -> bool:
        chosen = longest_prefix(self.select, code)
        if chosen < 0:
            return False
        return chosen > longest_prefix(self.ignore, code)


def longest_prefix(prefixes: Iterable[str], code: str) -> int:
    """Length of the longest prefix of ``code`` in ``prefixes`` ("ALL" matches with length 0)."""
    best = -1
    for prefix in prefixes:
        if prefix == "ALL":
            best = max(best, 0)
        elif code.startswith(prefix):
            best = max(best, len(prefix))
    return best


def normalize(
    entries: Iterable[str], names: Mapping[str, str], known_codes: Iterable[str]
) -> tuple[str, ...]:
    """Upper-case codes and prefixes; rule names become their codes; unknown entries are errors."""
    codes = list(known_codes)
    result = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if entry in names:
            result.append(names[entry])
        elif entry.upper() == "ALL" or any(code.startswith(entry.upper()) for code in codes):
            result.append(entry.upper())
        else:
            raise UsageError(f"unknown rule or code prefix {entry!r} (see `archlint rules`)")
    return tuple(result)
