"""Searchable raw chunks and per-part notes of large contexts, beside the learned-context store.

Layout (the "pieces", "manifests" and "partnotes" kinds of `sleeptime.stores.layout`):

    (.., "pieces", context_id)         <chunk digest> -> chunk text (indexed), source path, line span
    (.., "manifests", context_id)      "r<rev>"       -> revision rev's chunks (digest, source, span, in
                                                         order) and the parts its sleeps planned (key, span)
    (.., "partnotes", context_id)      <part key>     -> one part's notes (indexed), source, span

Chunks and part notes are content-addressed: a re-ingest that leaves a file unchanged re-embeds
nothing for it, and a re-sleep finds that part's notes under the same key. A search over the
pieces or notes keeps only those the asked revision's manifest lists and cites them at the spans
that manifest gives (an unchanged chunk may sit at other lines in another revision), so a reader
holding one version never sees text or spans from another.

`collect` (run after each ingest) keeps the manifests of the newest `KEEP_MANIFESTS` revisions and
of every revision a kept learned version was built from, and the pieces and part notes those list;
what only dropped manifests listed goes at once, anything listed by none is kept `GRACE_S` (a
write in flight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from sleeptime.large.packing import Piece
from sleeptime.large.sources import SourceChunk
from sleeptime.stores.batching import WRITE_SLICE, put_all
from sleeptime.stores.collection import GRACE_S, KEEP_VERSIONS, delete_namespace
from sleeptime.stores.layout import PART_KINDS, KeyLayout, Kind, revision_key
from sleeptime.stores.published import PublishedVersions
from sleeptime.stores.versions import MAX_CLAIM_TRIES

log = logging.getLogger(__name__)

KEEP_MANIFESTS = 6
"""Newest manifests kept per context (the current revision and those recent readers may still read),
besides those of the revisions kept learned versions were built from."""
_OVERFETCH = 4

PartRef = tuple[str, str, int, int]
"""A planned part: its key, source, first and last line."""


def _piece(value: dict[str, Any], score: float | None, span: Sequence[Any] | None = None) -> Piece:
    source, start, end = (span[1], span[2], span[3]) if span else (
        value["source"], value.get("start_line", 0), value.get("end_line", 0))
    return Piece(text=str(value["text"]), source=str(source), start_line=int(start), end_line=int(end),
                 score=float(score) if score is not None else 0.0)


def _parts(value: dict[str, Any]) -> list[list[Any]]:
    # Manifests written before parts had spans list bare keys.
    return [p if isinstance(p, list) else [p, "", 0, 0] for p in value.get("parts", [])]


def _age_s(item: Item) -> float:
    stamp = item.updated_at if item.updated_at.tzinfo else item.updated_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - stamp).total_seconds()


class PartIndex:
    """Chunks with their spans, revision manifests and part notes of one tenant (reached as
    `LearnedContextStore.parts`, which builds it once)."""

    def __init__(self, store: BaseStore, layout: KeyLayout, published: PublishedVersions) -> None:
        self.store, self.layout, self.published = store, layout, published

    def _ns(self, kind: Kind, context_id: str) -> tuple[str, ...]:
        return self.layout.ns(kind, context_id)

    def _manifest(self, context_id: str, revision: int) -> dict[str, Any] | None:
        item = self.store.get(self._ns("manifests", context_id), revision_key(revision))
        return dict(item.value) if item is not None else None

    # chunks and manifests
    def index_chunks(self, context_id: str, chunks: Sequence[SourceChunk]) -> None:
        """Embed and store the chunks not indexed yet. Done before the revision is claimed, so a
        reader of the new revision finds its chunks; until its manifest lists them, the ingest's
        lease keeps them (`collect`)."""
        ns = self._ns("pieces", context_id)
        unique = list({c.digest: c for c in chunks}.values())
        for start in range(0, len(unique), WRITE_SLICE):  # bounded memory for any number of chunks
            part = unique[start : start + WRITE_SLICE]
            present = self.store.batch([GetOp(ns, c.digest) for c in part])
            new = [c for c, item in zip(part, present, strict=True) if item is None]
            if new:
                put_all(self.store, [
                    PutOp(ns, c.digest, {"text": c.text, "source": c.source, "start_line": c.start_line,
                                         "end_line": c.end_line}, index=["text"])
                    for c in new
                ])

    def record_manifest(
        self, context_id: str, revision: int, chunks: Sequence[SourceChunk], own_lease: str | None = None
    ) -> None:
        """Write the manifest of `revision` (its chunks, indexed first), then collect what is no longer
        kept (the writer's own lease, `own_lease`, does not hold that back)."""
        manifest = [[c.digest, c.source, c.start_line, c.end_line] for c in chunks]
        self.store.put(self._ns("manifests", context_id), revision_key(revision), {"chunks": manifest}, index=False)
        try:  # opportunistic, as after a publish: its failure must not fail the ingest
            self.collect(context_id, own_lease=own_lease)
        except Exception:
            log.warning("collecting old chunks and part notes of %r failed; the next ingest retries", context_id,
                        exc_info=True)

    def manifest(self, context_id: str, revision: int) -> list[SourceChunk] | None:
        """The chunks of `revision` with their spans and text, in order; None when not recorded."""
        value = self._manifest(context_id, revision)
        if value is None:
            return None
        refs = value["chunks"]
        ns = self._ns("pieces", context_id)
        found = cast(list[Item | None], self.store.batch([GetOp(ns, r[0]) for r in refs]))
        return [
            SourceChunk(text=str(it.value["text"]) if it else "", source=r[1], start_line=r[2], end_line=r[3],
                        digest=r[0])
            for r, it in zip(refs, found, strict=True)
        ]

    def digests(self, context_id: str, revision: int) -> list[str] | None:
        """The chunk digests of `revision` in order (equal lists: equal contents); None when not recorded."""
        value = self._manifest(context_id, revision)
        return [str(r[0]) for r in value["chunks"]] if value is not None else None

    def search_chunks(self, context_id: str, revision: int, query: str, k: int) -> list[Piece]:
        """The `k` chunks of `revision` nearest to `query`, cited at their spans in `revision`."""
        value = self._manifest(context_id, revision)
        if value is None or k <= 0:
            return []
        spans: dict[str, list[Any]] = {}
        for ref in value["chunks"]:
            spans.setdefault(ref[0], ref)
        hits = self.store.search(self._ns("pieces", context_id), query=query, limit=k * _OVERFETCH + 8)
        return [_piece(h.value, h.score, spans[h.key]) for h in hits if h.key in spans][:k]

    def _kept_revisions(self, context_id: str, newest: int) -> set[int]:
        """The newest KEEP_MANIFESTS revisions and those the kept learned versions were built from."""
        kept = set(range(newest - KEEP_MANIFESTS + 1, newest + 1))
        learned = self.published
        head = learned.head(context_id)
        if head is not None:
            kept.add(int(head["source_revision"]))
            top = int(head["version"])
            for n in range(max(1, top - KEEP_VERSIONS + 1), top + 1):
                version = learned.version(context_id, n)
                if version is not None:
                    kept.add(version.source_revision)
        return kept

    def collect(self, context_id: str, *, grace_s: float = GRACE_S, own_lease: str | None = None) -> dict[str, int]:
        """Drop manifests no longer kept, and the pieces and part notes no kept manifest lists.

        Pieces and notes are listed first, then the leases, then the manifests. A piece no manifest
        lists is kept while any other ingest of the context holds a live lease (it may be that
        ingest's, its manifest not written yet; no clock is read); an ingest whose lease is gone by
        then wrote its manifest before, so the manifests read here list its pieces. Part notes no
        manifest lists are kept `grace_s` seconds by their stored time. `grace_s <= 0` forces both.
        Returns deleted counts."""
        pns, nns, mns = (self._ns(kind, context_id) for kind in ("pieces", "partnotes", "manifests"))
        pieces, notes = list(self._all(pns)), list(self._all(nns))
        in_flight = grace_s > 0 and self._ingest_in_flight(context_id, own_lease)
        manifests = list(self._all(mns))
        if not manifests:
            return {"manifests": 0, "pieces": 0, "partnotes": 0}
        kept = self._kept_revisions(context_id, max(int(m.key[1:]) for m in manifests))
        keep: dict[str, set[str]] = {"pieces": set(), "partnotes": set()}
        dropped: dict[str, set[str]] = {"pieces": set(), "partnotes": set()}
        gone = [m for m in manifests if int(m.key[1:]) not in kept]
        for m in manifests:
            into = keep if int(m.key[1:]) in kept else dropped
            into["pieces"].update(r[0] for r in m.value["chunks"])
            into["partnotes"].update(p[0] for p in _parts(m.value))
        if gone:
            self.store.batch([PutOp(mns, m.key, None) for m in gone])
        counts = {"manifests": len(gone)}
        for kind, ns, items in (("pieces", pns, pieces), ("partnotes", nns, notes)):
            stale = [i.key for i in items if i.key not in keep[kind] and (
                i.key in dropped[kind] or not (in_flight if kind == "pieces" else _age_s(i) < grace_s))]
            if stale:
                self.store.batch([PutOp(ns, key, None) for key in stale])
            counts[kind] = len(stale)
        return counts

    def _ingest_in_flight(self, context_id: str, own_lease: str | None) -> bool:
        """Whether another write of the context holds a lease the revision chain has not passed."""
        leases = [i for i in self._all(self._ns("leases", context_id)) if i.key != own_lease]
        if not leases:
            return False
        head = self.published.raw.chain(context_id).head()
        return any(head <= int(i.value.get("bases", {}).get("r", 0)) + MAX_CLAIM_TRIES for i in leases)

    def _all(self, ns: tuple[str, ...]) -> Iterable[Item]:
        offset = 0
        while batch := self.store.search(ns, limit=1000, offset=offset):
            yield from batch
            offset += len(batch)

    def delete_context(self, context_id: str) -> None:
        """Every chunk, manifest and part note of the context (when the context itself is deleted)."""
        for kind in PART_KINDS:
            delete_namespace(self.store, self._ns(kind, context_id))

    # part notes
    def set_parts(self, context_id: str, revision: int, parts: Sequence[PartRef]) -> None:
        """Record the parts a sleep of `revision` planned, before their notes are written: the wake
        searches only these, and `collect` keeps their notes while the manifest is kept (so an
        interrupted sleep's notes wait for the next one). Another sleep of the same revision (say,
        by another model) adds its parts to those listed."""
        ns = self._ns("manifests", context_id)
        item = self.store.get(ns, revision_key(revision))
        if item is None:
            return
        listed = {p[0]: p for p in _parts(item.value)}
        listed.update({p[0]: list(p) for p in parts})
        self.store.put(ns, revision_key(revision), {**item.value, "parts": list(listed.values())}, index=False)

    def part_spans(self, context_id: str, revision: int) -> list[PartRef]:
        """The parts the sleeps of `revision` planned: (key, source, first line, last line)."""
        value = self._manifest(context_id, revision)
        return [(str(p[0]), str(p[1]), int(p[2]), int(p[3])) for p in _parts(value)] if value is not None else []

    def parts_of(self, context_id: str, revision: int) -> list[str]:
        value = self._manifest(context_id, revision)
        return [p[0] for p in _parts(value)] if value is not None else []

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

    def search_notes(self, context_id: str, revision: int, query: str, k: int) -> list[Piece]:
        """The `k` notes on the parts of `revision` nearest to `query`, cited at their spans in it."""
        value = self._manifest(context_id, revision)
        spans = {p[0]: p for p in _parts(value)} if value is not None else {}
        if not spans or k <= 0:
            return []
        hits = self.store.search(self._ns("partnotes", context_id), query=query, limit=k * _OVERFETCH + 8)
        return [_piece(h.value, h.score, spans[h.key] if spans[h.key][1] else None)
                for h in hits if h.key in spans][:k]
