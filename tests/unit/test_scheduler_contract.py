"""One scheduler contract: both schedulers implement `Scheduler`, every call has its async twin, and
the in-process scheduler keeps it (join through the idle delay, cancel, sync use; removed names stay gone)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from sleeptime.scheduler import (
    FakeClock,
    IdleScheduler,
    ScheduledSleep,
    Scheduler,
    SleepOutcome,
)
from sleeptime.scheduler.remote import RemoteScheduler
from tests.scripts import NOTES, staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."
WAIT = 10.0


def _methods(cls: type) -> dict[str, Any]:
    return {n: f for n, f in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


def _protocol_members() -> dict[str, Any]:
    return {n: f for n, f in vars(Scheduler).items() if inspect.isfunction(f) and not n.startswith("_")}


def test_protocol_pairs_every_call_with_its_async_twin() -> None:
    members = _protocol_members()
    sync = {n for n, f in members.items() if not inspect.iscoroutinefunction(f)}
    asynchronous = {n for n, f in members.items() if inspect.iscoroutinefunction(f)}
    assert sync and {f"a{n}" for n in sync} == asynchronous
    for name in sync:
        plain, twin = inspect.signature(members[name]), inspect.signature(members[f"a{name}"])
        assert plain.parameters == twin.parameters and plain.return_annotation == twin.return_annotation, name


@pytest.mark.parametrize("cls", [IdleScheduler, RemoteScheduler])
def test_both_schedulers_implement_the_protocol(cls: type, app: SleepTime) -> None:
    instance = IdleScheduler(app) if cls is IdleScheduler else RemoteScheduler("http://127.0.0.1:9")
    assert isinstance(instance, Scheduler)
    methods = _methods(cls)
    for name, member in _protocol_members().items():
        impl = methods[name]
        assert inspect.iscoroutinefunction(impl) == inspect.iscoroutinefunction(member), name
        wanted = list(inspect.signature(member).parameters)
        assert list(inspect.signature(impl).parameters)[: len(wanted)] == wanted, name
        # Same declared return type (annotations are strings under `from __future__ import annotations`).
        assert inspect.signature(impl).return_annotation == inspect.signature(member).return_annotation, name


@pytest.mark.parametrize("cls", [IdleScheduler, RemoteScheduler])
def test_every_async_call_has_a_sync_twin_and_io_calls_have_async_twins(cls: type) -> None:
    methods = _methods(cls)
    for name, fn in methods.items():
        if inspect.iscoroutinefunction(fn):
            assert name.startswith("a") and name[1:] in methods, f"{cls.__name__}.{name} has no sync twin"
            assert not inspect.iscoroutinefunction(methods[name[1:]]), name
    # Calls that reach the app or the server, beyond the protocol, have twins too.
    extra = {"ask", "settle", "start"} if cls is IdleScheduler else {"runs", "head"}
    for name in set(_protocol_members()) | extra:
        if not inspect.iscoroutinefunction(methods[name]):
            assert f"a{name}" in methods, f"{cls.__name__}.{name} has no async twin"


async def test_join_waits_through_the_idle_delay_and_returns_the_outcome(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=30, clock=clock) as sched:
        assert await sched.ajoin("shop") is None  # never scheduled: nothing to wait for
        scheduled = await sched.anotify_change("shop", text=CONTEXT)
        assert scheduled == ScheduledSleep("shop", due_in=30.0)
        joined = asyncio.ensure_future(sched.ajoin("shop"))
        await sched.asettle()
        assert not joined.done()  # the run is not due yet: join keeps waiting
        clock.advance(30)
        outcome = await asyncio.wait_for(joined, WAIT)
        assert await sched.apublished_version("shop") == 1
    assert outcome is not None and outcome.published and outcome.version == 1
    assert outcome.tokens == sched.tokens_spent("shop") > 0 and outcome.run_id is None


async def test_join_on_a_real_clock(app: SleepTime) -> None:
    async with IdleScheduler(app, idle_after=0.05) as sched:
        await sched.anotify_change("shop", text=CONTEXT)
        outcome = await asyncio.wait_for(sched.ajoin("shop"), WAIT)
    assert outcome is not None and outcome.version == 1 and sched.published_version("shop") == 1


async def test_touch_reports_the_rescheduled_run_or_none(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock) as sched:
        assert await sched.atouch("shop") is None
        sched.notify_change("shop", text=CONTEXT)
        clock.advance(4)
        assert (await sched.apending("shop")) == ScheduledSleep("shop", due_in=6.0)
        assert await sched.atouch("shop") == ScheduledSleep("shop", due_in=10.0)
        assert sched.pending("shop") == ScheduledSleep("shop", due_in=10.0)
        assert not await sched.ain_flight("shop")


async def test_cancel_drops_a_pending_run(app: SleepTime) -> None:
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock) as sched:
        assert await sched.acancel("shop") == 0
        sched.notify_change("shop", text=CONTEXT)
        assert sched.cancel("shop") == 1
        assert sched.pending("shop") is None and clock.pending() == 0
        clock.advance(20)
        assert await sched.ajoin("shop") is None
    assert [e.kind for e in sched.timeline] == ["changed", "scheduled", "cancelled"]
    assert app.learned("shop") is None


async def test_cancel_stops_a_running_sleep(memory_store: InMemoryStore) -> None:
    entered, release = threading.Event(), threading.Event()

    def reflect(messages: list[Any]) -> str:
        entered.set()
        release.wait(WAIT)
        return NOTES

    model = staged_model(reflect=reflect)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    clock = FakeClock()
    try:
        async with IdleScheduler(app, idle_after=1, clock=clock) as sched:
            sched.notify_change("shop", text=CONTEXT)
            clock.advance(1)
            assert await asyncio.to_thread(entered.wait, WAIT)
            assert sched.in_flight("shop")
            assert await sched.acancel("shop") == 1
            outcome = await asyncio.wait_for(sched.ajoin("shop"), WAIT)
    finally:
        release.set()
    assert outcome == SleepOutcome("shop", "cancelled", published=False, detail="cancelled")
    assert app.learned("shop") is None


def test_a_plain_idle_scheduler_runs_from_sync_code(app: SleepTime) -> None:
    with IdleScheduler(app, idle_after=0.05) as sched:
        assert sched.running
        sched.notify_change("shop", text=CONTEXT)
        outcome = sched.join("shop", timeout=WAIT)
        assert outcome is not None and outcome.published
        assert sched.ask("How much does Alice pay for the pens?", "shop").version == 1
    assert not sched.running


async def test_blocking_calls_on_the_schedulers_own_loop_are_refused(app: SleepTime) -> None:
    async with IdleScheduler(app, idle_after=1, clock=FakeClock()) as sched:
        with pytest.raises(RuntimeError, match="deadlock"):
            sched.join("shop")
        with pytest.raises(RuntimeError, match="deadlock"):
            sched.settle()


def test_async_twins_work_from_another_loop(app: SleepTime) -> None:
    """A scheduler on its own thread serves coroutines of the caller's loop without blocking it."""
    clock = FakeClock()
    with IdleScheduler(app, idle_after=5, clock=clock) as sched:

        async def use() -> SleepOutcome | None:
            await sched.anotify_change("shop", text=CONTEXT)
            clock.advance(5)
            return await sched.ajoin("shop")

        outcome = asyncio.run(use())
    assert outcome is not None and outcome.version == 1


def test_removed_names_are_gone(app: SleepTime) -> None:
    """0.1.0 has one name per thing: the pre-release quota keywords and BackgroundScheduler are gone."""
    import sleeptime.scheduler

    with pytest.raises(TypeError, match="token_budget_per_context"):
        IdleScheduler(app, token_budget_per_context=5)  # type: ignore[call-arg]
    assert not hasattr(IdleScheduler, "reset_budget")
    assert not hasattr(sleeptime.scheduler, "BackgroundScheduler")
