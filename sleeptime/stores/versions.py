"""Crash-safe, race-safe numbering of revisions and versions over any LangGraph `BaseStore`.

Every publish or ingest *attempt* writes its items under a fresh attempt id (`new_attempt`), so a
dead attempt never mixes with a live one. The attempt becomes visible only when it claims the next
number: an insert-if-absent of ``"<prefix><n>"`` in the context's claim namespace holding the
attempt id. Claims are the truth; a *hint* (one item per context) caches the newest number so a
reader needs one `get` to find it, then one more to confirm no later claim exists (a writer that
died between claiming and updating the hint left the hint one behind; readers roll forward).

The insert-if-absent is `ChromaStore.put_if_absent` when the store has one (atomic across handles,
processes and server clients); any other store gets a lock per store object in this process, which
is as far as such a store can be shared. Claims are a few hundred bytes each and are never deleted:
a deleted claim could be won again by a slow writer that read an old hint.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from langgraph.store.base import BaseStore, GetOp

from sleeptime.errors import StoreError

log = logging.getLogger(__name__)

#: Claims tried before a writer gives up (each loss means another writer published meanwhile).
MAX_CLAIM_TRIES = 50

_ATTEMPT = re.compile(r"([0-9a-f]{12})-[0-9a-f]{8}")
_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


def new_attempt() -> str:
    """A fresh attempt id: creation time (ms, hex) and randomness; sortable, a valid label."""
    return f"{time.time_ns() // 1_000_000:012x}-{uuid.uuid4().hex[:8]}"


def is_attempt(name: str) -> bool:
    """True for an attempt id (False for names of the pre-attempt layout, "v3", "r2")."""
    return _ATTEMPT.fullmatch(name) is not None


class Lease:
    """A writer's attempt, in flight, recorded in the store: liveness by the store's own order.

    `open` puts a lease item (the attempt id -> the chain numbers current when it began) before the
    writer writes anything. Before its first claim the writer *seals* the attempt: an insert-if-absent
    of ``{"fate": "claiming"}`` at the attempt's key in the fates namespace. A collector that wants the
    attempt's data gone inserts ``{"fate": "collected"}`` at the same key first; whichever insert lands
    first wins, so a collected attempt is never claimed and a sealed one is never collected, whatever
    any clock says. The writer never claims a number beyond its base + `MAX_CLAIM_TRIES` (`bound`), so
    once the chain has passed that, a leased or sealed attempt no claim names is dead for certain.
    `close` deletes the lease (and marks a sealed attempt that did not claim ``abandoned``).
    """

    def __init__(self, store: BaseStore, leases_ns: tuple[str, ...], fates_ns: tuple[str, ...],
                 bases: dict[str, int]) -> None:
        self.store, self.leases_ns, self.fates_ns, self.bases = store, leases_ns, fates_ns, dict(bases)
        self.attempt = new_attempt()
        self.sealed = False
        self.claimed = False
        store.put(leases_ns, self.attempt, {"bases": self.bases}, index=False)

    def bound(self, prefix: str) -> int:
        """The largest number this attempt may claim in the chain of `prefix`."""
        return self.bases.get(prefix, 0) + MAX_CLAIM_TRIES

    def seal(self) -> None:
        if self.sealed:
            return
        won = claim(self.store, self.fates_ns, self.attempt, {"fate": "claiming", "bases": self.bases})
        if won.get("fate") != "claiming":
            raise StoreError(f"attempt {self.attempt} was collected before it could claim (its writer looked "
                             "dead: overtaken by many writers, or a forced collect); nothing was published, retry")
        self.sealed = True

    def close(self) -> None:
        """Best effort: a lease left behind only delays collection until the chain passes its bound."""
        try:
            if self.sealed and not self.claimed:
                self.store.put(self.fates_ns, self.attempt, {"fate": "abandoned", "bases": self.bases}, index=False)
            self.store.delete(self.leases_ns, self.attempt)
        except Exception:
            log.warning("could not close the lease of attempt %s; collection waits for the chain", self.attempt,
                        exc_info=True)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _local_lock(store: BaseStore) -> threading.Lock:
    with _local_guard:
        return _local_locks.setdefault(id(store), threading.Lock())


def claim(store: BaseStore, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> dict[str, Any]:
    """Insert `value` at (namespace, key) unless something is there; returns what is there after."""
    put_if_absent = getattr(store, "put_if_absent", None)
    if callable(put_if_absent):
        return dict(put_if_absent(namespace, key, value).value)
    with _local_lock(store):
        found = store.get(namespace, key)
        if found is not None:
            return dict(found.value)
        store.put(namespace, key, value, index=False)
        return value


class Chain:
    """The numbered claims of one kind (``"v"`` versions or ``"r"`` revisions) of one context."""

    def __init__(
        self, store: BaseStore, claims_ns: tuple[str, ...], hint_ns: tuple[str, ...], key: str, prefix: str, field: str
    ) -> None:
        self.store, self.claims_ns, self.hint_ns, self.key = store, claims_ns, hint_ns, key
        self.prefix, self.field = prefix, field

    def get(self, n: int) -> dict[str, Any] | None:
        item = self.store.get(self.claims_ns, f"{self.prefix}{n}")
        return dict(item.value) if item else None

    def current(self) -> dict[str, Any] | None:
        """The newest claim (from the hint, rolled forward over claims the hint has not caught up with)."""
        hint = self.store.get(self.hint_ns, self.key)
        cur = dict(hint.value) if hint else None
        n = int(cur[self.field]) if cur else 0
        while (nxt := self.get(n + 1)) is not None:
            cur, n = nxt, n + 1
        if cur is not None:
            cur.setdefault("attempt", f"{self.prefix}{n}")  # items of the pre-attempt layout
        return cur

    def head(self) -> int:
        cur = self.current()
        return int(cur[self.field]) if cur else 0

    def advance(
        self,
        make: Callable[[int], dict[str, Any]],
        check: Callable[[dict[str, Any] | None], None] | None = None,
        lease: Lease | None = None,
    ) -> dict[str, Any]:
        """Claim the next number for `make(n)` (a dict naming this writer's ``attempt``), retrying
        when another writer wins it; `check(current)` may raise to stop (e.g. stale). With a `lease`,
        the attempt is sealed before its first claim and never claims past the lease's bound.
        Returns the claim."""
        for _ in range(MAX_CLAIM_TRIES):
            cur = self.current()
            if check is not None:
                check(cur)
            n = int(cur[self.field]) + 1 if cur else 1
            if lease is not None:
                if n > lease.bound(self.prefix):
                    raise StoreError(f"{MAX_CLAIM_TRIES} or more writers claimed in {self.claims_ns} while this one "
                                     "worked; it gave up (its data may be collected), retry")
                lease.seal()
            mine = make(n)
            won = claim(self.store, self.claims_ns, f"{self.prefix}{n}", mine)
            if won.get("attempt") == mine["attempt"]:
                if lease is not None:
                    lease.claimed = True
                # The hint only speeds reads up; a writer dying before this leaves readers one get slower.
                self.store.put(self.hint_ns, self.key, mine, index=False)
                return mine
        raise StoreError(f"could not claim a number in {self.claims_ns} after {MAX_CLAIM_TRIES} tries")

    def recent(self, newest: int, keep: int) -> list[Mapping[str, Any]]:
        """Claims newest-keep+1 .. newest that exist, in one batch of gets."""
        numbers = list(range(max(1, newest - keep + 1), newest + 1))
        got = self.store.batch([GetOp(self.claims_ns, f"{self.prefix}{n}") for n in numbers])
        return [dict(i.value) for i in got if i is not None and hasattr(i, "value")]
