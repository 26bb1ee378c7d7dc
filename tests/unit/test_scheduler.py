"""The idle scheduler on a fake clock: debounce, cancel, priority, quotas, asking during a sleep run."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.demo import run_timeline
from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from sleeptime.scheduler import FakeClock, IdleScheduler, ScheduledSleep, SchedulerEvent
from tests.scripts import NOTES, staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."
NEW_CONTEXT = "A new price list: pens cost $3 each."
WAIT = 10.0  # upper bound for a thread hand-off, never a synchronisation by sleeping


def kinds(sched: IdleScheduler, context_id: str | None = None) -> list[str]:
    return [e.kind for e in sched.timeline if context_id is None or e.context_id == context_id]


def finished(sched: IdleScheduler) -> list[SchedulerEvent]:
    return [e for e in sched.timeline if e.kind == "sleep_finished"]


class Gate:
    """A reflect reply that blocks until released, so a sleep run is in flight while the test acts."""

    def __init__(self, reply: str = NOTES) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.reply = reply
        self.blocking = True

    def __call__(self, messages: list[Any]) -> str:
        if self.blocking:
            self.entered.set()
            if not self.release.wait(WAIT):
                raise TimeoutError("gate never released")
        return self.reply


def make_app(memory_store: InMemoryStore, **replies: Any) -> SleepTime:
    model = staged_model(**replies)
    return SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)


async def test_change_sleeps_only_after_idle(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=30, clock=clock) as sched:
        sched.notify_change("shop", text=CONTEXT)
        assert sched.pending("shop") == ScheduledSleep("shop", due_in=30.0)
        clock.advance(29.9)
        await sched.asettle()
        assert "sleep_started" not in kinds(sched) and app.learned("shop") is None
        clock.advance(0.1)
        await sched.asettle()
    assert kinds(sched) == ["changed", "scheduled", "sleep_started", "sleep_finished"]
    (done,) = finished(sched)
    assert done.published and done.version == 1 and done.at == 30.0 and done.tokens and done.tokens > 0
    learned = app.learned("shop")
    assert learned is not None and learned.version == 1


async def test_newer_change_cancels_and_reschedules(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=30, clock=clock) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(20)
        sched.notify_change("shop", text=NEW_CONTEXT)  # debounce: the first run never starts
        clock.advance(20)
        await sched.asettle()
        assert "sleep_started" not in kinds(sched)
        sched.touch("shop")  # activity without change also pushes the run back
        clock.advance(29)
        await sched.asettle()
        assert "sleep_started" not in kinds(sched)
        clock.advance(1)
        await sched.asettle()
    assert kinds(sched) == [
        "changed", "scheduled", "changed", "cancelled", "scheduled", "cancelled", "scheduled",
        "sleep_started", "sleep_finished",
    ]
    assert [e.at for e in sched.timeline if e.kind == "sleep_started"] == [70.0]
    assert clock.pending() == 0
    assert "pens cost $3" in app.learned_store().raw_text("shop")


async def test_touch_without_pending_change_schedules_nothing(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=5, clock=clock) as sched:
        sched.touch("shop")
        clock.advance(100)
        await sched.asettle()
    assert sched.timeline == []


async def test_debounce_is_per_context(memory_store: InMemoryStore) -> None:
    app = make_app(memory_store)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock, max_concurrency=2) as sched:
        sched.notify_change("a", text=CONTEXT)
        clock.advance(5)
        sched.notify_change("b", text=CONTEXT)  # does not push back context a
        clock.advance(5)
        await sched.asettle()
        assert [e.context_id for e in finished(sched)] == ["a"]
        clock.advance(5)
        await sched.asettle()
    assert [(e.context_id, e.at) for e in finished(sched)] == [("a", 10.0), ("b", 15.0)]


async def test_question_during_sleep_is_answered_at_once_from_published_version(memory_store: InMemoryStore) -> None:
    gate = Gate()
    gate.blocking = False
    app = make_app(memory_store, reflect=gate)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=30, clock=clock) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(30)
        await sched.asettle()
        assert app.learned("shop") is not None
        gate.blocking = True
        sched.notify_change("shop")  # same text, sleep again (e.g. more samples wanted)
        clock.advance(30)
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        assert sched.in_flight("shop")
        answer = await asyncio.wait_for(sched.aask("How much does Alice pay for the pens?", "shop"), WAIT)
        assert answer.version == 1 and answer.route == "learned"
        assert sched.in_flight("shop")  # the sleep run is still blocked: the answer did not wait
        gate.release.set()
        await sched.asettle()
        later = await sched.aask("How much does Alice pay for the pens?", "shop")
    assert later.version == 2
    answered = [e for e in sched.timeline if e.kind == "answered"]
    assert [e.version for e in answered] == [1, 2]
    order = kinds(sched)
    assert order.index("answered") < len(order) - 1 - order[::-1].index("sleep_finished")


async def test_run_finishing_after_newer_change_does_not_publish(memory_store: InMemoryStore) -> None:
    gate = Gate()
    app = make_app(memory_store, reflect=gate)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=30, clock=clock) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(30)
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        await sched.anotify_change("shop", text=NEW_CONTEXT)  # arrives while the run reads the old text
        gate.blocking = False
        gate.release.set()
        await sched.asettle()
        stale = finished(sched)[-1]
        assert stale.published is False and stale.status.startswith("stale")
        assert app.learned("shop") is None
        assert sched.pending("shop") is not None  # the newer change still has its own run scheduled
        clock.advance(30)
        await sched.asettle()
    fresh = finished(sched)[-1]
    assert fresh.published and fresh.version == 1
    learned = app.learned("shop")
    assert learned is not None and learned.source_revision == 2


async def test_change_while_running_waits_for_the_run_then_sleeps_again(memory_store: InMemoryStore) -> None:
    gate = Gate()
    app = make_app(memory_store, reflect=gate)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock, max_concurrency=4) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(10)
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        sched.notify_change("shop", text=NEW_CONTEXT)
        clock.advance(10)  # due again, but one run per context at a time
        await asyncio.sleep(0)
        assert kinds(sched).count("sleep_started") == 1
        gate.blocking = False
        gate.release.set()
        await sched.asettle()
    assert [(e.published, e.version) for e in finished(sched)] == [(False, None), (True, 1)]


async def test_most_recently_queried_context_sleeps_first(memory_store: InMemoryStore) -> None:
    app = make_app(memory_store)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock, max_concurrency=1) as sched:
        for cid in ("a", "b", "c"):
            sched.notify_change(cid, text=CONTEXT)
        sched.record_query("a")
        clock.advance(1)
        sched.record_query("c")
        clock.advance(1)
        sched.record_query("b")  # most recent
        clock.advance(10)
        await sched.asettle()
    assert [e.context_id for e in sched.timeline if e.kind == "sleep_started"] == ["b", "c", "a"]


async def test_unqueried_contexts_run_in_due_order(memory_store: InMemoryStore) -> None:
    app = make_app(memory_store)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock) as sched:
        sched.notify_change("late", text=CONTEXT)
        sched.notify_change("early", text=CONTEXT)
        sched.touch("late")
        clock.advance(1)
        sched.touch("late")
        clock.advance(20)
        await sched.asettle()
    assert [e.context_id for e in sched.timeline if e.kind == "sleep_started"] == ["early", "late"]


async def test_concurrency_limit_holds(memory_store: InMemoryStore) -> None:
    gate = Gate()
    app = make_app(memory_store, reflect=gate)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=1, clock=clock, max_concurrency=2) as sched:
        for cid in ("a", "b", "c"):
            sched.notify_change(cid, text=CONTEXT)
        clock.advance(1)
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        await asyncio.sleep(0)
        assert sum(sched.in_flight(cid) for cid in "abc") == 2
        gate.blocking = False
        gate.release.set()
        await sched.asettle()
    assert len(finished(sched)) == 3


async def test_per_context_quota_skips_with_reason(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=5, clock=clock, token_quota_per_context=1) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(5)
        await sched.asettle()
        spent = sched.tokens_spent("shop")
        assert spent > 1
        sched.notify_change("shop", text=NEW_CONTEXT)
        clock.advance(5)
        await sched.asettle()
        skipped = [e for e in sched.timeline if e.kind == "skipped_quota"]
        assert len(skipped) == 1 and "context quota spent" in skipped[0].detail
        assert skipped[0].tokens == spent
        sched.notify_change("other", text=CONTEXT)  # another context has its own quota
        clock.advance(5)
        await sched.asettle()
        sched.reset_quota("shop")
        sched.notify_change("shop")
        clock.advance(5)
        await sched.asettle()
    assert [(e.context_id, e.version) for e in finished(sched)] == [("shop", 1), ("other", 1), ("shop", 2)]


async def test_hourly_quota_skips_then_retries_when_the_hour_has_room(memory_store: InMemoryStore) -> None:
    app = make_app(memory_store)
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock, token_quota_per_hour=1) as sched:
        sched.notify_change("a", text=CONTEXT)
        clock.advance(10)
        await sched.asettle()
        sched.notify_change("b", text=CONTEXT)
        clock.advance(10)
        await sched.asettle()
        skipped = [e for e in sched.timeline if e.kind == "skipped_quota"]
        assert [(e.context_id, e.due_at) for e in skipped] == [("b", 3610.0)]
        assert "hourly quota spent" in skipped[0].detail
        clock.advance(3589)
        await sched.asettle()
        assert [e.context_id for e in finished(sched)] == ["a"]
        clock.advance(1)  # t = 3610: the first run's tokens left the window
        await sched.asettle()
    assert [(e.context_id, e.at) for e in finished(sched)] == [("a", 10.0), ("b", 3610.0)]


async def test_failed_sleep_is_an_event_and_the_scheduler_goes_on(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=1, clock=clock) as sched:
        sched.notify_change("missing")  # nothing was ingested: sleep fails with UnknownContextError
        clock.advance(1)
        await sched.asettle()
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(1)
        await sched.asettle()
    failed = [e for e in sched.timeline if e.kind == "sleep_failed"]
    assert len(failed) == 1 and "UnknownContextError" in failed[0].detail
    assert finished(sched)[-1].published


async def test_stop_cancels_pending_runs(app: SleepTime) -> None:
    clock = FakeClock()
    sched = IdleScheduler(app, idle_after=5, clock=clock)
    await sched.astart()
    sched.notify_change("shop", text=CONTEXT)
    await sched.aclose()
    clock.advance(10)
    assert kinds(sched) == ["changed", "scheduled", "cancelled"]
    assert app.learned("shop") is None
    with pytest.raises(RuntimeError, match="not running"):
        sched.notify_change("shop")


def test_not_started_scheduler_refuses_changes_before_ingesting(app: SleepTime) -> None:
    sched = IdleScheduler(app)
    with pytest.raises(RuntimeError, match="not running"):
        sched.notify_change("shop", text=CONTEXT)
    assert app.learned_store().list_contexts() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"idle_after": -1}, "idle_after"), ({"max_concurrency": 0}, "max_concurrency"),
     ({"token_quota_per_hour": -5}, "token_quota_per_hour"), ({"idle_after": float("nan")}, "idle_after"),
     ({"token_quota_per_context": 1.5}, "token_quota_per_context"), ({"max_concurrency": True}, "max_concurrency")],
)
def test_bad_settings_are_rejected(app: SleepTime, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        IdleScheduler(app, **kwargs)


def test_fake_clock_fires_in_order_and_skips_cancelled() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.now())))
    clock.call_later(2, lambda: fired.append(("a", clock.now())))
    clock.call_later(3, lambda: fired.append(("x", clock.now()))).cancel()

    def chain() -> None:
        clock.call_later(1, lambda: fired.append(("chained", clock.now())))

    clock.call_later(1, chain)
    clock.advance(4)
    assert fired == [("a", 2.0), ("chained", 2.0)]
    clock.advance(1)
    assert fired[-1] == ("b", 5.0) and clock.now() == 5.0
    with pytest.raises(InvalidInputError, match="backwards"):
        clock.advance(-1)


def test_background_scheduler_serves_a_sync_app(memory_store: InMemoryStore) -> None:
    gate = Gate()
    gate.blocking = False
    app = make_app(memory_store, reflect=gate)
    clock = FakeClock()
    events: list[str] = []
    with IdleScheduler(app, idle_after=30, clock=clock, on_event=lambda e: events.append(e.kind)) as sched:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(30)
        sched.settle(WAIT)
        assert sched.ask("How much does Alice pay?", "shop").version == 1
        gate.blocking = True
        sched.notify_change("shop")
        clock.advance(30)
        assert gate.entered.wait(WAIT)
        assert sched.ask("How much does Alice pay?", "shop").version == 1  # not blocked by the run
        gate.release.set()
        sched.settle(WAIT)
        assert sched.ask("How much does Alice pay?", "shop").version == 2
    assert events.count("sleep_finished") == 2 and events.count("answered") == 3


def test_sync_and_async_schedulers_make_the_same_timeline(memory_store: InMemoryStore) -> None:
    def script(sched: IdleScheduler, clock: FakeClock) -> None:
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(10)

    async_app = make_app(InMemoryStore(index=memory_store.index_config))
    sync_app = make_app(InMemoryStore(index=memory_store.index_config))

    async def run_async() -> IdleScheduler:
        clock = FakeClock()
        async with IdleScheduler(async_app, idle_after=10, clock=clock) as sched:
            script(sched, clock)
            await sched.asettle()
            await sched.aask("How much?", "shop")
        return sched

    a = asyncio.run(run_async())
    clock = FakeClock()
    with IdleScheduler(sync_app, idle_after=10, clock=clock) as s:
        script(s, clock)
        s.settle(WAIT)
        s.ask("How much?", "shop")
    strip = [(e.kind, e.at, e.version, e.published, e.tokens) for e in a.timeline]
    assert strip == [(e.kind, e.at, e.version, e.published, e.tokens) for e in s.timeline]


def test_demo_prints_the_timeline() -> None:
    lines: list[str] = []
    run_timeline(scripted=True, out=lines.append)
    text = "\n".join(lines)
    order = ["changed", "scheduled", "sleep_started", "sleep_finished", "answered from version 1",
             "answered from version 2"]
    positions = [text.index(word) for word in order]
    assert positions == sorted(positions), text
    assert "cancelled" in text and "version 2  published" in text
