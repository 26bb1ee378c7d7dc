"""What the idle scheduler knows about each context, and which due context runs next."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sleeptime.scheduler.clock import TimerHandle
from sleeptime.scheduler.protocol import SleepOutcome

__all__ = ["ContextState", "next_due"]


@dataclass
class ContextState:
    """One context's place in the schedule: waiting for idle (`timer`), due, or running (`task`)."""

    timer: TimerHandle | None = None
    due_at: float | None = None
    due: bool = False
    task: asyncio.Task[None] | None = None
    last_query: float = float("-inf")
    due_since: float = 0.0
    hour_skipped: bool = False
    outcome: SleepOutcome | None = None

    def busy(self) -> bool:
        return self.timer is not None or self.due or self.task is not None


def next_due(eligible: Sequence[tuple[str, ContextState]]) -> tuple[str, ContextState]:
    """The due context to start first: the most recently queried, then the one due longest."""
    return max(eligible, key=lambda item: (item[1].last_query, -item[1].due_since))
