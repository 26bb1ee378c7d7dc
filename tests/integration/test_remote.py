"""Remote mode against a real `langgraph dev` on 127.0.0.1: delayed runs, and a newer change drops the stale one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sleeptime.scheduler import Scheduler
from sleeptime.scheduler.remote import RemoteScheduler, context_thread_id
from sleeptime.stores.layout import KeyLayout
from tests.servers import ROOT, langgraph_dev

OLD = "A shop sells pens at $2 each."
NEW = "A shop sells pens at $3 each. Notebooks cost $5."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("langgraph-dev")
    config = {
        "dependencies": [str(ROOT)],
        "graphs": {"sleep": str(ROOT / "tests/integration/remote_graphs.py") + ":graph"},
        "store": {"index": {"dims": 64, "embed": str(ROOT / "tests/integration/remote_graphs.py") + ":embed",
                            "fields": ["text", "question"]}},
    }
    (tmp / "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
    with langgraph_dev(tmp, config=tmp / "langgraph.json", env={"PYTHONPATH": str(ROOT)}, timeout=120) as url:
        yield url


def test_newer_change_drops_the_pending_run_rollback(server: str) -> None:
    with RemoteScheduler(server, idle_after=3) as remote:
        first = remote.notify_change("shop", text=OLD)
        assert first.due_in == 3 and first.run_id is not None
        (run,) = remote.runs("shop")
        assert run["status"] == "pending" and run["multitask_strategy"] == "rollback"
        pending = remote.pending("shop")
        assert pending is not None and pending.run_id == first.run_id and 0 <= pending.due_in <= 3
        second = remote.notify_change("shop", text=NEW)
        runs = remote.runs("shop")
        assert [r["run_id"] for r in runs] == [second.run_id]  # the stale pending run is gone
        assert remote.published_version("shop") is None  # nothing ran yet: it waits for idle
        out = remote.join("shop")
        assert out is not None and out.published and out.version == 1 and out.run_id == second.run_id
        assert out.tokens is not None and out.tokens > 0
        assert remote.published_version("shop") == 1
        # Only the newer text was ever ingested: the dropped run never ran.
        record = remote.client.store.get_item(list(KeyLayout("default").context_key("shop")[0]), "shop")
        assert record["value"]["revision"] == 1
        assert [r["status"] for r in remote.runs("shop")] == ["success"]


def test_interrupt_strategy_keeps_the_stale_run_marked(server: str) -> None:
    with RemoteScheduler(server, idle_after=3, multitask_strategy="interrupt") as remote:
        first = remote.notify_change("cafe", text=OLD)
        second = remote.notify_change("cafe", text=NEW)
        assert second.run_id is not None
        out = remote.join("cafe", second.run_id)
        assert out is not None and out.published
        statuses = {r["run_id"]: r["status"] for r in remote.runs("cafe")}
        assert statuses[second.run_id] == "success"
        assert statuses[first.run_id] == "interrupted"
        stale = remote.join("cafe", first.run_id)
        assert stale is not None and stale.status == "cancelled" and not stale.published
        assert remote.published_version("cafe") == 1


def test_change_without_text_carries_the_pending_text(server: str) -> None:
    with RemoteScheduler(server, idle_after=3) as remote:
        remote.notify_change("bakery", text=NEW)
        touched = remote.touch("bakery")
        assert touched is not None
        out = remote.join("bakery")
        assert out is not None and out.published
        record = remote.client.store.get_item(list(KeyLayout("default").context_key("bakery")[0]), "bakery")
        assert record["value"]["chars"] == len(NEW)


def test_status_helpers_on_an_unknown_context(server: str) -> None:
    with RemoteScheduler(server, idle_after=1) as remote:
        assert isinstance(remote, Scheduler)
        assert remote.runs("nowhere") == [] and remote.join("nowhere") is None
        assert remote.pending("nowhere") is None and not remote.in_flight("nowhere")
        assert remote.published_version("nowhere") is None
        assert remote.touch("nowhere") is None
        assert context_thread_id("default", "nowhere") == remote.thread_id("nowhere")


async def test_async_twins_schedule_drop_and_join(server: str) -> None:
    async with RemoteScheduler(server, idle_after=3) as remote:
        assert await remote.aruns("diner") == [] and await remote.apublished_version("diner") is None
        first = await remote.anotify_change("diner", text=OLD)
        pending = await remote.apending("diner")
        assert pending is not None and pending.run_id == first.run_id
        touched = await remote.atouch("diner")  # no text: the pending run's text is carried
        assert touched is not None and touched.run_id != first.run_id
        assert [r["run_id"] for r in await remote.aruns("diner")] == [touched.run_id]  # rolled back
        out = await remote.ajoin("diner")
        assert out is not None and out.published and await remote.apublished_version("diner") == 1
        assert (await remote.ahead("diner") or {}).get("version") == 1
        assert not await remote.ain_flight("diner") and await remote.acancel("diner") == 0
        record = await remote.aclient.store.get_item(list(KeyLayout("default").context_key("diner")[0]), "diner")
        assert record["value"]["chars"] == len(OLD)


def test_tenant_and_context_split_differently_get_their_own_threads(server: str) -> None:
    """Issue 11 item 5: tenant `acme` context `b:c` and tenant `acme:b` context `c` shared a thread, so one's
    change rolled back the other's pending run."""
    with RemoteScheduler(server, idle_after=60, context={"tenant": "acme"}) as acme, \
            RemoteScheduler(server, idle_after=60, context={"tenant": "acme:b"}) as acme_b:
        mine = acme.notify_change("b:c", text=OLD)
        theirs = acme_b.notify_change("c", text=NEW)
        assert acme.thread_id("b:c") != acme_b.thread_id("c")
        still = acme.pending("b:c")
        assert still is not None and still.run_id == mine.run_id  # not rolled back by the other tenant
        other = acme_b.pending("c")
        assert other is not None and other.run_id == theirs.run_id
        assert acme.cancel("b:c") == 1 and acme_b.cancel("c") == 1
