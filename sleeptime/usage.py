"""Token accounting: every model call becomes one `UsageRecord`, summed per phase.

Counts come from the model's own `usage_metadata` (never estimated). Input and output are both
kept: the paper counted only output tokens as test-time compute; we report both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

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


class Usage(BaseModel):
    """Summed token usage of one phase."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def record_usage(message: AIMessage, *, phase: Phase, node: str) -> UsageRecord:
    """The usage of one model reply. A model that reports none counts as zero, visibly (calls still counted)."""
    meta: dict[str, Any] = dict(message.usage_metadata or {})
    details: dict[str, Any] = dict(meta.get("output_token_details") or {})
    return UsageRecord(
        phase=phase,
        node=node,
        input_tokens=int(meta.get("input_tokens", 0) or 0),
        output_tokens=int(meta.get("output_tokens", 0) or 0),
        reasoning_tokens=int(details.get("reasoning", 0) or 0),
    )


def summarize_usage(records: Iterable[UsageRecord], phase: Phase | None = None) -> Usage:
    total = Usage()
    for rec in records:
        if phase is not None and rec["phase"] != phase:
            continue
        total.calls += 1
        total.input_tokens += rec["input_tokens"]
        total.output_tokens += rec["output_tokens"]
        total.reasoning_tokens += rec["reasoning_tokens"]
    return total
