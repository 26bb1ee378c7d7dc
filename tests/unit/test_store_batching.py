"""put_all on the LangGraph server's kind of store: sync batch bypasses its loop, sync put does not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from langgraph.store.base import BaseStore, Op, PutOp, Result
from langgraph.store.base.batch import AsyncBatchedBaseStore
from langgraph.store.memory import InMemoryStore

from sleeptime.stores.batching import put_all
from sleeptime.testing import HashEmbeddings

_EMBED = HashEmbeddings(16)


async def _embed(texts: list[str]) -> list[list[float]]:
    return _EMBED.embed_documents(texts)


class ServerLikeStore(AsyncBatchedBaseStore):
    """As langgraph-runtime-inmem's BatchedStore: sync batch goes straight to the backing store."""

    def __init__(self, inner: BaseStore) -> None:
        super().__init__()
        self._inner = inner

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._inner.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._inner.abatch(ops)


async def test_indexed_puts_and_deletes_reach_a_server_like_store_with_async_only_embeddings() -> None:
    inner = InMemoryStore(index={"dims": 16, "embed": _embed, "fields": ["text"]})
    store = ServerLikeStore(inner)
    ops = [PutOp(("ns",), f"k{i}", {"text": f"pens cost {i} dollars"}, index=["text"]) for i in range(3)]
    await asyncio.to_thread(put_all, store, ops)  # nodes call the store from a worker thread
    await asyncio.to_thread(put_all, store, [PutOp(("ns",), "k0", None)])
    hits = await inner.asearch(("ns",), query="pens cost 2 dollars", limit=5)
    assert sorted(h.key for h in hits) == ["k1", "k2"]
    assert hits[0].score is not None


def test_other_stores_get_one_batch() -> None:
    calls: list[int] = []

    class Counting(InMemoryStore):
        def batch(self, ops: Iterable[Op]) -> list[Result]:
            ops = list(ops)
            calls.append(len(ops))
            return super().batch(ops)

    store = Counting()
    put_all(store, [PutOp(("ns",), f"k{i}", {"v": i}, index=False) for i in range(4)])
    assert calls == [4] and len(store.search(("ns",))) == 4
