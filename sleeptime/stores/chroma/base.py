"""The connection half of `ChromaStore`: clients, collections, retries, record decoding."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import chromadb
import chromadb.errors
import httpx
from chromadb.api import ClientAPI
from chromadb.config import Settings
from langchain_core.embeddings import Embeddings as LCEmbeddings
from langgraph.store.base import (
    BaseStore,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    SearchItem,
    TTLConfig,
    ensure_embeddings,
    tokenize_path,
)

from sleeptime.errors import InvalidInputError, StoreError
from sleeptime.stores.chroma.freshness import WriteMarks, forget_system, is_disk_full, is_stale_view
from sleeptime.stores.chroma.layout import (
    SCOPE_DEPTH,
    VALID_COLLECTION,
    PrecomputedOnly,
    and_reg_live,
    clock,
    scope_id,
    split_ns,
    to_datetime,
)
from sleeptime.stores.chroma.sweeper import TTLSweeper

T = TypeVar("T")

#: How often opening a new on-disk path retries Chroma's table-creation race with another process.
CREATE_RACE_RETRIES = 8


_RACE_MARKS = ("already exists", "database is locked")
_WRITES = frozenset({"upsert", "add", "update", "delete"})


def _forget_broken_client(path: str) -> None:
    """Drop the client system Chroma cached for `path` after a failed open (reusing it fails with
    e.g. "'RustBindingsAPI' object has no attribute 'bindings'"), unless a live client uses it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    if SharedSystemClient._identifier_to_refcount.get(path, 0) <= 0:
        SharedSystemClient._identifier_to_system.pop(path, None)


