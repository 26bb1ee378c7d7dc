"""Remote mode against a real `langgraph dev` on 127.0.0.1: delayed runs, and a newer change drops the stale one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sleeptime.remote import RemoteScheduler, context_thread_id
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
        assert first["status"] == "pending" and first["multitask_strategy"] == "rollback"
        assert [r["run_id"] for r in remote.pending("shop")] == [first["run_id"]]
        second = remote.notify_change("shop", text=NEW)
        runs = remote.runs("shop")
        assert [r["run_id"] for r in runs] == [second["run_id"]]  # the stale pending run is gone
        assert remote.published_version("shop") is None  # nothing ran yet: it waits for idle
        out = remote.wait("shop")
        assert out["published"] is True and out["version"] == 1
        assert remote.published_version("shop") == 1
        # Only the newer text was ever ingested: the dropped run never ran.
        record = remote.client.store.get_item(["sleeptime", "default", "contexts"], "shop")
        assert record["value"]["revision"] == 1
        assert [r["status"] for r in remote.runs("shop")] == ["success"]


def test_interrupt_strategy_keeps_the_stale_run_marked(server: str) -> None:
    with RemoteScheduler(server, idle_after=3, multitask_strategy="interrupt") as remote:
        first = remote.notify_change("cafe", text=OLD)
        second = remote.notify_change("cafe", text=NEW)
        remote.wait("cafe", second["run_id"])
        statuses = {r["run_id"]: r["status"] for r in remote.runs("cafe")}
        assert statuses[second["run_id"]] == "success"
        assert statuses[first["run_id"]] == "interrupted"
        assert remote.published_version("cafe") == 1


def test_change_without_text_carries_the_pending_text(server: str) -> None:
    with RemoteScheduler(server, idle_after=3) as remote:
        remote.notify_change("bakery", text=NEW)
        touched = remote.touch("bakery")
        assert touched is not None
        out = remote.wait("bakery")
        assert out["published"] is True
        record = remote.client.store.get_item(["sleeptime", "default", "contexts"], "bakery")
        assert record["value"]["chars"] == len(NEW)


def test_status_helpers_on_an_unknown_context(server: str) -> None:
    with RemoteScheduler(server, idle_after=1) as remote:
        assert remote.runs("nowhere") == []
        assert remote.published_version("nowhere") is None
        assert remote.touch("nowhere") is None
        assert context_thread_id("default", "nowhere") == remote.thread_id("nowhere")


async def test_async_twins_schedule_drop_and_join(server: str) -> None:
    async with RemoteScheduler(server, idle_after=3) as remote:
        assert await remote.aruns("diner") == [] and await remote.apublished_version("diner") is None
        first = await remote.anotify_change("diner", text=OLD)
        assert [r["run_id"] for r in await remote.apending("diner")] == [first["run_id"]]
        touched = await remote.atouch("diner")  # no text: the pending run's text is carried
        assert touched is not None and touched["run_id"] != first["run_id"]
        assert [r["run_id"] for r in await remote.aruns("diner")] == [touched["run_id"]]  # rolled back
        out = await remote.ajoin("diner")
        assert out["published"] is True and await remote.apublished_version("diner") == 1
        assert (await remote.ahead("diner") or {}).get("version") == 1
        assert await remote.ain_flight("diner") == [] and await remote.acancel("diner") == 0
        record = await remote.aclient.store.get_item(["sleeptime", "default", "contexts"], "diner")
        assert record["value"]["chars"] == len(OLD)
