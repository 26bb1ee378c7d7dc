"""Upkeep of `ChromaStore`: expired items (TTL) and leftovers of failed or crashed writes.

`collect` deletes vectors no item uses (a generation a crashed or failed put left, an item deleted
by a crashed delete) and repairs the namespace registry (an item written by a put that died before
registering; a namespace left listed after its last item went). A vector younger than `grace_s`
is kept: it may belong to a put still in flight, whose item record has not flipped yet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Mapping
from typing import Any

from sleeptime.stores.chroma.layout import now_ms, parse_vector_id, scope_of, split_ns, vector_id
from sleeptime.stores.chroma.search import SearchMixin
from sleeptime.stores.chroma.sweeper import TTLSweeper
from sleeptime.stores.chroma.writes import WriteMixin

#: Seconds an unused vector is kept before `collect` deletes it (a put may still be in flight).
DEFAULT_GRACE_S = 600.0


class CollectMixin(SearchMixin, WriteMixin):
    def collect(self, grace_s: float = DEFAULT_GRACE_S) -> dict[str, int]:
        """Delete unused vectors older than `grace_s` and repair the namespace registry.

        Returns counts: ``vectors`` deleted, ``registered`` (namespaces listed again),
        ``unlisted`` (empty namespaces no longer listed). Safe to run while others write.
        """
        self._fresh(searches=False)
        with self._lock:
            vectors = sum(self._collect_vectors(coll, now_ms() - int(grace_s * 1000)) for coll in self._vector_colls())
            registered, unlisted = self._repair_registry()
        return {"vectors": vectors, "registered": registered, "unlisted": unlisted}

    async def acollect(self, grace_s: float = DEFAULT_GRACE_S) -> dict[str, int]:
        """`collect` in a worker thread."""
        return await asyncio.to_thread(self.collect, grace_s)

    def _vector_colls(self) -> list[Any]:
        pattern = re.compile(rf"{re.escape(self._collection)}_v\d+_[0-9a-f]{{24}}")
        names = [getattr(c, "name", c) for c in self._call(self._client.list_collections)]
        return [
            self._call(self._client.get_collection, str(n), embedding_function=self._ef)
            for n in names
            if pattern.fullmatch(str(n))
        ]

    def _collect_vectors(self, coll: Any, older_than_ms: int) -> int:
        page, offset, unused = self._max_batch, 0, []
        while True:
            got = self._call(coll.get, limit=page, offset=offset, include=["metadatas"])
            vids = list(got["ids"])
            mds = got["metadatas"] or [None] * len(vids)
            items = self._old_records(list(dict.fromkeys(parse_vector_id(v)[0] for v in vids)))
            for vid, vmd in zip(vids, mds, strict=True):
                iid, gen, pos = parse_vector_id(vid)
                md = items.get(iid)
                used = md is not None and str(md.get("g", "")) == gen and pos < int(md.get("nv", 0))
                if not used and int((vmd or {}).get("t", 0)) <= older_than_ms:
                    unused.append(vid)
            if len(vids) < page:
                break
            offset += page
        for sl in self._chunks(len(unused)):
            self._call(coll.delete, ids=unused[sl])
        return len(unused)

    def _repair_registry(self) -> tuple[int, int]:
        holding: set[tuple[str, ...]] = set()
        offset = 0
        while True:
            got = self._call(self._items.get, limit=self._max_batch, offset=offset, include=["metadatas"])
            holding.update(split_ns(md["ns"]) for md in got["metadatas"] or [] if md)
            if len(got["ids"]) < self._max_batch:
                break
            offset += self._max_batch
        listed = dict(self._registered_spaces())
        missing = [ns for ns in holding if not listed.get(ns)]
        self._register(missing)
        stale = [ns for ns, live in listed.items() if live and ns not in holding]
        before = len(stale)
        self._mark_if_empty(stale)
        return len(missing), before

    # ------------------------------------------------------------ TTL

    def sweep_ttl(self) -> int:
        """Delete every expired item (and its vectors) now; returns how many were deleted.

        The delete is conditional: each batch deletes its ids only where ``exp`` is still past at
        delete time (Chroma ANDs ids and ``where``), so an item another handle rewrote after the
        read (a permanent one, or one with a fresh TTL) is kept, with its vectors."""
        self._fresh(searches=False)
        with self._lock:
            expired = self._expired()
            if not expired:
                return 0
            ids = list(expired)
            for sl in self._chunks(len(ids)):
                self._call(self._items.delete, ids=ids[sl], where={"exp": {"$lte": now_ms()}})
            kept = self._old_records(ids)  # rewritten meanwhile: not deleted
            gone = {iid: md for iid, md in expired.items() if iid not in kept}
            stale: dict[tuple[str, ...], list[str]] = {}
            for iid, md in gone.items():
                gen, nv = str(md.get("g", "")), int(md.get("nv", 0))
                stale.setdefault(scope_of(split_ns(md["ns"])), []).extend(vector_id(iid, gen, i) for i in range(nv))
            self._delete_vectors(stale)
            self._mark_if_empty(split_ns(md["ns"]) for md in gone.values())
            return len(gone)

    def _expired(self) -> dict[str, Mapping[str, Any]]:
        """Item id -> record of every item whose ``exp`` has passed, read a page at a time."""
        found: dict[str, Mapping[str, Any]] = {}
        where = {"exp": {"$lte": now_ms()}}
        offset = 0
        while True:
            got = self._call(self._items.get, where=where, limit=self._max_batch, offset=offset,
                             include=["metadatas"])
            found.update((r, m) for r, m in zip(got["ids"], got["metadatas"] or [], strict=False) if m)
            if len(got["ids"]) < self._max_batch:
                return found
            offset += self._max_batch

    async def asweep_ttl(self) -> int:
        """`sweep_ttl` in a worker thread."""
        return await asyncio.to_thread(self.sweep_ttl)

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> concurrent.futures.Future[None]:
        """Sweep expired items in a background thread every ``sweep_interval_minutes`` (default: the
        TTL config's ``sweep_interval_minutes``, else 5). The Future completes when the sweeper stops."""
        if sweep_interval_minutes is None and self.ttl_config:
            sweep_interval_minutes = self.ttl_config.get("sweep_interval_minutes")
        if self._sweeper is None:
            self._sweeper = TTLSweeper(self.sweep_ttl, name=f"chroma-ttl-sweeper-{self._collection}")
        return self._sweeper.start(sweep_interval_minutes)

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the background sweeper; False if it was still sweeping when ``timeout`` ran out."""
        return self._sweeper.stop(timeout) if self._sweeper is not None else True
