"""A progress bar that appears only when work takes more than a second, on a terminal."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only once a bar is shown: most runs never need it
    from rich.progress import Progress, TaskID

DELAY_S = 1.0


class DelayedProgress:
    """Callable progress sink: ``progress(done, total)``; shows a bar after DELAY_S seconds."""

    def __init__(self, description: str, enabled: bool | None = None) -> None:
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._description = description
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        self._state = (0, 0)
        self._timer = threading.Timer(DELAY_S, self._show)
        self._timer.daemon = True

    def __enter__(self) -> DelayedProgress:
        if self._enabled:
            self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        with self._lock:
            if self._bar is not None:
                self._bar.stop()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with self._lock:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            done, total = self._state
            self._task = self._bar.add_task(self._description, total=total or None, completed=done)
            self._bar.start()

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._state = (done, total)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=done, total=total)
