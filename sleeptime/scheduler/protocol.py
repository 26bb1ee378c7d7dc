"""The contract every scheduler keeps: the in-process `IdleScheduler` and the server-side `RemoteScheduler`.

Each call has an async twin named ``a<name>`` with the same parameters and return type, so code written
against `Scheduler` runs on either one, from synchronous or asynchronous code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["ScheduledSleep", "Scheduler", "SleepOutcome"]


@dataclass(frozen=True)
class ScheduledSleep:
    """A sleep run waiting for its context to go idle."""

    context_id: str
    due_in: float
    """Seconds from when it was reported until the run may start."""
    run_id: str | None = None
    """The server's run id (remote scheduler); None in process."""
    reason: str = field(default="", compare=False)
    """Why the policy planned the run, or (``due_in`` infinite) why it declined to: no run is pending."""


@dataclass(frozen=True)
class SleepOutcome:
    """How a sleep run ended."""

    context_id: str
    status: str
    """The sleep graph's status (e.g. ``published``, ``stale: ...``), or ``failed`` / ``cancelled``."""
    published: bool
    version: int | None = None
    tokens: int | None = None
    """Sleep tokens (input + output) the run spent, when it finished."""
    detail: str = ""
    """Why a run failed or was cancelled."""
    run_id: str | None = None


@runtime_checkable
class Scheduler(Protocol):
    """Sleeps on a context once it has been idle; questions never wait for a sleep run."""

    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep:
        """The context changed (ingest `text`/`files` when given): (re)schedule its sleep run."""
        ...

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep: ...

    def touch(self, context_id: str) -> ScheduledSleep | None:
        """Activity without a change: push a pending run back; None when none is pending."""
        ...

    async def atouch(self, context_id: str) -> ScheduledSleep | None: ...

    def pending(self, context_id: str) -> ScheduledSleep | None:
        """The context's sleep run still waiting to start, if any."""
        ...

    async def apending(self, context_id: str) -> ScheduledSleep | None: ...

    def in_flight(self, context_id: str) -> bool:
        """Whether a sleep run of the context is running now."""
        ...

    async def ain_flight(self, context_id: str) -> bool: ...

    def join(self, context_id: str) -> SleepOutcome | None:
        """Wait until the context's sleep run, scheduled or running, has ended (through the idle delay).

        Returns its outcome, or None when the context never had a run.
        """
        ...

    async def ajoin(self, context_id: str) -> SleepOutcome | None: ...

    def published_version(self, context_id: str) -> int | None:
        """The learned-context version questions are answered from now, or None before the first."""
        ...

    async def apublished_version(self, context_id: str) -> int | None: ...

    def cancel(self, context_id: str) -> int:
        """Drop the context's pending and running sleep runs; how many were dropped."""
        ...

    async def acancel(self, context_id: str) -> int: ...

    def close(self) -> None:
        """Stop scheduling and release what the scheduler holds."""
        ...

    async def aclose(self) -> None: ...
