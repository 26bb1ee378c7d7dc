"""Published versions: learned notes and predicted questions, made visible whole by one claim.

A publish writes everything under a fresh attempt id first and then claims the next version
number (`versions.Chain`): a compare-and-set, so two writers in any processes never get one
number, and a writer that dies before its claim leaves nothing any reader follows. A version names
the raw revision it was built from, so the notes, the questions and the raw text a reader gets all
come from one consistent version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.store.base import BaseStore, PutOp

from sleeptime.errors import InvalidInputError, StaleVersionError
from sleeptime.state import PredictedQuestion
from sleeptime.stores.batching import put_all, search_all
from sleeptime.stores.layout import KeyLayout, question_key, validate_id, version_key
from sleeptime.stores.revisions import ContextRecord, RawRevisions, now, open_lease
from sleeptime.stores.versions import Chain, Lease
from sleeptime.usage import UsageRecord


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


def _question(value: Mapping[str, Any]) -> PredictedQuestion:
    return PredictedQuestion(question=value["question"], answer=value["answer"])


class PublishedVersions:
    """The published learned contexts of one tenant, each built from one raw revision."""

    def __init__(self, store: BaseStore, layout: KeyLayout, raw: RawRevisions) -> None:
        self.store, self.layout, self.raw = store, layout, raw

    def chain(self, context_id: str) -> Chain:
        return Chain(self.store, self.layout.ns("versions", context_id), self.layout.ns("head"),
                     context_id, "v", "version")

    def head(self, context_id: str) -> dict[str, Any] | None:
        return self.chain(validate_id(context_id, "context_id")).current()

    def latest(self, context_id: str) -> LearnedContext | None:
        head = self.head(context_id)
        return self.learned(context_id, head) if head else None

    def version(self, context_id: str, version: int) -> LearnedContext | None:
        claim = self.chain(validate_id(context_id, "context_id")).get(version)
        return self.learned(context_id, claim or {"version": version, "attempt": version_key(version)})

    def learned(self, context_id: str, claim: Mapping[str, Any]) -> LearnedContext | None:
        """The version a claim names, or None when its notes are gone."""
        attempt = str(claim.get("attempt") or version_key(int(claim["version"])))
        item = self.store.get(self.layout.ns("learned", context_id), attempt)
        if item is None:
            return None
        v = item.value
        rev = int(claim.get("source_revision", v["source_revision"]))
        return LearnedContext(
            context_id, int(claim["version"]), list(v["samples"]), rev, v["created_at"],
            list(v.get("sleep_usage", [])), attempt, str(claim.get("source_attempt") or f"r{rev}"),
        )

    def attempt_of(self, context_id: str, version: int | LearnedContext) -> str:
        if isinstance(version, LearnedContext):
            return version.attempt or version_key(version.version)
        claim = self.chain(context_id).get(version)
        return str(claim["attempt"]) if claim else version_key(version)

    def questions(self, context_id: str, version: int | LearnedContext) -> list[PredictedQuestion]:
        ns = self.layout.ns("questions", context_id, self.attempt_of(context_id, version))
        items = search_all(self.store, ns)
        return [_question(i.value) for i in sorted(items, key=lambda i: i.key)]

    def scored_questions(
        self, context_id: str, version: int | LearnedContext, query: str, k: int
    ) -> list[tuple[PredictedQuestion, float | None]]:
        if k <= 0:
            return []
        ns = self.layout.ns("questions", context_id, self.attempt_of(context_id, version))
        items = self.store.search(ns, query=query, limit=k)
        return [(_question(i.value), i.score) for i in items]

    def publish(
        self,
        context_id: str,
        *,
        samples: Sequence[str],
        questions: Sequence[PredictedQuestion],
        source_revision: int,
        sleep_usage: Sequence[UsageRecord] = (),
    ) -> int:
        """Make a new version visible atomically (no collection: the caller runs it); returns its number."""
        validate_id(context_id, "context_id")
        if not samples or not any(s.strip() for s in samples):
            raise InvalidInputError("cannot publish an empty learned context")
        with open_lease(self.store, self.layout, context_id) as lease:
            return self._publish(context_id, lease, samples, questions, source_revision, sleep_usage)

    def _publish(
        self, context_id: str, lease: Lease, samples: Sequence[str], questions: Sequence[PredictedQuestion],
        source_revision: int, sleep_usage: Sequence[UsageRecord],
    ) -> int:
        attempt = lease.attempt
        qns = self.layout.ns("questions", context_id, attempt)
        record = {"samples": list(samples), "source_revision": source_revision, "created_at": now(),
                  "sleep_usage": list(sleep_usage)}
        ops = [PutOp(qns, question_key(i), {**qa}, index=["question"]) for i, qa in enumerate(questions)]
        ops.append(PutOp(self.layout.ns("learned", context_id), attempt, record, index=False))
        put_all(self.store, ops)  # invisible until a version claims `attempt`
        source: list[ContextRecord] = []

        def still_current(_: Any) -> None:
            current = self.raw.context(context_id)
            if current.revision != source_revision:
                raise StaleVersionError(
                    f"context {context_id!r} changed (revision {source_revision} -> {current.revision}) "
                    "while this sleep run worked; not publishing"
                )
            source[:] = [current]

        def make(n: int) -> dict[str, Any]:
            return {"version": n, "attempt": attempt, "source_revision": source_revision,
                    "source_attempt": source[0].attempt, "published_at": now()}

        claim = self.chain(context_id).advance(make, check=still_current, lease=lease)
        return int(claim["version"])

    def versions(self, context_id: str) -> list[int]:
        """The numbers of the versions whose notes are still stored, oldest first."""
        claims = search_all(self.store, self.layout.ns("versions", validate_id(context_id, "context_id")))
        return sorted(int(c.value["version"]) for c in claims if self.learned(context_id, c.value) is not None)

    def unpublish(self, context_id: str, version: int) -> str:
        """Remove one version's claim, moving the head to the newest kept one (or unpublishing) when it
        was the newest; returns the attempt whose notes and questions the caller deletes."""
        claim = self.chain(validate_id(context_id, "context_id")).get(version)
        if claim is None or self.learned(context_id, claim) is None:
            kept = self.versions(context_id)
            raise InvalidInputError(f"context {context_id!r} has no version {version}; kept: {kept}")
        head = self.head(context_id)
        head_ns, key = self.layout.head_key(context_id)
        if head is not None and int(head["version"]) == version:
            older = [v for v in self.versions(context_id) if v < version]
            previous = self.chain(context_id).get(older[-1]) if older else None
            if previous is not None:
                self.store.put(head_ns, key, previous, index=False)
            else:
                self.store.delete(head_ns, key)
        self.store.delete(self.layout.ns("versions", context_id), version_key(version))
        return str(claim.get("attempt") or version_key(version))
