"""Server tenancy on a real `langgraph dev` with the project's langgraph.json (issue 30, item 1):
two callers with their own API keys; the second reads nothing of the first's tenant, through runs or
through the store API, and a run's input reads files only under the allowed roots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.servers import AUTH_ENV, KEYS, ROOT, langgraph_dev

pytestmark = pytest.mark.integration

SCRIPTED = {"sleep_model": "scripted", "wake_model": "scripted", "max_rounds": 1}
CONTEXT = "A bakery sells muffins at $3 each.\nOn Monday it sold 40 muffins."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("tenancy")
    allowed = tmp / "allowed"
    for tenant in KEYS:
        (allowed / tenant).mkdir(parents=True)
        (allowed / tenant / "notes.md").write_text(f"{tenant}'s notes: muffins cost $3.")
    (tmp / "secret.txt").write_text("the root password is hunter2")
    (allowed / "acme" / "escape.txt").symlink_to(tmp / "secret.txt")
    env = {"SLEEPTIME_STUDIO_STORE": str(tmp / "store"), "SLEEPTIME_SERVER_FILE_ROOTS": str(allowed / "{tenant}"),
           **AUTH_ENV}
    with langgraph_dev(ROOT, env=env) as url:
        yield url, tmp


@pytest.fixture(scope="module")
def acme(server: tuple[str, Path]) -> Iterator[SyncLangGraphClient]:
    with closing(get_sync_client(url=server[0], api_key=KEYS["acme"])) as client:
        client.runs.wait(None, "sleep", input={"context_id": "bakery", "text": CONTEXT}, context=SCRIPTED)
        yield client


@pytest.fixture(scope="module")
def globex(server: tuple[str, Path]) -> Iterator[SyncLangGraphClient]:
    with closing(get_sync_client(url=server[0], api_key=KEYS["globex"])) as client:
        yield client


def _status(call: Any) -> int:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        call()
    return caught.value.response.status_code


def test_no_key_or_a_wrong_key_is_refused(server: tuple[str, Path]) -> None:
    for key in (None, "not-a-key-0123456789"):
        with closing(get_sync_client(url=server[0], api_key=key)) as client:
            assert _status(lambda c=client: c.assistants.search(limit=5)) == 401


def test_the_first_caller_has_its_context(acme: SyncLangGraphClient) -> None:
    woke = acme.runs.wait(None, "wake", input={"context_id": "bakery", "question": "How many muffins?"},
                          context=SCRIPTED)
    assert woke["path"] == "learned" and woke["version"] == 1, woke
    items = acme.store.search_items(["sleeptime", "acme"], limit=100)["items"]
    assert items and all(i["namespace"][:2] == ["sleeptime", "acme"] for i in items)
    assert acme.store.get_item(["sleeptime", "acme", "contexts"], "bakery") is not None


def test_the_second_caller_reads_nothing_through_runs(acme: SyncLangGraphClient, globex: SyncLangGraphClient) -> None:
    with pytest.raises(Exception, match=r"UnknownContextError.*no context 'bakery' for tenant 'globex'"):
        globex.runs.wait(None, "wake", input={"context_id": "bakery", "question": "How many muffins?"},
                         context=SCRIPTED)
    # naming the other tenant in the run's context is refused before anything runs
    assert _status(lambda: globex.runs.wait(
        None, "wake", input={"context_id": "bakery", "question": "q"}, context={**SCRIPTED, "tenant": "acme"})) == 403
    out = globex.runs.wait(None, "wake", input={"question": "How many muffins?", "mode": "test-time"},
                           context=SCRIPTED)
    assert "40" not in str(out.get("answer", ""))


def test_the_second_caller_reads_nothing_through_the_store_api(
    acme: SyncLangGraphClient, globex: SyncLangGraphClient
) -> None:
    assert _status(lambda: globex.store.search_items(["sleeptime", "acme"], limit=100)) == 403
    assert _status(lambda: globex.store.get_item(["sleeptime", "acme", "contexts"], "bakery")) == 403
    assert _status(lambda: globex.store.put_item(["sleeptime", "acme", "contexts"], "bakery", {"x": 1})) == 403
    assert _status(lambda: globex.store.delete_item(["sleeptime", "acme", "contexts"], "bakery")) == 403
    assert _status(lambda: globex.store.search_items(["other"], limit=100)) == 403
    for prefix in ([], ["sleeptime"]):  # narrowed to ("sleeptime", "globex"): nothing of acme's
        assert globex.store.search_items(prefix, limit=100)["items"] == []
    listed = globex.store.list_namespaces(limit=100)["namespaces"]
    assert all(ns[:2] == ["sleeptime", "globex"] for ns in listed)
    assert acme.store.get_item(["sleeptime", "acme", "contexts"], "bakery") is not None  # untouched


def test_threads_are_the_callers_own(acme: SyncLangGraphClient, globex: SyncLangGraphClient) -> None:
    thread = acme.threads.create()
    acme.runs.wait(thread["thread_id"], "wake", input={"question": "How many?", "mode": "test-time"}, context=SCRIPTED)
    assert thread["thread_id"] in {t["thread_id"] for t in acme.threads.search(limit=100)}
    assert thread["thread_id"] not in {t["thread_id"] for t in globex.threads.search(limit=100)}
    assert _status(lambda: globex.threads.get(thread["thread_id"])) == 404
    assert _status(lambda: globex.assistants.create("sleep", context={"tenant": "acme"})) == 403


def test_files_only_under_the_callers_allowed_root(
    server: tuple[str, Path], acme: SyncLangGraphClient, globex: SyncLangGraphClient
) -> None:
    tmp = server[1]
    inside = str(tmp / "allowed" / "acme" / "notes.md")
    slept = acme.runs.wait(None, "sleep", input={"context_id": "notes", "files": [inside]}, context=SCRIPTED)
    assert slept["published"] is True, slept
    refused = [
        (globex, {"files": [inside]}),  # another tenant's root
        (acme, {"files": [str(tmp / "secret.txt")]}),  # outside every root
        (acme, {"files": [str(tmp / "allowed" / "acme" / "escape.txt")]}),  # a link out of the root
        (acme, {"folder": str(tmp)}),
        (acme, {"files": ["/etc/passwd"]}),
    ]
    for client, data in refused:
        with pytest.raises(Exception, match=r"InvalidInputError.*outside the folders this server allows"):
            client.runs.wait(None, "sleep", input={"context_id": "leak", **data}, context=SCRIPTED)
    for client, tenant in ((acme, "acme"), (globex, "globex")):
        items = client.store.search_items(["sleeptime", tenant], limit=1000)["items"]
        assert not any("hunter2" in str(i["value"]) or "root:" in str(i["value"]) for i in items)
