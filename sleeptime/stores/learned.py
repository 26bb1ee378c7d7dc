"""The typed learned-context layer over any LangGraph `BaseStore`.

Layout (every namespace starts with ("sleeptime", tenant), so tenants never meet):

    (.., "contexts")                           context_id -> hint: the newest raw revision's claim
    (.., "revisions", context_id)              "r<n>"     -> claim of revision n (its attempt, sizes)
    (.., "chunks", context_id, <attempt>)      "00000"..  -> raw chunk text (not embedded)
    (.., "head")                               context_id -> hint: the newest version's claim
    (.., "versions", context_id)               "v<n>"     -> claim of version n (its attempt, source)
    (.., "learned", context_id)                <attempt>  -> the learned notes of one attempt
    (.., "questions", context_id, <attempt>)   "q<i>"     -> predicted question + worked answer

An ingest or publish writes everything under a fresh attempt id first and then claims the next
revision or version number (`versions.Chain`): a compare-and-set, so two writers in any processes
never get one number, and a writer that dies before its claim leaves nothing any reader follows.
A version names the raw revision it was built from, so the notes, the questions and the raw text a
reader gets all come from one consistent version. `collect` (also run after each publish and
ingest) deletes what no recent version or the current revision refers to: attempts that died or
lost, and those of pruned versions (older than `KEEP_VERSIONS`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from sleeptime.errors import (
    EmptyContextError,
    InvalidInputError,
    NotSleptError,
    StaleVersionError,
    UnknownContextError,
)
from sleeptime.state import PredictedQuestion
from sleeptime.stores.batching import put_all
from sleeptime.stores.versions import Chain, attempt_age_s, new_attempt
from sleeptime.usage import UsageRecord

log = logging.getLogger(__name__)

ROOT = "sleeptime"
KEEP_VERSIONS = 3
#: Seconds an attempt no version refers to is kept: it may be a publish or ingest still in flight.
GRACE_S = 600.0
_PRUNE_WINDOW = 8  # claims behind the kept ones read by each collection (older ones went earlier)
_MAX_ID_LEN = 200


def validate_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    # '.' joins namespace labels and '*' is LangGraph's namespace wildcard: either would let one
    # tenant's or context's label match another's.
    if len(value) > _MAX_ID_LEN or value == "*" or any(ch in value for ch in ".\n\r\t"):
        raise InvalidInputError(
            f"{what} {value!r} must be under {_MAX_ID_LEN} chars, not '*', with no '.' or control chars"
        )
    return value


@dataclass(frozen=True)
class LearnedContext:
    """One published learned-context version."""

    context_id: str
    version: int
    samples: list[str]
    source_revision: int
    created_at: str
    sleep_usage: list[UsageRecord] = field(default_factory=list)
    attempt: str = ""
    """Where this version's notes and questions are stored."""
    source_attempt: str = ""
    """Where the raw revision it was built from is stored."""

    @property
    def text(self) -> str:
        """All samples concatenated, as the paper does for k > 1."""
        if len(self.samples) == 1:
            return self.samples[0]
        return "\n\n".join(f"[Notes {i + 1}]\n{s}" for i, s in enumerate(self.samples))


@dataclass(frozen=True)
class ContextRecord:
    context_id: str
    revision: int
    n_chunks: int
    chars: int
    sources: list[str]
    updated_at: str
    attempt: str = ""
    """Where this revision's chunks are stored."""


