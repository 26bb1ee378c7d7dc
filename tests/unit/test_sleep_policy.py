"""The sleep policy the schedulers consult: debounce (the old behaviour), eager, lazy and value; the match
guard that stops paying for predictions that stopped matching; the due queue; the remote scheduler's use."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from sleeptime.scheduler import (
    ContextHistory,
    Debounce,
    FakeClock,
    IdleScheduler,
    Lazy,
    MatchGuard,
    SleepPlan,
    Value,
    policy_from_name,
)
from sleeptime.scheduler.due import ContextState, DueQueue
from sleeptime.scheduler.remote import RemoteScheduler


@dataclass
class _Usage:
    total_tokens: int

    @property
    def output_tokens(self) -> int:
        return self.total_tokens // 4


@dataclass
class _Result:
    published: bool
    version: int | None
    usage: _Usage = field(default_factory=lambda: _Usage(100))
    status: str = "published"


class FakeApp:
    """Sleeps instantly, publishing version n; records each call's options."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def asleep(self, context_id: str, **options: Any) -> _Result:
        self.calls.append((context_id, options))
        return _Result(published=True, version=len(self.calls))


def _sched(app: FakeApp, clock: FakeClock, policy: Any, **kw: Any) -> IdleScheduler:
    return IdleScheduler(cast(SleepTime, app), clock=clock, policy=policy, **kw)


async def test_default_policy_is_debounce_and_keeps_the_old_behaviour() -> None:
    app, clock = FakeApp(), FakeClock()
    async with _sched(app, clock, None, idle_after=30) as sched:
        assert isinstance(sched.policy, Debounce) and sched.policy.idle_after == 30
        await sched.anotify_change("a")
        clock.advance(29)
        await sched.anotify_change("a")  # restarts the wait
        clock.advance(29)
        await sched.asettle()
        assert app.calls == []
        clock.advance(1)
        await sched.ajoin("a")
    assert [c for c, _ in app.calls] == ["a"]
    assert sched.decision_seconds  # every decision is timed


async def test_lazy_sleeps_only_after_the_first_question_of_a_revision() -> None:
    app, clock = FakeApp(), FakeClock()
    async with _sched(app, clock, Lazy()) as sched:
        declined = await sched.anotify_change("a")
        assert math.isinf(declined.due_in) and "declined" in declined.reason
        clock.advance(3600)
        await sched.asettle()
        assert app.calls == []
        await sched.arecord_query("a")
        clock.advance(0)
        await sched.ajoin("a")
        assert len(app.calls) == 1
        await sched.arecord_query("a")  # the revision was slept on: no second run
        clock.advance(10)
        await sched.asettle()
        assert len(app.calls) == 1
        await sched.anotify_change("a")
        await sched.arecord_query("a")
        clock.advance(0)
        await sched.ajoin("a")
    assert len(app.calls) == 2


async def test_value_waits_for_questions_and_sets_the_plan_size() -> None:
    app, clock = FakeApp(), FakeClock()
    policy = Value(idle_after=5, n_questions=2)
    async with _sched(app, clock, policy) as sched:
        assert math.isinf((await sched.anotify_change("cold")).due_in)  # nobody asked: not worth a sleep
        for _ in range(12):  # a burst of questions: the rest of it is worth a sleep
            await sched.arecord_query("cold")
            clock.advance(10)
        await sched.ajoin("cold")
    assert len(app.calls) == 1
    assert app.calls[0][1] == {"samples": 1, "max_rounds": 1, "n_questions": 2}


def test_value_prefers_one_sample_on_the_calibrated_levels() -> None:
    history = ContextHistory()
    history.on_change(0.0)
    for t in range(50):
        history.on_query(float(t))
    policy = Value()
    plan = policy.on_query(history, 50.0)
    assert plan is not None and plan.samples == 1 and plan.delay == 0.0
    assert policy.net_value(history, 50.0) > 0


async def test_guard_stops_sleeping_once_predictions_stop_matching() -> None:
    app, clock = FakeApp(), FakeClock()
    guard = MatchGuard(threshold=0.2)
    async with _sched(app, clock, Debounce(idle_after=1, guard=guard)) as sched:
        await sched.anotify_change("a")
        clock.advance(1)
        await sched.ajoin("a")
        assert len(app.calls) == 1
        await sched.anotify_change("a")  # scheduled while predictions still match ...
        for _ in range(200):
            await sched.arecord_query("a", matched=False)
        assert guard.tripped_at == 1.0 and guard.global_rate < 0.2
        clock.advance(1)  # ... and dropped when it falls due
        await sched.asettle()
        assert len(app.calls) == 1
        assert math.isinf((await sched.anotify_change("a")).due_in)
        for _ in range(200):  # matches again: sleeping resumes
            await sched.arecord_query("a", matched=True)
        assert (await sched.anotify_change("a")).due_in == 1
        clock.advance(1)
        await sched.ajoin("a")
    assert len(app.calls) == 2


