"""Searchable raw chunks and per-part notes of large contexts, beside the learned-context store.

Layout (under ("sleeptime", tenant), like `LearnedContextStore`):

    (.., "pieces", context_id)         <chunk digest> -> chunk text, source path, line span (indexed)
    (.., "manifests", context_id)      "r<rev>"       -> the digests and spans of revision rev's chunks
    (.., "partnotes", context_id)      <part key>     -> one part's notes, source and span (indexed)

Chunks and part notes are content-addressed: a re-ingest that leaves a file unchanged re-embeds
nothing for it, and a re-sleep finds that part's notes under the same key. A search over the
pieces keeps only those the asked revision's manifest lists, so a reader holding an older version
never sees text from a newer revision (or the other way round).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from sleeptime.packing import Piece
from sleeptime.sources import SourceChunk
from sleeptime.stores.batching import put_all
from sleeptime.stores.learned import ROOT, validate_id

KEEP_MANIFESTS = 6
"""Manifests kept per context (the current revision and those recent versions may still read)."""
_OVERFETCH = 4


def _piece(value: dict[str, Any], score: float | None) -> Piece:
    return Piece(
        text=str(value["text"]),
        source=str(value["source"]),
        start_line=int(value.get("start_line", 0)),
        end_line=int(value.get("end_line", 0)),
        score=float(score) if score is not None else 0.0,
    )


class PartIndex:
    """Chunks with their spans, revision manifests and part notes of one tenant."""

    def __init__(self, store: BaseStore, tenant: str = "default") -> None:
        self.store = store
        self.tenant = validate_id(tenant, "tenant")

    def _ns(self, kind: str, context_id: str) -> tuple[str, ...]:
        return (ROOT, self.tenant, kind, validate_id(context_id, "context_id"))

    # chunks and manifests
    def record_revision(self, context_id: str, revision: int, chunks: Sequence[SourceChunk]) -> None:
        """Index the chunks of `revision` (only those not indexed yet) and write its manifest."""
        ns = self._ns("pieces", context_id)
        digests = list(dict.fromkeys(c.digest for c in chunks))
        present = self.store.batch([GetOp(ns, d) for d in digests])
        have = {d for d, item in zip(digests, present, strict=True) if item is not None}
        new = {c.digest: c for c in chunks if c.digest not in have}
        if new:
            put_all(
                self.store,
                [
                    PutOp(ns, d, {"text": c.text, "source": c.source, "start_line": c.start_line,
                                  "end_line": c.end_line}, index=["text"])
                    for d, c in new.items()
                ]
            )
        manifest = [[c.digest, c.source, c.start_line, c.end_line] for c in chunks]
        self.store.put(self._ns("manifests", context_id), f"r{revision}", {"chunks": manifest}, index=False)
        self._collect(context_id, revision)

    def manifest(self, context_id: str, revision: int) -> list[SourceChunk] | None:
        """The chunks of `revision` with their spans and text, in order; None when not recorded."""
        item = self.store.get(self._ns("manifests", context_id), f"r{revision}")
        if item is None:
            return None
        refs = item.value["chunks"]
        ns = self._ns("pieces", context_id)
        found = cast(list[Item | None], self.store.batch([GetOp(ns, r[0]) for r in refs]))
        return [
            SourceChunk(text=str(it.value["text"]) if it else "", source=r[1], start_line=r[2], end_line=r[3],
                        digest=r[0])
            for r, it in zip(refs, found, strict=True)
        ]

    def search_chunks(self, context_id: str, revision: int, query: str, k: int) -> list[Piece]:
        """The `k` chunks of `revision` nearest to `query`, with their spans."""
        item = self.store.get(self._ns("manifests", context_id), f"r{revision}")
        if item is None or k <= 0:
            return []
        wanted = {r[0] for r in item.value["chunks"]}
        hits = self.store.search(self._ns("pieces", context_id), query=query, limit=k * _OVERFETCH + 8)
        return [_piece(h.value, h.score) for h in hits if h.key in wanted][:k]

    def _collect(self, context_id: str, revision: int) -> None:
        """Drop manifests older than the kept ones and chunks no kept manifest lists."""
        mns = self._ns("manifests", context_id)
        manifests = self.store.search(mns, limit=10_000)
        keep_from = revision - KEEP_MANIFESTS + 1
        kept: set[str] = set()
        for m in manifests:
            if int(m.key[1:]) < keep_from:
                self.store.delete(mns, m.key)
            else:
                kept.update(r[0] for r in m.value["chunks"])
        pns = self._ns("pieces", context_id)
        for stale in [i.key for i in self._all(pns) if i.key not in kept]:
            self.store.delete(pns, stale)

    def _all(self, ns: tuple[str, ...]) -> Iterable[Any]:
        offset = 0
        while batch := self.store.search(ns, limit=1000, offset=offset):
            yield from batch
            offset += len(batch)

    def delete_context(self, context_id: str) -> None:
        """Every chunk, manifest and part note of the context (when the context itself is deleted)."""
        for kind in ("pieces", "manifests", "partnotes"):
            ns = self._ns(kind, context_id)
            while items := self.store.search(ns, limit=500):
                for item in items:
                    self.store.delete(ns, item.key)

    # part notes
    def set_parts(self, context_id: str, revision: int, keys: Sequence[str]) -> None:
        """Record which part notes describe `revision` (the wake searches only those)."""
        ns = self._ns("manifests", context_id)
        item = self.store.get(ns, f"r{revision}")
        if item is not None:
            self.store.put(ns, f"r{revision}", {**item.value, "parts": list(keys)}, index=False)

    def parts_of(self, context_id: str, revision: int) -> list[str]:
        item = self.store.get(self._ns("manifests", context_id), f"r{revision}")
        return list(item.value.get("parts", [])) if item is not None else []

    def part_notes(self, context_id: str, keys: Sequence[str]) -> dict[str, str]:
        """The stored notes of those `keys` that have them."""
        ns = self._ns("partnotes", context_id)
        found = cast(list[Item | None], self.store.batch([GetOp(ns, k) for k in keys]))
        return {k: str(it.value["text"]) for k, it in zip(keys, found, strict=True) if it is not None}

    def put_part_notes(self, context_id: str, key: str, notes: str, source: str, start: int, end: int) -> None:
        self.store.put(
            self._ns("partnotes", context_id), key,
            {"text": notes, "source": source, "start_line": start, "end_line": end}, index=["text"],
        )

    def search_notes(self, context_id: str, keys: Iterable[str], query: str, k: int) -> list[Piece]:
        """The `k` part notes among `keys` (the parts of one version) nearest to `query`."""
        wanted = set(keys)
        if not wanted or k <= 0:
            return []
        hits = self.store.search(self._ns("partnotes", context_id), query=query, limit=k * _OVERFETCH + 8)
        return [_piece(h.value, h.score) for h in hits if h.key in wanted][:k]