def _dims_of(embeddings: Any) -> int | None:
    """The dimension an embeddings object declares, if any (no text is embedded to learn it)."""
    for name in ("dims", "dimensions", "DIMS"):
        value = getattr(embeddings, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class ChromaBase(BaseStore):
    """Clients, collections and the retry policy; the search and write halves build on it."""

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
            or not set(collection) <= VALID_COLLECTION
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
        self._collection = collection
        self.ttl_config = ttl
        self.index_config: dict[str, Any] | None = None
        self.embeddings: LCEmbeddings | None = None
        self._fields: list[tuple[str, Any]] = []
        self._dims: int | None = None
        if index:
            if "embed" not in index:
                raise InvalidInputError("index needs 'embed' ('dims' is optional: learned from the first vector)")
            self.index_config = dict(index)
            self.embeddings = ensure_embeddings(index["embed"])
            self._fields = [(p, tokenize_path(p) if p != "$" else p) for p in (index.get("fields") or ["$"])]
            dims = index.get("dims") or _dims_of(self.embeddings)
            self._dims = int(dims) if dims else None
        self._ef = PrecomputedOnly()
        self._lock = threading.RLock()
        self._scoped: dict[tuple[str, ...], Any] = {}  # vector collections by scope, created lazily
        self._last_seq = 0
        self._sweeper: TTLSweeper | None = None  # started by start_ttl_sweeper
        # Set before the first client call: `_call` reads them, also while a server client connects.
        # Chroma's typed API (invariant TypedDicts for metadata and where) does not fit dynamically
        # built clauses, so collections are held as Any and results checked at runtime.
        self._items: Any = None
        self._ns: Any = None
        self._path = str(path) if path is not None else None
        self._marks: WriteMarks | None = None
        self._broken = False  # a write failed on a full disk: reopen before the next operation
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInputError(f"url {url!r}: expected http://HOST:PORT")
            self._url = url
            self._site = f"Chroma server at {url}"
            port = parts.port or (443 if parts.scheme == "https" else 8000)
            host, ssl = parts.hostname, parts.scheme == "https"
            settings = Settings(anonymized_telemetry=False)
            self._client: Any = self._call(chromadb.HttpClient, host=host, port=port, ssl=ssl, settings=settings)
        elif client is not None:
            self._client = client
        self._open(path)
        # Several processes on one path: notice the others' writes (see `freshness`).
        self._marks = WriteMarks(path) if path is not None else None
        try:
            self._max_batch = max(1, min(int(self._client.get_max_batch_size()), 5000))
        except Exception:
            self._max_batch = 1000

    def _open(self, path: str | Path | None) -> None:
        """Open the client (on-disk) and the item and registry collections.

        Processes creating a new on-disk database at once race on Chroma's schema creation: the
        loser sees ``table collections already exists`` or ``database is locked`` (measured: 3 of
        120 opens with four processes opening 30 new paths in step). The schema is complete once the
        winner commits, so the loser drops the half-made client Chroma cached for the path and
        retries after a short pause (`CREATE_RACE_RETRIES` times).
        """
        for attempt in range(CREATE_RACE_RETRIES + 1):
            try:
                if path is not None:
                    settings = Settings(anonymized_telemetry=False)
                    self._client = self._call(chromadb.PersistentClient, path=str(path), settings=settings)
                get = self._client.get_or_create_collection
                self._items = self._call(get, f"{self._collection}_items", embedding_function=self._ef)
                self._ns = self._call(get, f"{self._collection}_ns", embedding_function=self._ef)
                return
            except StoreError as exc:
                if path is None or attempt == CREATE_RACE_RETRIES or not any(m in str(exc) for m in _RACE_MARKS):
                    raise
                _forget_broken_client(str(path))
                time.sleep(0.05 * (attempt + 1))

    # ------------------------------------------------------------ plumbing

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Chroma call, retrying transient server failures, mapping errors to StoreError.

        On disk, a call that fails because this process's copy of an index is behind what another
        process wrote reopens the client and runs once more; a write call bumps this process's mark."""
        attempt, reopened = 0, False
        while True:
            try:
                result = fn(*args, **kwargs)
                if self._marks is not None and getattr(fn, "__name__", "") in _WRITES:
                    self._marks.wrote()
                return result
            except (StoreError, InvalidInputError, InvalidNamespaceError):
                raise
            except Exception as exc:
                if self._path is not None and is_disk_full(exc):
                    # Chroma's embedded client hangs in its next write after a full disk, even once
                    # space is back: the next operation starts on a fresh client (`_fresh`).
                    self._broken = True
                    raise StoreError(f"{self._site}: the disk is full ({exc}); free space and retry: "
                                     "the next operation reopens the store") from exc
                if not reopened and self._path is not None and self._items is not None and is_stale_view(exc):
                    reopened = True
                    fn = self._reopen(fn)
                    continue
                transient = self._transient(exc)
                if transient and attempt < self._retries:
                    time.sleep(min(2.0, self._backoff_s * (2**attempt)))
                    attempt += 1
                    continue
                tries = f" after {attempt + 1} attempt(s)" if transient else ""
                raise StoreError(f"{self._site} failed{tries}: {type(exc).__name__}: {exc}") from exc

    def _fresh(self, searches: bool = True) -> None:
        """Before an operation on disk: reopen after a full disk, and before a vector search when
        another process wrote since this one last looked (keys, gets and listings read Chroma's
        SQLite files, which are current; only the vector index is loaded once per process)."""
        if self._broken or (searches and self._marks is not None and self._marks.changed()):
            self._reopen(None)

    def _reopen(self, fn: Callable[..., T] | None) -> Callable[..., T]:
        """Reopen the on-disk client so Chroma reloads the collections; returns `fn` (a method of the
        old client or of one of its collections) bound to the new one."""
        assert self._path is not None
        with self._lock:
            owner = getattr(fn, "__self__", None)
            name = getattr(owner, "name", None)
            forget_system(self._path)
            self._scoped.clear()
            self._open(self._path)
            self._broken = False
            if fn is None or owner is None:
                return fn  # type: ignore[return-value]
            if owner is not None and name is None:  # a client method
                return cast(Callable[..., T], getattr(self._client, fn.__name__))
            coll = self._client.get_collection(str(name), embedding_function=self._ef)
            return cast(Callable[..., T], getattr(coll, fn.__name__))

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
            self._last_seq = max(self._last_seq + 1, clock())
            return self._last_seq

    def _chunks(self, n: int) -> Iterable[slice]:
        for start in range(0, n, self._max_batch):
            yield slice(start, start + self._max_batch)

    def _old_records(self, ids: list[str]) -> dict[str, Mapping[str, Any]]:
        """Item id -> record of those of `ids` that exist, read in batches of at most `_max_batch` ids
        (a batch of any size: SQLite refuses a statement with more than 32,766 variables)."""
        old: dict[str, Mapping[str, Any]] = {}
        for sl in self._chunks(len(ids)):
            got = self._call(self._items.get, ids=ids[sl], include=["metadatas"])
            old.update((r, m) for r, m in zip(got["ids"], got["metadatas"] or [], strict=False) if m)
        return old

    # ------------------------------------------------------------ vector collections

    def _learn_dims(self, vector: list[float]) -> None:
        if self._dims is None:
            self._dims = len(vector)
        elif len(vector) != self._dims:
            raise StoreError(f"{self._site}: the embedder returned {len(vector)} dimensions, expected {self._dims}")

    def _vec_name(self) -> str | None:
        return f"{self._collection}_v{self._dims}_" if self._dims else None

    def _vec_for(self, scope: tuple[str, ...], create: bool) -> Any:
        """The vector collection of `scope` (cached), or None if it does not exist and not `create`."""
        coll = self._scoped.get(scope)
        prefix = self._vec_name()
        if coll is not None or prefix is None:
            return coll
        name = prefix + scope_id(scope)
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
        if len(prefix) >= SCOPE_DEPTH:
            return [prefix[:SCOPE_DEPTH]]
        got = self._call(self._ns.get, where=and_reg_live(prefix), include=["metadatas"])
        found = {split_ns(md["ns"])[:SCOPE_DEPTH] for md in (got["metadatas"] or []) if md is not None}
        return sorted(found)

    # ------------------------------------------------------------ records

    def _to_item(self, md: Mapping[str, Any], score: float | None = None, scored: bool = False) -> Item:
        try:
            kwargs: dict[str, Any] = {
                "namespace": split_ns(md["ns"]),
                "key": str(md["k"]),
                "value": json.loads(str(md["v"])),
                "created_at": to_datetime(int(md["ca"])),
                "updated_at": to_datetime(int(md["ua"])),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{self._site}: corrupt item record {dict(md)!r:.200}: {exc}") from exc
        return SearchItem(score=score, **kwargs) if scored else Item(**kwargs)
