"""LangChain messages to llama.cpp's chat format and llama.cpp's replies back: roles, token usage,
the prompt-too-long error."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata

from sleeptime.errors import InvalidInputError
from sleeptime.local.prefix_cache import PrefixKey

__all__ = ["PromptTooLongError", "llama_usage", "pop_prefix_key", "prompt_too_long", "to_llama_messages"]

_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


class PromptTooLongError(InvalidInputError):
    """The prompt does not fit in the model's context window (``n_ctx``)."""

    def __init__(self, *, prompt_tokens: int, n_ctx: int, model_name: str) -> None:
        super().__init__(
            f"prompt of {prompt_tokens} tokens does not fit the context window of model {model_name!r} "
            f"(n_ctx={n_ctx}); shorten the prompt or raise n_ctx"
        )
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


def prompt_too_long(exc: ValueError, model_name: str) -> Exception:
    """llama.cpp's "Requested tokens exceed context window" as a `PromptTooLongError`; other errors as they are."""
    match = _TOO_LONG.search(str(exc))
    if match:
        return PromptTooLongError(prompt_tokens=int(match.group(1)), n_ctx=int(match.group(2)), model_name=model_name)
    return exc


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return message.role
    raise TypeError(f"EmbeddedChatModel cannot send a {type(message).__name__}")


def to_llama_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _role(m), "content": m.text} for m in messages]


def llama_usage(prompt_tokens: int, completion_tokens: int, cached: int = 0) -> UsageMetadata:
    usage = UsageMetadata(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    if cached:
        usage["input_token_details"] = {"cache_read": cached}
    return usage


def pop_prefix_key(kwargs: dict[str, Any]) -> PrefixKey | None:
    """Take the call's ``prefix_key`` (which saved prompt state to reuse) out of its options."""
    key = kwargs.pop("prefix_key", None)
    if key is not None and not isinstance(key, PrefixKey):
        raise TypeError(f"prefix_key must be a PrefixKey, got {type(key).__name__}")
    return key

