"""Raw revisions: a context's chunks, stored whole under a fresh attempt, then claimed as the next revision.

A revision becomes visible only when its claim is won (`versions.Chain`), so readers see the
previous revision until the new one is complete.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from sleeptime.errors import EmptyContextError, UnknownContextError
from sleeptime.stores.batching import put_all, search_all
from sleeptime.stores.layout import KeyLayout, chunk_key, validate_id
from sleeptime.stores.versions import Chain, Lease

_FIRST_BATCH, _MAX_BATCH = 8, 256
"""Chunks read per store batch when a reader may stop early (`iter_chunks`): doubling from the first."""


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


def context_record(context_id: str, v: Mapping[str, Any]) -> ContextRecord:
    rev = int(v["revision"])
    return ContextRecord(
        context_id, rev, v["n_chunks"], v["chars"], list(v["sources"]), v["updated_at"], v.get("attempt", f"r{rev}")
    )


def now() -> str:
    return datetime.now(UTC).isoformat()


def open_lease(store: BaseStore, layout: KeyLayout, context_id: str) -> Lease:
    """A lease for one write to the context (see `versions.Lease`), based on both chains' heads now."""
    raw = Chain(store, layout.ns("revisions", context_id), layout.ns("contexts"), context_id, "r", "revision")
    published = Chain(store, layout.ns("versions", context_id), layout.ns("head"), context_id, "v", "version")
    bases = {"r": raw.head(), "v": published.head()}
    return Lease(store, layout.ns("leases", context_id), layout.ns("fates", context_id), bases)


class RawRevisions:
    """The raw revisions of one tenant's contexts."""

    def __init__(self, store: BaseStore, layout: KeyLayout) -> None:
        self.store, self.layout = store, layout

    def chain(self, context_id: str) -> Chain:
        return Chain(self.store, self.layout.ns("revisions", context_id), self.layout.ns("contexts"),
                     context_id, "r", "revision")

    def context(self, context_id: str) -> ContextRecord:
        current = self.chain(validate_id(context_id, "context_id")).current()
        if current is None:
            raise UnknownContextError(self.layout.tenant, context_id)
        return context_record(context_id, current)

    def list_contexts(self) -> list[str]:
        items = search_all(self.store, self.layout.ns("contexts"))
        return sorted(i.key for i in items)

    def put(
        self, context_id: str, chunks: Sequence[str], sources: Sequence[str], lease: Lease | None = None
    ) -> ContextRecord:
        """Store `chunks` as the context's next raw revision (no collection: the caller runs it), under
        `lease` (the caller's, when it writes more for this revision) or a lease of its own."""
        validate_id(context_id, "context_id")
        if not chunks or not any(c.strip() for c in chunks):
            raise EmptyContextError(f"context {context_id!r} has no text to ingest")
        own = lease is None
        held = open_lease(self.store, self.layout, context_id) if lease is None else lease
        try:
            ns = self.layout.ns("chunks", context_id, held.attempt)
            put_all(self.store, [PutOp(ns, chunk_key(i), {"text": c, "index": i}, index=False)
                                 for i, c in enumerate(chunks)])
            base = {"attempt": held.attempt, "n_chunks": len(chunks), "chars": sum(len(c) for c in chunks),
                    "sources": list(sources)}
            claim = self.chain(context_id).advance(lambda n: {**base, "revision": n, "updated_at": now()}, lease=held)
        finally:
            if own:
                held.close()
        return context_record(context_id, claim)

    def locate(self, context_id: str, revision: int | None = None) -> tuple[str, int | None]:
        """Where the chunks of `revision` (default: the current one) are: their attempt, and how many
        there are when the claim says so."""
        if revision is None:
            record = self.context(context_id)
            return record.attempt, record.n_chunks
        claim = self.chain(validate_id(context_id, "context_id")).get(revision)
        if claim is None:
            return f"r{revision}", None
        return str(claim["attempt"]), int(claim["n_chunks"]) if "n_chunks" in claim else None

    def chunks(self, context_id: str, revision: int | None = None) -> list[str]:
        """The chunks of `revision` (default: the current one)."""
        attempt, _ = self.locate(context_id, revision)
        return self.chunks_of(context_id, attempt)

    def chunks_of(self, context_id: str, attempt: str, n_chunks: int | None = None) -> list[str]:
        ns = self.layout.ns("chunks", context_id, attempt)
        if n_chunks:  # keys known: read by key, not by listing (~30-50 ms at 100k entries on Chroma)
            got = [r for r in self.store.batch([GetOp(ns, chunk_key(i)) for i in range(n_chunks)])
                   if isinstance(r, Item)]
            if len(got) == n_chunks:
                return [i.value["text"] for i in got]
        items = search_all(self.store, ns)
        return [i.value["text"] for i in sorted(items, key=lambda i: i.key)]

    def iter_chunks(self, context_id: str, attempt: str, n_chunks: int | None) -> Iterator[str]:
        """The chunks of one attempt in order, read a batch at a time, so a reader that stops early
        (the text is too large for it) never loads the rest."""
        if not n_chunks:
            yield from self.chunks_of(context_id, attempt)
            return
        ns = self.layout.ns("chunks", context_id, attempt)
        start, size = 0, _FIRST_BATCH
        while start < n_chunks:
            keys = [chunk_key(i) for i in range(start, min(start + size, n_chunks))]
            got = [r for r in self.store.batch([GetOp(ns, k) for k in keys]) if isinstance(r, Item)]
            if len(got) != len(keys):  # not laid out by index: read them all by listing
                yield from self.chunks_of(context_id, attempt)[start:]
                return
            yield from (i.value["text"] for i in got)
            start, size = start + len(keys), min(size * 2, _MAX_BATCH)

    def raw_text(self, context_id: str, revision: int | None = None) -> str:
        return "\n".join(self.chunks(context_id, revision))

    def source_of(self, context_id: str, source_revision: int, source_attempt: str) -> tuple[str, int | None]:
        """Where the revision a version was built from is, as it recorded it (consistent with its notes)."""
        attempt = source_attempt or f"r{source_revision}"
        claim = self.chain(context_id).get(source_revision)
        n = int(claim["n_chunks"]) if claim and claim.get("attempt") == attempt else None
        return attempt, n
