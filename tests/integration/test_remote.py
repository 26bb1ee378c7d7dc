"""Remote mode against a real `langgraph dev` on 127.0.0.1: delayed runs, and a newer change drops the stale one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sleeptime.remote import RemoteScheduler, context_thread_id

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
OLD = "A shop sells pens at $2 each."
NEW = "A shop sells pens at $3 each. Notebooks cost $5."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = free_port()
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "1",
           "LANGSMITH_TRACING": "false", "PYTHONPATH": str(ROOT)}
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
         "--config", str(tmp / "langgraph.json")],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited: {(tmp / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(url + "/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not come up on {url}: {(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)  # polling a starting server, not synchronising tests
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
