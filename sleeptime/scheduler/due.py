"""What the idle scheduler knows about each context, and which due context runs next.

Due contexts wait in a heap keyed by their policy's priority, so picking the next run costs O(log n)
whatever the number of contexts (a rescan of every context per dispatch cost O(n): milliseconds at 10,000).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from sleeptime.scheduler.clock import TimerHandle
from sleeptime.scheduler.history import ContextHistory
from sleeptime.scheduler.policy import SleepPlan
from sleeptime.scheduler.protocol import SleepOutcome

__all__ = ["ContextState", "DueQueue", "next_due"]


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
    history: ContextHistory = field(default_factory=ContextHistory)
    plan: SleepPlan | None = None
    """The plan of the run scheduled, due or running."""

    def busy(self) -> bool:
        return self.timer is not None or self.due or self.task is not None


def next_due(eligible: Sequence[tuple[str, ContextState]]) -> tuple[str, ContextState]:
    """The due context to start first: the most recently queried, then the one due longest."""
    return max(eligible, key=lambda item: (item[1].last_query, -item[1].due_since))


class DueQueue:
    """Due contexts by priority (highest first, then due longest); superseded entries are skipped lazily."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, float, int, str]] = []
        self._live: dict[str, int] = {}  # context id -> sequence number of its live entry
        self._seq = itertools.count()
        self.running = 0
        """Sleep runs in flight."""

    def push(self, context_id: str, ctx: ContextState, priority: float) -> None:
        """Queue (or re-rank) a due context."""
        seq = next(self._seq)
        self._live[context_id] = seq
        heapq.heappush(self._heap, (-priority, ctx.due_since, seq, context_id))
        if len(self._heap) > 2 * len(self._live) + 64:  # drop superseded entries: the heap stays O(live)
            self._heap = [e for e in self._heap if self._live.get(e[3]) == e[2]]
            heapq.heapify(self._heap)

    def discard(self, context_id: str) -> None:
        """The context is no longer due (cancelled, or started)."""
        self._live.pop(context_id, None)

    def __contains__(self, context_id: str) -> bool:
        return context_id in self._live

    def pop(self) -> str | None:
        """The highest-priority due context, removed from the queue; None when none is queued."""
        while self._heap:
            _, _, seq, cid = heapq.heappop(self._heap)
            if self._live.get(cid) == seq:
                del self._live[cid]
                return cid
        return None

    def queued(self) -> list[str]:
        """Every queued context, without removing them."""
        return list(self._live)

    def __len__(self) -> int:
        return len(self._live)
