"""`BackgroundScheduler`: the idle scheduler for synchronous apps, under the name the README used first."""

from __future__ import annotations

import warnings
from typing import Self

from sleeptime.scheduler.idle import IdleScheduler

__all__ = ["BackgroundScheduler"]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"BackgroundScheduler.{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


class BackgroundScheduler(IdleScheduler):
    """An IdleScheduler meant to run on its own daemon thread: ``with BackgroundScheduler(...)``.

    Any `IdleScheduler` does this through `start`/`close` or ``with``; this name stays for code that uses it.

    >>> with BackgroundScheduler(app, idle_after=30) as sched:   # doctest: +SKIP
    ...     sched.notify_change("shop", text=price_list)
    ...     sched.ask("How much are 3 pens?", "shop")
    """

    def start_background(self) -> Self:
        """Deprecated: `start`."""
        _deprecated("start_background()", "start()")
        return self.start()

    def stop_background(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Deprecated: `close`."""
        _deprecated("stop_background()", "close()")
        self.close(wait=wait, timeout=timeout)

    def wait_idle_blocking(self, timeout: float | None = None) -> None:
        """Deprecated: `settle`."""
        _deprecated("wait_idle_blocking()", "settle()")
        self.settle(timeout)
