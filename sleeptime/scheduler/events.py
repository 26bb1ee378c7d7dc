"""The scheduler's timeline: one `SchedulerEvent` per thing that happened to a context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EventKind", "SchedulerEvent"]

EventKind = Literal[
    "changed",
    "scheduled",
    "cancelled",
    "sleep_started",
    "sleep_finished",
    "sleep_failed",
    "skipped_quota",
    "answered",
]


@dataclass(frozen=True)
class SchedulerEvent:
    """One line of the scheduler's timeline. `at` is the scheduler clock's time in seconds."""

    kind: EventKind
    context_id: str
    at: float
    version: int | None = None
    published: bool | None = None
    status: str = ""
    tokens: int | None = None
    """Sleep tokens (input + output) of a finished run."""
    due_at: float | None = None
    """When a scheduled run becomes due (or, for an hourly-quota skip, when it is retried)."""
    detail: str = ""

    def describe(self) -> str:
        """A human-readable line: what happened, when, to which context."""
        parts = [f"t={self.at:7.1f}s", f"{self.kind:<15}", self.context_id]
        if self.due_at is not None:
            parts.append(f"due at t={self.due_at:.1f}s")
        if self.version is not None:
            parts.append(f"version {self.version}")
        if self.published is not None:
            parts.append("published" if self.published else "not published")
        if self.tokens is not None:
            parts.append(f"{self.tokens} tokens")
        if self.status:
            parts.append(self.status)
        if self.detail:
            parts.append(self.detail)
        return "  ".join(parts)
