"""`ChromaStore`: a LangGraph `BaseStore` backed by Chroma (embedded on disk, or a server).

Semantics follow `InMemoryStore`: filters are pushed into Chroma's ``where`` as a superset and then
evaluated exactly in Python on the decoded value, so Chroma's typing (``1`` vs ``1.0`` vs ``True``)
never changes a result. Deliberate differences, where InMemoryStore shows accidents of its dict
layout: ``$gt/$gte/$lt/$lte`` on a missing or non-numeric value is "no match", `list_namespaces`
lists namespaces that hold items, values round-trip through JSON (tuples come back as lists). Bad
input (a lone surrogate, a value nested deeper than 100 levels, a ttl that is not a positive finite
number) raises `InvalidInputError` naming the field before anything is written.

Failures of a Chroma server (connection refused, timeouts, 5xx) are retried with bounded
exponential backoff (``retries``; every write is idempotent: upserts and deletes by deterministic
id) and then raised as `StoreError` naming the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from sleeptime.errors import InvalidInputError
from sleeptime.stores.chroma.filters import check_filter_ops
from sleeptime.stores.chroma.gc import CollectMixin
from sleeptime.stores.chroma.layout import check_namespace, check_put_namespace, check_text, dump_json
from sleeptime.stores.chroma.writes import PreparedPut

MAX_PAGE = 2**31 - 1
"""Largest limit, offset or depth accepted (beyond it Chroma's SQLite overflows)."""


def _check_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_PAGE:
        raise InvalidInputError(f"{what} must be an int of at most {MAX_PAGE} in size, got {value!r}")


def _check_page(limit: object, offset: object) -> None:
    _check_int(limit, "limit")
    _check_int(offset, "offset")


class ChromaStore(CollectMixin):
    """A LangGraph store persisted in Chroma, with semantic search and TTL.

    Give exactly one of `path` (embedded, on-disk), `url` (a Chroma server, e.g.
    ``http://127.0.0.1:8000``) or `client` (a ready `chromadb` client). `index` is LangGraph's
    `IndexConfig` (``embed``, ``fields``; ``dims`` is optional: taken from the embeddings object
    or the first vector); `ttl` its `TTLConfig`. `retries` bounds the retries of a failing server
    call (backoff `backoff_s` doubling, capped at 2 s); then `StoreError` is raised.
    """

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

    def _prepare(self, ops: list[Op]) -> tuple[list[PreparedPut], list[str]]:
        """Validate and serialise every op, collect the texts to embed and the queries (no I/O)."""
        dedup: dict[tuple[tuple[str, ...], str], PutOp] = {}
        queries: list[str] = []
        for op in ops:
            if not isinstance(op, (GetOp, PutOp, SearchOp, ListNamespacesOp)):
                raise InvalidInputError(f"unknown operation type: {type(op).__name__}")
            validate_op_namespace(op)
            if isinstance(op, (GetOp, PutOp)):
                check_namespace(op.namespace)
                check_text(str(op.key), "key")
            if isinstance(op, PutOp):
                if op.value is not None:
                    check_put_namespace(tuple(op.namespace))
                    if not isinstance(op.value, Mapping):
                        raise InvalidInputError(f"value must be a mapping, got {type(op.value).__name__}")
                dedup[(tuple(op.namespace), str(op.key))] = op
            elif isinstance(op, SearchOp):
                check_namespace(op.namespace_prefix, "namespace_prefix")
                _check_page(op.limit, op.offset)
                if op.filter is not None and not isinstance(op.filter, Mapping):
                    raise InvalidInputError(f"filter must be a mapping of field -> value or operators, "
                                            f"got {type(op.filter).__name__}")
                if op.filter:
                    dump_json(op.filter, "filter")  # depth, unserialisable values, lone surrogates
                    check_filter_ops(op.filter)
                if op.query is not None:
                    check_text(op.query, "query")
                if op.query and self.embeddings and op.query not in queries:
                    queries.append(op.query)
            elif isinstance(op, ListNamespacesOp):
                _check_page(op.limit, op.offset)
                if op.max_depth is not None:
                    _check_int(op.max_depth, "max_depth")
                for cond in op.match_conditions or ():
                    check_namespace(cond.path, "match condition")
        puts: list[PreparedPut] = []
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
            puts.append(PreparedPut(op, texts, paths))
        return puts, queries

    def _execute(
        self, ops: list[Op], puts: list[PreparedPut], vectors: list[list[float]], qvecs: dict[str, list[float]]
    ) -> list[Result]:
        # Like InMemoryStore: every read in the batch sees the state before the batch's puts.
        self._fresh(searches=any(isinstance(op, SearchOp) and op.query for op in ops))
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

    # ------------------------------------------------------------ insert if absent

    def put_if_absent(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> Item:
        """Store `value` under (namespace, key) unless an item is there; returns the item stored
        there afterwards: this value if this call won, the earlier one otherwise.

        The compare-and-set `LearnedContextStore` allocates versions with: safe across handles,
        processes and clients of one server. The item is not indexed and has no TTL.
        """
        op = PutOp(tuple(namespace), key, value, index=False)
        self._prepare([op])
        self._fresh(searches=False)
        md = self._insert_if_absent(PreparedPut(op, [], []))
        return self._to_item(md)

    async def aput_if_absent(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> Item:
        """`put_if_absent` in a worker thread."""
        return await asyncio.to_thread(self.put_if_absent, namespace, key, value)
