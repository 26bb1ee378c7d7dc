"""The idle scheduler: sleep on a context once it has been idle for a while.

When a context changes, a sleep run is scheduled `idle_after` seconds later; a newer change (or a
`touch`) on that context restarts the wait (debounce per context). Due contexts start as
concurrency allows, the most recently queried first. Questions never wait for a sleep run: they are
answered from the last published learned-context version, and a run that finishes after a newer
change does not publish (the store's revision check refuses it; the event says ``stale``).

    >>> async with IdleScheduler(app, idle_after=30) as sched:     # doctest: +SKIP
    ...     sched.notify_change("shop", text=new_price_list)
    ...     answer = await sched.aask("How much are 3 pens?", "shop")

`BackgroundScheduler` runs the same loop in a daemon thread for synchronous apps. Time comes from
a `Clock`; tests use `FakeClock`, whose `advance(seconds)` fires due timers with no real waiting.

Run the demo timeline with: ``python -m sleeptime.scheduler --demo [--scripted]``
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from sleeptime.facade import Answer, Mode, SleepTime
    from sleeptime.testing import ScriptedChatModel

__all__ = [
    "BackgroundScheduler",
    "Clock",
    "FakeClock",
    "IdleScheduler",
    "LoopClock",
    "SchedulerEvent",
    "TimerHandle",
    "run_demo",
]

EventKind = Literal[
    "changed",
    "scheduled",
    "cancelled",
    "sleep_started",
    "sleep_finished",
    "sleep_failed",
    "skipped_budget",
    "answered",
]

_T = TypeVar("_T")
_HOUR = 3600.0


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
    """When a scheduled run becomes due (or, for an hourly-budget skip, when it is retried)."""
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


# clocks
class TimerHandle(Protocol):
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

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due by then (including ones set while firing)."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
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


# scheduler
@dataclass
class _ContextState:
    timer: TimerHandle | None = None
    due_at: float | None = None
    due: bool = False
    running: bool = False
    last_query: float = float("-inf")
    due_since: float = 0.0
    tokens_spent: int = 0
    hour_skipped: bool = False


@dataclass
class _HourWindow:
    spent: deque[tuple[float, int]] = field(default_factory=deque)

    def total(self, now: float) -> int:
        while self.spent and self.spent[0][0] <= now - _HOUR:
            self.spent.popleft()
        return sum(t for _, t in self.spent)


class IdleScheduler:
    """Runs `app`'s sleep graph on contexts once they have been idle for `idle_after` seconds.

    Budgets count sleep tokens (input + output, from each run's usage). They are checked before a
    run starts, so one run may end above its budget; the next one is then skipped with a
    ``skipped_budget`` event. A context over its own budget is skipped until `reset_budget`; when the
    hourly budget is spent, the run is retried once the rolling hour has room again.

    Use it inside a running asyncio loop (`await start()`/`await stop()`, or `async with`). The
    change and query methods are plain functions and may be called from any thread.
    """

    def __init__(
        self,
        app: SleepTime,
        *,
        idle_after: float = 30.0,
        max_concurrency: int = 1,
        token_budget_per_context: int | None = None,
        token_budget_per_hour: int | None = None,
        clock: Clock | None = None,
        on_event: Callable[[SchedulerEvent], None] | None = None,
        sleep_overrides: dict[str, Any] | None = None,
    ) -> None:
        if idle_after < 0:
            raise ValueError(f"idle_after must be >= 0, got {idle_after!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        for name, value in (("token_budget_per_context", token_budget_per_context),
                            ("token_budget_per_hour", token_budget_per_hour)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.app = app
        self.idle_after = idle_after
        self.max_concurrency = max_concurrency
        self.token_budget_per_context = token_budget_per_context
        self.token_budget_per_hour = token_budget_per_hour
        self.on_event = on_event
        self.sleep_overrides = dict(sleep_overrides or {})
        self.timeline: list[SchedulerEvent] = []
        """Every event so far, in order."""
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._contexts: dict[str, _ContextState] = {}
        self._hour = _HourWindow()
        self._hour_retry: TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatch_requested = False
        self._events_lock = threading.Lock()
        self._state_lock = threading.RLock()

    # lifecycle
    @property
    def clock(self) -> Clock:
        if self._clock is None:
            raise RuntimeError("the scheduler has no clock until it starts (or pass clock=...)")
        return self._clock

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("scheduler already started")
        self._loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = LoopClock(self._loop)

    async def stop(self, *, wait: bool = True) -> None:
        """Cancel pending timers; wait for in-flight runs (`wait=True`) or cancel them."""
        with self._state_lock:
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
            for task in list(self._tasks):
                task.cancel()
        await self.wait_idle()
        self._loop = None

    async def __aenter__(self) -> IdleScheduler:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop(wait=exc is None)

    async def wait_idle(self) -> None:
        """Return once no sleep run is in flight and none is due (timers set for later do not count)."""
        while self._tasks or self._dispatch_requested:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await asyncio.sleep(0)  # let the requested dispatch run

    # events
    def _emit(self, kind: EventKind, context_id: str, **fields: Any) -> SchedulerEvent:
        at = self._clock.now() if self._clock is not None else time.monotonic()
        event = SchedulerEvent(kind=kind, context_id=context_id, at=at, **fields)
        with self._events_lock:
            self.timeline.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    # thread hand-off: all scheduling state changes on the loop's thread
    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the scheduler is not running: use `async with IdleScheduler(...)` or `await start()`")
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            return fn()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the caller's thread
                future.set_exception(error)

        loop.call_soon_threadsafe(run)
        return future.result()

    def _ctx(self, context_id: str) -> _ContextState:
        return self._contexts.setdefault(context_id, _ContextState())

    # changes
    def notify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> None:
        """The context changed: ingest `text`/`files` when given, then (re)schedule its sleep run."""
        if self._loop is None:
            self._on_loop(lambda: None)  # raises the not-running error before any ingest
        if text is not None or files:
            self.app.ingest(context_id, text, files=files)
        self._on_loop(lambda: self._changed(context_id))

    async def anotify_change(
        self, context_id: str, text: str | None = None, files: Sequence[str | Path] = ()
    ) -> None:
        if text is not None or files:
            await self.app.aingest(context_id, text, files=files)
        self._on_loop(lambda: self._changed(context_id))

    def touch(self, context_id: str) -> None:
        """Activity on the context without a change: a pending sleep run waits `idle_after` again."""
        self._on_loop(lambda: self._touched(context_id))

    def record_query(self, context_id: str) -> None:
        """A question arrived for the context: it goes first when several are due."""
        self._on_loop(lambda: self._queried(context_id))

    def _changed(self, context_id: str) -> None:
        self._emit("changed", context_id)
        self._reschedule(context_id)

    def _touched(self, context_id: str) -> None:
        ctx = self._ctx(context_id)
        if ctx.timer is not None:
            self._reschedule(context_id)

    def _queried(self, context_id: str) -> None:
        self._ctx(context_id).last_query = self.clock.now()

    def _reschedule(self, context_id: str) -> None:
        ctx = self._ctx(context_id)
        if ctx.timer is not None:
            ctx.timer.cancel()
            self._emit("cancelled", context_id, due_at=ctx.due_at, detail="newer activity")
        ctx.due = False
        ctx.due_at = self.clock.now() + self.idle_after
        ctx.timer = self.clock.call_later(self.idle_after, lambda: self._fire(context_id))
        self._emit("scheduled", context_id, due_at=ctx.due_at)

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
        if self._loop is None:
            return
        while len(self._tasks) < self.max_concurrency:
            eligible = [(cid, c) for cid, c in self._contexts.items() if c.due and not c.running]
            if not eligible:
                return
            # Most recently queried first; then the one due longest.
            cid, ctx = max(eligible, key=lambda item: (item[1].last_query, -item[1].due_since))
            budget = self.token_budget_per_context
            if budget is not None and ctx.tokens_spent >= budget:
                ctx.due = False
                self._emit("skipped_budget", cid, tokens=ctx.tokens_spent,
                           detail=f"context budget spent: {ctx.tokens_spent} of {budget} sleep tokens")
                continue
            hourly = self.token_budget_per_hour
            now = self.clock.now()
            if hourly is not None and (spent := self._hour.total(now)) >= hourly:
                # Global: nothing may start. Everything due stays due and is retried when the hour has room.
                retry_at = self._hour.spent[0][0] + _HOUR if self._hour.spent else now
                for other, octx in eligible:
                    if not octx.hour_skipped:
                        octx.hour_skipped = True
                        self._emit("skipped_budget", other, due_at=retry_at, tokens=spent,
                                   detail=f"hourly budget spent: {spent} of {hourly} sleep tokens in the last hour")
                if self._hour_retry is None:
                    self._hour_retry = self.clock.call_later(retry_at - now, self._hour_retry_fire)
                return
            ctx.due = False
            ctx.due_at = None
            ctx.hour_skipped = False
            ctx.running = True
            task = self._loop.create_task(self._run_sleep(cid))
            self._tasks.add(task)

    async def _run_sleep(self, context_id: str) -> None:
        ctx = self._ctx(context_id)
        self._emit("sleep_started", context_id)
        try:
            result = await self.app.asleep(context_id, **self.sleep_overrides)
        except asyncio.CancelledError:
            self._emit("sleep_failed", context_id, detail="cancelled")
            raise
        except Exception as error:  # a failed run must not stop the scheduler; the event says why
            self._emit("sleep_failed", context_id, detail=f"{type(error).__name__}: {error}")
        else:
            tokens = result.usage.total_tokens
            ctx.tokens_spent += tokens
            self._hour.spent.append((self.clock.now(), tokens))
            self._emit("sleep_finished", context_id, version=result.version, published=result.published,
                       status=result.status, tokens=tokens)
        finally:
            ctx.running = False
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            if self._loop is not None:
                self._request_dispatch()

    def reset_budget(self, context_id: str | None = None) -> None:
        """Forget the sleep tokens counted against one context (or all contexts)."""
        def reset() -> None:
            for cid, ctx in self._contexts.items():
                if context_id is None or cid == context_id:
                    ctx.tokens_spent = 0
        self._on_loop(reset)

    # status
    def tokens_spent(self, context_id: str) -> int:
        ctx = self._contexts.get(context_id)
        return ctx.tokens_spent if ctx else 0

    def pending(self) -> dict[str, float]:
        """Contexts with a sleep run scheduled, and when each becomes due."""
        return {cid: c.due_at for cid, c in self._contexts.items() if c.timer is not None and c.due_at is not None}

    def in_flight(self) -> list[str]:
        return sorted(cid for cid, c in self._contexts.items() if c.running)

    # asking
    def ask(
        self, question: str, context_id: str, *, mode: Mode = "sleep", budget: int | None = None, **overrides: Any
    ) -> Answer:
        """Answer at once from the last published version; an in-flight sleep run is never waited for.

        Runs in the caller's thread (from inside the loop, prefer `aask`).
        """
        self.record_query(context_id)
        answer = self.app.ask(question, context_id, mode=mode, budget=budget, **overrides)
        self._emit("answered", context_id, version=answer.version, detail=f"path={answer.path}")
        return answer

    async def aask(
        self, question: str, context_id: str, *, mode: Mode = "sleep", budget: int | None = None, **overrides: Any
    ) -> Answer:
        self.record_query(context_id)
        answer = await self.app.aask(question, context_id, mode=mode, budget=budget, **overrides)
        self._emit("answered", context_id, version=answer.version, detail=f"path={answer.path}")
        return answer


class BackgroundScheduler(IdleScheduler):
    """An IdleScheduler whose asyncio loop runs in a daemon thread, for synchronous apps.

    >>> with BackgroundScheduler(app, idle_after=30) as sched:   # doctest: +SKIP
    ...     sched.notify_change("shop", text=price_list)
    ...     sched.ask("How much are 3 pens?", "shop")
    """

    def __init__(self, app: SleepTime, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    def start_background(self) -> BackgroundScheduler:
        if self._thread is not None:
            raise RuntimeError("scheduler already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread_loop = loop
        self._thread = threading.Thread(target=main, name="sleeptime-scheduler", daemon=True)
        self._thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(IdleScheduler.start(self), loop).result()
        return self

    def stop_background(self, *, wait: bool = True, timeout: float | None = None) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(IdleScheduler.stop(self, wait=wait), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._thread = self._thread_loop = None

    def wait_idle_blocking(self, timeout: float | None = None) -> None:
        """Block the calling thread until no sleep run is in flight or due."""
        loop = self._thread_loop
        if loop is None:
            raise RuntimeError("the background scheduler is not running")
        asyncio.run_coroutine_threadsafe(self.wait_idle(), loop).result(timeout)

    def __enter__(self) -> BackgroundScheduler:
        return self.start_background()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_background(wait=exc is None)


# demo
def scripted_demo_model() -> ScriptedChatModel:
    """A fast scripted model for demos: notes, one predicted question, a short answer per stage."""
    import json
    import re

    from langchain_core.messages import BaseMessage

    from sleeptime.testing import ScriptedChatModel

    def reply(messages: list[BaseMessage]) -> str:
        system = messages[0].text if messages else ""
        user = messages[-1].text if messages else ""
        numbers = re.findall(r"\$?\d+(?:\.\d+)?", user)
        fact = next((line.strip() for line in user.splitlines() if re.search(r"\d", line)), user[:120])
        if "thinking about a situation" in system:
            return f"Key fact: {fact}\nSTATUS: DONE"
        if "predict the questions" in system:
            return json.dumps({"questions": [{"question": "What are the key numbers?",
                                              "answer": ", ".join(numbers[:5]) or "none"}]})
        if "You check answers" in system:
            return json.dumps({"verdict": "accept", "reason": "consistent with the notes"})
        note = next((line for line in user.splitlines() if line.startswith("Key fact:")), fact)
        return f"From my notes: {note.removeprefix('Key fact: ')}"

    return ScriptedChatModel(default=reply)


async def _demo(app: SleepTime, idle_after: float, out: Callable[[str], None]) -> None:
    clock = FakeClock()

    def show(event: SchedulerEvent) -> None:
        out(event.describe())

    context = "shop"
    async with IdleScheduler(app, idle_after=idle_after, clock=clock, on_event=show) as sched:
        out(f"-- change: the shop's price list arrives (idle_after={idle_after:g}s, simulated clock)")
        await sched.anotify_change(context, text="A shop sells pens at $2 each and notebooks at $4 each.")
        clock.advance(idle_after / 2)
        out("-- more activity before the context went idle: the pending run is pushed back")
        sched.touch(context)
        out(f"-- no activity for {idle_after:g}s: the context is idle, its sleep run starts")
        clock.advance(idle_after)
        await sched.wait_idle()
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version}: {answer.answer.strip()[:160]}")
        out("-- change: prices go up; a question meanwhile is answered from the published version")
        await sched.anotify_change(context, text="A shop sells pens at $3 each and notebooks at $5 each.")
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version} while the new context waits for idle")
        clock.advance(idle_after)
        await sched.wait_idle()
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version}: {answer.answer.strip()[:160]}")


def run_demo(*, scripted: bool = False, path: str | Path | None = None, idle_after: float = 30.0,
             out: Callable[[str], None] = print) -> None:
    """Print a timeline: change -> idle -> sleep start/end -> question answered from version N.

    `scripted=True` uses an in-memory store and a scripted model (instant); otherwise the embedded
    model and an on-disk Chroma store at `path` (a temporary folder when None).
    """
    import tempfile

    from sleeptime.facade import SleepTime

    if scripted:
        from langgraph.store.memory import InMemoryStore

        from sleeptime.testing import HashEmbeddings

        model = scripted_demo_model()
        store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
        app = SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=1, n_questions=1)
        asyncio.run(_demo(app, idle_after, out))
        return
    with tempfile.TemporaryDirectory(prefix="sleeptime-demo-") as tmp:
        app = SleepTime(path=path or tmp, max_rounds=1, n_questions=1, max_tokens_sleep=192,
                        max_tokens_wake=96, max_escalations=0)
        asyncio.run(_demo(app, idle_after, out))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sleeptime.scheduler", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="print a timeline of the idle scheduler at work")
    parser.add_argument("--scripted", action="store_true", help="use a scripted model (instant) instead of the "
                        "embedded one")
    parser.add_argument("--idle-after", type=float, default=30.0, help="idle seconds before sleeping (simulated)")
    parser.add_argument("--path", default=None, help="Chroma folder for the embedded run (default: a temp folder)")
    args = parser.parse_args(argv)
    if not args.demo:
        parser.print_help()
        return 2
    run_demo(scripted=args.scripted, path=args.path, idle_after=args.idle_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
