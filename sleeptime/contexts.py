"""What `SleepTime.contexts()` and `SleepTime.show()` report about stored contexts.

Built only from `LearnedContextStore`'s public methods, so it works over any BaseStore.
"""

from __future__ import annotations

from pydantic import BaseModel

from sleeptime.state import PredictedQuestion
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.usage import Usage, summarize_usage


class ContextSummary(BaseModel):
    """One line of `SleepTime.contexts()`."""

    context_id: str
    revision: int
    """The current raw revision (earlier revisions' chunks are deleted once a new one is stored)."""
    chars: int
    head: int | None
    """The published learned-context version, None before the first sleep."""
    updated_at: str


class VersionInfo(BaseModel):
    version: int
    source_revision: int
    """The raw revision this version was learned from."""
    created_at: str
    samples: int
    learned_chars: int
    sleep_usage: Usage
    questions: list[PredictedQuestion]


class ContextInfo(ContextSummary):
    """`SleepTime.show()`: the context, its kept versions (oldest first) and which one is published."""

    tenant: str
    n_chunks: int
    sources: list[str]
    stale: bool
    """True when the raw context changed after the published version was learned."""
    versions: list[VersionInfo]


def summarize(store: LearnedContextStore, context_id: str) -> ContextSummary:
    record = store.context(context_id)
    head = store.head(context_id)
    return ContextSummary(
        context_id=context_id, revision=record.revision, chars=record.chars,
        head=int(head["version"]) if head else None, updated_at=record.updated_at,
    )


def describe(store: LearnedContextStore, context_id: str) -> ContextInfo:
    record = store.context(context_id)  # UnknownContextError first, for a clear message
    head = store.head(context_id)
    versions: list[VersionInfo] = []
    for number in store.versions(context_id):
        learned = store.version(context_id, number)
        if learned is None:  # pruned between the listing and the read
            continue
        versions.append(VersionInfo(
            version=number, source_revision=learned.source_revision, created_at=learned.created_at,
            samples=len(learned.samples), learned_chars=len(learned.text),
            sleep_usage=summarize_usage(learned.sleep_usage, "sleep"),
            questions=store.questions(context_id, number),
        ))
    head_version = int(head["version"]) if head else None
    stale = head is not None and int(head.get("source_revision", record.revision)) != record.revision
    return ContextInfo(
        context_id=context_id, tenant=store.tenant, revision=record.revision, chars=record.chars,
        head=head_version, updated_at=record.updated_at, n_chunks=record.n_chunks,
        sources=list(record.sources), stale=stale, versions=versions,
    )
