"""Anthropic prompt caching: a ``cache_control`` breakpoint at the end of the wake prompt's stable prefix.

A wake prompt is the system message, then one user message whose blocks are the context, the notes and
the expected questions (the same for every question on a version) and last the question block
(`sleeptime.prompts.answer.QUESTION_BLOCK`). `mark_stable_prefix` splits that user message in two text
blocks and marks the first ``{"type": "ephemeral"}``, so Anthropic caches everything up to it (tools,
system, shared blocks) and a later question on the same version reads it from the cache
(``usage_metadata.input_token_details.cache_read``). Anthropic caches a prefix of at least 1,024 tokens
(2,048 on Haiku models); a shorter one is simply not cached.

``anthropic:<model>`` specs resolve to :func:`cached_prefix_anthropic` (langchain-anthropic installed).
Request construction is unit-tested; no call to Anthropic is made here.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

__all__ = ["QUESTION_MARKER", "cached_prefix_anthropic", "mark_stable_prefix"]

QUESTION_MARKER = "\n\nQuestion: "
"""Where the question block starts in a wake prompt's user message (after the shared blocks)."""

EPHEMERAL = {"type": "ephemeral"}


def mark_stable_prefix(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Anthropic request's messages with a cache breakpoint before the last user message's question
    block; messages without one (not a wake prompt, or no shared blocks) are returned as they were."""
    out = [dict(m) for m in messages]
    for message in reversed(out):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list) and len(content) == 1 and content[0].get("type") == "text":
            content = content[0].get("text")
        if not isinstance(content, str):
            return out
        cut = content.rfind(QUESTION_MARKER)
        if cut <= 0:
            return out
        message["content"] = [{"type": "text", "text": content[:cut], "cache_control": dict(EPHEMERAL)},
                              {"type": "text", "text": content[cut:]}]
        return out
    return out


def cached_prefix_anthropic(**options: Any) -> BaseChatModel:
    """A ``ChatAnthropic`` whose requests carry the stable-prefix breakpoint (`mark_stable_prefix`)."""
    from langchain_anthropic import ChatAnthropic

    class CachedPrefixAnthropic(ChatAnthropic):  # type: ignore[misc]  # untyped where not installed
        def _get_request_payload(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            payload: dict[str, Any] = super()._get_request_payload(*args, **kwargs)
            payload["messages"] = mark_stable_prefix(payload.get("messages") or [])
            return payload

    return CachedPrefixAnthropic(**options)
