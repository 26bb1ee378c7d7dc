"""Token accounting: every model call becomes one `UsageRecord`, summed per phase.

Counts come from the model's own `usage_metadata` (never estimated). Input and output are both
kept: the paper counted only output tokens as test-time compute; we report both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, NotRequired

from langchain_core.messages import AIMessage
from pydantic import BaseModel
from typing_extensions import TypedDict

Phase = Literal["sleep", "wake"]


class UsageRecord(TypedDict):
    phase: Phase
    node: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cache_read_tokens: NotRequired[int]
    """Input tokens served from a prompt cache (``input_token_details.cache_read``); present when > 0."""
    sample: NotRequired[int]
    """The reflect sample a sleep call belongs to (``samples`` > 1 runs them side by side); reflect calls only."""


class Usage(BaseModel):
    """Summed token usage of one phase."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    """Of ``input_tokens``, how many came from a prompt cache (a server's, or a saved prompt state)."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def record_usage(message: AIMessage, *, phase: Phase, node: str) -> UsageRecord:
    """The usage of one model reply. A model that reports none counts as zero, visibly (calls still counted)."""
    meta: dict[str, Any] = dict(message.usage_metadata or {})
    details: dict[str, Any] = dict(meta.get("output_token_details") or {})
    record = UsageRecord(
        phase=phase,
        node=node,
        input_tokens=int(meta.get("input_tokens", 0) or 0),
        output_tokens=int(meta.get("output_tokens", 0) or 0),
        reasoning_tokens=int(details.get("reasoning", 0) or 0),
    )
    cached = int(dict(meta.get("input_token_details") or {}).get("cache_read", 0) or 0)
    if cached:
        record["cache_read_tokens"] = cached
    return record


def summarize_usage(records: Iterable[UsageRecord], phase: Phase | None = None) -> Usage:
    total = Usage()
    for rec in records:
        if phase is not None and rec["phase"] != phase:
            continue
        total.calls += 1
        total.input_tokens += rec["input_tokens"]
        total.output_tokens += rec["output_tokens"]
        total.reasoning_tokens += rec["reasoning_tokens"]
        total.cache_read_tokens += rec.get("cache_read_tokens", 0)
    return total
