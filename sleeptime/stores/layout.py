"""Where a tenant's context store keeps every item: the key layout, as data.

Every namespace starts with ("sleeptime", tenant), so tenants never meet:

    (.., "contexts")                           context_id -> hint: the newest raw revision's claim
    (.., "revisions", context_id)              "r<n>"     -> claim of revision n (its attempt, sizes)
    (.., "chunks", context_id, <attempt>)      "00000"..  -> raw chunk text (not embedded)
    (.., "head")                               context_id -> hint: the newest version's claim
    (.., "versions", context_id)               "v<n>"     -> claim of version n (its attempt, source)
    (.., "learned", context_id)                <attempt>  -> the learned notes of one attempt
    (.., "questions", context_id, <attempt>)   "q<i>"     -> predicted question + worked answer
    (.., "pieces", context_id)                 <digest>   -> a chunk with its span (indexed; the part index)
    (.., "manifests", context_id)              "r<n>"     -> revision n's chunks and planned parts
    (.., "partnotes", context_id)              <part key> -> one part's notes (indexed)
    (.., "leases", context_id)                 <attempt>  -> a write in flight: the chain heads when it began
    (.., "fates", context_id)                  <attempt>  -> "claiming" (sealed) / "collected" / "abandoned"

Clients that reach a store without this package's store layer (a LangGraph server's store, through
the SDK) ask the layout for a key instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sleeptime.ids import validate_id as validate_id  # the one id rule, re-exported

ROOT = "sleeptime"

Kind = Literal["contexts", "head", "revisions", "versions", "learned", "chunks", "questions",
               "pieces", "manifests", "partnotes", "leases", "fates"]

#: Labels after (ROOT, tenant) of each kind: "{context_id}" and "{attempt}" are filled in.
NAMESPACES: dict[Kind, tuple[str, ...]] = {
    "contexts": ("contexts",),
    "head": ("head",),
    "revisions": ("revisions", "{context_id}"),
    "versions": ("versions", "{context_id}"),
    "learned": ("learned", "{context_id}"),
    "chunks": ("chunks", "{context_id}", "{attempt}"),
    "questions": ("questions", "{context_id}", "{attempt}"),
    "pieces": ("pieces", "{context_id}"),
    "manifests": ("manifests", "{context_id}"),
    "partnotes": ("partnotes", "{context_id}"),
    "leases": ("leases", "{context_id}"),
    "fates": ("fates", "{context_id}"),
}

#: Kinds whose namespaces hold one context's items (deleted with the context); the attempt kinds are prefixes.
PER_CONTEXT: tuple[Kind, ...] = ("versions", "learned", "questions", "revisions", "chunks", "leases", "fates")
PART_KINDS: tuple[Kind, ...] = ("pieces", "manifests", "partnotes")


def revision_key(n: int) -> str:
    return f"r{n}"


def version_key(n: int) -> str:
    return f"v{n}"


def chunk_key(i: int) -> str:
    return f"{i:05d}"


def question_key(i: int) -> str:
    return f"q{i:03d}"


@dataclass(frozen=True)
class KeyLayout:
    """The namespaces and keys of one tenant."""

    tenant: str = "default"

    def __post_init__(self) -> None:
        validate_id(self.tenant, "tenant")

    def ns(self, kind: Kind, context_id: str = "", attempt: str = "") -> tuple[str, ...]:
        """The namespace of `kind`; a kind whose template ends in "{attempt}" without one gives its prefix."""
        labels: list[str] = [ROOT, self.tenant]
        for label in NAMESPACES[kind]:
            if label == "{context_id}":
                labels.append(validate_id(context_id, "context_id"))
            elif label == "{attempt}":
                if not attempt:
                    break
                labels.append(attempt)
            else:
                labels.append(label)
        return tuple(labels)

    def head_key(self, context_id: str) -> tuple[tuple[str, ...], str]:
        """Where the context's published pointer ({"version": n, ...}) is kept."""
        return self.ns("head"), validate_id(context_id, "context_id")

    def context_key(self, context_id: str) -> tuple[tuple[str, ...], str]:
        """Where the context's registry record (its current raw revision) is kept."""
        return self.ns("contexts"), validate_id(context_id, "context_id")
