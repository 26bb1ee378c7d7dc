"""Collection: delete what no recent version and not the current revision refers to.

Attempts that died or lost a claim, those of pruned versions (older than `KEEP_VERSIONS`), and
the chunks of raw revisions no kept version was built from. Whether an attempt no version names
is still in flight is decided by the store's own order, never by a clock (`versions.Lease`): its
lease protects it until the chain passes the lease's bound, and the collector deletes its data only
after winning the insert-if-absent race against the writer's seal.
"""

from __future__ import annotations

from langgraph.store.base import BaseStore, PutOp

from sleeptime.stores.batching import namespaces_all, search_all
from sleeptime.stores.layout import KeyLayout, Kind
from sleeptime.stores.published import PublishedVersions
from sleeptime.stores.revisions import RawRevisions
from sleeptime.stores.versions import MAX_CLAIM_TRIES, claim

KEEP_VERSIONS = 3
#: Seconds the part notes no manifest lists yet are kept (part notes are the one kind still aged by
#: their stored time); for attempts, any value > 0 means "leases protect", 0 forces collection.
GRACE_S = 600.0
_PRUNE_WINDOW = 8  # claims behind the kept ones read by each collection (older ones went earlier)


def delete_namespace(store: BaseStore, ns: tuple[str, ...]) -> int:
    deleted = 0
    while items := store.search(ns, limit=500):
        store.batch([PutOp(i.namespace, i.key, None) for i in items])
        deleted += len(items)
    return deleted


class AttemptCollector:
    """Collects the attempts and raw revisions of one tenant's contexts."""

    def __init__(self, store: BaseStore, layout: KeyLayout, raw: RawRevisions, published: PublishedVersions) -> None:
        self.store, self.layout, self.raw, self.published = store, layout, raw, published

    def collect(self, context_id: str, grace_s: float) -> dict[str, int]:
        """Delete dead attempts of the context; `grace_s <= 0` forces: leases do not protect (a writer
        still alive then fails its claim with StoreError; nothing dangles). No clock is read."""
        # What is stored is listed before the leases are read: a writer leases before it writes, so
        # an attempt listed here whose lease is gone below has finished (sealed, or failed).
        learned_ns = self.layout.ns("learned", context_id)
        learned = list(search_all(self.store, learned_ns))
        q_spaces = self.attempt_spaces("questions", context_id)
        c_spaces = self.attempt_spaces("chunks", context_id)
        leases_ns, fates_ns = self.layout.ns("leases", context_id), self.layout.ns("fates", context_id)
        leases = {i.key: dict(i.value) for i in search_all(self.store, leases_ns)}
        fates = {i.key: dict(i.value) for i in search_all(self.store, fates_ns)}
        versions, revisions = self.published.chain(context_id), self.raw.chain(context_id)
        head, revision = versions.current(), revisions.current()
        newest = int(head["version"]) if head else 0
        heads = {"v": newest, "r": int(revision["revision"]) if revision else 0}
        kept = versions.recent(newest, KEEP_VERSIONS) + ([head] if head else [])
        keep_attempts = {str(c.get("attempt")) for c in kept}
        keep_chunks = {str(c.get("source_attempt") or f"r{c.get('source_revision')}") for c in kept}
        if revision is not None:
            keep_chunks.add(str(revision["attempt"]))
        # Attempts of recently pruned versions and replaced revisions are finished.
        pruned = versions.recent(newest - KEEP_VERSIONS, _PRUNE_WINDOW)
        replaced = revisions.recent(int(revision["revision"]) - 1, _PRUNE_WINDOW) if revision else []
        finished = {str(c.get("attempt")) for c in pruned + replaced}
        finished |= {str(c.get("source_attempt")) for c in pruned}
        force = grace_s <= 0

        def passed(bases: object, prefix: str) -> bool:
            """The chain has passed the attempt's bound: it can never claim (see `versions.Lease`)."""
            base = bases.get(prefix, 0) if isinstance(bases, dict) else 0
            return heads[prefix] > int(base) + MAX_CLAIM_TRIES

        def dead(attempt: str, keep: set[str], prefix: str) -> bool:
            if attempt in keep:
                return False
            if attempt in finished:
                return True
            lease = leases.get(attempt)
            if lease is not None and not force and not passed(lease.get("bases"), prefix):
                return False  # a write in flight
            fate = fates.get(attempt)
            if fate is None:  # race the writer's seal: whichever insert lands first decides
                fate = fates[attempt] = claim(self.store, fates_ns, attempt, {"fate": "collected", "bases": heads})
            if fate.get("fate") in ("collected", "abandoned"):
                return True
            return passed(fate.get("bases"), prefix)  # sealed: it may still claim until the chain passes

        stale_l = [i.key for i in learned if dead(i.key, keep_attempts, "v")]
        if stale_l:
            self.store.batch([PutOp(learned_ns, k, None) for k in stale_l])
        gone_q = {ns[-1] for ns in q_spaces if dead(ns[-1], keep_attempts, "v") and delete_namespace(self.store, ns)}
        gone_c = [ns for ns in c_spaces if dead(ns[-1], keep_chunks, "r") and delete_namespace(self.store, ns)]
        # Leases of writers that died (the chains passed them) or were collected; a claimed writer's
        # lease stays until it closes it (an ingest still writes its manifest after claiming).
        done = [a for a, lease in leases.items() if a in finished or fates.get(a, {}).get("fate") == "collected"
                or (passed(lease.get("bases"), "v") and passed(lease.get("bases"), "r"))]
        if done:
            self.store.batch([PutOp(leases_ns, a, None) for a in done])
        return {"attempts": len(set(stale_l) | gone_q), "revisions": len(gone_c)}

    def attempt_spaces(self, kind: Kind, context_id: str) -> list[tuple[str, ...]]:
        """The namespaces of every attempt of `kind` ("chunks" or "questions") of the context."""
        prefix = self.layout.ns(kind, context_id)
        found = namespaces_all(self.store, prefix)
        return [tuple(ns) for ns in found if len(ns) == len(prefix) + 1]
