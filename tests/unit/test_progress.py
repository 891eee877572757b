"""The progress bar shows only after a delay, only when enabled, and always cleans up."""

from __future__ import annotations

import time

import pytest

from archlint.commands import progress


def test_no_bar_for_fast_work() -> None:
    with progress.DelayedProgress("fast", enabled=True) as sink:
        sink(1, 10)
    assert sink._bar is None


def test_bar_appears_after_the_delay_and_follows_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY_S", 0.01)
    with progress.DelayedProgress("slow", enabled=True) as sink:
        sink(3, 10)
        deadline = time.monotonic() + 2
        while sink._bar is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink._bar is not None
        sink(7, 10)
        (task,) = sink._bar.tasks
        assert (task.completed, task.total) == (7, 10)
    assert sink._bar.finished or not sink._bar.live.is_started


def test_disabled_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    with progress.DelayedProgress("piped", enabled=False) as sink:
        time.sleep(0.05)
        sink(1, 2)
    assert sink._bar is None
