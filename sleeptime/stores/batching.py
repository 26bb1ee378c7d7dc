"""Reading and writing any number of items on any LangGraph store, the server's included.

Listings page through the store (`search_all`, `namespaces_all`), so no listing stops at a fixed limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from langgraph.store.base import BaseStore, Item, PutOp
from langgraph.store.base.batch import AsyncBatchedBaseStore

WRITE_SLICE = 1000
"""Ops per store batch when writing many items: what one batch holds in memory (texts, vectors,
records) stays bounded however many items a write has (every caller writes under an unclaimed
attempt or content keys, so slices are invisible until the claim, as one batch would be)."""


def put_all(store: BaseStore, ops: Sequence[PutOp]) -> None:
    """Apply `ops` (puts and deletes) in batches of `WRITE_SLICE` where the store allows it.

    The LangGraph server's store (an `AsyncBatchedBaseStore`) embeds on its event loop: its sync
    `put` goes through that loop, but its sync `batch` calls the backing store directly, which fails
    when the configured embedding function is async-only. There the ops go one `put` at a time.
    """
    if not isinstance(store, AsyncBatchedBaseStore):
        for start in range(0, len(ops), WRITE_SLICE):
            store.batch(ops[start : start + WRITE_SLICE])
        return
    for op in ops:
        if op.value is None:
            store.delete(op.namespace, op.key)
        else:
            store.put(op.namespace, op.key, op.value, index=op.index, ttl=op.ttl)


PAGE = 1000


def search_all(store: BaseStore, ns: tuple[str, ...], *, page: int = PAGE) -> Iterator[Item]:
    """Every item under the namespace prefix `ns`, a page at a time (stores order items stably)."""
    offset = 0
    while batch := store.search(ns, limit=page, offset=offset):
        yield from batch
        if len(batch) < page:
            return
        offset += len(batch)


def namespaces_all(store: BaseStore, prefix: tuple[str, ...], *, page: int = PAGE) -> list[tuple[str, ...]]:
    """Every namespace under `prefix`, a page at a time."""
    found: list[tuple[str, ...]] = []
    offset = 0
    while batch := store.list_namespaces(prefix=prefix, limit=page, offset=offset):
        found.extend(tuple(ns) for ns in batch)
        if len(batch) < page:
            break
        offset += len(batch)
    return found
