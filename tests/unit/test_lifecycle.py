"""`SleepTime.close()`, ``with`` and ``async with``: what the app opened is released, once; a closed app
refuses every call with ClosedError; a store passed in stays open for its owner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import ClosedError, SleepTimeError
from sleeptime.facade import SleepTime
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


def _on_disk(path: Path) -> SleepTime:
    model = staged_model()
    return SleepTime(path=path, embeddings=HashEmbeddings(64), sleep_model=model, wake_model=model, max_rounds=1)


def _refcount(path: Path) -> int:
    return SharedSystemClient._identifier_to_refcount.get(str(path), 0)


def test_close_releases_the_chroma_client_it_opened_and_is_idempotent(tmp_path: Path) -> None:
    app = _on_disk(tmp_path)
    app.ingest("shop", CONTEXT)
    assert _refcount(tmp_path) > 0 and not app.closed
    app.close()
    assert app.closed and _refcount(tmp_path) == 0  # Chroma's shared system for the path is stopped
    app.close()  # a second close is a no-op
    assert _refcount(tmp_path) == 0


def test_every_call_after_close_raises_closed_error(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT)
    app.close()
    calls: list[Any] = [
        lambda: app.ingest("shop", CONTEXT), lambda: app.sleep("shop"), lambda: app.ask("How much?", "shop"),
        lambda: list(app.stream_answer("How much?", "shop")), lambda: app.learned("shop"),
        lambda: app.contexts(), lambda: app.show("shop"), lambda: app.delete("shop"),
    ]
    for call in calls:
        with pytest.raises(ClosedError, match="closed") as caught:
            call()
        assert isinstance(caught.value, SleepTimeError)


def test_with_block_closes_and_a_store_passed_in_stays_open(memory_store: InMemoryStore) -> None:
    model = staged_model()
    with SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1) as app:
        app.ingest("shop", CONTEXT)
        app.sleep("shop")
    assert app.closed
    with pytest.raises(ClosedError):
        app.ask("How much?", "shop")
    # The caller's store is the caller's: still usable by a new app.
    again = SleepTime(store=memory_store, sleep_model=model, wake_model=model)
    assert again.learned("shop") is not None


def test_async_with_closes_on_error_too(tmp_path: Path) -> None:
    async def use() -> SleepTime:
        async with _on_disk(tmp_path) as app:
            await app.aingest("shop", CONTEXT)
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        asyncio.run(use())
    assert _refcount(tmp_path) == 0

    async def after_close() -> None:
        app = _on_disk(tmp_path)
        await app.aclose()
        await app.aclose()
        with pytest.raises(ClosedError):
            await app.aask("How much?", "shop")
        with pytest.raises(ClosedError):
            await app.acontexts()

    asyncio.run(after_close())


def test_every_public_call_has_an_async_twin_with_its_signature() -> None:
    import inspect

    methods = {n: f for n, f in vars(SleepTime).items() if callable(f) and not n.startswith("_")}
    sync = sorted(n for n in methods if f"a{n}" in methods)
    assert sync == ["ask", "close", "contexts", "delete", "ingest", "learned", "show", "sleep", "stream_answer"]
    for name in sync:
        twin = methods[f"a{name}"]
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name
        plain = [p for p in inspect.signature(methods[name]).parameters if p != "progress"]  # the bar is sync-only
        assert list(inspect.signature(twin).parameters) == plain, name
        assert twin.__name__ == f"a{name}" and twin.__doc__, name
