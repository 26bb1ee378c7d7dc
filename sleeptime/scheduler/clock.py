"""Where a scheduler reads time and sets timers: the real clock and `FakeClock`, its test double."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Protocol

from sleeptime.errors import InvalidInputError

__all__ = ["Clock", "FakeClock", "LoopClock", "TimerHandle"]


class TimerHandle(Protocol):
    """A timer that can be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where the scheduler reads time and sets timers."""

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopClock:
    """Real time, on an asyncio loop (the default clock, bound when the scheduler starts)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop.call_later(max(0.0, delay), callback)


class _FakeTimer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told: `advance(seconds)` fires the timers that fall due, in order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        with self._lock:
            timer = _FakeTimer(self._now + max(0.0, delay), callback)
            heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
            return timer

    def pending(self) -> int:
        """How many timers are set and not cancelled."""
        with self._lock:
            return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_due(self) -> float | None:
        """When the earliest timer still set falls due, or None (a simulator advances to it step by step)."""
        with self._lock:
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due by then (including ones set while firing)."""
        if seconds < 0:
            raise InvalidInputError(f"a clock does not go backwards (advance by {seconds!r})")
        target = self._now + seconds
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > target:
                    self._now = target
                    return
                when, _, timer = heapq.heappop(self._timers)
                self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
