"""Test doubles shipped with the library, for this project's tests and for users' own.

`ScriptedChatModel` replays scripted replies (or computes them from the prompt) and reports
token usage like a real model, in invoke, stream, batch and their async twins.
`HashEmbeddings` gives deterministic vectors with no model, so stores can be tested offline.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

Reply = str | Callable[[list[BaseMessage]], str]

_WORD = re.compile(r"\S+")


def count_tokens(text: str) -> int:
    """A stand-in tokenizer for the scripted model: one token per whitespace-separated word."""
    return len(_WORD.findall(text))


class ScriptedChatModel(BaseChatModel):
    """A chat model that replays `replies` in order (cycling when `cycle=True`).

    A reply may be a string or a function of the prompt messages, so tests can script
    behaviour that depends on what the node sent. Every call is recorded in `calls`.
    Usage is reported as words in / words out.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=list)
    cycle: bool = False
    default: Any = None
    """Reply used once `replies` is exhausted (None: raise)."""

    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "sleeptime-scripted"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The prompts this model received, in order."""
        return list(self._calls)

    def _next_reply(self, messages: list[BaseMessage]) -> str:
        with self._lock:
            self._calls.append(list(messages))
            if self._index < len(self.replies):
                reply = self.replies[self._index]
                self._index += 1
            elif self.cycle and self.replies:
                reply = self.replies[self._index % len(self.replies)]
                self._index += 1
            elif self.default is not None:
                reply = self.default
            else:
                raise RuntimeError(f"ScriptedChatModel ran out of replies after {len(self.replies)} call(s)")
        text = reply(messages) if callable(reply) else reply
        if isinstance(text, BaseException):
            raise text
        return str(text)

    @staticmethod
    def _usage(messages: list[BaseMessage], text: str) -> UsageMetadata:
        prompt = sum(count_tokens(m.text) for m in messages)
        out = count_tokens(text)
        return UsageMetadata(input_tokens=prompt, output_tokens=out, total_tokens=prompt + out)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._next_reply(messages)
        message = AIMessage(content=text, usage_metadata=self._usage(messages, text))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next_reply(messages)
        pieces = re.findall(r"\S+\s*|\s+", text) or [""]
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        # Usage arrives once, on a final empty chunk, as OpenAI-compatible servers send it.
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=self._usage(messages, text))
        )

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Accept tools so code that binds them can be tested; replies stay scripted text."""
        return self.bind(**kwargs)


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-words hashing embeddings (unit-normalised), no model needed.

    Texts sharing words get similar vectors, so nearest-neighbour tests behave sensibly.
    """

    def __init__(self, dims: int = 64) -> None:
        self.dims = dims

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * self.dims
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            vec[int.from_bytes(digest[:4], "little") % self.dims] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)
