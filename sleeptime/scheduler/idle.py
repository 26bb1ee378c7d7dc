"""The idle scheduler: sleep on a context while it is idle, when and as much as its `SleepPolicy` says.

The policy (`sleeptime.scheduler.policy`) is consulted on every change and question. The default,
`Debounce`: a change schedules a run `idle_after` seconds later; a newer change (or a `touch`) restarts the
wait. Due contexts start as concurrency allows, highest policy priority first (`Debounce`: most recently
asked). Questions never wait: they are answered from the last published version, and a run that finishes
after a newer change does not publish (the store's revision check refuses it; the event says ``stale``).
``async with IdleScheduler(app)`` runs on the caller's loop, ``with IdleScheduler(app)`` in a daemon thread;
tests use `FakeClock`, whose `advance(seconds)` fires due timers with no real waiting.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.answering import AnswersFromPublished
from sleeptime.scheduler.clock import Clock, TimerHandle
from sleeptime.scheduler.due import ContextState, DueQueue
from sleeptime.scheduler.events import SchedulerEvent
from sleeptime.scheduler.loop import LoopHost
from sleeptime.scheduler.policy import Debounce, SleepPlan, SleepPolicy
from sleeptime.scheduler.protocol import ScheduledSleep, Scheduler, SleepOutcome
from sleeptime.scheduler.quota import TokenQuota

if TYPE_CHECKING:
    from sleeptime.facade import SleepTime

__all__ = ["IdleScheduler"]


class IdleScheduler(LoopHost, AnswersFromPublished):
    """Runs `app`'s sleep graph on contexts when its `policy` says (default: idle for `idle_after` seconds).

    A plan's samples / rounds / predicted questions override `sleep_overrides` for that run. `ask` tells the
    policy a question matched when its `Answer.match_score` is at least `match_score` (0.6: those questions
    carried the whole gain in evals/results/qwen15b-base) or a predicted answer was served.
    `keep_timeline=False` keeps no `timeline` (`on_event` still sees every event): for long simulations.

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
        policy: SleepPolicy | None = None,
        match_score: float = 0.6,
        keep_timeline: bool = True,
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
        self.policy: SleepPolicy = policy if policy is not None else Debounce(idle_after)
        self.match_score = match_score
        self.decision_seconds: deque[float] = deque(maxlen=200_000)
        """Wall seconds of each scheduling decision (change, question, due, dispatch), newest last."""
        self.keep_timeline = keep_timeline
        self.timeline: list[SchedulerEvent] = []
        """Every event so far, in order."""
        super().__init__(clock)
        self._contexts: dict[str, ContextState] = {}
        self._due = DueQueue()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._hour_retry: TimerHandle | None = None
        self._dispatch_requested = False
        self._events_lock = threading.Lock()

    async def _close_here(self, wait: bool) -> None:
        for cid, ctx in self._contexts.items():
            if ctx.timer is not None:
                ctx.timer.cancel()
                ctx.timer = None
                self._emit("cancelled", cid, detail="scheduler stopped")
            ctx.due, ctx.due_at = False, None
            self._due.discard(cid)
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
        while self._dispatch_requested or self._running:
            tasks = list(self._running.values())
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

    def _ctx(self, context_id: str) -> ContextState:
        return self._contexts.setdefault(context_id, ContextState())

    # changes
    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = (),
        *, size_tokens: int | None = None,
    ) -> ScheduledSleep:
        """The context changed: ingest `text`/`files` when given, then ask the policy for its sleep run.

        `size_tokens` (optional) tells the policy the context's size. When the policy declines, the returned
        `ScheduledSleep` has ``due_in=inf`` and its reason, and a pending run of the context is dropped.
        """
        self._require_loop()  # the not-running error comes before any ingest
        if text is not None or files:
            self.app.ingest(context_id, text, files=files)
        return self._on_loop(lambda: self._changed(context_id, size_tokens))

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = (),
        *, size_tokens: int | None = None,
    ) -> ScheduledSleep:
        """Async `notify_change`."""
        self._require_loop()
        if text is not None or files:
            await self.app.aingest(context_id, text, files=files)
        return await self._aon_loop(lambda: self._changed(context_id, size_tokens))

    def touch(self, context_id: str) -> ScheduledSleep | None:
        """Activity on the context without a change: a pending sleep run waits `idle_after` again."""
        return self._on_loop(lambda: self._touched(context_id))

    async def atouch(self, context_id: str) -> ScheduledSleep | None:
        """Async `touch`."""
        return await self._aon_loop(lambda: self._touched(context_id))

    def _timed(self, started: float) -> None:
        self.decision_seconds.append(time.perf_counter() - started)

    def _changed(self, context_id: str, size_tokens: int | None = None) -> ScheduledSleep:
        started = time.perf_counter()
        ctx = self._ctx(context_id)
        now = self.clock.now()
        ctx.history.on_change(now, size_tokens)
        self._emit("changed", context_id)
        plan = self.policy.on_change(ctx.history, now)
        if plan is None:
            self._drop_pending(context_id, ctx, f"{self.policy.name} policy declined")
            self._timed(started)
            return ScheduledSleep(context_id, due_in=math.inf, reason=f"{self.policy.name} policy declined")
        scheduled = self._reschedule(context_id, plan)
        self._timed(started)
        return scheduled

    def _drop_pending(self, context_id: str, ctx: ContextState, why: str) -> None:
        if ctx.timer is not None or ctx.due:
            if ctx.timer is not None:
                ctx.timer.cancel()
            self._emit("cancelled", context_id, due_at=ctx.due_at, detail=why)
        ctx.timer, ctx.due, ctx.due_at, ctx.plan = None, False, None, None
        self._due.discard(context_id)
        self._notify_state()

    def _touched(self, context_id: str) -> ScheduledSleep | None:
        ctx = self._ctx(context_id)
        return self._reschedule(context_id, ctx.plan) if ctx.timer is not None and ctx.plan is not None else None

    def _queried(self, context_id: str, matched: bool | None = None) -> None:
        started = time.perf_counter()
        ctx = self._ctx(context_id)
        now = self.clock.now()
        ctx.last_query = now
        ctx.history.on_query(now)
        plan = self.policy.on_query(ctx.history, now)
        if matched is not None:
            self._match_reported(context_id, matched)
        if context_id in self._due and (rank := self.policy.priority(ctx.history, now)) is not None:
            self._due.push(context_id, ctx, rank)  # re-rank a due context: it was just asked about
        elif plan is not None and not ctx.busy() and not ctx.history.slept_current():
            self._reschedule(context_id, plan)
        self._timed(started)

    def _reschedule(self, context_id: str, plan: SleepPlan) -> ScheduledSleep:
        ctx = self._ctx(context_id)
        if ctx.timer is not None:
            ctx.timer.cancel()
            self._emit("cancelled", context_id, due_at=ctx.due_at, detail="newer activity")
        ctx.due = False
        self._due.discard(context_id)
        ctx.plan = plan
        ctx.due_at = self.clock.now() + plan.delay
        ctx.timer = self.clock.call_later(plan.delay, lambda: self._fire(context_id))
        self._emit("scheduled", context_id, due_at=ctx.due_at, detail=plan.reason)
        self._notify_state()
        return ScheduledSleep(context_id, due_in=plan.delay, reason=plan.reason)

    def _fire(self, context_id: str) -> None:
        def due() -> None:
            started = time.perf_counter()
            ctx = self._ctx(context_id)
            ctx.timer, ctx.due, ctx.due_since = None, True, self.clock.now()
            self._queue_due(context_id, ctx)
            self._timed(started)

        if self._loop is not None:
            self._on_loop(due)

    def _queue_due(self, context_id: str, ctx: ContextState) -> None:
        """Rank a due context; one whose run is still going is queued when that run ends (`_run_sleep`)."""
        if (rank := self.policy.priority(ctx.history, self.clock.now())) is None:
            self._drop_pending(context_id, ctx, f"{self.policy.name} policy no longer wants it")
        elif ctx.task is None:
            self._due.push(context_id, ctx, rank)
            self._request_dispatch()

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
        started = time.perf_counter()
        try:
            self._start_due_runs()
        finally:
            self._notify_state()
            self._timed(started)

    def _start_due_runs(self) -> None:
        loop = self._loop
        if loop is None:
            return
        while len(self._running) < self.max_concurrency and len(self._due):
            now = self.clock.now()
            if (hour := self.quota.hour_exhausted(now)) is not None:
                # Global: nothing may start. Everything due stays due and is retried when the hour has room.
                held, retry_at = hour
                for other in self._due.queued():
                    if not (octx := self._contexts[other]).hour_skipped:
                        octx.hour_skipped = True
                        self._emit("skipped_quota", other, due_at=retry_at, tokens=self.quota.hour_spent(now),
                                   detail=held)
                if self._hour_retry is None:
                    self._hour_retry = self.clock.call_later(retry_at - now, self._hour_retry_fire)
                return
            cid = self._due.pop()
            if cid is None:
                return
            ctx = self._contexts[cid]
            if not ctx.due or ctx.task is not None:  # superseded entry (or closing)
                continue
            if self.policy.priority(ctx.history, now) is None:
                self._drop_pending(cid, ctx, f"{self.policy.name} policy no longer wants it")
                continue
            if (why := self.quota.context_exhausted(cid)) is not None:
                ctx.due = False
                ctx.outcome = SleepOutcome(cid, "skipped", published=False, detail=why)
                self._emit("skipped_quota", cid, tokens=self.quota.spent(cid), detail=why)
                continue
            ctx.due, ctx.due_at, ctx.hour_skipped = False, None, False
            ctx.history.on_sleep_started(now)
            ctx.task = self._running[cid] = loop.create_task(self._run_sleep(cid, ctx.history.revision))

    async def _run_sleep(self, context_id: str, revision: int) -> None:
        ctx = self._ctx(context_id)
        self._emit("sleep_started", context_id, detail=ctx.plan.reason if ctx.plan is not None else "")
        overrides = {**self.sleep_overrides, **(ctx.plan.overrides() if ctx.plan is not None else {})}
        try:
            result = await self.app.asleep(context_id, **overrides)
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
            ctx.history.on_sleep_finished(result.usage.output_tokens, result.published, revision,
                                         self.clock.now())
            ctx.outcome = SleepOutcome(context_id, result.status, published=result.published,
                                       version=result.version, tokens=tokens)
            self._emit("sleep_finished", context_id, version=result.version, published=result.published,
                       status=result.status, tokens=tokens)
        finally:
            ctx.task = None
            self._running.pop(context_id, None)
            if ctx.due:  # it fell due again while running
                self._queue_due(context_id, ctx)
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
            self._drop_pending(context_id, ctx, "cancelled by the caller")
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


if TYPE_CHECKING:
    _implements: type[Scheduler] = IdleScheduler  # mypy checks the class against the protocol
