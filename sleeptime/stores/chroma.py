"""`ChromaStore`: a LangGraph `BaseStore` backed by Chroma (embedded or server).

Layout (three Chroma collections per store, named from `collection`):

``<collection>_items``
    One record per item. Id: ``blake2b(json([namespace, key]))`` so a put of the same
    (namespace, key) always hits the same record. Chroma needs an embedding for every record;
    items carry a constant 1-d vector ``[1.0]`` (nothing is ever searched by it). Metadata:
    ``ns`` (labels joined with ``.``, which BaseStore forbids inside labels, so the join is
    unambiguous), ``d`` (depth), ``p0..p{d-1}`` (the first i+1 labels joined, so a namespace
    prefix is a single equality on one indexed field; an ``$and`` over per-level fields measured
    several times slower), ``k`` (key), ``v`` (the
    value as JSON), ``ca``/``ua`` (created/updated, integer microseconds), ``exp`` (expiry,
    integer ms; a far-future constant when the item has no TTL) and ``ttl`` (minutes), ``nv``
    (number of vectors), plus *filter fields*: every scalar reachable through nested dicts (depth
    <= 4, at most 64 per item) as ``s<json path>`` (strings <= 256 chars) and ``r<json path>``
    (``float(value)`` for numbers, bools and numeric strings). A record that had more is marked
    ``fx`` and always passes the pushed-down filter.
``<collection>_v<dims>_<scope hash>``
    Vectors, one collection per *scope*: the first two labels of the namespace (one label for a
    depth-1 namespace), created lazily on the first indexed put there, handles cached. One
    record per embedded text (item x field path x array element), id ``<item id>:<i>``, holding
    the real embedding (cosine HNSW) and, in metadata, the item id, the namespace levels and the
    item's filter fields. Why per scope: Chroma's filtered HNSW query costs ~15-30 ms at 10k
    records whatever the filter (measured), an unfiltered one ~3 ms; with ``("sleeptime",
    tenant, ...)`` namespaces a tenant-scoped search is an unfiltered query on the tenant's own
    collection. A shorter prefix fans out over the scopes the namespace registry lists under it
    and merges by score. A longer prefix (e.g. one context version's questions) first reads that
    namespace's vectors by one indexed metadata equality and, if there are at most
    ``_BRUTE_MAX``, scores them exactly in numpy; otherwise a filtered Chroma query. A search
    filter is applied in Python to an over-fetched unfiltered result first and pushed into
    ``where`` only if that found too few.
``<collection>_ns``
    One record per namespace ever written: its levels (``n*`` forwards, ``r*`` backwards, for
    prefix/suffix matching), ``seq`` (first-write order) and ``live``. It serves
    `list_namespaces` and gives searches InMemoryStore's order: namespaces in first-write order,
    items within a namespace in insertion order (Chroma returns ``get`` results in insertion
    order and an upsert keeps a record's place, as a dict does).

Semantics follow `InMemoryStore`: filters are first pushed into Chroma's ``where`` as a
*superset* (string/number equality and ranges on the filter fields) and then evaluated exactly in
Python on the decoded value, so Chroma's typing (``1`` vs ``1.0`` vs ``True``) can never change a
result. Deliberate differences, all where InMemoryStore shows accidents of its dict layout:
``$gt/$gte/$lt/$lte`` on a missing or non-numeric value is "no match" (InMemoryStore raises
TypeError/ValueError from ``float()``), and `list_namespaces` lists namespaces that hold items
(InMemoryStore also lists namespaces that were only read or deleted from). Values round-trip
through JSON (tuples come back as lists).

Writes: a put reads the old record (for ``created_at`` and the fields to clear), upserts the
vectors, then upserts the item record in one call (readers see the old value or the new one,
never a mix), then deletes vectors the new value no longer has. A crash between these steps can
leave stale vectors; a search only uses vectors whose index is below the item's current ``nv``
and always returns the item's current value. Chroma's embedding function is never used: the
collections get a registered function that refuses to run (Chroma's default one downloads a
model), and every record is written with an explicit embedding.

Failures of a Chroma server (connection refused, timeouts, 5xx) are retried with bounded
exponential backoff (``retries``; every operation here is idempotent: upserts and deletes by
deterministic id) and then raised as `StoreError` naming the URL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import chromadb.errors
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function
from langchain_core.embeddings import Embeddings as LCEmbeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from sleeptime.errors import InvalidInputError, StoreError
from sleeptime.stores.filters import and_clauses, check_filter_ops, does_match, filter_fields, matches, pushdown
from sleeptime.stores.sweeper import TTLSweeper

__all__ = ["ChromaStore"]

T = TypeVar("T")

_SEP = "."  # BaseStore forbids "." inside labels, so joining with it is unambiguous.
_NEVER_MS = 2**62  # "exp" of an item without TTL
_CONST = [1.0]  # the embedding of item and namespace records
_SCOPE_DEPTH = 2  # vectors live in one collection per namespace prefix of this many labels
_BRUTE_MAX = 512  # a narrower namespace with at most this many vectors is scored exactly in numpy
_VALID_COLLECTION = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@register_embedding_function
class PrecomputedOnly(EmbeddingFunction[Documents]):
    """Chroma embedding function that refuses to run: ChromaStore always passes embeddings."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        raise StoreError("ChromaStore passes embeddings explicitly; Chroma must not embed")

    @staticmethod
    def name() -> str:
        return "sleeptime-precomputed"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PrecomputedOnly:
        return PrecomputedOnly()


