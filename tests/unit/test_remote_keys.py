"""Remote thread ids never collide across (tenant, context) pairs; store keys come from LearnedContextStore."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import InvalidInputError
from sleeptime.scheduler.remote import RemoteScheduler, context_thread_id
from sleeptime.store_keys import context_key, head_key
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
    namespace, key = head_key("acme", "shop")
    head = memory_store.get(namespace, key)
    assert head is not None and head.value["version"] == 1
    namespace, key = context_key("acme", "shop")
    record = memory_store.get(namespace, key)
    assert record is not None and record.value["revision"] == 1
    assert head_key("other", "shop") != head_key("acme", "shop")
