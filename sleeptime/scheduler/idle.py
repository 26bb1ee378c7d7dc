"""The idle scheduler: sleep on a context once it has been idle for a while.

When a context changes, a sleep run is scheduled `idle_after` seconds later; a newer change (or a
`touch`) on that context restarts the wait (debounce per context). Due contexts start as
concurrency allows, the most recently queried first. Questions never wait for a sleep run: they are
answered from the last published learned-context version, and a run that finishes after a newer
change does not publish (the store's revision check refuses it; the event says ``stale``).

    >>> async with IdleScheduler(app, idle_after=30) as sched:     # doctest: +SKIP
    ...     await sched.anotify_change("shop", text=new_price_list)
    ...     answer = await sched.aask("How much are 3 pens?", "shop")

From synchronous code, ``with IdleScheduler(...)`` runs the same loop in a daemon thread. Time comes
from a `Clock`; tests use `FakeClock`, whose `advance(seconds)` fires due timers with no real waiting.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.clock import Clock, TimerHandle
from sleeptime.scheduler.due import ContextState, next_due
from sleeptime.scheduler.events import EventKind, SchedulerEvent
from sleeptime.scheduler.loop import LoopHost
from sleeptime.scheduler.protocol import ScheduledSleep, Scheduler, SleepOutcome
from sleeptime.scheduler.quota import TokenQuota

if TYPE_CHECKING:
    from sleeptime.facade import Answer, Mode, SleepTime

__all__ = ["IdleScheduler"]


class IdleScheduler(LoopHost):
    """Runs `app`'s sleep graph on contexts once they have been idle for `idle_after` seconds.

    Quotas count sleep tokens (input + output, from each run's usage), checked before a run starts
    (see `TokenQuota`): a context over `token_quota_per_context` is skipped (``skipped_quota``) until
    `reset_quota`; when `token_quota_per_hour` is spent, due runs wait until the rolling hour has room.

    Start it on a running loop (``async with`` / `astart`) or on its own daemon thread (``with`` /
    `start`). Every call may come from any thread; each has an async twin (``a<name>``).
    """

    def __init__(
        self,
        app: SleepTime,
        *,
        idle_after: float = 30.0,
        max_concurrency: int = 1,
        token_quota_per_context: int | None = None,
        token_quota_per_hour: int | None = None,
        clock: Clock | None = None,
        on_event: Callable[[SchedulerEvent], None] | None = None,
        sleep_overrides: dict[str, Any] | None = None,
    ) -> None:
        if not idle_after >= 0:  # also refuses NaN
            raise InvalidInputError(f"idle_after must be >= 0 seconds, got {idle_after!r}")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InvalidInputError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        self.app = app
        self.idle_after = idle_after
        self.max_concurrency = max_concurrency
        self.quota = TokenQuota(token_quota_per_context, token_quota_per_hour)
        self.on_event = on_event
        self.sleep_overrides = dict(sleep_overrides or {})
        self.timeline: list[SchedulerEvent] = []
        """Every event so far, in order."""
        super().__init__(clock)
        self._contexts: dict[str, ContextState] = {}
        self._hour_retry: TimerHandle | None = None
        self._dispatch_requested = False
        self._events_lock = threading.Lock()

    async def _close_here(self, wait: bool) -> None:
        for cid, ctx in self._contexts.items():
            if ctx.timer is not None:
                ctx.timer.cancel()
                ctx.timer = None
                self._emit("cancelled", cid, detail="scheduler stopped")
            ctx.due = False
            ctx.due_at = None
        if self._hour_retry is not None:
            self._hour_retry.cancel()
            self._hour_retry = None
        if not wait:
            for ctx in self._contexts.values():
                if ctx.task is not None:
                    ctx.task.cancel()
        await self._settle_here()

    # waiting
    async def asettle(self) -> None:
        """Return once no sleep run is in flight and none is due (timers set for later do not count)."""
        await self._on_own_loop(self._settle_here)

    def settle(self, timeout: float | None = None) -> None:
        """Sync `asettle`, from any thread but the scheduler loop's own."""
        self._block_on_loop(self._settle_here(), timeout)

    async def _settle_here(self) -> None:
        while self._dispatch_requested or any(c.task is not None for c in self._contexts.values()):
            tasks = [c.task for c in self._contexts.values() if c.task is not None]
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)  # let the requested dispatch run

    async def ajoin(self, context_id: str | None = None) -> SleepOutcome | None:
        """Wait until the context (default: every context) has no run scheduled, due or running.

        This waits through the idle delay, on the scheduler's clock (a `FakeClock` must be advanced).
        Returns the context's last outcome (None when it never slept, or when `context_id` is None).
        """
        return await self._on_own_loop(lambda: self._join_here(context_id))

    def join(self, context_id: str | None = None, *, timeout: float | None = None) -> SleepOutcome | None:
        """Sync `ajoin`, from any thread but the scheduler loop's own."""
        return self._block_on_loop(self._join_here(context_id), timeout)

    async def _join_here(self, context_id: str | None) -> SleepOutcome | None:
        def busy() -> bool:
            if context_id is not None:
                return context_id in self._contexts and self._contexts[context_id].busy()
            return any(c.busy() for c in self._contexts.values())

        while busy() or self._dispatch_requested:
            changed = self._state_changed
            assert changed is not None  # set by astart
            await changed.wait()
        ctx = self._contexts.get(context_id) if context_id is not None else None
        return ctx.outcome if ctx is not None else None

    # events
    def _emit(self, kind: EventKind, context_id: str, **fields: Any) -> SchedulerEvent:
        at = self._clock.now() if self._clock is not None else time.monotonic()
        event = SchedulerEvent(kind=kind, context_id=context_id, at=at, **fields)
        with self._events_lock:
            self.timeline.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _ctx(self, context_id: str) -> ContextState:
        return self._contexts.setdefault(context_id, ContextState())

    # changes
    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep:
        """The context changed: ingest `text`/`files` when given, then (re)schedule its sleep run."""
        self._require_loop()  # the not-running error comes before any ingest
        if text is not None or files:
            self.app.ingest(context_id, text, files=files)
        return self._on_loop(lambda: self._changed(context_id))

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> ScheduledSleep:
        """Async `notify_change`."""
        self._require_loop()
        if text is not None or files:
            await self.app.aingest(context_id, text, files=files)
        return await self._aon_loop(lambda: self._changed(context_id))

    def touch(self, context_id: str) -> ScheduledSleep | None:
        """Activity on the context without a change: a pending sleep run waits `idle_after` again."""
        return self._on_loop(lambda: self._touched(context_id))

    async def atouch(self, context_id: str) -> ScheduledSleep | None:
        """Async `touch`."""
        return await self._aon_loop(lambda: self._touched(context_id))

    def record_query(self, context_id: str) -> None:
        """A question arrived for the context: it goes first when several are due."""
        self._on_loop(lambda: self._queried(context_id))

    def _changed(self, context_id: str) -> ScheduledSleep:
        self._emit("changed", context_id)
        return self._reschedule(context_id)

    def _touched(self, context_id: str) -> ScheduledSleep | None:
        return self._reschedule(context_id) if self._ctx(context_id).timer is not None else None

    def _queried(self, context_id: str) -> None:
        self._ctx(context_id).last_query = self.clock.now()

    def _reschedule(self, context_id: str) -> ScheduledSleep:
        ctx = self._ctx(context_id)
        if ctx.timer is not None:
            ctx.timer.cancel()
            self._emit("cancelled", context_id, due_at=ctx.due_at, detail="newer activity")
        ctx.due = False
        ctx.due_at = self.clock.now() + self.idle_after
        ctx.timer = self.clock.call_later(self.idle_after, lambda: self._fire(context_id))
        self._emit("scheduled", context_id, due_at=ctx.due_at)
        self._notify_state()
        return ScheduledSleep(context_id, due_in=self.idle_after)

    def _fire(self, context_id: str) -> None:
        def due() -> None:
            ctx = self._ctx(context_id)
            ctx.timer = None
            ctx.due = True
            ctx.due_since = self.clock.now()
            self._request_dispatch()

        if self._loop is not None:
            self._on_loop(due)

    def _hour_retry_fire(self) -> None:
        def retry() -> None:
            self._hour_retry = None
            self._request_dispatch()

        if self._loop is not None:
            self._on_loop(retry)

    # dispatch
    def _request_dispatch(self) -> None:
        """Dispatch on the loop's next turn, so contexts falling due together are ranked together."""
        if self._loop is not None and not self._dispatch_requested:
            self._dispatch_requested = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_requested = False
        try:
            self._start_due_runs()
        finally:
            self._notify_state()

    def _start_due_runs(self) -> None:
        loop = self._loop
        if loop is None:
            return
        while sum(c.task is not None for c in self._contexts.values()) < self.max_concurrency:
            eligible = [(cid, c) for cid, c in self._contexts.items() if c.due and c.task is None]
            if not eligible:
                return
            cid, ctx = next_due(eligible)
            if (why := self.quota.context_exhausted(cid)) is not None:
                ctx.due = False
                ctx.outcome = SleepOutcome(cid, "skipped", published=False, detail=why)
                self._emit("skipped_quota", cid, tokens=self.quota.spent(cid), detail=why)
                continue
            now = self.clock.now()
            if (hour := self.quota.hour_exhausted(now)) is not None:
                # Global: nothing may start. Everything due stays due and is retried when the hour has room.
                why, retry_at = hour
                for other, octx in eligible:
                    if not octx.hour_skipped:
                        octx.hour_skipped = True
                        self._emit("skipped_quota", other, due_at=retry_at, tokens=self.quota.hour_spent(now),
                                   detail=why)
                if self._hour_retry is None:
                    self._hour_retry = self.clock.call_later(retry_at - now, self._hour_retry_fire)
                return
            ctx.due = False
            ctx.due_at = None
            ctx.hour_skipped = False
            ctx.task = loop.create_task(self._run_sleep(cid))

    async def _run_sleep(self, context_id: str) -> None:
        ctx = self._ctx(context_id)
        self._emit("sleep_started", context_id)
        try:
            result = await self.app.asleep(context_id, **self.sleep_overrides)
        except asyncio.CancelledError:
            ctx.outcome = SleepOutcome(context_id, "cancelled", published=False, detail="cancelled")
            self._emit("sleep_failed", context_id, detail="cancelled")
            raise
        except Exception as error:  # a failed run must not stop the scheduler; the event says why
            detail = f"{type(error).__name__}: {error}"
            ctx.outcome = SleepOutcome(context_id, "failed", published=False, detail=detail)
            self._emit("sleep_failed", context_id, detail=detail)
        else:
            tokens = result.usage.total_tokens
            self.quota.record(context_id, self.clock.now(), tokens)
            ctx.outcome = SleepOutcome(context_id, result.status, published=result.published,
                                       version=result.version, tokens=tokens)
            self._emit("sleep_finished", context_id, version=result.version, published=result.published,
                       status=result.status, tokens=tokens)
        finally:
            ctx.task = None
            if self._loop is not None:
                self._request_dispatch()
            self._notify_state()

    # cancelling
    def cancel(self, context_id: str) -> int:
        """Drop the context's pending run and cancel its running one; how many were dropped."""
        return self._on_loop(lambda: self._cancel_here(context_id))

    async def acancel(self, context_id: str) -> int:
        """Async `cancel`."""
        return await self._aon_loop(lambda: self._cancel_here(context_id))

    def _cancel_here(self, context_id: str) -> int:
        ctx = self._contexts.get(context_id)
        if ctx is None:
            return 0
        dropped = 0
        if ctx.timer is not None or ctx.due:
            if ctx.timer is not None:
                ctx.timer.cancel()
            self._emit("cancelled", context_id, due_at=ctx.due_at, detail="cancelled by the caller")
            ctx.timer, ctx.due, ctx.due_at = None, False, None
            dropped += 1
        if ctx.task is not None:
            ctx.task.cancel()
            dropped += 1
        self._notify_state()
        return dropped

    # quotas
    def reset_quota(self, context_id: str | None = None) -> None:
        """Forget the sleep tokens counted against one context (or all contexts)."""
        self._on_loop(lambda: self.quota.reset(context_id))

    def tokens_spent(self, context_id: str) -> int:
        return self.quota.spent(context_id)

    # status
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
        self.record_query(context_id)
        answer = self.app.ask(question, context_id, mode=mode, budget=budget, **overrides)
        self._emit("answered", context_id, version=answer.version, detail=f"route={answer.route}")
        return answer

    async def aask(
        self, question: str, context_id: str, *, mode: Mode = "learned", budget: int | None = None, **overrides: Any
    ) -> Answer:
        """Async `ask`."""
        await self._aon_loop(lambda: self._queried(context_id))
        answer = await self.app.aask(question, context_id, mode=mode, budget=budget, **overrides)
        self._emit("answered", context_id, version=answer.version, detail=f"route={answer.route}")
        return answer


if TYPE_CHECKING:
    _implements: type[Scheduler] = IdleScheduler  # mypy checks the class against the protocol
