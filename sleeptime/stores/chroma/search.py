"""The read half of `ChromaStore`: get, scan, vector search and namespace listing.

Searches follow InMemoryStore: namespaces in first-write order, items within a namespace in
insertion order (Chroma returns ``get`` results in insertion order and an upsert keeps a record's
place, as a dict does). A vector search reads one scope collection per two-label prefix; a narrower
namespace with few vectors is scored exactly in numpy (one indexed metadata lookup), since Chroma's
filtered HNSW query costs ~15-30 ms at 10k records whatever the filter. A search filter is first
applied in Python to an over-fetched unfiltered result and pushed into ``where`` (as a superset,
then checked exactly) only if that found too few. Only vectors of an item's current generation
count, and every hit returns the item's current value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from langgraph.store.base import GetOp, Item, ListNamespacesOp, SearchItem, SearchOp

from sleeptime.stores.chroma.base import ChromaBase
from sleeptime.stores.chroma.filters import and_clauses, does_match, matches, pushdown
from sleeptime.stores.chroma.layout import (
    BRUTE_MAX,
    NEVER_MS,
    SCOPE_DEPTH,
    expiry_ms,
    item_id,
    now_ms,
    ns_where,
    parse_vector_id,
    reg_where,
    split_ns,
)

Hit = tuple[float | None, Mapping[str, Any]]


def _alive(md: Mapping[str, Any], now: int) -> bool:
    return int(md.get("exp", NEVER_MS)) > now


class SearchMixin(ChromaBase):
    # ------------------------------------------------------------ get / refresh

    def _get_many(self, ops: list[GetOp]) -> list[Item | None]:
        ids = list(dict.fromkeys(item_id(tuple(op.namespace), str(op.key)) for op in ops))
        found = self._old_records(ids)  # read in batches under Chroma's max batch size (and SQLite's variables)
        now = now_ms()
        by_id = {rid: md for rid, md in found.items() if _alive(md, now)}
        out: list[Item | None] = []
        refresh: list[Mapping[str, Any]] = []
        for op in ops:
            md = by_id.get(item_id(tuple(op.namespace), str(op.key)))
            out.append(self._to_item(md) if md is not None else None)
            if md is not None and op.refresh_ttl:
                refresh.append(md)
        self._refresh(refresh)
        return out

    def _refresh(self, mds: Iterable[Mapping[str, Any]]) -> None:
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        now = now_ms()
        for md in mds:
            ttl = md.get("ttl")
            if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
                iid = item_id(split_ns(md["ns"]), str(md["k"]))
                if iid not in ids:
                    ids.append(iid)
                    metas.append({"exp": expiry_ms(now, float(ttl))})
        # update() merges metadata and never re-creates a record deleted meanwhile.
        for sl in self._chunks(len(ids)):
            self._call(self._items.update, ids=ids[sl], metadatas=metas[sl])

    # ------------------------------------------------------------ search

    def _search(self, op: SearchOp, qvec: list[float] | None) -> list[SearchItem]:
        if op.limit <= 0 and op.offset >= 0:
            return []
        prefix = tuple(op.namespace_prefix)
        filter_clauses = pushdown(op.filter) if op.filter else []
        if qvec is not None and self.embeddings is not None:
            self._learn_dims(qvec)
            found = self._vector_search(prefix, op, filter_clauses, qvec)
        else:
            found = [(None, md) for md in self._scan(prefix, op.filter, filter_clauses, op.offset, op.limit, None)]
        if op.refresh_ttl:
            self._refresh(md for _, md in found)
        out: list[SearchItem] = []
        for score, md in found:
            item = self._to_item(md, score, scored=True)
            assert isinstance(item, SearchItem)
            out.append(item)
        return out

    def _build_where(
        self, prefix: tuple[str, ...], filter_clauses: list[dict[str, Any]], extra: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        clauses = [*ns_where(prefix), *extra]
        if filter_clauses:
            pushed = and_clauses(filter_clauses)
            assert pushed is not None
            clauses.append({"$or": [{"fx": True}, pushed]})
        return and_clauses(clauses)

    def _scan(
        self,
        prefix: tuple[str, ...],
        filter: Mapping[str, Any] | None,
        filter_clauses: list[dict[str, Any]],
        offset: int,
        limit: int,
        extra: dict[str, Any] | None,
    ) -> list[Mapping[str, Any]]:
        """Matching items in InMemoryStore's order (namespace first-write order, then insertion)."""
        # Expiry is checked in Python: a range clause on "exp" costs more than the rest of the scan.
        more = [extra] if extra else []
        now = now_ms()
        want = offset + limit if offset >= 0 and limit >= 0 else None
        reg = self._call(self._ns.get, where=and_clauses(reg_where(prefix)), include=["metadatas"])
        spaces = sorted((int(md["seq"]), str(md["ns"])) for md in (reg["metadatas"] or []) if md is not None)
        if want is not None and offset > 0 and len(spaces) == 1 and not filter and not more:
            at = self._page_at(spaces[0][1], offset, limit, now)
            if at is not None:
                return at
        if want is not None and len(spaces) <= 16:
            out: list[Mapping[str, Any]] = []
            page = max(16, min(want * 2, 1000))
            for _, ns in spaces:
                where = self._build_where((), filter_clauses, [{"ns": ns}, *more])
                start = 0
                while len(out) < want:
                    got = self._call(self._items.get, where=where, limit=page, offset=start, include=["metadatas"])
                    mds = [m for m in (got["metadatas"] or []) if m is not None]
                    out.extend(m for m in mds if _alive(m, now) and matches(json.loads(str(m["v"])), filter))
                    if len(mds) < page:
                        break
                    start += page
                if len(out) >= want:
                    break
            return out[offset : offset + limit]
        # Many namespaces (or negative slicing): one scan, ordered in Python.
        got = self._call(self._items.get, where=self._build_where(prefix, filter_clauses, more), include=["metadatas"])
        rank = {ns: i for i, (_, ns) in enumerate(spaces)}
        mds = [m for m in (got["metadatas"] or []) if m is not None]
        order = sorted(range(len(mds)), key=lambda i: (rank.get(str(mds[i]["ns"]), len(rank)), i))
        found = [mds[i] for i in order if _alive(mds[i], now) and matches(json.loads(str(mds[i]["v"])), filter)]
        return found[offset : offset + limit]

    def _page_at(self, ns: str, offset: int, limit: int, now: int) -> list[Mapping[str, Any]] | None:
        """One unfiltered namespace's items `offset`..`offset+limit` read at the offset (a listing paged
        through 100,000 items reads each once, not every earlier page again), when no item of it has
        expired unswept (those would shift the offset): None sends the caller to the exact scan."""
        expired = self._call(self._items.get, where={"$and": [{"ns": ns}, {"exp": {"$lte": now}}]}, limit=1,
                             include=[])
        if expired["ids"]:
            return None
        got = self._call(self._items.get, where={"ns": ns}, limit=limit, offset=offset, include=["metadatas"])
        return [m for m in (got["metadatas"] or []) if m is not None and _alive(m, now)]

    def _scope_hits(
        self, coll: Any, prefix: tuple[str, ...], pushed: list[dict[str, Any]], qvec: list[float], n: int
    ) -> tuple[list[tuple[float, str]], bool]:
        """Top-`n` (score, vector id) under `prefix` in one scope's collection, best first, and
        whether that is every candidate there."""
        clauses = ns_where(prefix) if len(prefix) > SCOPE_DEPTH else []
        if clauses:
            got = self._call(coll.get, where=clauses[0], limit=BRUTE_MAX + 1, include=["embeddings"])
            ids = list(got["ids"])
            if len(ids) <= BRUTE_MAX:
                if not ids:
                    return [], True
                m = np.asarray(got["embeddings"], dtype=np.float64)
                q = np.asarray(qvec, dtype=np.float64)
                norms = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
                sims = (m @ q) / np.where(norms == 0.0, 1.0, norms)
                order = np.argsort(-sims, kind="stable")[:n]
                return [(float(sims[i]), ids[i]) for i in order], len(ids) <= n
        where = and_clauses([*clauses, *pushed])
        got = self._call(coll.query, query_embeddings=[qvec], n_results=n, where=where, include=["distances"])
        vids = got["ids"][0]
        dists = (got["distances"] or [[]])[0]
        return [(1.0 - float(d), v) for v, d in zip(vids, dists, strict=False)], len(vids) < n

    def _current(
        self, prefix: tuple[str, ...], op: SearchOp, best: dict[str, list[tuple[float, str, int]]], want: int
    ) -> list[Hit]:
        """The items behind the vector hits (each item's hits best first), scored by their best hit
        on the item's current vectors (its generation, below its vector count), matching the filter."""
        kept: list[Hit] = []
        order = list(best)
        start = 0
        while start < len(order) and len(kept) < want:
            # Item records are costly to read: fetch the best candidates first, more if needed.
            part = order[start : start + min((want - len(kept)) + 2, self._max_batch)]
            start += len(part)
            items = self._call(self._items.get, ids=part, include=["metadatas"])
            now = now_ms()
            by_id = {r: md for r, md in zip(items["ids"], items["metadatas"] or [], strict=False) if md}
            for iid in part:
                md = by_id.get(iid)
                if md is None or not _alive(md, now) or split_ns(md["ns"])[: len(prefix)] != prefix:
                    continue  # item gone or expired (the prefix check is defensive)
                gen, nv = str(md.get("g", "")), int(md.get("nv", 0))
                # A vector of another generation (left by a failed or crashed put) never scores it.
                score = next((sc for sc, g, pos in best[iid] if g == gen and pos < nv), None)
                if score is not None and matches(json.loads(str(md["v"])), op.filter):
                    kept.append((score, md))
        kept.sort(key=lambda h: -(h[0] or 0.0))
        return kept

    def _vector_search(
        self, prefix: tuple[str, ...], op: SearchOp, filter_clauses: list[dict[str, Any]], qvec: list[float]
    ) -> list[Hit]:
        want = op.offset + op.limit
        colls = [c for c in (self._vec_for(sc, False) for sc in self._scopes_under(prefix)) if c is not None]
        n = max(want * 4, 40) if op.filter else max(want * 3, 10)
        pushed: list[dict[str, Any]] = []
        total: int | None = None
        kept: list[Hit] = []
        while colls:
            hits: list[tuple[float, str]] = []
            exhausted = True
            for coll in colls:
                found, complete = self._scope_hits(coll, prefix, pushed, qvec, n)
                hits.extend(found)
                exhausted = exhausted and complete
            hits.sort(key=lambda h: -h[0])
            best: dict[str, list[tuple[float, str, int]]] = {}
            for score, vid in hits:  # best first, so an item's first valid hit is its score (max pooling)
                iid, gen, pos = parse_vector_id(vid)
                best.setdefault(iid, []).append((score, gen, pos))
            kept = self._current(prefix, op, best, want)
            if len(kept) >= want or exhausted:
                break
            if filter_clauses and not pushed:
                pushed_where = and_clauses(filter_clauses)
                assert pushed_where is not None
                pushed = [{"$or": [{"fx": True}, pushed_where]}]
                continue
            if total is None:
                total = sum(int(self._call(c.count)) for c in colls)
            if n >= total:
                break
            n = min(n * 4, total)
        result = kept[op.offset : want]
        if len(result) < op.limit:
            # Like InMemoryStore: fill with matching items that have no vectors, unscored.
            extra = self._scan(prefix, op.filter, filter_clauses, 0, op.limit - len(result), {"nv": 0})
            result.extend((None, md) for md in extra)
        return result

    # ------------------------------------------------------------ list namespaces

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        clauses: list[dict[str, Any]] = [{"live": True}]
        for cond in op.match_conditions or ():
            kind = "n" if cond.match_type == "prefix" else "r"
            path = list(cond.path) if kind == "n" else list(reversed(tuple(cond.path)))
            clauses.extend({f"{kind}{i}": label} for i, label in enumerate(path) if label != "*")
            if path:
                clauses.append({"d": {"$gte": len(path)}})
        got = self._call(self._ns.get, where=and_clauses(clauses), include=["metadatas"])
        spaces = [split_ns(md["ns"]) for md in (got["metadatas"] or []) if md is not None]
        spaces = [ns for ns in spaces if all(does_match(c, ns) for c in op.match_conditions or ())]
        depth = op.max_depth
        result = sorted(spaces) if depth is None else sorted({ns[:depth] for ns in spaces})
        return result[op.offset : op.offset + op.limit]
