"""Collection: delete what no recent version and not the current revision refers to.

Attempts that died or lost a claim, those of pruned versions (older than `KEEP_VERSIONS`), and
the chunks of raw revisions no kept version was built from. An attempt no version names is kept
`GRACE_S` seconds: it may be a publish or ingest still in flight.
"""

from __future__ import annotations

from langgraph.store.base import BaseStore, PutOp

from sleeptime.stores.layout import KeyLayout, Kind
from sleeptime.stores.published import PublishedVersions
from sleeptime.stores.revisions import RawRevisions
from sleeptime.stores.versions import attempt_age_s

KEEP_VERSIONS = 3
#: Seconds an attempt no version refers to is kept: it may be a publish or ingest still in flight.
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
        versions, revisions = self.published.chain(context_id), self.raw.chain(context_id)
        head, revision = versions.current(), revisions.current()
        newest = int(head["version"]) if head else 0
        kept = versions.recent(newest, KEEP_VERSIONS) + ([head] if head else [])
        keep_attempts = {str(c.get("attempt")) for c in kept}
        keep_chunks = {str(c.get("source_attempt") or f"r{c.get('source_revision')}") for c in kept}
        if revision is not None:
            keep_chunks.add(str(revision["attempt"]))
        # Attempts of recently pruned versions and replaced revisions are finished: no grace needed.
        pruned = versions.recent(newest - KEEP_VERSIONS, _PRUNE_WINDOW)
        replaced = revisions.recent(int(revision["revision"]) - 1, _PRUNE_WINDOW) if revision else []
        finished = {str(c.get("attempt")) for c in pruned + replaced}
        finished |= {str(c.get("source_attempt")) for c in pruned}

        def dead(attempt: str, keep: set[str]) -> bool:
            if attempt in keep:
                return False
            age = attempt_age_s(attempt)
            return attempt in finished or age is None or age >= grace_s

        learned_ns = self.layout.ns("learned", context_id)
        learned = self.store.search(learned_ns, limit=100_000)
        stale_l = [i.key for i in learned if dead(i.key, keep_attempts)]
        if stale_l:
            self.store.batch([PutOp(learned_ns, k, None) for k in stale_l])
        gone_q = {ns[-1] for ns in self.attempt_spaces("questions", context_id)
                  if dead(ns[-1], keep_attempts) and delete_namespace(self.store, ns)}
        gone_c = [ns for ns in self.attempt_spaces("chunks", context_id)
                  if dead(ns[-1], keep_chunks) and delete_namespace(self.store, ns)]
        return {"attempts": len(set(stale_l) | gone_q), "revisions": len(gone_c)}

    def attempt_spaces(self, kind: Kind, context_id: str) -> list[tuple[str, ...]]:
        """The namespaces of every attempt of `kind` ("chunks" or "questions") of the context."""
        prefix = self.layout.ns(kind, context_id)
        found = self.store.list_namespaces(prefix=prefix, limit=100_000)
        return [tuple(ns) for ns in found if len(ns) == len(prefix) + 1]
