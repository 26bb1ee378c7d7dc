"""Remote thread ids never collide across (tenant, context) pairs; the key layout names the keys the store writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.remote import RemoteScheduler, context_thread_id
from sleeptime.stores.layout import NAMESPACES, KeyLayout
from sleeptime.stores.learned import LearnedContextStore


def test_thread_ids_do_not_collide_when_a_separator_moves_between_tenant_and_context() -> None:
    # Issue 11 item 5: "sleeptime:acme:b:c" named both of these threads.
    assert context_thread_id("acme", "b:c") != context_thread_id("acme:b", "c")
    pairs = [(t, c) for t in ("acme", "acme:b", "a", "a:b:c") for c in ("c", "b:c", ":c", "x")]
    assert len({context_thread_id(t, c) for t, c in pairs}) == len(pairs)


def test_thread_ids_are_stable_and_follow_the_tenant() -> None:
    assert context_thread_id("acme", "shop") == context_thread_id("acme", "shop")
    remote = RemoteScheduler("http://127.0.0.1:9", context={"tenant": "acme:b"})
    try:
        assert remote.thread_id("c") == context_thread_id("acme:b", "c") != context_thread_id("acme", "b:c")
    finally:
        remote.close()


@pytest.mark.parametrize(("tenant", "context_id"), [("", "shop"), ("acme", "*"), ("acme", "a.b")])
def test_thread_ids_refuse_bad_ids(tenant: str, context_id: str) -> None:
    with pytest.raises(InvalidInputError):
        context_thread_id(tenant, context_id)


def test_keys_are_where_the_learned_context_store_writes(memory_store: InMemoryStore) -> None:
    store = LearnedContextStore(memory_store, "acme")
    store.put_chunks("shop", ["Pens cost $2."], ["text"])
    store.publish("shop", samples=["notes"], questions=[], source_revision=1)
    layout = KeyLayout("acme")
    namespace, key = layout.head_key("shop")
    head = memory_store.get(namespace, key)
    assert head is not None and head.value["version"] == 1
    namespace, key = layout.context_key("shop")
    record = memory_store.get(namespace, key)
    assert record is not None and record.value["revision"] == 1
    assert KeyLayout("other").head_key("shop") != layout.head_key("shop")


def test_every_namespace_the_store_writes_is_one_the_layout_names(memory_store: InMemoryStore, tmp_path: Path) -> None:
    from sleeptime.stores.corpus import load_context, store_context

    (tmp_path / "a.txt").write_text("Pens cost $2.\nInk costs $5.\n")
    store = LearnedContextStore(memory_store, "acme")
    store_context(store, "shop", load_context(folder=tmp_path))
    store.parts.set_parts("shop", 1, [("part-1", "a.txt", 1, 2)])
    store.parts.put_part_notes("shop", "part-1", "notes", "a.txt", 1, 2)
    store.publish("shop", samples=["notes"], questions=[{"question": "Pens?", "answer": "$2"}], source_revision=1)
    layout, learned = KeyLayout("acme"), store.require_latest("shop")
    attempts = {"chunks": learned.source_attempt, "questions": learned.attempt}
    expected = {layout.ns(kind, "shop", attempts.get(kind, "")) for kind in NAMESPACES}
    written = {tuple(ns) for ns in memory_store.list_namespaces(prefix=("sleeptime", "acme"), limit=100)}
    assert written == expected
    assert memory_store.get(layout.ns("versions", "shop"), "v1") is not None
    assert memory_store.get(layout.ns("revisions", "shop"), "r1") is not None
    assert memory_store.get(layout.ns("manifests", "shop"), "r1") is not None
