"""Store filters: LangGraph's filter dicts as Chroma ``where`` clauses and as exact Python matches.

A value's scalars are copied into flat *filter fields* (``s<json path>`` for strings, ``r<json path>``
for numbers) that Chroma can index. A filter is pushed into Chroma as a *superset* of its matches
(:func:`pushdown`) and then evaluated exactly on the decoded value (:func:`matches`), with
InMemoryStore's semantics, so Chroma's typing (``1`` vs ``1.0`` vs ``True``) never changes a result.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.store.base import MatchCondition

from sleeptime.errors import InvalidInputError

MAX_STR = 256  # longest string copied into a filter field
MAX_FIELDS = 64  # filter fields per item
MAX_DEPTH = 4  # nesting depth of filter fields
_FLOAT_MAX = sys.float_info.max
_RANGE_OPS = {"$gt": "$gt", "$gte": "$gte", "$lt": "$lt", "$lte": "$lte"}
OPS = {"$eq", "$ne", *_RANGE_OPS}


def field_key(kind: str, path: Sequence[str]) -> str:
    return kind + json.dumps(list(path), ensure_ascii=False, separators=(",", ":"))


def as_float(value: Any) -> float | None:
    """float(value) as InMemoryStore's range operators compute it, or None if that fails."""
    if isinstance(value, (dict, list, tuple)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def clamp(f: float) -> float | None:
    if math.isnan(f):
        return None
    return max(-_FLOAT_MAX, min(_FLOAT_MAX, f))


def filter_fields(value: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened filter fields of a value (see module docstring)."""
    out: dict[str, Any] = {}
    truncated = False

    def walk(obj: Mapping[str, Any], path: list[str]) -> None:
        nonlocal truncated
        for k, v in obj.items():
            if not isinstance(k, str):
                continue
            p = [*path, k]
            if isinstance(v, dict):
                if len(p) >= MAX_DEPTH:
                    truncated = truncated or bool(v)
                else:
                    walk(v, p)
                continue
            if isinstance(v, (list, tuple)) or v is None:
                continue
            if len(out) >= MAX_FIELDS:
                truncated = True
                return
            if isinstance(v, str) and len(v) <= MAX_STR:
                out[field_key("s", p)] = v
            f = as_float(v)
            if f is not None and (c := clamp(f)) is not None:
                out[field_key("r", p)] = c

    walk(value, [])
    if truncated:
        out["fx"] = True
    return out


def pushdown(filter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Chroma where-clauses whose conjunction is implied by `filter` (a superset of matches).

    Raises InvalidInputError for an unknown operator.
    """
    clauses: list[dict[str, Any]] = []

    def push(path: list[str], fv: Any) -> None:
        if isinstance(fv, dict):
            if any(isinstance(k, str) and k.startswith("$") for k in fv):
                for op, val in fv.items():
                    if op not in OPS:
                        raise InvalidInputError(f"unsupported filter operator {op!r}; use one of {sorted(OPS)}")
                    if op == "$eq":
                        push(path, val)
                    elif op in _RANGE_OPS:
                        f = as_float(val)
                        if f is not None and math.isfinite(f) and abs(f) < 1e308:
                            clauses.append({field_key("r", path): {op: f}})
                return
            if len(path) >= MAX_DEPTH:
                return
            for k, v in fv.items():
                push([*path, k], v)
        elif isinstance(fv, str):
            if len(fv) <= MAX_STR:
                clauses.append({field_key("s", path): fv})
        elif isinstance(fv, (bool, int, float)):
            f = as_float(fv)  # None for an int too large for a float (10**400): checked in Python only
            if f is not None and math.isfinite(f) and abs(f) < 1e308:
                clauses.append({field_key("r", path): {"$eq": f}})
        # lists, None: not expressible as a superset in Chroma; evaluated in Python only.

    for key, fv in filter.items():
        push([key], fv)
    return clauses


def check_filter_ops(filter: Any) -> None:
    if isinstance(filter, dict):
        for k, v in filter.items():
            if isinstance(k, str) and k.startswith("$") and k not in OPS:
                raise InvalidInputError(f"unsupported filter operator {k!r}; use one of {sorted(OPS)}")
            check_filter_ops(v)


def compare(item_value: Any, filter_value: Any) -> bool:
    """InMemoryStore's `_compare_values`, except failed float() in a range op is False."""
    if isinstance(filter_value, dict):
        if any(k.startswith("$") for k in filter_value):
            return all(apply_op(item_value, k, v) for k, v in filter_value.items())
        if not isinstance(item_value, dict):
            return False
        return all(compare(item_value.get(k), v) for k, v in filter_value.items())
    if isinstance(filter_value, (list, tuple)):
        return (
            isinstance(item_value, (list, tuple))
            and len(item_value) == len(filter_value)
            and all(compare(iv, fv) for iv, fv in zip(item_value, filter_value, strict=False))
        )
    return bool(item_value == filter_value)


def apply_op(value: Any, op: str, op_value: Any) -> bool:
    if op == "$eq":
        return bool(value == op_value)
    if op == "$ne":
        return bool(value != op_value)
    a, b = as_float(value), as_float(op_value)
    if a is None or b is None:
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    if op == "$lte":
        return a <= b
    raise InvalidInputError(f"unsupported filter operator {op!r}")


def matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    return not filter or all(compare(value.get(k), fv) for k, fv in filter.items())


def and_clauses(clauses: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    if len(clauses) == 1:
        return dict(clauses[0])
    return {"$and": list(clauses)}


def does_match(cond: MatchCondition, ns: tuple[str, ...]) -> bool:
    path = tuple(cond.path)
    if len(ns) < len(path):
        return False
    pairs = (
        zip(ns, path, strict=False) if cond.match_type == "prefix" else zip(reversed(ns), reversed(path), strict=False)
    )
    return all(p == "*" or n == p for n, p in pairs)
