"""A real `langgraph dev` validates a run's context like an in-process run: the graph factories in
langgraph.json see the context before the server drops the keys its schema does not list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.servers import AUTH_ENV, KEYS, ROOT, langgraph_dev

SCRIPTED = {"sleep_model": "scripted", "wake_model": "scripted", "max_rounds": 1}
CONTEXT = "A bakery sells muffins at $3 each.\nOn Monday it sold 40 muffins."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncLangGraphClient]:
    store_dir = tmp_path_factory.mktemp("server") / "store"
    with langgraph_dev(ROOT, env={"SLEEPTIME_STUDIO_STORE": str(store_dir), **AUTH_ENV}) as url, \
            closing(get_sync_client(url=url, api_key=KEYS["acme"])) as sdk:
        yield sdk


def _run(client: SyncLangGraphClient, graph: str, data: dict[str, Any], context: dict[str, Any]) -> Any:
    return client.runs.wait(None, graph, input=data, context=context)


def test_a_scripted_sleep_and_wake_run_on_the_server(client: SyncLangGraphClient) -> None:
    slept = _run(client, "sleep", {"context_id": "bakery", "text": CONTEXT}, SCRIPTED)
    assert slept["published"] is True, slept
    woke = _run(client, "wake", {"context_id": "bakery", "question": "How many muffins?"}, {**SCRIPTED, "budget": 2})
    assert woke["path"] == "learned" and woke["current_budget"] == 2, woke
    assert woke["answer"].startswith("From my notes:"), woke


@pytest.mark.parametrize(
    ("graph", "data", "context", "message"),
    [
        ("wake", {"question": "q", "mode": "test-time"}, {"budgett": 2}, r"InvalidInputError.*'budgett'\]; known"),
        ("sleep", {"context_id": "x", "text": CONTEXT}, {**SCRIPTED, "budget": 9}, r"InvalidInputError.*budget"),
        ("wake", {"question": "q", "mode": "testtime"}, SCRIPTED, r"InvalidInputError.*mode must be one of"),
        ("sleep", {"text": CONTEXT}, SCRIPTED, r"InvalidInputError.*a sleep run needs a context_id"),
    ],
)
def test_bad_runs_fail_with_the_typed_error(
    client: SyncLangGraphClient, graph: str, data: dict[str, Any], context: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message):  # the SDK raises a bare Exception "<type>: <message>"
        _run(client, graph, data, context)


def test_the_studio_form_still_lists_the_config_fields(client: SyncLangGraphClient) -> None:
    assistant = next(a for a in client.assistants.search(graph_id="wake", limit=5))
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert {"budget", "sleep_model", "wake_model"} <= set(schemas["context_schema"]["properties"])
    assert Path(ROOT / "langgraph.json").is_file()
