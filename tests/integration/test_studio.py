"""Both graphs served by a real `langgraph dev` (as LangGraph Studio uses them), driven with langgraph_sdk."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from sleeptime.demo import CONTEXT, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
FAST = "embedded:smollm2-135m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    store_dir = tmp_path_factory.mktemp("studio") / "store"
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "1",
        "LANGSMITH_TRACING": "false",
        "SLEEPTIME_STUDIO_STORE": str(store_dir),
    }
    log = tmp_path_factory.mktemp("studio-log") / "server.log"
    langgraph = Path(sys.executable).parent / "langgraph"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"langgraph dev did not serve on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, store_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_both_graphs_are_served(server: tuple[str, Path]) -> None:
    with closing(get_sync_client(url=server[0])) as client:
        graph_ids = {a["graph_id"] for a in client.assistants.search(limit=50)}
    assert {"sleep", "wake", "chat"} <= graph_ids


def test_sleep_then_wake_through_the_server(server: tuple[str, Path]) -> None:
    url, store_dir = server
    with closing(get_sync_client(url=url)) as client:
        _sleep_then_wake(client, store_dir)


def _sleep_then_wake(client: SyncLangGraphClient, store_dir: Path) -> None:
    context = {"sleep_model": FAST, "wake_model": FAST, "max_rounds": 1, "n_questions": 1,
               "max_tokens_sleep": 200, "max_tokens_wake": 64, "verify": "off"}
    slept = client.runs.wait(None, "sleep", input={"context_id": "bakery", "text": CONTEXT}, context=context)
    assert isinstance(slept, dict)
    assert slept["published"] is True and slept["version"] == 1, slept
    woke = client.runs.wait(
        None, "wake", input={"context_id": "bakery", "question": QUESTIONS[0].question, "budget": 0},
        context=context,
    )
    assert isinstance(woke, dict)
    assert woke["path"] == "learned" and woke["version"] == 1 and woke["answer"].strip(), woke
    assert sum(r["output_tokens"] for r in woke["usage"]) > 0
    # The server ran on the Chroma store named in langgraph.json, not its own in-memory store.
    assert (store_dir / "chroma.sqlite3").stat().st_size > 0