async def test_closing_with_runs_queued_starts_none_of_them() -> None:
    class Stuck(FakeApp):
        async def asleep(self, context_id: str, **options: Any) -> _Result:
            self.calls.append((context_id, options))
            await asyncio.Event().wait()  # never finishes on its own
            raise AssertionError("unreachable")

    app, clock = Stuck(), FakeClock()
    sched = _sched(app, clock, Debounce(idle_after=1), max_concurrency=1)
    await sched.astart()
    for cid in "abc":
        await sched.anotify_change(cid)
    clock.advance(1)
    await asyncio.sleep(0.01)
    assert len(app.calls) == 1
    await asyncio.wait_for(sched.aclose(wait=False), 5)  # the queued two must not start as the first is cancelled
    assert len(app.calls) == 1


async def test_ask_records_the_question_on_arrival_and_its_match_once_answered() -> None:
    seen: list[int] = []

    @dataclass
    class _Answer:
        version: int | None = 1
        route: str = "learned"
        match_score: float | None = 0.7

    class Asking(FakeApp):
        async def aask(self, question: str, context_id: str, **kw: Any) -> _Answer:
            seen.append(sched.history(context_id).queries)  # already counted while the answer is made
            return _Answer()

    app, clock = Asking(), FakeClock()
    guard = MatchGuard(window=0.5)
    sched = _sched(app, clock, Debounce(guard=guard), match_score=0.6)
    async with sched:
        await sched.aask("q", "a")
    history = sched.history("a")
    assert seen == [1] and history.queries == 1 and history.match_obs == 1 and history.match_recent == 1.0
    assert guard.global_rate > guard.prior  # the match (0.7 >= 0.6) was reported


def test_guard_without_reports_never_trips() -> None:
    guard = MatchGuard()
    history = ContextHistory()
    for t in range(100):
        history.on_query(float(t))
    assert guard.allows(history) and guard.tripped_at is None


def test_due_queue_pops_by_priority_and_skips_superseded_entries() -> None:
    queue = DueQueue()
    contexts = {c: ContextState() for c in "abc"}
    queue.push("a", contexts["a"], 1.0)
    queue.push("b", contexts["b"], 3.0)
    queue.push("c", contexts["c"], 2.0)
    queue.push("b", contexts["b"], 0.0)  # re-ranked: the old entry is skipped
    queue.discard("c")
    assert [queue.pop(), queue.pop(), queue.pop()] == ["a", "b", None]
    for i in range(1000):  # superseded entries do not pile up
        queue.push("a", contexts["a"], float(i))
    assert len(queue._heap) < 200


def test_policy_from_name() -> None:
    assert policy_from_name("eager").on_change(ContextHistory(), 0.0) == SleepPlan(0.0, reason="changed")
    assert isinstance(policy_from_name("value", match_value=10.0), Value)
    with pytest.raises(InvalidInputError):
        policy_from_name("never")


class _Runs:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create(self, thread_id: str, assistant_id: str, **kw: Any) -> dict[str, Any]:
        self.created.append(kw)
        return {"run_id": f"r{len(self.created)}", "status": "pending"}

    def get(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "status": "pending"}

    def list(self, thread_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return []

    def cancel(self, thread_id: str, run_id: str) -> None: ...


class _Threads:
    def create(self, **kw: Any) -> None: ...


class _Client:
    def __init__(self) -> None:
        self.runs, self.threads = _Runs(), _Threads()


def test_remote_scheduler_consults_the_same_policy() -> None:
    remote = RemoteScheduler("http://127.0.0.1:9", policy=Lazy(), context={"tenant": "t"})
    client = _Client()
    remote.client = cast(Any, client)
    assert math.isinf(remote.notify_change("a", text="x").due_in)
    assert client.runs.created == []
    scheduled = remote.record_query("a")
    assert scheduled is not None and scheduled.due_in == 0
    assert client.runs.created[0]["after_seconds"] == 0
    assert remote.record_query("a") is None  # this revision has its run
    value = RemoteScheduler("http://127.0.0.1:9", policy=Debounce(idle_after=2.5, guard=None))
    value.client = cast(Any, client)
    assert value.notify_change("b").due_in == 3  # the server takes whole seconds


def test_every_builtin_policy_runs_on_a_fake_clock() -> None:
    async def run(name: str) -> int:
        app, clock = FakeApp(), FakeClock()
        async with _sched(app, clock, policy_from_name(name)) as sched:
            for step in range(20):
                if step % 5 == 0:
                    await sched.anotify_change("a")
                await sched.arecord_query("a", matched=True)
                clock.advance(60)
                await asyncio.sleep(0)
            await sched.asettle()
        return len(app.calls)

    counts = {name: asyncio.run(run(name)) for name in ("debounce", "eager", "lazy", "value")}
    assert counts["debounce"] == counts["eager"] == counts["lazy"] == 4
    assert 0 <= counts["value"] <= 4