# ---------------------------------------------------------------- helpers (pure)


def _item_id(namespace: tuple[str, ...], key: str) -> str:
    raw = json.dumps([list(namespace), key], ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _ns_id(namespace: tuple[str, ...]) -> str:
    raw = json.dumps(list(namespace), ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _scope(namespace: Sequence[str]) -> tuple[str, ...]:
    """The vector collection a namespace's vectors live in: its first `_SCOPE_DEPTH` labels."""
    return tuple(namespace[:_SCOPE_DEPTH])


def _scope_id(scope: tuple[str, ...]) -> str:
    raw = json.dumps(list(scope), ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def _clock() -> int:
    """Wall-clock nanoseconds (module-level so tests can move time for TTL)."""
    return time.time_ns()


def _now_us() -> int:
    return _clock() // 1000


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _prefix_fields(namespace: tuple[str, ...]) -> dict[str, str]:
    """``p<i>``: the namespace's first i+1 labels joined, so a prefix match is one equality."""
    return {f"p{i}": _SEP.join(namespace[: i + 1]) for i in range(len(namespace))}


def _validate_put_namespace(namespace: tuple[str, ...]) -> None:
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {namespace}')


class _Put:
    """A put op resolved into what gets written (texts to embed computed up front)."""

    __slots__ = ("iid", "key", "namespace", "op", "paths", "texts")

    def __init__(self, op: PutOp, texts: list[str], paths: list[str]) -> None:
        self.op = op
        self.namespace = tuple(op.namespace)
        self.key = str(op.key)
        self.iid = _item_id(self.namespace, self.key)
        self.texts = texts
        self.paths = paths


# ---------------------------------------------------------------- the store


class ChromaStore(BaseStore):
    """A LangGraph store persisted in Chroma, with semantic search and TTL.

    Give exactly one of `path` (embedded, on-disk), `url` (a Chroma server, e.g.
    ``http://127.0.0.1:8000``) or `client` (a ready `chromadb` client).
    `index` is LangGraph's `IndexConfig` (dims, embed, fields); `ttl` its `TTLConfig`.
    `retries` bounds the retries of a failing server call (backoff `backoff_s` doubling, capped
    at 2 s); then `StoreError` is raised.
    """

    supports_ttl = True

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        client: ClientAPI | None = None,
        collection: str = "sleeptime",
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        retries: int = 3,
        backoff_s: float = 0.1,
    ) -> None:
        if sum(x is not None for x in (path, url, client)) != 1:
            raise InvalidInputError("give exactly one of path=, url= or client=")
        if (
            not (3 <= len(collection) <= 40)
            or not set(collection) <= _VALID_COLLECTION
            or not (collection[0].isalnum() and collection[-1].isalnum())
        ):
            raise InvalidInputError(
                f"collection {collection!r}: use 3-40 characters from [a-zA-Z0-9_-], alphanumeric at both ends"
            )
        if retries < 0 or backoff_s < 0:
            raise InvalidInputError("retries and backoff_s must be >= 0")
        self._retries = retries
        self._backoff_s = backoff_s
        self._site = "embedded Chroma" + (f" at {path}" if path is not None else "")
        self._url: str | None = None
        self.ttl_config = ttl
        settings = Settings(anonymized_telemetry=False)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInputError(f"url {url!r}: expected http://HOST:PORT")
            self._url = url
            self._site = f"Chroma server at {url}"
            port = parts.port or (443 if parts.scheme == "https" else 8000)
            host, ssl = parts.hostname, parts.scheme == "https"
            self._client: Any = self._call(chromadb.HttpClient, host=host, port=port, ssl=ssl, settings=settings)
        elif path is not None:
            p = str(path)
            self._client = self._call(chromadb.PersistentClient, path=p, settings=settings)
        else:
            assert client is not None
            self._client = client
        self.index_config: dict[str, Any] | None = None
        self.embeddings: LCEmbeddings | None = None
        self._fields: list[tuple[str, Any]] = []
        if index:
            if "dims" not in index or "embed" not in index:
                raise InvalidInputError("index needs 'dims' and 'embed'")
            self.index_config = dict(index)
            self.embeddings = ensure_embeddings(index["embed"])
            self._fields = [(p, tokenize_path(p) if p != "$" else p) for p in (index.get("fields") or ["$"])]
        # Chroma's typed API (invariant TypedDicts for metadata and where) does not fit
        # dynamically built clauses, so collections are held as Any and results checked at runtime.
        ef = PrecomputedOnly()
        self._items: Any = self._call(
            self._client.get_or_create_collection, f"{collection}_items", embedding_function=ef
        )
        self._ns: Any = self._call(self._client.get_or_create_collection, f"{collection}_ns", embedding_function=ef)
        self._ef = ef
        # Vector collections, one per scope (see `_scope`), created lazily; handles cached.
        self._vec_name: str | None = None
        self._scoped: dict[tuple[str, ...], Any] = {}
        if self.index_config:
            self._vec_name = f"{collection}_v{int(self.index_config['dims'])}_"
        self._lock = threading.RLock()
        self._sweeper = TTLSweeper(self.sweep_ttl, name=f"chroma-ttl-sweeper-{collection}")
        self._live: dict[tuple[str, ...], int] = {}  # namespaces known live in this process -> seq
        self._last_seq = 0
        try:
            self._max_batch = max(1, min(int(self._client.get_max_batch_size()), 5000))
        except Exception:
            self._max_batch = 1000
        if self.index_config:
            self._migrate_legacy(f"{collection}_vec{int(self.index_config['dims'])}")

    def _migrate_legacy(self, name: str) -> None:
        """Move vectors of the older one-collection layout into the scope collections (idempotent:
        upsert into the scope, then delete from the old collection; dropped when empty)."""
        try:
            legacy = self._client.get_collection(name, embedding_function=self._ef)
        except Exception:
            return
        with self._lock:
            while True:
                got = self._call(legacy.get, limit=self._max_batch, include=["embeddings", "metadatas"])
                ids = list(got["ids"])
                if not ids:
                    break
                groups: dict[tuple[str, ...], tuple[list[str], list[Any], list[Any]]] = {}
                for vid, emb, md in zip(ids, got["embeddings"], got["metadatas"] or [], strict=True):
                    depth = min(int(md["d"]), _SCOPE_DEPTH)
                    scope = tuple(str(md[f"p{depth - 1}"]).split(_SEP))
                    g = groups.setdefault(scope, ([], [], []))
                    g[0].append(vid)
                    g[1].append([float(x) for x in emb])
                    g[2].append(md)
                for scope, (vids, embs, mds) in groups.items():
                    self._call(self._vec_for(scope, True).upsert, ids=vids, embeddings=embs, metadatas=mds)
                self._call(legacy.delete, ids=ids)
            self._call(self._client.delete_collection, name)

    # ------------------------------------------------------------ plumbing

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Chroma call, retrying transient server failures, mapping errors to StoreError."""
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except (StoreError, InvalidInputError, InvalidNamespaceError):
                raise
            except Exception as exc:
                transient = self._transient(exc)
                if transient and attempt < self._retries:
                    time.sleep(min(2.0, self._backoff_s * (2**attempt)))
                    attempt += 1
                    continue
                tries = f" after {attempt + 1} attempt(s)" if transient else ""
                raise StoreError(f"{self._site} failed{tries}: {type(exc).__name__}: {exc}") from exc

    def _transient(self, exc: BaseException) -> bool:
        if self._url is None:
            return False
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, httpx.HTTPStatusError):
            return exc.response.status_code >= 500
        if isinstance(exc, chromadb.errors.ChromaError):
            return exc.code() >= 500 or isinstance(exc, chromadb.errors.RateLimitError)
        if isinstance(exc, ValueError) and "could not connect" in str(exc).lower():
            return True
        # The HTTP client raises a bare Exception carrying the body of a non-JSON error response.
        return type(exc) is Exception or isinstance(exc, (ConnectionError, TimeoutError))

    def _next_seq(self) -> int:
        with self._lock:
            self._last_seq = max(self._last_seq + 1, _clock())
            return self._last_seq

    @staticmethod
    def _ns_where(prefix: Sequence[str]) -> list[dict[str, Any]]:
        """Items/vectors under `prefix`: one equality on the joined prefix of that depth."""
        return [{f"p{len(prefix) - 1}": _SEP.join(prefix)}] if prefix else []

    @staticmethod
    def _reg_where(prefix: Sequence[str]) -> list[dict[str, Any]]:
        """Namespace-registry records under `prefix` (the registry keeps one field per level)."""
        return [{f"n{i}": label} for i, label in enumerate(prefix)]

    # ------------------------------------------------------------ vector collections

    def _vec_for(self, scope: tuple[str, ...], create: bool) -> Any:
        """The vector collection of `scope` (cached), or None if it does not exist and not `create`."""
        coll = self._scoped.get(scope)
        if coll is not None or self._vec_name is None:
            return coll
        name = self._vec_name + _scope_id(scope)
        if create:
            coll = self._call(
                self._client.get_or_create_collection,
                name,
                embedding_function=self._ef,
                configuration={"hnsw": {"space": "cosine", "ef_search": 100}},
            )
        else:
            try:
                coll = self._call(self._client.get_collection, name, embedding_function=self._ef)
            except StoreError as exc:
                if isinstance(exc.__cause__, (chromadb.errors.NotFoundError, ValueError)):
                    return None
                raise
        self._scoped[scope] = coll
        return coll

    def _scopes_under(self, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Scopes holding live namespaces under `prefix` (one scope if the prefix covers it)."""
        if len(prefix) >= _SCOPE_DEPTH:
            return [prefix[:_SCOPE_DEPTH]]
        where = and_clauses([{"live": True}, *self._reg_where(prefix)])
        got = self._call(self._ns.get, where=where, include=["metadatas"])
        found = {
            tuple(str(md["ns"]).split(_SEP))[:_SCOPE_DEPTH] for md in (got["metadatas"] or []) if md is not None
        }
        return sorted(found)

    def _to_item(self, md: Mapping[str, Any], cls: type[Item] = Item, score: float | None = None) -> Item:
        try:
            ns = tuple(str(md["ns"]).split(_SEP))
            value = json.loads(str(md["v"]))
            kwargs: dict[str, Any] = {
                "namespace": ns,
                "key": str(md["k"]),
                "value": value,
                "created_at": _dt(int(md["ca"])),
                "updated_at": _dt(int(md["ua"])),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{self._site}: corrupt item record {dict(md)!r:.200}: {exc}") from exc
        if cls is SearchItem:
            return SearchItem(score=score, **kwargs)
        return Item(**kwargs)

    # ------------------------------------------------------------ batch

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        puts, queries = self._prepare(ops)
        texts = [t for p in puts for t in p.texts]
        vectors = self.embeddings.embed_documents(texts) if texts and self.embeddings else []
        qvecs: dict[str, list[float]] = {}
        if queries and self.embeddings:
            qvecs = {q: self.embeddings.embed_query(q) for q in queries}
        return self._execute(ops, puts, vectors, qvecs)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        puts, queries = self._prepare(ops)
        texts = [t for p in puts for t in p.texts]
        vectors = await self.embeddings.aembed_documents(texts) if texts and self.embeddings else []
        qvecs: dict[str, list[float]] = {}
        if queries and self.embeddings:
            emb = self.embeddings
            found = await asyncio.gather(*(emb.aembed_query(q) for q in queries))
            qvecs = dict(zip(queries, found, strict=True))
        return await asyncio.to_thread(self._execute, ops, puts, vectors, qvecs)

    def _prepare(self, ops: list[Op]) -> tuple[list[_Put], list[str]]:
        """Validate every op, collect the texts to embed and the queries (no I/O)."""
        dedup: dict[tuple[tuple[str, ...], str], PutOp] = {}
        queries: list[str] = []
        for op in ops:
            if not isinstance(op, (GetOp, PutOp, SearchOp, ListNamespacesOp)):
                raise InvalidInputError(f"unknown operation type: {type(op).__name__}")
            validate_op_namespace(op)
            if isinstance(op, PutOp):
                if op.value is not None:
                    _validate_put_namespace(tuple(op.namespace))
                    if not isinstance(op.value, Mapping):
                        raise InvalidInputError(f"value must be a mapping, got {type(op.value).__name__}")
                dedup[(tuple(op.namespace), str(op.key))] = op
            elif isinstance(op, SearchOp):
                if op.filter:
                    check_filter_ops(op.filter)
                if op.query and self.embeddings and op.query not in queries:
                    queries.append(op.query)
        puts: list[_Put] = []
        for op in dedup.values():
            texts: list[str] = []
            paths: list[str] = []
            if op.value is not None and op.index is not False and self.embeddings:
                fields = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
                for path, tokens in fields:
                    found = get_text_at_path(op.value, tokens)
                    if len(found) > 1:
                        paths.extend(f"{path}.{i}" for i in range(len(found)))
                    else:
                        paths.extend([path] * len(found))
                    texts.extend(found)
            puts.append(_Put(op, texts, paths))
        return puts, queries

    def _execute(
        self,
        ops: list[Op],
        puts: list[_Put],
        vectors: list[list[float]],
        qvecs: dict[str, list[float]],
    ) -> list[Result]:
        # Like InMemoryStore: every read in the batch sees the state before the batch's puts.
        results: list[Result] = [None] * len(ops)
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
        if gets:
            for (i, _), item in zip(gets, self._get_many([op for _, op in gets]), strict=True):
                results[i] = item
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                results[i] = self._search(op, qvecs.get(op.query) if op.query else None)
            elif isinstance(op, ListNamespacesOp):
                results[i] = self._list_namespaces(op)
        if puts:
            self._apply_puts(puts, vectors)
        return results

    # ------------------------------------------------------------ get / refresh

    def _get_many(self, ops: list[GetOp]) -> list[Item | None]:
        ids = list(dict.fromkeys(_item_id(tuple(op.namespace), str(op.key)) for op in ops))
        got = self._call(self._items.get, ids=ids, include=["metadatas"])
        now_ms = _clock() // 1_000_000
        by_id: dict[str, Mapping[str, Any]] = {}
        for rid, md in zip(got["ids"], got["metadatas"] or [], strict=False):
            if md is not None and int(md.get("exp", _NEVER_MS)) > now_ms:
                by_id[rid] = md
        out: list[Item | None] = []
        refresh: list[Mapping[str, Any]] = []
        for op in ops:
            md = by_id.get(_item_id(tuple(op.namespace), str(op.key)))
            out.append(self._to_item(md) if md is not None else None)
            if md is not None and op.refresh_ttl:
                refresh.append(md)
        self._refresh(refresh)
        return out

    def _refresh(self, mds: Iterable[Mapping[str, Any]]) -> None:
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        now_ms = _clock() // 1_000_000
        for md in mds:
            ttl = md.get("ttl")
            if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
                iid = _item_id(tuple(str(md["ns"]).split(_SEP)), str(md["k"]))
                if iid not in ids:
                    ids.append(iid)
                    metas.append({"exp": now_ms + int(float(ttl) * 60_000)})
        if ids:
            # update() merges metadata and never re-creates a record deleted meanwhile.
            self._call(self._items.update, ids=ids, metadatas=metas)

    # ------------------------------------------------------------ search

    def _search(self, op: SearchOp, qvec: list[float] | None) -> list[SearchItem]:
        if op.limit <= 0 and op.offset >= 0:
            return []
        prefix = tuple(op.namespace_prefix)
        filter_clauses = pushdown(op.filter) if op.filter else []
        if qvec is not None and self._vec_name is not None:
            found = self._vector_search(prefix, op, filter_clauses, qvec)
        else:
            found = [(None, md) for md in self._scan(prefix, op.filter, filter_clauses, op.offset, op.limit, None)]
        if op.refresh_ttl:
            self._refresh(md for _, md in found)
        return [self._to_search_item(md, score) for score, md in found]

    def _to_search_item(self, md: Mapping[str, Any], score: float | None) -> SearchItem:
        item = self._to_item(md, SearchItem, score)
        assert isinstance(item, SearchItem)
        return item

    def _build_where(
        self, prefix: Sequence[str], filter_clauses: list[dict[str, Any]], extra: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        clauses = [*self._ns_where(prefix), *extra]
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
        now_ms = _clock() // 1_000_000

        def alive(md: Mapping[str, Any]) -> bool:
            return int(md.get("exp", _NEVER_MS)) > now_ms

        want = offset + limit if offset >= 0 and limit >= 0 else None
        # Namespaces under the prefix, in first-write order.
        ns_where = and_clauses(self._reg_where(prefix))
        reg = self._call(self._ns.get, where=ns_where, include=["metadatas"])
        spaces = sorted((int(md["seq"]), str(md["ns"])) for md in (reg["metadatas"] or []) if md is not None)
        out: list[Mapping[str, Any]] = []
        if want is not None and len(spaces) <= 16:
            page = max(16, min(want * 2, 1000))
            for _, ns in spaces:
                where = self._build_where((), filter_clauses, [{"ns": ns}, *more])
                start = 0
                while want is None or len(out) < want:
                    got = self._call(self._items.get, where=where, limit=page, offset=start, include=["metadatas"])
                    mds = [m for m in (got["metadatas"] or []) if m is not None]
                    out.extend(m for m in mds if alive(m) and matches(json.loads(str(m["v"])), filter))
                    if len(mds) < page:
                        break
                    start += page
                if len(out) >= want:
                    break
            return out[offset : offset + limit]
        # Many namespaces (or negative slicing): one scan, ordered in Python.
        where = self._build_where(prefix, filter_clauses, more)
        got = self._call(self._items.get, where=where, include=["metadatas"])
        rank = {ns: i for i, (_, ns) in enumerate(spaces)}
        mds = [m for m in (got["metadatas"] or []) if m is not None]
        order = sorted(range(len(mds)), key=lambda i: (rank.get(str(mds[i]["ns"]), len(rank)), i))
        out = [mds[i] for i in order if alive(mds[i]) and matches(json.loads(str(mds[i]["v"])), filter)]
        return out[offset : offset + limit]

    def _scope_hits(
        self, coll: Any, prefix: tuple[str, ...], pushed: list[dict[str, Any]], qvec: list[float], n: int
    ) -> tuple[list[tuple[float, str]], bool]:
        """Top-`n` (score, vector id) under `prefix` in one scope's collection, best first, and
        whether that is every candidate there."""
        ns_clauses = self._ns_where(prefix) if len(prefix) > _SCOPE_DEPTH else []
        if ns_clauses:
            # A namespace narrower than the scope: if it is small, score it exactly here (one
            # indexed metadata lookup) instead of a filtered HNSW query, which costs far more.
            got = self._call(coll.get, where=ns_clauses[0], limit=_BRUTE_MAX + 1, include=["embeddings"])
            ids = list(got["ids"])
            if len(ids) <= _BRUTE_MAX:
                if not ids:
                    return [], True
                m = np.asarray(got["embeddings"], dtype=np.float64)
                q = np.asarray(qvec, dtype=np.float64)
                norms = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
                sims = (m @ q) / np.where(norms == 0.0, 1.0, norms)
                order = np.argsort(-sims, kind="stable")[:n]
                return [(float(sims[i]), ids[i]) for i in order], len(ids) <= n
        where = and_clauses([*ns_clauses, *pushed])
        got = self._call(coll.query, query_embeddings=[qvec], n_results=n, where=where, include=["distances"])
        vids = got["ids"][0]
        dists = (got["distances"] or [[]])[0]
        return [(1.0 - float(d), v) for v, d in zip(vids, dists, strict=False)], len(vids) < n

    def _vector_search(
        self,
        prefix: tuple[str, ...],
        op: SearchOp,
        filter_clauses: list[dict[str, Any]],
        qvec: list[float],
    ) -> list[tuple[float | None, Mapping[str, Any]]]:
        want = op.offset + op.limit
        colls = [c for c in (self._vec_for(sc, False) for sc in self._scopes_under(prefix)) if c is not None]
        # A filter is first applied after an unfiltered, over-fetched query (cheap, and usually
        # enough); only if that finds too few is it pushed into Chroma's where as a superset.
        n = max(want * 4, 40) if op.filter else max(want * 3, 10)
        pushed: list[dict[str, Any]] = []
        total: int | None = None
        kept: list[tuple[float | None, Mapping[str, Any]]] = []
        while colls:
            hits: list[tuple[float, str]] = []
            exhausted = True
            for coll in colls:
                found, complete = self._scope_hits(coll, prefix, pushed, qvec, n)
                hits.extend(found)
                exhausted = exhausted and complete
            hits.sort(key=lambda h: -h[0])
            # max pooling: the first hit of an item is its best
            best: dict[str, tuple[float, int]] = {}
            for score, vid in hits:
                iid, _, pos = vid.rpartition(":")
                if iid not in best:
                    best[iid] = (score, int(pos))
            kept = []
            order = list(best)
            start = 0
            while start < len(order) and len(kept) < want:
                # Item records are costly to read: fetch the best candidates first, more if needed.
                part = order[start : start + (want - len(kept)) + 2]
                start += len(part)
                items = self._call(self._items.get, ids=part, include=["metadatas"])
                now_ms = _clock() // 1_000_000
                by_id = {
                    rid: md
                    for rid, md in zip(items["ids"], items["metadatas"] or [], strict=False)
                    if md and int(md.get("exp", _NEVER_MS)) > now_ms
                }
                for iid in part:
                    score, vpos = best[iid]
                    md = by_id.get(iid)
                    if md is None or vpos >= int(md.get("nv", 0)):
                        continue  # item gone or vector stale
                    if tuple(str(md["ns"]).split(_SEP))[: len(prefix)] != prefix:
                        continue  # defensive: never outside the prefix
                    if not matches(json.loads(str(md["v"])), op.filter):
                        continue
                    kept.append((score, md))
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
        where = and_clauses(clauses)
        got = self._call(self._ns.get, where=where, include=["metadatas"])
        spaces = [tuple(str(md["ns"]).split(_SEP)) for md in (got["metadatas"] or []) if md is not None]
        spaces = [ns for ns in spaces if all(does_match(c, ns) for c in op.match_conditions or ())]
        depth = op.max_depth
        result = sorted(spaces) if depth is None else sorted({ns[:depth] for ns in spaces})
        return result[op.offset : op.offset + op.limit]

    # ------------------------------------------------------------ puts

    def _ensure_namespaces(self, spaces: Iterable[tuple[str, ...]]) -> None:
        new = [ns for ns in dict.fromkeys(spaces) if ns not in self._live]
        if not new:
            return
        ids = [_ns_id(ns) for ns in new]
        metas: list[dict[str, Any]] = []
        for ns in new:
            md: dict[str, Any] = {"ns": _SEP.join(ns), "d": len(ns), "seq": self._next_seq(), "live": True}
            md.update({f"n{i}": label for i, label in enumerate(ns)})
            md.update({f"r{i}": label for i, label in enumerate(reversed(ns))})
            metas.append(md)
        # add() keeps an existing record untouched (first writer's seq wins) ...
        self._call(self._ns.add, ids=ids, embeddings=[_CONST] * len(ids), metadatas=metas)
        # ... then mark them live (a no-op for records just added).
        self._call(self._ns.update, ids=ids, metadatas=[{"live": True}] * len(ids))
        got = self._call(self._ns.get, ids=ids, include=["metadatas"])
        for md in got["metadatas"] or []:
            if md is not None:
                self._live[tuple(str(md["ns"]).split(_SEP))] = int(md["seq"])

    def _mark_if_empty(self, spaces: Iterable[tuple[str, ...]]) -> None:
        for ns in dict.fromkeys(spaces):
            joined = _SEP.join(ns)
            got = self._call(self._items.get, where={"ns": joined}, limit=1, include=[])
            if not got["ids"]:
                self._live.pop(ns, None)
                nid = _ns_id(ns)
                self._call(self._ns.update, ids=[nid], metadatas=[{"live": False}])

    def _chunks(self, n: int) -> Iterable[slice]:
        for start in range(0, n, self._max_batch):
            yield slice(start, start + self._max_batch)

    def _apply_puts(self, puts: list[_Put], vectors: list[list[float]]) -> None:
        if len(vectors) != sum(len(p.texts) for p in puts):
            raise StoreError(f"embedder returned {len(vectors)} vectors for {sum(len(p.texts) for p in puts)} texts")
        with self._lock:
            ids = [p.iid for p in puts]
            old: dict[str, Mapping[str, Any]] = {}
            for sl in self._chunks(len(ids)):
                part = ids[sl]
                got = self._call(self._items.get, ids=part, include=["metadatas"])
                old.update((r, m) for r, m in zip(got["ids"], got["metadatas"] or [], strict=False) if m)
            writes = [p for p in puts if p.op.value is not None]
            deletes = [p for p in puts if p.op.value is None]
            if writes:
                self._ensure_namespaces(p.namespace for p in writes)
            now = _now_us()
            now_ms = now // 1000
            item_ids: list[str] = []
            item_mds: list[dict[str, Any]] = []
            # per scope: vector ids, embeddings, metadatas; and stale vector ids
            vec_writes: dict[tuple[str, ...], tuple[list[str], list[list[float]], list[dict[str, Any]]]] = {}
            stale_vecs: dict[tuple[str, ...], list[str]] = {}
            pos = 0
            for p in puts:
                prev = old.get(p.iid)
                prev_nv = int(prev.get("nv", 0)) if prev else 0
                embs = vectors[pos : pos + len(p.texts)]
                pos += len(p.texts)
                scope = _scope(p.namespace)
                if p.op.value is None:
                    stale_vecs.setdefault(scope, []).extend(f"{p.iid}:{i}" for i in range(prev_nv))
                    continue
                try:
                    value_json = json.dumps(p.op.value, ensure_ascii=False, separators=(",", ":"))
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(f"value of {p.namespace}/{p.key} is not JSON-serialisable: {exc}") from exc
                fields = filter_fields(p.op.value)
                md: dict[str, Any] = {
                    "ns": _SEP.join(p.namespace),
                    "d": len(p.namespace),
                    "k": p.key,
                    "v": value_json,
                    "ca": int(prev["ca"]) if prev and "ca" in prev else now,
                    "ua": now,
                    "nv": len(p.texts),
                }
                md.update(_prefix_fields(p.namespace))
                ttl = p.op.ttl
                if ttl is not None:
                    md["ttl"] = float(ttl)
                    md["exp"] = now_ms + int(float(ttl) * 60_000)
                else:
                    md["exp"] = _NEVER_MS
                md.update(fields)
                if prev:
                    # upsert merges metadata: clear what the new value no longer has
                    for k in prev:
                        if k not in md:
                            md[k] = None
                item_ids.append(p.iid)
                item_mds.append(md)
                vmd_base: dict[str, Any] = {"item": p.iid, "d": len(p.namespace)}
                vmd_base.update(_prefix_fields(p.namespace))
                vmd_base.update({k: v for k, v in fields.items()})
                if p.texts:
                    vec_ids, vec_embs, vec_mds = vec_writes.setdefault(scope, ([], [], []))
                    for i, (emb, path) in enumerate(zip(embs, p.paths, strict=True)):
                        vec_ids.append(f"{p.iid}:{i}")
                        vec_embs.append([float(x) for x in emb])
                        vec_mds.append({**vmd_base, "i": i, "p": path})
                if prev_nv > len(p.texts):
                    stale_vecs.setdefault(scope, []).extend(f"{p.iid}:{i}" for i in range(len(p.texts), prev_nv))
            for scope, (vec_ids, vec_embs, vec_mds) in vec_writes.items():
                vec = self._vec_for(scope, True)
                for sl in self._chunks(len(vec_ids)):
                    self._call(vec.upsert, ids=vec_ids[sl], embeddings=vec_embs[sl], metadatas=vec_mds[sl])
            for sl in self._chunks(len(item_ids)):
                a, c = item_ids[sl], item_mds[sl]
                self._call(self._items.upsert, ids=a, embeddings=[_CONST] * len(a), metadatas=c)
            if deletes:
                del_ids = [p.iid for p in deletes if p.iid in old]
                for sl in self._chunks(len(del_ids)):
                    part = del_ids[sl]
                    self._call(self._items.delete, ids=part)
            self._delete_vectors(stale_vecs)
            if deletes:
                self._mark_if_empty(p.namespace for p in deletes if p.iid in old)

    def _delete_vectors(self, stale: Mapping[tuple[str, ...], list[str]]) -> None:
        for scope, vids in stale.items():
            vec = self._vec_for(scope, False) if vids else None
            if vec is not None:
                for sl in self._chunks(len(vids)):
                    self._call(vec.delete, ids=vids[sl])

    # ------------------------------------------------------------ TTL

    def sweep_ttl(self) -> int:
        """Delete every expired item (and its vectors) now; returns how many were deleted."""
        now_ms = _clock() // 1_000_000
        with self._lock:
            got = self._call(self._items.get, where={"exp": {"$lte": now_ms}}, include=["metadatas"])
            ids = list(got["ids"])
            if not ids:
                return 0
            mds = [m for m in got["metadatas"] or [] if m is not None]
            stale: dict[tuple[str, ...], list[str]] = {}
            for rid, m in zip(ids, mds, strict=False):
                scope = _scope(str(m["ns"]).split(_SEP))
                stale.setdefault(scope, []).extend(f"{rid}:{i}" for i in range(int(m.get("nv", 0))))
            for sl in self._chunks(len(ids)):
                part = ids[sl]
                self._call(self._items.delete, ids=part)
            self._delete_vectors(stale)
            self._mark_if_empty(tuple(str(m["ns"]).split(_SEP)) for m in mds)
            return len(ids)

    async def asweep_ttl(self) -> int:
        """`sweep_ttl` in a worker thread."""
        return await asyncio.to_thread(self.sweep_ttl)

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> concurrent.futures.Future[None]:
        """Sweep expired items in a background thread every ``sweep_interval_minutes`` (default: the
        TTL config's ``sweep_interval_minutes``, else 5). The Future completes when the sweeper stops."""
        if sweep_interval_minutes is None and self.ttl_config:
            sweep_interval_minutes = self.ttl_config.get("sweep_interval_minutes")
        return self._sweeper.start(sweep_interval_minutes)

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the background sweeper; False if it was still sweeping when ``timeout`` ran out."""
        return self._sweeper.stop(timeout)
