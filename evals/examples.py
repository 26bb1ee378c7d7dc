"""What an experiment runs on: one problem split into context and question, or one context with several
questions. A leaf module, so loaders (``datasets``, ``tiny``) and the runner can all import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    id: str
    context: str
    question: str
    answer: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MultiQueryExample:
    """One context with several (question, answer) pairs, for amortization experiments."""

    context_id: str
    context: str
    questions: list[tuple[str, str]]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
