"""The write half of `ChromaStore`: puts, deletes, insert-if-absent and the namespace registry.

A put batch is validated and serialised whole before anything is written (`PreparedPut`). Then:
new vectors under a fresh generation (invisible: items still name the old one), the item records
(the flip), the old generation's vectors deleted, and the namespaces registered. A failure before
the flip deletes the new vectors; a failure during it puts the old records back; so the store
keeps the old item and its old vectors. A crash leaves at worst unused vectors and, between the
flip and the registration, an item whose namespace is not yet listed; `collect` repairs both.

Registering *after* the write is what keeps the registry right with several handles or processes:
a delete marks a namespace dead only after finding it empty and re-checks afterwards, so a
concurrent write (which registers after its item exists) is never left unlisted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from langgraph.store.base import PutOp

from sleeptime.errors import StoreError
from sleeptime.stores.chroma.base import ChromaBase
from sleeptime.stores.chroma.filters import filter_fields
from sleeptime.stores.chroma.layout import (
    CONST,
    SEP,
    check_ttl,
    dump_json,
    expiry_ms,
    item_id,
    new_generation,
    now_ms,
    ns_id,
    prefix_fields,
    registry_record,
    scope_of,
    split_ns,
    vector_id,
)

VecWrites = dict[tuple[str, ...], tuple[list[str], list[list[float]], list[dict[str, Any]]]]


class PreparedPut:
    """A put op checked and serialised up front: what gets written, and the texts to embed."""

    __slots__ = ("fields", "iid", "key", "namespace", "paths", "texts", "ttl", "value_json")

    def __init__(self, op: PutOp, texts: list[str], paths: list[str]) -> None:
        self.namespace = tuple(op.namespace)
        self.key = str(op.key)
        self.iid = item_id(self.namespace, self.key)
        self.texts = texts
        self.paths = paths
        where = f"{self.namespace}/{self.key!r}"
        self.value_json: str | None = None
        self.fields: dict[str, Any] = {}
        self.ttl: float | None = None
        if op.value is not None:
            self.value_json = dump_json(op.value, f"value of {where}")
            self.fields = filter_fields(op.value)
            self.ttl = check_ttl(op.ttl, where)

    def record(self, prev: Mapping[str, Any] | None, now_us: int, gen: str) -> dict[str, Any]:
        """The item's metadata record (fields the previous record had and this one lacks: None)."""
        assert self.value_json is not None
        md: dict[str, Any] = {
            "ns": SEP.join(self.namespace),
            "d": len(self.namespace),
            "k": self.key,
            "v": self.value_json,
            "ca": int(prev["ca"]) if prev and "ca" in prev else now_us,
            "ua": now_us,
            "nv": len(self.texts),
            "g": gen,
            "exp": expiry_ms(now_us // 1000, self.ttl),
        }
        if self.ttl is not None:
            md["ttl"] = self.ttl
        md.update(prefix_fields(self.namespace))
        md.update(self.fields)
        for k in prev or ():
            md.setdefault(k, None)  # upsert merges metadata: clear what the new value lacks
        return md


def _restore_record(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    md = dict(old)
    for k in new:
        md.setdefault(k, None)
    return md


class WriteMixin(ChromaBase):
    def _apply_puts(self, puts: list[PreparedPut], vectors: list[list[float]]) -> None:
        if len(vectors) != sum(len(p.texts) for p in puts):
            raise StoreError(f"embedder returned {len(vectors)} vectors for {sum(len(p.texts) for p in puts)} texts")
        for v in vectors[:1]:
            self._learn_dims(v)
        with self._lock:
            old = self._old_records([p.iid for p in puts])
            gen = new_generation()
            now = now_ms() * 1000
            records: list[tuple[str, dict[str, Any]]] = []
            new_vecs: VecWrites = {}
            stale: dict[tuple[str, ...], list[str]] = {}
            pos = 0
            for p in puts:
                prev = old.get(p.iid)
                scope = scope_of(p.namespace)
                if prev:
                    prev_gen, prev_nv = str(prev.get("g", "")), int(prev.get("nv", 0))
                    stale.setdefault(scope, []).extend(vector_id(p.iid, prev_gen, i) for i in range(prev_nv))
                embs = vectors[pos : pos + len(p.texts)]
                pos += len(p.texts)
                if p.value_json is None:
                    continue
                md = p.record(prev, now, gen)
                records.append((p.iid, md))
                if p.texts:
                    base = {"item": p.iid, "g": gen, "t": now // 1000, "d": len(p.namespace)}
                    base.update(prefix_fields(p.namespace))
                    base.update(p.fields)
                    ids, embeddings, mds = new_vecs.setdefault(scope, ([], [], []))
                    for i, (emb, path) in enumerate(zip(embs, p.paths, strict=True)):
                        ids.append(vector_id(p.iid, gen, i))
                        embeddings.append([float(x) for x in emb])
                        mds.append({**base, "i": i, "p": path})
            self._write_vectors(new_vecs)
            self._flip_records(records, old, new_vecs)
            deleted = [p for p in puts if p.value_json is None and p.iid in old]
            ids_gone = [p.iid for p in deleted]
            for sl in self._chunks(len(ids_gone)):
                self._call(self._items.delete, ids=ids_gone[sl])
            self._delete_vectors(stale)
            self._register(p.namespace for p in puts if p.value_json is not None)
            self._mark_if_empty(p.namespace for p in deleted)

    def _write_vectors(self, new_vecs: VecWrites) -> None:
        try:
            for scope, (ids, embs, mds) in new_vecs.items():
                vec = self._vec_for(scope, True)
                for sl in self._chunks(len(ids)):
                    self._call(vec.upsert, ids=ids[sl], embeddings=embs[sl], metadatas=mds[sl])
        except BaseException:
            self._undo_vectors(new_vecs)
            raise

    def _flip_records(
        self, records: list[tuple[str, dict[str, Any]]], old: Mapping[str, Mapping[str, Any]], new_vecs: VecWrites
    ) -> None:
        done: list[tuple[str, dict[str, Any]]] = []
        try:
            for sl in self._chunks(len(records)):
                part = records[sl]
                ids = [r for r, _ in part]
                self._call(self._items.upsert, ids=ids, embeddings=[CONST] * len(ids), metadatas=[m for _, m in part])
                done.extend(part)
        except BaseException:
            # Put back what flipped: old records as they were, new items removed.
            try:
                back = [(r, _restore_record(old[r], md)) for r, md in done if r in old]
                fresh = [r for r, _ in done if r not in old]
                for sl in self._chunks(len(back)):
                    ids = [r for r, _ in back[sl]]
                    mds = [m for _, m in back[sl]]
                    self._call(self._items.upsert, ids=ids, embeddings=[CONST] * len(ids), metadatas=mds)
                for sl in self._chunks(len(fresh)):
                    self._call(self._items.delete, ids=fresh[sl])
            finally:
                self._undo_vectors(new_vecs)
            raise

    def _undo_vectors(self, new_vecs: VecWrites) -> None:
        """Best effort: whatever is left is of a generation no item names, and `collect` drops it."""
        with contextlib.suppress(StoreError):
            self._delete_vectors({scope: ids for scope, (ids, _, _) in new_vecs.items()})

    def _delete_vectors(self, stale: Mapping[tuple[str, ...], list[str]]) -> None:
        for scope, vids in stale.items():
            vec = self._vec_for(scope, False) if vids else None
            if vec is not None:
                for sl in self._chunks(len(vids)):
                    self._call(vec.delete, ids=vids[sl])

    # ------------------------------------------------------------ registry

    def _register(self, spaces: Iterable[tuple[str, ...]]) -> None:
        """Mark the namespaces live, creating registry records for new ones. Read first every time
        (no per-handle cache: another handle may have marked one dead meanwhile); batched under
        Chroma's max batch size."""
        wanted = list(dict.fromkeys(spaces))
        for sl in self._chunks(len(wanted)):
            part = wanted[sl]
            ids = [ns_id(ns) for ns in part]
            got = self._call(self._ns.get, ids=ids, include=["metadatas"])
            known = {r: md for r, md in zip(got["ids"], got["metadatas"] or [], strict=False) if md}
            new = [(r, ns) for r, ns in zip(ids, part, strict=True) if r not in known]
            dead = [r for r, md in known.items() if md.get("live") is not True]
            if new:
                # add() keeps a record another writer created meanwhile (the first seq wins).
                metas = [registry_record(ns, self._next_seq()) for _, ns in new]
                self._call(self._ns.add, ids=[r for r, _ in new], embeddings=[CONST] * len(new), metadatas=metas)
                dead.extend(r for r, _ in new)  # a concurrent delete may have marked it dead
            if dead:
                self._call(self._ns.update, ids=dead, metadatas=[{"live": True}] * len(dead))

    def _mark_if_empty(self, spaces: Iterable[tuple[str, ...]]) -> None:
        for ns in dict.fromkeys(spaces):
            if self._is_empty(ns):
                nid = ns_id(ns)
                self._call(self._ns.update, ids=[nid], metadatas=[{"live": False}])
                if not self._is_empty(ns):  # a write landed meanwhile (it registers after writing)
                    self._call(self._ns.update, ids=[nid], metadatas=[{"live": True}])

    def _is_empty(self, ns: tuple[str, ...]) -> bool:
        got = self._call(self._items.get, where={"ns": SEP.join(ns)}, limit=1, include=[])
        return not got["ids"]

    # ------------------------------------------------------------ insert if absent

    def _insert_if_absent(self, put: PreparedPut) -> Mapping[str, Any]:
        """Insert the item unless its key exists; returns the record that is there afterwards.

        Chroma's ``add`` leaves an existing id untouched, and every writer's add goes through one
        ordered log, so all writers racing on a key read back the same winner.
        """
        md = put.record(None, now_ms() * 1000, "")
        md = {k: v for k, v in md.items() if v is not None}
        md["nv"] = 0
        with self._lock:
            got = self._call(self._items.get, ids=[put.iid], include=["metadatas"])
            if not got["ids"]:
                self._call(self._items.add, ids=[put.iid], embeddings=[CONST], metadatas=[md])
                got = self._call(self._items.get, ids=[put.iid], include=["metadatas"])
                self._register([put.namespace])
            found = (got["metadatas"] or [None])[0]
        if not found:
            raise StoreError(f"{self._site}: inserted item {put.namespace}/{put.key!r} cannot be read back")
        return dict(found)

    def _registered_spaces(self) -> list[tuple[tuple[str, ...], bool]]:
        got = self._call(self._ns.get, include=["metadatas"])
        return [(split_ns(md["ns"]), md.get("live") is True) for md in got["metadatas"] or [] if md]
