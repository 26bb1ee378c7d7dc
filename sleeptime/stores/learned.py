"""The context store: one tenant's raw revisions, published versions, parts and their collection,
over any LangGraph `BaseStore`.

Where each item lives is `layout.KeyLayout` (data, byte-identical to what earlier releases wrote).
The parts of the work are components the store builds once and owns:

- `raw` (`revisions.RawRevisions`): a context's chunks, claimed as numbered revisions;
- `published` (`published.PublishedVersions`): learned notes and questions, claimed as versions;
- `parts` (`parts.PartIndex`): searchable chunks with spans, manifests and part notes (large contexts);
- collection (`collection.AttemptCollector`, and the part index's own): run after each write.

An ingest or publish writes everything under a fresh attempt id first and then claims the next
revision or version number, so readers never see half of one (see `sleeptime.stores.versions`).
Nodes reach one shared store per (BaseStore, tenant) through `LearnedContextStore.shared`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from langgraph.store.base import BaseStore

from sleeptime.errors import NotSleptError
from sleeptime.state import PredictedQuestion
from sleeptime.stores.collection import GRACE_S, KEEP_VERSIONS, AttemptCollector, delete_namespace
from sleeptime.stores.layout import PER_CONTEXT, ROOT, KeyLayout, validate_id
from sleeptime.stores.parts import PartIndex
from sleeptime.stores.published import LearnedContext, PublishedVersions
from sleeptime.stores.revisions import ContextRecord, RawRevisions, open_lease
from sleeptime.stores.versions import Lease
from sleeptime.usage import UsageRecord

__all__ = ["GRACE_S", "KEEP_VERSIONS", "ROOT", "ContextRecord", "LearnedContext", "LearnedContextStore",
           "validate_id"]

log = logging.getLogger(__name__)

#: Context stores shared by (id of BaseStore, tenant), newest use last. An entry holds its BaseStore,
#: so the id is not reused while it is here; the bound keeps stores an app dropped from living on
#: (a weak-keyed map would not: each value refers to its key).
_shared: OrderedDict[tuple[int, str], LearnedContextStore] = OrderedDict()
_SHARED_MAX = 16
_shared_guard = threading.Lock()


class LearnedContextStore:
    """Raw revisions, learned contexts, predicted questions and parts of one tenant, over a BaseStore."""

    def __init__(self, store: BaseStore, tenant: str = "default") -> None:
        self.store = store
        self.layout = KeyLayout(tenant)
        self.tenant = self.layout.tenant
        self.raw = RawRevisions(store, self.layout)
        self.published = PublishedVersions(store, self.layout, self.raw)
        self.parts = PartIndex(store, self.layout, self.published)
        self._attempts = AttemptCollector(store, self.layout, self.raw, self.published)

    @classmethod
    def shared(cls, store: BaseStore, tenant: str = "default") -> LearnedContextStore:
        """The one context store of (store, tenant), built on first use, for every node of every
        run (and the `SleepTime` facade) to share; the last `_SHARED_MAX` pairs used are kept."""
        key = (id(store), tenant)
        with _shared_guard:
            found = _shared.get(key)
            if found is None:
                found = _shared[key] = cls(store, tenant)
                while len(_shared) > _SHARED_MAX:
                    _shared.popitem(last=False)
            _shared.move_to_end(key)
            return found

    # raw context
    def context(self, context_id: str) -> ContextRecord:
        return self.raw.context(context_id)

    def list_contexts(self) -> list[str]:
        return self.raw.list_contexts()

    def lease(self, context_id: str) -> Lease:
        """A lease for a write of several steps (an ingest: pieces, chunks, manifest); close it (``with``)."""
        return open_lease(self.store, self.layout, validate_id(context_id, "context_id"))

    def put_chunks(
        self, context_id: str, chunks: Sequence[str], sources: Sequence[str], lease: Lease | None = None
    ) -> ContextRecord:
        """Store a new raw revision of the context; readers see the previous one until it is complete."""
        record = self.raw.put(context_id, chunks, sources, lease)
        self._collect_quietly(context_id)
        return record

    def chunks(self, context_id: str, revision: int | None = None) -> list[str]:
        """The chunks of `revision` (default: the current one)."""
        return self.raw.chunks(context_id, revision)

    def raw_text(self, context_id: str, revision: int | None = None) -> str:
        return self.raw.raw_text(context_id, revision)

    def source_text(self, learned: LearnedContext) -> str:
        """The raw text of the revision `learned` was built from (consistent with its notes)."""
        return "\n".join(self.source_chunks(learned))

    def source_chunks(self, learned: LearnedContext) -> Iterator[str]:
        """The chunks of the revision `learned` was built from, read a batch at a time."""
        attempt, n = self.raw.source_of(learned.context_id, learned.source_revision, learned.source_attempt)
        return self.raw.iter_chunks(learned.context_id, attempt, n)

    def revision_chunks(self, context_id: str, revision: int) -> Iterator[str]:
        """The chunks of raw revision `revision`, read a batch at a time."""
        attempt, n = self.raw.locate(context_id, revision)
        return self.raw.iter_chunks(context_id, attempt, n)

    # learned contexts
    def head(self, context_id: str) -> dict[str, Any] | None:
        """The newest version's claim ({"version": n, "attempt": ..., "source_revision": ...}), or None."""
        return self.published.head(context_id)

    def latest(self, context_id: str) -> LearnedContext | None:
        """The published learned context, resolved once through the head."""
        return self.published.latest(context_id)

    def require_latest(self, context_id: str) -> LearnedContext:
        learned = self.latest(context_id)
        if learned is None:
            self.context(context_id)  # raises UnknownContextError when the context does not exist
            raise NotSleptError(f"context {context_id!r} has no learned context yet; run sleep first")
        return learned

    def version(self, context_id: str, version: int) -> LearnedContext | None:
        return self.published.version(context_id, version)

    def versions(self, context_id: str) -> list[int]:
        """The numbers of the versions whose notes are still stored, oldest first."""
        return self.published.versions(context_id)

    def questions(self, context_id: str, version: int | LearnedContext) -> list[PredictedQuestion]:
        return self.published.questions(context_id, version)

    def nearest_questions(
        self, context_id: str, version: int | LearnedContext, query: str, k: int
    ) -> list[PredictedQuestion]:
        return [qa for qa, _ in self.scored_questions(context_id, version, query, k)]

    def scored_questions(
        self, context_id: str, version: int | LearnedContext, query: str, k: int
    ) -> list[tuple[PredictedQuestion, float | None]]:
        """The `k` predicted questions of `version` nearest to `query`, with the store's similarity scores."""
        return self.published.scored_questions(context_id, version, query, k)

    def publish(
        self,
        context_id: str,
        *,
        samples: Sequence[str],
        questions: Sequence[PredictedQuestion],
        source_revision: int,
        sleep_usage: Sequence[UsageRecord] = (),
    ) -> int:
        """Make a new version visible atomically; returns its number.

        Raises StaleVersionError when the raw context changed after this sleep run read it, so a
        slow run never publishes over a newer context. Two publishers get distinct, consecutive
        numbers: the loser of a number retries with the next one.
        """
        version = self.published.publish(context_id, samples=samples, questions=questions,
                                         source_revision=source_revision, sleep_usage=sleep_usage)
        self._collect_quietly(context_id)
        return version

    # collection and deletion
    def collect(self, context_id: str | None = None, *, grace_s: float = GRACE_S) -> dict[str, int]:
        """Delete what nothing refers to: attempts (dead, lost, or of versions older than
        `KEEP_VERSIONS`), raw revisions no kept version and not the current revision refers to, and
        the part manifests, pieces and part notes no longer kept. An item no version names is kept
        `grace_s` seconds (it may be in flight). Returns deleted counts by kind.

        The collection run after each write skips the store-level repair, so leftovers of a write
        that crashed before its namespace was registered wait for this call."""
        ids = [validate_id(context_id, "context_id")] if context_id else self.list_contexts()
        store_collect = getattr(self.store, "collect", None)
        if callable(store_collect):
            # ChromaStore: lists namespaces a crashed write left unregistered, drops unused vectors.
            store_collect(grace_s=grace_s)
        total = {"attempts": 0, "revisions": 0, "manifests": 0, "pieces": 0, "partnotes": 0}
        for cid in ids:
            for counts in (self._attempts.collect(cid, grace_s), self.parts.collect(cid, grace_s=grace_s)):
                for k, v in counts.items():
                    total[k] += v
        return total

    def _collect_quietly(self, context_id: str) -> None:
        """Opportunistic collection after a write: its failure must not fail the write."""
        try:
            self._attempts.collect(context_id, GRACE_S)
        except Exception:
            log.warning("collecting old attempts of %r failed; the next write retries", context_id, exc_info=True)

    def delete_version(self, context_id: str, version: int) -> None:
        """Delete one version (claim, notes, questions); deleting the newest moves the head to the
        newest kept one (or unpublishes), and the next publish reuses the number."""
        attempt = self.published.unpublish(context_id, version)
        self.store.delete(self.layout.ns("learned", context_id), attempt)
        delete_namespace(self.store, self.layout.ns("questions", context_id, attempt))

    def delete_context(self, context_id: str) -> None:
        """Delete the context with every revision, version, question and part (the hints first, so
        readers stop)."""
        self.context(context_id)  # UnknownContextError when there is nothing to delete
        for ns, key in (self.layout.head_key(context_id), self.layout.context_key(context_id)):
            self.store.delete(ns, key)
        for kind in PER_CONTEXT:
            delete_namespace(self.store, self.layout.ns(kind, context_id))
        self.parts.delete_context(context_id)
