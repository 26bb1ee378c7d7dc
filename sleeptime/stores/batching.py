"""Writing several items at once on any LangGraph store, the server's included."""

from __future__ import annotations

from collections.abc import Sequence

from langgraph.store.base import BaseStore, PutOp
from langgraph.store.base.batch import AsyncBatchedBaseStore


def put_all(store: BaseStore, ops: Sequence[PutOp]) -> None:
    """Apply `ops` (puts and deletes) in one batch where the store allows it.

    The LangGraph server's store (an `AsyncBatchedBaseStore`) embeds on its event loop: its sync
    `put` goes through that loop, but its sync `batch` calls the backing store directly, which fails
    when the configured embedding function is async-only. There the ops go one `put` at a time.
    """
    if not isinstance(store, AsyncBatchedBaseStore):
        store.batch(ops)
        return
    for op in ops:
        if op.value is None:
            store.delete(op.namespace, op.key)
        else:
            store.put(op.namespace, op.key, op.value, index=op.index, ttl=op.ttl)
