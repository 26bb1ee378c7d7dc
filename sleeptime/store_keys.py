"""Where a `LearnedContextStore` keeps an item, learned through its public API (for clients of a server's store).

A LangGraph server's store is reached through the SDK, not a `BaseStore`; rather than repeat the
store's namespace layout, this runs one public read on a store that records the key asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

from langgraph.store.base import BaseStore, GetOp, Op, PutOp, Result

from sleeptime.errors import SleepTimeError
from sleeptime.stores.learned import LearnedContextStore

__all__ = ["context_key", "head_key", "learned_key"]


class _KeyRecorder(BaseStore):
    """A store that holds nothing and notes every key read from it."""

    def __init__(self) -> None:
        self.gets: list[GetOp] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                self.gets.append(op)
                results.append(None)
            else:
                results.append(None if isinstance(op, PutOp) else [])  # nothing is found; a put returns None
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return self.batch(ops)


def learned_key(tenant: str, read: Callable[[LearnedContextStore], object]) -> tuple[tuple[str, ...], str]:
    """The (namespace, key) that `read` looks up first on tenant's `LearnedContextStore`."""
    recorder = _KeyRecorder()
    with contextlib.suppress(SleepTimeError):  # e.g. UnknownContextError: it holds nothing, but saw the key
        read(LearnedContextStore(recorder, tenant))
    if not recorder.gets:
        raise RuntimeError("the LearnedContextStore read looked up no single key")
    return tuple(recorder.gets[0].namespace), recorder.gets[0].key


def head_key(tenant: str, context_id: str) -> tuple[tuple[str, ...], str]:
    """Where the context's published pointer ({"version": n, ...}) is kept."""
    return learned_key(tenant, lambda store: store.head(context_id))


def context_key(tenant: str, context_id: str) -> tuple[tuple[str, ...], str]:
    """Where the context's registry record (its current raw revision) is kept."""
    return learned_key(tenant, lambda store: store.context(context_id))
