"""The wake reads its version's raw text by key (no namespace listing), falling back to a listing."""

from __future__ import annotations

from typing import Any

from langgraph.store.memory import InMemoryStore

from sleeptime.stores.learned import LearnedContextStore


class _CountingStore(InMemoryStore):
    searches = 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        type(self).searches += 1
        return super().search(*args, **kwargs)


def _published(n_chunks: int) -> tuple[_CountingStore, LearnedContextStore]:
    store = _CountingStore()
    ls = LearnedContextStore(store, "t")
    rec = ls.put_chunks("c", [f"chunk {i}" for i in range(n_chunks)], ["s"])
    ls.publish("c", samples=["notes"], questions=[], source_revision=rec.revision)
    return store, ls


def test_source_text_reads_chunks_by_key_in_order() -> None:
    _, ls = _published(12)
    learned = ls.require_latest("c")
    _CountingStore.searches = 0
    assert ls.source_text(learned) == "\n".join(f"chunk {i}" for i in range(12))
    assert _CountingStore.searches == 0
    assert ls.raw_text("c") == ls.source_text(learned)


def test_a_missing_chunk_falls_back_to_listing_the_namespace() -> None:
    store, ls = _published(3)
    learned = ls.require_latest("c")
    (ns,) = [n for n in store.list_namespaces(prefix=("sleeptime", "t", "chunks", "c"))]
    store.delete(ns, "00001")
    _CountingStore.searches = 0
    assert ls.source_text(learned) == "chunk 0\nchunk 2"
    assert _CountingStore.searches == 1
