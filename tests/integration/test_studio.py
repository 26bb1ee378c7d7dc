"""Both graphs served by a real `langgraph dev` (as LangGraph Studio uses them), driven with langgraph_sdk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from sleeptime.demo import CONTEXT, QUESTIONS
from tests.servers import AUTH_ENV, KEYS, ROOT, langgraph_dev

FAST = "embedded:smollm2-135m"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    store_dir = tmp_path_factory.mktemp("studio") / "store"
    # The project's own langgraph.json, run from the project root as `langgraph dev` would be.
    with langgraph_dev(ROOT, env={"SLEEPTIME_STUDIO_STORE": str(store_dir), **AUTH_ENV}) as url:
        yield url, store_dir


def test_both_graphs_are_served(server: tuple[str, Path]) -> None:
    with closing(get_sync_client(url=server[0], api_key=KEYS["acme"])) as client:
        graph_ids = {a["graph_id"] for a in client.assistants.search(limit=50)}
    assert {"sleep", "wake", "chat"} <= graph_ids


def test_sleep_then_wake_through_the_server(server: tuple[str, Path]) -> None:
    url, store_dir = server
    with closing(get_sync_client(url=url, api_key=KEYS["acme"])) as client:
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
