"""How many tokens a model's prompt may hold, and how to count them.

A context larger than one prompt is slept on part by part and answered from what retrieval finds;
both need the model's window and a token counter. An embedded model knows both (its ``n_ctx`` and
its tokenizer); the scripted test model counts words; a model server (`sleeptime.servers`) the window it
publishes or refused at; any other model gets the configured window
and a conservative character estimate (`packing.approx_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from sleeptime.errors import InvalidInputError
from sleeptime.large.packing import TokenCounter, approx_tokens

DEFAULT_WINDOW = 32_768
"""Window assumed for a remote model when none is configured."""

UNBOUNDED = 1 << 40
"""The scripted test model's window when none is configured: it has none."""

TEMPLATE_MARGIN = 64
"""Tokens the chat template adds around the messages (role markers, system wrappers), with room."""


@dataclass(frozen=True)
class Window:
    """A model's window: prompt and reply share `tokens`; `count` measures a text in its tokens."""

    tokens: int
    count: TokenCounter

    def prompt_tokens(self, messages: list[BaseMessage]) -> int:
        return sum(self.count(m.text) for m in messages) + TEMPLATE_MARGIN

    def room(self, reply_tokens: int) -> int:
        """Tokens left for the prompt (template margin included) when `reply_tokens` must fit after it."""
        return self.tokens - reply_tokens - TEMPLATE_MARGIN

    def fit(self, text: str, tokens: int) -> str:
        """The longest prefix of `text` within `tokens` (all of it when it fits)."""
        if self.count(text) <= tokens:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.count(text[:mid]) <= tokens else (lo, mid - 1)
        return text[:lo]


def _embedded_counter(model: BaseChatModel) -> TokenCounter | None:
    loaded_of = getattr(model, "_loaded", None)
    if loaded_of is None:
        return None

    def count(text: str) -> int:
        loaded = loaded_of()
        with loaded.use() as llama:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count


def window_of(model: BaseChatModel, configured: int | None = None) -> Window:
    """The window of `model`: `configured` tokens when given, else the model's own (embedded n_ctx)."""
    from sleeptime.local.chat import EmbeddedChatModel
    from sleeptime.testing import ScriptedChatModel, count_tokens

    if configured is not None and configured < 1:
        raise InvalidInputError(f"context_window must be >= 1, got {configured!r}")
    if isinstance(model, EmbeddedChatModel):
        counter = _embedded_counter(model) or approx_tokens
        return Window(min(configured or model.n_ctx, model.n_ctx), counter)
    if isinstance(model, ScriptedChatModel):
        return Window(configured or UNBOUNDED, count_tokens)
    if type(model).__name__ == "ServerChatModel":  # not imported: langchain-openai may be absent
        return Window(configured or model.known_window() or DEFAULT_WINDOW, approx_tokens)  # type: ignore[attr-defined]
    return Window(configured or DEFAULT_WINDOW, approx_tokens)