def _context_record(context_id: str, v: Mapping[str, Any]) -> ContextRecord:
    rev = int(v["revision"])
    return ContextRecord(
        context_id, rev, v["n_chunks"], v["chars"], list(v["sources"]), v["updated_at"], v.get("attempt", f"r{rev}")
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LearnedContextStore:
    """Raw chunks, learned contexts and predicted questions of one tenant, over a BaseStore."""

    def __init__(self, store: BaseStore, tenant: str = "default") -> None:
        self.store = store
        self.tenant = validate_id(tenant, "tenant")

    def _ns(self, *parts: str) -> tuple[str, ...]:
        return (ROOT, self.tenant, *parts)

    def _revisions(self, context_id: str) -> Chain:
        return Chain(self.store, self._ns("revisions", context_id), self._ns("contexts"), context_id, "r", "revision")

    def _versions(self, context_id: str) -> Chain:
        return Chain(self.store, self._ns("versions", context_id), self._ns("head"), context_id, "v", "version")

    # raw context
    def context(self, context_id: str) -> ContextRecord:
        current = self._revisions(validate_id(context_id, "context_id")).current()
        if current is None:
            raise UnknownContextError(self.tenant, context_id)
        return _context_record(context_id, current)

    def list_contexts(self) -> list[str]:
        items = self.store.search(self._ns("contexts"), limit=10_000)
        return sorted(i.key for i in items)

    def put_chunks(self, context_id: str, chunks: Sequence[str], sources: Sequence[str]) -> ContextRecord:
        """Store a new raw revision of the context; readers see the previous one until it is complete."""
        validate_id(context_id, "context_id")
        if not chunks or not any(c.strip() for c in chunks):
            raise EmptyContextError(f"context {context_id!r} has no text to ingest")
        attempt = new_attempt()
        ns = self._ns("chunks", context_id, attempt)
        self.store.batch(
            [PutOp(ns, f"{i:05d}", {"text": c, "index": i}, index=False) for i, c in enumerate(chunks)]
        )
        base = {"attempt": attempt, "n_chunks": len(chunks), "chars": sum(len(c) for c in chunks),
                "sources": list(sources)}
        claim = self._revisions(context_id).advance(lambda n: {**base, "revision": n, "updated_at": _now()})
        self._collect_quietly(context_id)
        return _context_record(context_id, claim)

    def chunks(self, context_id: str, revision: int | None = None) -> list[str]:
        """The chunks of `revision` (default: the current one)."""
        if revision is None:
            attempt = self.context(context_id).attempt
        else:
            claim = self._revisions(validate_id(context_id, "context_id")).get(revision)
            attempt = str(claim["attempt"]) if claim else f"r{revision}"
        return self._chunks_of(context_id, attempt)

    def _chunks_of(self, context_id: str, attempt: str, n_chunks: int | None = None) -> list[str]:
        ns = self._ns("chunks", context_id, attempt)
        if n_chunks:  # keys known: read by key, not by listing (~30-50 ms at 100k entries on Chroma)
            got = [r for r in self.store.batch([GetOp(ns, f"{i:05d}") for i in range(n_chunks)]) if isinstance(r, Item)]
            if len(got) == n_chunks:
                return [i.value["text"] for i in got]
        items = self.store.search(ns, limit=100_000)
        return [i.value["text"] for i in sorted(items, key=lambda i: i.key)]

    def raw_text(self, context_id: str, revision: int | None = None) -> str:
        return "\n".join(self.chunks(context_id, revision))

    def source_text(self, learned: LearnedContext) -> str:
        """The raw text of the revision `learned` was built from (consistent with its notes)."""
        attempt = learned.source_attempt or f"r{learned.source_revision}"
        claim = self._revisions(learned.context_id).get(learned.source_revision)
        n = int(claim["n_chunks"]) if claim and claim.get("attempt") == attempt else None
        return "\n".join(self._chunks_of(learned.context_id, attempt, n))

    # learned contexts
    def head(self, context_id: str) -> dict[str, Any] | None:
        """The newest version's claim ({"version": n, "attempt": ..., "source_revision": ...}), or None."""
        return self._versions(validate_id(context_id, "context_id")).current()

    def latest(self, context_id: str) -> LearnedContext | None:
        """The published learned context, resolved once through the head."""
        head = self.head(context_id)
        return self._learned(context_id, head) if head else None

    def require_latest(self, context_id: str) -> LearnedContext:
        learned = self.latest(context_id)
        if learned is None:
            self.context(context_id)  # raises UnknownContextError when the context does not exist
            raise NotSleptError(f"context {context_id!r} has no learned context yet; run sleep first")
        return learned

    def version(self, context_id: str, version: int) -> LearnedContext | None:
        claim = self._versions(validate_id(context_id, "context_id")).get(version)
        return self._learned(context_id, claim or {"version": version, "attempt": f"v{version}"})

    def _learned(self, context_id: str, claim: Mapping[str, Any]) -> LearnedContext | None:
        attempt = str(claim.get("attempt") or f"v{claim['version']}")
        item = self.store.get(self._ns("learned", context_id), attempt)
        if item is None:
            return None
        v = item.value
        rev = int(claim.get("source_revision", v["source_revision"]))
        return LearnedContext(
            context_id, int(claim["version"]), list(v["samples"]), rev, v["created_at"],
            list(v.get("sleep_usage", [])), attempt, str(claim.get("source_attempt") or f"r{rev}"),
        )

    def _attempt_of(self, context_id: str, version: int | LearnedContext) -> str:
        if isinstance(version, LearnedContext):
            return version.attempt or f"v{version.version}"
        claim = self._versions(context_id).get(version)
        return str(claim["attempt"]) if claim else f"v{version}"

    def questions(self, context_id: str, version: int | LearnedContext) -> list[PredictedQuestion]:
        ns = self._ns("questions", context_id, self._attempt_of(context_id, version))
        items = self.store.search(ns, limit=1000)
        return [
            PredictedQuestion(question=i.value["question"], answer=i.value["answer"])
            for i in sorted(items, key=lambda i: i.key)
        ]

    def nearest_questions(
        self, context_id: str, version: int | LearnedContext, query: str, k: int
    ) -> list[PredictedQuestion]:
        return [qa for qa, _ in self.scored_questions(context_id, version, query, k)]

    def scored_questions(
        self, context_id: str, version: int | LearnedContext, query: str, k: int
    ) -> list[tuple[PredictedQuestion, float | None]]:
        """The `k` predicted questions of `version` nearest to `query`, with the store's similarity scores."""
        if k <= 0:
            return []
        ns = self._ns("questions", context_id, self._attempt_of(context_id, version))
        items = self.store.search(ns, query=query, limit=k)
        return [(PredictedQuestion(question=i.value["question"], answer=i.value["answer"]), i.score) for i in items]

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
        validate_id(context_id, "context_id")
        if not samples or not any(s.strip() for s in samples):
            raise InvalidInputError("cannot publish an empty learned context")
        attempt = new_attempt()
        qns = self._ns("questions", context_id, attempt)
        record = {"samples": list(samples), "source_revision": source_revision, "created_at": _now(),
                  "sleep_usage": list(sleep_usage)}
        ops = [PutOp(qns, f"q{i:03d}", {**qa}, index=["question"]) for i, qa in enumerate(questions)]
        ops.append(PutOp(self._ns("learned", context_id), attempt, record, index=False))
        put_all(self.store, ops)  # invisible until a version claims `attempt`
        source: list[ContextRecord] = []

        def still_current(_: Any) -> None:
            current = self.context(context_id)
            if current.revision != source_revision:
                raise StaleVersionError(
                    f"context {context_id!r} changed (revision {source_revision} -> {current.revision}) "
                    "while this sleep run worked; not publishing"
                )
            source[:] = [current]

        def make(n: int) -> dict[str, Any]:
            return {"version": n, "attempt": attempt, "source_revision": source_revision,
                    "source_attempt": source[0].attempt, "published_at": _now()}

        claim = self._versions(context_id).advance(make, check=still_current)
        self._collect_quietly(context_id)
        return int(claim["version"])

    # collection
    def collect(self, context_id: str | None = None, *, grace_s: float = GRACE_S) -> dict[str, int]:
        """Delete attempts nothing refers to (dead, lost, or of versions older than `KEEP_VERSIONS`)
        and raw revisions no kept version and not the current revision refers to. An attempt no
        version names is kept `grace_s` seconds (it may be in flight). Returns deleted counts.

        The collection run after each write skips the store-level repair, so leftovers of a write
        that crashed before its namespace was registered wait for this call."""
        ids = [validate_id(context_id, "context_id")] if context_id else self.list_contexts()
        store_collect = getattr(self.store, "collect", None)
        if callable(store_collect):
            # ChromaStore: lists namespaces a crashed write left unregistered, drops unused vectors.
            store_collect(grace_s=grace_s)
        total = {"attempts": 0, "revisions": 0}
        for cid in ids:
            for k, v in self._collect(cid, grace_s).items():
                total[k] += v
        return total

    def _collect_quietly(self, context_id: str) -> None:
        """Opportunistic collection after a write: its failure must not fail the write."""
        try:
            self._collect(context_id, GRACE_S)
        except Exception:
            log.warning("collecting old attempts of %r failed; the next write retries", context_id, exc_info=True)

    def _collect(self, context_id: str, grace_s: float) -> dict[str, int]:
        versions, revisions = self._versions(context_id), self._revisions(context_id)
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

        learned = self.store.search(self._ns("learned", context_id), limit=100_000)
        stale_l = [i.key for i in learned if dead(i.key, keep_attempts)]
        if stale_l:
            self.store.batch([PutOp(self._ns("learned", context_id), k, None) for k in stale_l])
        gone_q = {ns[-1] for ns in self._spaces("questions", context_id)
                  if dead(ns[-1], keep_attempts) and self._delete_namespace(ns)}
        gone_c = [ns for ns in self._spaces("chunks", context_id)
                  if dead(ns[-1], keep_chunks) and self._delete_namespace(ns)]
        return {"attempts": len(set(stale_l) | gone_q), "revisions": len(gone_c)}

    def _spaces(self, kind: str, context_id: str) -> list[tuple[str, ...]]:
        prefix = self._ns(kind, context_id)
        found = self.store.list_namespaces(prefix=prefix, limit=100_000)
        return [tuple(ns) for ns in found if len(ns) == len(prefix) + 1]

    def _delete_namespace(self, ns: tuple[str, ...]) -> int:
        deleted = 0
        while items := self.store.search(ns, limit=500):
            self.store.batch([PutOp(i.namespace, i.key, None) for i in items])
            deleted += len(items)
        return deleted

    # management (thin, for SleepTime.show/delete): versions kept, and deletes that leave no orphans
    def versions(self, context_id: str) -> list[int]:
        """The numbers of the versions whose notes are still stored, oldest first."""
        claims = self.store.search(self._ns("versions", validate_id(context_id, "context_id")), limit=10_000)
        return sorted(int(c.value["version"]) for c in claims if self._learned(context_id, c.value) is not None)

    def delete_version(self, context_id: str, version: int) -> None:
        """Delete one version (claim, notes, questions); deleting the newest moves the head to the
        newest kept one (or unpublishes), and the next publish reuses the number."""
        claim = self._versions(validate_id(context_id, "context_id")).get(version)
        if claim is None or self._learned(context_id, claim) is None:
            kept = self.versions(context_id)
            raise InvalidInputError(f"context {context_id!r} has no version {version}; kept: {kept}")
        head = self.head(context_id)
        if head is not None and int(head["version"]) == version:
            older = [v for v in self.versions(context_id) if v < version]
            previous = self._versions(context_id).get(older[-1]) if older else None
            if previous is not None:
                self.store.put(self._ns("head"), context_id, previous, index=False)
            else:
                self.store.delete(self._ns("head"), context_id)
        self.store.delete(self._ns("versions", context_id), f"v{version}")
        self.store.delete(self._ns("learned", context_id), str(claim.get("attempt") or f"v{version}"))
        self._delete_namespace(self._ns("questions", context_id, str(claim.get("attempt") or f"v{version}")))

    def delete_context(self, context_id: str) -> None:
        """Delete the context with every revision, version and question (the hints first, so readers stop)."""
        self.context(context_id)  # UnknownContextError when there is nothing to delete
        self.store.delete(self._ns("head"), context_id)
        self.store.delete(self._ns("contexts"), context_id)
        for kind in ("versions", "learned", "questions", "revisions", "chunks"):
            self._delete_namespace(self._ns(kind, context_id))
