"""Hybrid search over a large context's revision: dense, BM25 and definition rankings of its raw chunks
(and, with sleep output, the chunks its part descriptions lead to) fused by reciprocal rank; the strategy
is a `Retrieval`.

Every hit is a raw chunk of the asked revision, cited at its span in that revision's manifest. The
BM25 and definition indexes of a revision (its chunks' text) are built on first use and kept in memory
for the newest few revisions: a revision never changes, so the cache key (store, context, revision) is
exact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sleeptime.large.lexical import BM25, rrf
from sleeptime.large.packing import Piece
from sleeptime.large.retrieval import Retrieval
from sleeptime.large.sources import SourceChunk
from sleeptime.large.symbols import Definitions
from sleeptime.stores.parts import PartIndex

__all__ = ["search"]

_CACHE: OrderedDict[tuple[Any, ...], tuple[list[SourceChunk], BM25, Definitions]] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def _index(index: PartIndex, context_id: str, revision: int) -> tuple[list[SourceChunk], BM25, Definitions]:
    key = (id(index.store), index.layout.ns("pieces", context_id), revision)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    chunks = index.manifest(context_id, revision) or []
    built = (chunks, BM25(f"{c.source}\n{c.text}" for c in chunks), Definitions(chunks))
    with _LOCK:
        _CACHE[key] = built
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built


def search(index: PartIndex, context_id: str, revision: int, query: str, k: int, retrieval: Retrieval, *,
           descriptions: bool = False) -> list[Piece]:
    """The `k` best raw chunks of `revision` for `query` by `retrieval`, their score the fused one;
    `descriptions`: the revision's part notes (sleep output) join the search, as `retrieval` allows."""
    if k <= 0:
        return []
    if not retrieval.lexical and not retrieval.definitions and not (descriptions and retrieval.descriptions):
        return index.search_chunks(context_id, revision, query, k)  # dense alone: the store's ranking
    parts = index.part_spans(context_id, revision) if descriptions and retrieval.descriptions else []
    notes = index.part_notes(context_id, [p[0] for p in parts]) if parts else {}
    chunks, bm25, defined = _index(index, context_id, revision)
    by_digest = {c.digest: c for c in reversed(chunks)}  # the first span of a repeated chunk
    rankings: list[list[str]] = []
    weights: list[float] = []
    deep = max(k * 4, 40)
    dense = index.search_chunks(context_id, revision, query, deep) if retrieval.dense else []
    spans = {(c.source, c.start_line): c.digest for c in chunks}
    dense_keys = [spans[(p.source, p.start_line)] for p in dense if (p.source, p.start_line) in spans]
    if dense_keys:
        rankings.append(dense_keys)
        weights.append(1.0)
    lexical_keys = [chunks[i].digest for i, _ in bm25.top(query, deep)] if retrieval.lexical else []
    if lexical_keys:
        rankings.append(lexical_keys)
        weights.append(retrieval.lexical_weight)
    defining = defined.ranking(query) if retrieval.definitions else []
    if defining:
        rankings.append(defining)
        weights.append(retrieval.definitions_weight)
    if notes:  # a part whose description is near the question leads to its chunks, best of them first
        order = {d: i for i, (d, _) in enumerate(rrf(rankings, retrieval.rrf_k, weights))}
        led: list[str] = []
        for hit in index.search_notes(context_id, revision, query, max(4, k)):
            inside = [c.digest for c in chunks if c.source == hit.source
                      and hit.start_line <= c.end_line and c.start_line <= hit.end_line]
            led += sorted(inside, key=lambda d: order.get(d, len(order)))[:1]
        if led:
            rankings.append(led)
            weights.append(retrieval.descriptions_weight)
    fused = rrf(rankings, retrieval.rrf_k, weights)[:k]
    out = []
    for digest, score in fused:
        c = by_digest[digest]
        out.append(Piece(c.text, c.source, c.start_line, c.end_line, score))
    return out
