"""The typed learned-context layer over any LangGraph `BaseStore`.

Layout (every namespace starts with ("sleeptime", tenant), so tenants never meet):

    (.., "contexts")                         context_id -> registry record (current raw revision)
    (.., "chunks", context_id, "r<rev>")     "00000".. -> raw chunk text of one revision
    (.., "learned", context_id)              "v<n>"     -> learned context version n (immutable)
    (.., "questions", context_id, "v<n>")    "q<i>"     -> predicted question + worked answer (immutable)
    (.., "head")                             context_id -> {"version": n, ...}: the published pointer

Publishing writes version n's immutable items first and flips the head pointer last, in one
`put`. A reader resolves the head once and reads only that version's items, so it sees the old
version or the new one whole, never a mix. Raw chunks follow the same pattern with revisions, so a
failed re-ingest leaves the previous text intact. Old versions are pruned after the flip, keeping
a few so readers that resolved an older head can finish.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from langgraph.store.base import BaseStore

from sleeptime.errors import (
    EmptyContextError,
    InvalidInputError,
    NotSleptError,
    StaleVersionError,
    UnknownContextError,
)
from sleeptime.state import PredictedQuestion
from sleeptime.usage import UsageRecord

ROOT = "sleeptime"
KEEP_VERSIONS = 3
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


def _context_record(context_id: str, v: dict[str, Any]) -> ContextRecord:
    return ContextRecord(context_id, v["revision"], v["n_chunks"], v["chars"], v["sources"], v["updated_at"])


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LearnedContextStore:
    """Raw chunks, learned contexts and predicted questions of one tenant, over a BaseStore."""

    # One lock per (store, tenant, context) in this process serialises publishes and ingests.
    _locks: ClassVar[dict[tuple[int, str, str], threading.Lock]] = {}
    _locks_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: BaseStore, tenant: str = "default") -> None:
        self.store = store
        self.tenant = validate_id(tenant, "tenant")

    # namespaces
    def _ns(self, *parts: str) -> tuple[str, ...]:
        return (ROOT, self.tenant, *parts)

    def _lock(self, context_id: str) -> threading.Lock:
        key = (id(self.store), self.tenant, context_id)
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    # raw context
    def context(self, context_id: str) -> ContextRecord:
        item = self.store.get(self._ns("contexts"), validate_id(context_id, "context_id"))
        if item is None:
            raise UnknownContextError(self.tenant, context_id)
        return _context_record(context_id, item.value)

    def list_contexts(self) -> list[str]:
        items = self.store.search(self._ns("contexts"), limit=10_000)
        return sorted(i.key for i in items)

    def put_chunks(self, context_id: str, chunks: Sequence[str], sources: Sequence[str]) -> ContextRecord:
        """Store a new raw revision of the context; the previous one stays until this one is complete."""
        validate_id(context_id, "context_id")
        if not chunks or not any(c.strip() for c in chunks):
            raise EmptyContextError(f"context {context_id!r} has no text to ingest")
        with self._lock(context_id):
            try:
                previous: ContextRecord | None = self.context(context_id)
            except UnknownContextError:
                previous = None
            revision = (previous.revision if previous else 0) + 1
            ns = self._ns("chunks", context_id, f"r{revision}")
            for i, chunk in enumerate(chunks):
                self.store.put(ns, f"{i:05d}", {"text": chunk, "index": i}, index=["text"])
            record = {
                "revision": revision,
                "n_chunks": len(chunks),
                "chars": sum(len(c) for c in chunks),
                "sources": list(sources),
                "updated_at": _now(),
            }
            self.store.put(self._ns("contexts"), context_id, record, index=False)
            if previous is not None:
                self._delete_namespace(self._ns("chunks", context_id, f"r{previous.revision}"))
        return _context_record(context_id, record)

    def chunks(self, context_id: str, revision: int | None = None) -> list[str]:
        rev = revision if revision is not None else self.context(context_id).revision
        items = self.store.search(self._ns("chunks", context_id, f"r{rev}"), limit=100_000)
        return [i.value["text"] for i in sorted(items, key=lambda i: i.key)]

    def raw_text(self, context_id: str, revision: int | None = None) -> str:
        return "\n".join(self.chunks(context_id, revision))

    def search_chunks(self, context_id: str, query: str, k: int = 4) -> list[str]:
        rev = self.context(context_id).revision
        items = self.store.search(self._ns("chunks", context_id, f"r{rev}"), query=query, limit=k)
        return [i.value["text"] for i in items]

    # learned contexts
    def head(self, context_id: str) -> dict[str, Any] | None:
        item = self.store.get(self._ns("head"), validate_id(context_id, "context_id"))
        return dict(item.value) if item else None

    def latest(self, context_id: str) -> LearnedContext | None:
        """The published learned context, resolved once through the head pointer."""
        head = self.head(context_id)
        if head is None:
            return None
        return self.version(context_id, int(head["version"]))

    def require_latest(self, context_id: str) -> LearnedContext:
        learned = self.latest(context_id)
        if learned is None:
            self.context(context_id)  # raises UnknownContextError when the context does not exist
            raise NotSleptError(f"context {context_id!r} has no learned context yet; run sleep first")
        return learned

    def version(self, context_id: str, version: int) -> LearnedContext | None:
        item = self.store.get(self._ns("learned", context_id), f"v{version}")
        if item is None:
            return None
        v = item.value
        return LearnedContext(
            context_id, v["version"], list(v["samples"]), v["source_revision"], v["created_at"],
            list(v.get("sleep_usage", [])),
        )

    def questions(self, context_id: str, version: int) -> list[PredictedQuestion]:
        items = self.store.search(self._ns("questions", context_id, f"v{version}"), limit=1000)
        return [
            PredictedQuestion(question=i.value["question"], answer=i.value["answer"])
            for i in sorted(items, key=lambda i: i.key)
        ]

    def nearest_questions(self, context_id: str, version: int, query: str, k: int) -> list[PredictedQuestion]:
        return [qa for qa, _ in self.scored_questions(context_id, version, query, k)]

    def scored_questions(
        self, context_id: str, version: int, query: str, k: int
    ) -> list[tuple[PredictedQuestion, float | None]]:
        """The `k` predicted questions of `version` nearest to `query`, with the store's similarity scores."""
        if k <= 0:
            return []
        items = self.store.search(self._ns("questions", context_id, f"v{version}"), query=query, limit=k)
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
        slow run never publishes over a newer context.
        """
        if not samples or not any(s.strip() for s in samples):
            raise InvalidInputError("cannot publish an empty learned context")
        with self._lock(context_id):
            current = self.context(context_id)
            if current.revision != source_revision:
                raise StaleVersionError(
                    f"context {context_id!r} changed (revision {source_revision} -> {current.revision}) "
                    "while this sleep run worked; not publishing"
                )
            head = self.head(context_id)
            version = (int(head["version"]) if head else 0) + 1
            qns = self._ns("questions", context_id, f"v{version}")
            for i, qa in enumerate(questions):
                self.store.put(qns, f"q{i:03d}", {**qa, "version": version}, index=["question"])
            self.store.put(
                self._ns("learned", context_id),
                f"v{version}",
                {
                    "version": version,
                    "samples": list(samples),
                    "source_revision": source_revision,
                    "created_at": _now(),
                    "sleep_usage": list(sleep_usage),
                },
                index=False,
            )
            # The flip: a single put makes the whole version visible.
            self.store.put(
                self._ns("head"),
                context_id,
                {"version": version, "source_revision": source_revision, "published_at": _now()},
                index=False,
            )
            self._prune(context_id, version)
        return version

    def _prune(self, context_id: str, version: int) -> None:
        for old in range(max(1, version - KEEP_VERSIONS - 5), version - KEEP_VERSIONS + 1):
            self.store.delete(self._ns("learned", context_id), f"v{old}")
            self._delete_namespace(self._ns("questions", context_id, f"v{old}"))

    def _delete_namespace(self, ns: tuple[str, ...]) -> None:
        while items := self.store.search(ns, limit=500):
            for item in items:
                self.store.delete(item.namespace, item.key)
