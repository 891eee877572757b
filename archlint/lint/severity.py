"""How serious a diagnostic is, and the default bar a fix's saving must clear to be a warning.

Its own module so that reading a configuration does not build the diagnostic records.
"""

from __future__ import annotations

from enum import StrEnum

#: Default of ``min-saving-share``: a fix saving under 1% of the latency is not worth a warning.
DEFAULT_MIN_SAVING_SHARE = 0.01


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)


__all__ = ["DEFAULT_MIN_SAVING_SHARE", "Severity"]
