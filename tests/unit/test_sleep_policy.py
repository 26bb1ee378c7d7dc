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
    RatePrior,
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


DAY = 86400.0


def _feed(policy: Value, events: list[tuple[float, int, str]]) -> dict[str, ContextHistory]:
    """Drive `policy` as a scheduler would (history first, then the policy); 0 = change, 1 = question."""
    histories: dict[str, ContextHistory] = {}
    for t, kind, cid in sorted(events):
        history = histories.setdefault(cid, ContextHistory())
        if kind == 0:
            history.on_change(t)
            policy.on_change(history, t)
        else:
            history.on_query(t)
            policy.on_query(history, t)
    return histories


def _regular(cid: str, changes_every: float, sessions_every: float, per_session: int, until: float,
             offset: float = 0.0) -> list[tuple[float, int, str]]:
    out = [(offset + i * changes_every, 0, cid) for i in range(int(until // changes_every))]
    for i in range(int(until // sessions_every)):
        start = offset + 17.0 + i * sessions_every
        out += [(start + 30.0 * j, 1, cid) for j in range(per_session)]
    return out


def test_value_leaves_a_context_edited_faster_than_asked_and_sleeps_one_asked_often_on_the_change() -> None:
    policy = Value()
    events = _regular("edited", 600, 7200, 1, 2 * DAY) + _regular("asked", DAY / 2, 3600, 5, 2 * DAY, 1.0)
    h = _feed(policy, events)
    now = 2 * DAY + 100
    h["edited"].on_change(now)
    h["asked"].on_change(now)
    assert policy.on_change(h["edited"], now) is None  # 144 changes a day, 12 questions: nothing to pay for
    plan = policy.on_change(h["asked"], now)  # 24 sessions a day, 2 changes: asked long before the next one
    assert plan is not None and plan.delay == policy.idle_after
    questions, sessions = policy.expected(h["asked"], now)
    assert 10 < sessions < 14 and abs(questions - 5 * sessions) < 1e-9  # ~12 sessions of 5 per revision
    h["edited"].on_query(now + 60)
    assert policy.on_query(h["edited"], now + 60) is None  # and a question does not change that
    assert policy.net_value(h["edited"], now + 60) < 0 < policy.net_value(h["asked"], now)


def test_value_waits_for_the_first_question_of_a_context_asked_once_per_revision() -> None:
    # one session of 8 questions per revision: a run on the change is wasted whenever no session comes before
    # the next change; the first question says this revision's session has come (7 more on their way)
    policy = Value()
    h = _feed(policy, _regular("c", DAY / 2, DAY / 2, 8, 3 * DAY))
    now = 3 * DAY
    h["c"].on_change(now)
    assert policy.on_change(h["c"], now) is None
    assert policy.net_value(h["c"], now) > 0  # worth a sleep in expectation; waiting for a question is worth more
    assert policy.wait_advantage(h["c"], now) < 0
    h["c"].on_query(now + 17)
    plan = policy.on_query(h["c"], now + 17)
    assert plan is not None and plan.delay == 0.0


def test_window_counts_leave_out_the_opening_event_and_the_one_decided_on() -> None:
    h = ContextHistory()
    h.on_change(0.0)  # opens the window
    h.on_change(100.0)
    assert h.window_counts(100.0) == (0, 0, 0)  # judged at the change at 100: not evidence of its own rate
    assert h.window_counts(150.0) == (1, 0, 0) and h.window(150.0) == 150.0
    h.on_query(160.0)
    h.on_query(170.0)  # same burst
    assert h.window_counts(170.0) == (1, 1, 1)
    assert h.window_counts(200.0) == (1, 2, 1)
    q = ContextHistory()
    q.on_query(5.0)  # opened by a question: its session does not count
    q.on_query(9000.0)
    assert q.window_counts(9000.0) == (0, 0, 0) and q.window_counts(9001.0) == (0, 1, 1)


def test_rate_prior_pools_alike_contexts_and_follows_unlike_ones() -> None:
    alike = RatePrior()
    for _ in range(50):
        alike.add_context(0.0)
        for k in range(10):
            alike.add_event(k, 0.0)
    rate, var = alike.fit(1000.0)
    assert abs(rate - 0.01) < 1e-12 and var == 0.0
    assert alike.posterior(0, 1000.0, 1000.0) == alike.posterior(30, 1000.0, 1000.0) == rate
    unlike = RatePrior()
    for i in range(50):
        unlike.add_context(0.0)
        for k in range(100 if i % 2 else 0):
            unlike.add_event(k, 0.0)
    rate, var = unlike.fit(1000.0)
    assert abs(rate - 0.05) < 1e-12 and var > 0.002
    assert unlike.posterior(100, 1000.0, 1000.0) > 0.095 and unlike.posterior(0, 1000.0, 1000.0) < 0.002


async def test_the_scheduler_measures_each_runs_seconds_for_the_policy() -> None:
    class Slow(FakeApp):
        async def asleep(self, context_id: str, **options: Any) -> _Result:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            clock.call_later(40.0, lambda: done.set_result(None))
            await done
            return await super().asleep(context_id, **options)

    app, clock = Slow(), FakeClock()
    async with _sched(app, clock, Debounce(idle_after=1)) as sched:
        await sched.anotify_change("a")
        clock.advance(1)
        for _ in range(3):
            await asyncio.sleep(0)
        clock.advance(40)
        await sched.ajoin("a")
        assert sched.history("a").last_sleep_seconds == 40.0


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
