"""The record layout of `ChromaStore` and the pure helpers that build and check it (no I/O).

Three kinds of Chroma collection per store, named from `collection`:

``<collection>_items``
    One record per item. Id: ``blake2b(json([namespace, key]))`` so a put of the same
    (namespace, key) always hits the same record. Chroma needs an embedding for every record;
    items carry a constant 1-d vector ``[1.0]`` (nothing is ever searched by it). Metadata:
    ``ns`` (labels joined with ``.``, which BaseStore forbids inside labels, so the join is
    unambiguous), ``d`` (depth), ``p0..p{d-1}`` (the first i+1 labels joined, so a namespace
    prefix is a single equality on one indexed field), ``k`` (key), ``v`` (the value as JSON),
    ``ca``/``ua`` (created/updated, integer microseconds), ``exp`` (expiry, integer ms; a
    far-future constant when the item has no TTL) and ``ttl`` (minutes), ``nv`` (number of
    vectors), ``g`` (the *generation* of those vectors), plus the value's filter fields (see
    `filters`).
``<collection>_v<dims>_<scope hash>``
    Vectors, one collection per *scope*: the first two labels of the namespace. One record per
    embedded text, id ``<item id>:<generation>:<i>``. A put writes its vectors under a fresh
    generation, then flips the item record to it, then deletes the old generation's vectors: a
    failure or crash at any step leaves the item pointing at a complete set of vectors, and a
    search uses only vectors of the item's current generation (`collect` deletes the others).
``<collection>_ns``
    The namespace registry: one record per namespace ever written (levels forwards ``n*`` and
    backwards ``r*``, ``seq`` first-write order, ``live``). It serves `list_namespaces` and the
    InMemoryStore search order.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from langgraph.store.base import InvalidNamespaceError

from sleeptime.errors import InvalidInputError, StoreError
from sleeptime.stores.chroma.filters import and_clauses

SEP = "."  # BaseStore forbids "." inside labels, so joining with it is unambiguous.
NEVER_MS = 2**62  # "exp" of an item without TTL
CONST = [1.0]  # the embedding of item and namespace records
SCOPE_DEPTH = 2  # vectors live in one collection per namespace prefix of this many labels
BRUTE_MAX = 512  # a narrower namespace with at most this many vectors is scored exactly in numpy
MAX_NESTING = 100  # deepest value or filter accepted (JSON and Chroma both recurse)
VALID_COLLECTION = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@register_embedding_function
class PrecomputedOnly(EmbeddingFunction[Documents]):
    """Chroma embedding function that refuses to run: ChromaStore always passes embeddings
    (Chroma's default function would download a model)."""

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


def _digest(obj: Any, size: int) -> str:
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(raw.encode(), digest_size=size).hexdigest()


def item_id(namespace: tuple[str, ...], key: str) -> str:
    return _digest([list(namespace), key], 16)


def ns_id(namespace: tuple[str, ...]) -> str:
    return _digest(list(namespace), 16)


def scope_of(namespace: Sequence[str]) -> tuple[str, ...]:
    """The vector collection a namespace's vectors live in: its first `SCOPE_DEPTH` labels."""
    return tuple(namespace[:SCOPE_DEPTH])


def scope_id(scope: tuple[str, ...]) -> str:
    return _digest(list(scope), 12)


def split_ns(joined: Any) -> tuple[str, ...]:
    return tuple(str(joined).split(SEP))


def vector_id(iid: str, gen: str, i: int) -> str:
    return f"{iid}:{gen}:{i}" if gen else f"{iid}:{i}"


def parse_vector_id(vid: str) -> tuple[str, str, int]:
    """(item id, generation, position); vectors written before generations have generation ''."""
    parts = vid.split(":")
    if len(parts) == 2:
        return parts[0], "", int(parts[1])
    return parts[0], parts[1], int(parts[2])


def new_generation() -> str:
    return uuid.uuid4().hex[:12]


def clock() -> int:
    """Wall-clock nanoseconds (module-level so tests can move time for TTL)."""
    return time.time_ns()


def now_ms() -> int:
    return clock() // 1_000_000


def to_datetime(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def prefix_fields(namespace: tuple[str, ...]) -> dict[str, str]:
    """``p<i>``: the namespace's first i+1 labels joined, so a prefix match is one equality."""
    return {f"p{i}": SEP.join(namespace[: i + 1]) for i in range(len(namespace))}


def ns_where(prefix: Sequence[str]) -> list[dict[str, Any]]:
    """Items/vectors under `prefix`: one equality on the joined prefix of that depth."""
    return [{f"p{len(prefix) - 1}": SEP.join(prefix)}] if prefix else []


def reg_where(prefix: Sequence[str]) -> list[dict[str, Any]]:
    """Namespace-registry records under `prefix` (the registry keeps one field per level)."""
    return [{f"n{i}": label} for i, label in enumerate(prefix)]


def and_reg_live(prefix: Sequence[str]) -> dict[str, Any] | None:
    """Live registry records under `prefix`."""
    return and_clauses([{"live": True}, *reg_where(prefix)])


def registry_record(ns: tuple[str, ...], seq: int) -> dict[str, Any]:
    md: dict[str, Any] = {"ns": SEP.join(ns), "d": len(ns), "seq": seq, "live": True}
    md.update({f"n{i}": label for i, label in enumerate(ns)})
    md.update({f"r{i}": label for i, label in enumerate(reversed(ns))})
    return md


# ---------------------------------------------------------------- input checks


def check_text(text: str, what: str) -> str:
    """Chroma stores UTF-8: a lone surrogate would fail deep in its client; name the field instead."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} {text[:80]!r} is not valid Unicode text ({exc.reason})") from exc
    return text


def check_namespace(namespace: Sequence[Any], what: str = "namespace") -> None:
    for label in namespace:
        if isinstance(label, str):
            check_text(label, f"{what} label")


def check_put_namespace(namespace: tuple[str, ...]) -> None:
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {namespace}')


def check_ttl(ttl: Any, where: str) -> float | None:
    """A ttl in minutes: None or a finite number > 0 (a ttl <= 0 would make the value vanish at once)."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise InvalidInputError(f"ttl of {where} must be a number of minutes or None, got {ttl!r}")
    f = float(ttl) if not isinstance(ttl, int) or abs(ttl) < 2**1000 else math.inf
    if not math.isfinite(f) or f <= 0:
        raise InvalidInputError(f"ttl of {where} must be a finite number of minutes > 0, got {ttl!r}")
    return f


def expiry_ms(now: int, ttl: float | None) -> int:
    """The item's expiry; capped below `NEVER_MS` so a huge ttl fits Chroma's 64-bit integers."""
    if ttl is None:
        return NEVER_MS
    return int(min(float(NEVER_MS - 1), now + ttl * 60_000))


def nesting_depth(obj: Any, limit: int) -> int:
    """How deep dicts and lists nest in `obj` (iterative: a deep value must not blow the stack);
    stops counting past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        cur, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        if isinstance(cur, Mapping):
            stack.extend((v, depth + 1) for v in cur.values())
        elif isinstance(cur, (list, tuple)):
            stack.extend((v, depth + 1) for v in cur)
    return deepest


def dump_json(obj: Any, what: str) -> str:
    """`obj` as compact JSON, or InvalidInputError naming `what` (too deep, unserialisable, not UTF-8)."""
    if nesting_depth(obj, MAX_NESTING) > MAX_NESTING:
        raise InvalidInputError(f"{what} nests deeper than {MAX_NESTING} levels")
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    return check_text(text, what)
