"""The idle scheduler's events, status and answers: its timeline, runs pending or in flight, and answers
from the published version."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sleeptime.scheduler.clock import Clock
from sleeptime.scheduler.due import ContextState
from sleeptime.scheduler.events import EventKind, SchedulerEvent
from sleeptime.scheduler.history import ContextHistory
from sleeptime.scheduler.policy import SleepPolicy
from sleeptime.scheduler.protocol import ScheduledSleep

if TYPE_CHECKING:
    from sleeptime.facade import Answer, Mode, SleepTime

__all__ = ["AnswersFromPublished"]

_T = TypeVar("_T")


class AnswersFromPublished:
    """Events, status calls, question and match reports, `ask`/`aask` and `published_version` of `IdleScheduler`
    (which provides what is declared here)."""

    app: SleepTime
    match_score: float
    _contexts: dict[str, ContextState]

    @property
    def clock(self) -> Clock:
        raise NotImplementedError

    policy: SleepPolicy

    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        raise NotImplementedError

    async def _aon_loop(self, fn: Callable[[], _T]) -> _T:
        raise NotImplementedError

    def _queried(self, context_id: str, matched: bool | None = None) -> None:
        raise NotImplementedError

    def _ctx(self, context_id: str) -> ContextState:
        raise NotImplementedError

    # questions and matches, as the policy is told
    def record_query(self, context_id: str, *, matched: bool | None = None) -> None:
        """A question arrived for the context (`ask` reports its own): the policy sees it.

        `matched`: whether the published version's predicted questions matched it (None: unknown).
        """
        self._on_loop(lambda: self._queried(context_id, matched))

    async def arecord_query(self, context_id: str, *, matched: bool | None = None) -> None:
        """Async `record_query`."""
        await self._aon_loop(lambda: self._queried(context_id, matched))

    def record_match(self, context_id: str, matched: bool) -> None:
        """Whether the published version predicted a question already recorded (`ask` reports its own)."""
        self._on_loop(lambda: self._match_reported(context_id, matched))

    async def arecord_match(self, context_id: str, matched: bool) -> None:
        """Async `record_match`."""
        await self._aon_loop(lambda: self._match_reported(context_id, matched))

    def _match_reported(self, context_id: str, matched: bool) -> None:
        ctx = self._ctx(context_id)
        ctx.history.on_match(matched)
        self.policy.on_match(ctx.history, self.clock.now(), matched)


    keep_timeline: bool
    timeline: list[SchedulerEvent]
    on_event: Callable[[SchedulerEvent], None] | None
    _events_lock: threading.Lock
    _clock: Clock | None

    def _emit(self, kind: EventKind, context_id: str, **fields: Any) -> SchedulerEvent:
        at = self._clock.now() if self._clock is not None else time.monotonic()
        event = SchedulerEvent(kind=kind, context_id=context_id, at=at, **fields)
        if self.keep_timeline:
            with self._events_lock:
                self.timeline.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def published_version(self, context_id: str) -> int | None:
        learned = self.app.learned(context_id)
        return learned.version if learned is not None else None

    async def apublished_version(self, context_id: str) -> int | None:
        """Async `published_version` (the store read runs in a worker thread)."""
        return await asyncio.to_thread(self.published_version, context_id)

    # asking
    def ask(
        self, question: str, context_id: str, *, mode: Mode = "learned", budget: int | None = None, **overrides: Any
    ) -> Answer:
        """Answer at once from the last published version; an in-flight sleep run is never waited for.

        `budget` is the test-time level (0..4), as in `SleepTime.ask`. Runs in the caller's thread.
        """
        self.record_query(context_id)  # on arrival: it ranks the context's due run at once
        answer = self.app.ask(question, context_id, mode=mode, budget=budget, **overrides)
        if (matched := self._matched(answer)) is not None:
            self.record_match(context_id, matched)
        self._emit("answered", context_id, version=answer.version, detail=f"route={answer.route}")
        return answer

    async def aask(
        self, question: str, context_id: str, *, mode: Mode = "learned", budget: int | None = None, **overrides: Any
    ) -> Answer:
        """Async `ask`."""
        await self.arecord_query(context_id)
        answer = await self.app.aask(question, context_id, mode=mode, budget=budget, **overrides)
        if (matched := self._matched(answer)) is not None:
            await self.arecord_match(context_id, matched)
        self._emit("answered", context_id, version=answer.version, detail=f"route={answer.route}")
        return answer

    def _matched(self, answer: Answer) -> bool | None:
        """Whether the answer's version predicted the question, as the policy is told (None: unknown)."""
        if answer.route == "predicted":
            return True
        if answer.version is None or answer.match_score is None:
            return None
        return answer.match_score >= self.match_score

    def history(self, context_id: str) -> ContextHistory:
        """What the policy sees of the context (a blank history for one never seen)."""
        ctx = self._contexts.get(context_id)
        return ctx.history if ctx is not None else ContextHistory()

    def pending(self, context_id: str) -> ScheduledSleep | None:
        """The context's run that waits for idle (or, once due, for a free slot or quota)."""
        ctx = self._contexts.get(context_id)
        if ctx is None or ctx.due_at is None or (ctx.timer is None and not ctx.due):
            return None
        return ScheduledSleep(context_id, due_in=max(0.0, ctx.due_at - self.clock.now()))

    async def apending(self, context_id: str) -> ScheduledSleep | None:
        """Async `pending`."""
        return self.pending(context_id)

    def in_flight(self, context_id: str) -> bool:
        ctx = self._contexts.get(context_id)
        return ctx is not None and ctx.task is not None

    async def ain_flight(self, context_id: str) -> bool:
        """Async `in_flight`."""
        return self.in_flight(context_id)
