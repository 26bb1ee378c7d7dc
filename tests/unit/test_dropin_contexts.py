"""Listing, showing and deleting contexts and versions through the facade (with async twins)."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import InvalidInputError, UnknownContextError
from sleeptime.facade import SleepTime

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


def _items(store: InMemoryStore, *prefix: str) -> list[tuple[tuple[str, ...], str]]:
    """Every stored (namespace, key) under `prefix`."""
    return [(item.namespace, item.key) for ns in store.list_namespaces(prefix=prefix, limit=10_000)
            for item in store.search(ns, limit=10_000)]


def test_list_and_show(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    app.sleep("shop")
    app.ingest("bakery", "Bread costs $3.")
    assert [(c.context_id, c.head, c.revision) for c in app.contexts()] == [("bakery", None, 1), ("shop", 2, 1)]
    info = app.show("shop")
    assert info.head == 2 and info.revision == 1 and info.tenant == "default" and not info.stale
    assert [v.version for v in info.versions] == [1, 2]
    assert info.versions[-1].questions[0]["question"] == "How much does Alice pay for the pens?"
    assert info.versions[-1].sleep_usage.output_tokens > 0 and info.versions[-1].source_revision == 1
    app.ingest("shop", "Pens now cost $3.")
    assert app.show("shop").stale and app.show("shop").revision == 2


def test_tenants_are_kept_apart(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT, tenant="acme")
    app.sleep("shop", CONTEXT, tenant="acme")
    assert app.contexts() == []
    assert [c.context_id for c in app.contexts(tenant="acme")] == ["shop"]
    assert app.learned("shop", tenant="acme") is not None and app.learned("shop") is None
    with pytest.raises(UnknownContextError):
        app.show("shop")
    with pytest.raises(UnknownContextError):
        app.delete("shop")
    app.delete("shop", tenant="acme")
    assert app.contexts(tenant="acme") == []


def test_delete_context_leaves_no_orphans(app: SleepTime, memory_store: InMemoryStore) -> None:
    app.sleep("shop", CONTEXT)
    app.sleep("shop", "Pens cost $3.")  # a second revision and version
    app.sleep("bakery", "Bread costs $3.")
    bakery_before = [i for i in _items(memory_store, "sleeptime") if "bakery" in (*i[0], i[1])]
    app.delete("shop")
    left = _items(memory_store, "sleeptime")
    assert not [i for i in left if "shop" in (*i[0], i[1])], left
    assert sorted(left) == sorted(bakery_before)  # the other context is untouched
    assert [c.context_id for c in app.contexts()] == ["bakery"]
    with pytest.raises(UnknownContextError):
        app.ask("How much?", "shop")


def test_delete_a_version_moves_the_head_back(app: SleepTime, memory_store: InMemoryStore) -> None:
    for _ in range(3):
        app.sleep("shop", CONTEXT)
    question_spaces = {ns for ns, _ in _items(memory_store, "sleeptime", "default", "questions", "shop")}
    assert len(question_spaces) == 3
    app.delete("shop", version=2)
    assert [v.version for v in app.show("shop").versions] == [1, 3] and app.show("shop").head == 3
    assert len({ns for ns, _ in _items(memory_store, "sleeptime", "default", "questions", "shop")}) == 2
    assert len(_items(memory_store, "sleeptime", "default", "learned", "shop")) == 2
    app.delete("shop", version=3)  # the published one: the head moves to the newest kept
    assert app.show("shop").head == 1 and app.ask("How much?", "shop").version == 1
    app.delete("shop", version=1)
    assert app.show("shop").head is None and app.learned("shop") is None
    assert app.sleep("shop").version == 1  # a new sleep publishes again
    with pytest.raises(InvalidInputError, match="has no version 7; kept: \\[1\\]"):
        app.delete("shop", version=7)
    with pytest.raises(InvalidInputError, match="positive integer"):
        app.delete("shop", version=0)


async def test_async_twins(app: SleepTime) -> None:
    await app.aingest("shop", CONTEXT, tenant="acme")
    await app.asleep("shop", tenant="acme")
    assert [c.context_id for c in await app.acontexts(tenant="acme")] == ["shop"]
    assert (await app.ashow("shop", tenant="acme")).head == 1
    assert (await app.alearned("shop", tenant="acme")) is not None
    await app.adelete("shop", version=1, tenant="acme")
    assert (await app.ashow("shop", tenant="acme")).head is None
    await app.adelete("shop", tenant="acme")
    assert await app.acontexts(tenant="acme") == []
