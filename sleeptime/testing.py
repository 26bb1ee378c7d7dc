"""Test doubles shipped with the library, for this project's tests and for users' own.

`ScriptedChatModel` replays scripted replies and reports token usage like a real model, in
invoke, stream, batch and their async twins. Replies are routed by the LangGraph node that makes
the call (``by_node``), so rewording a prompt never sends a test to another node's reply; a plain
list (``replies``) serves models used outside graphs. `scripted_model()` is a ready-made one for
the sleep, wake and chat graphs (what the ``scripted`` model spec resolves to).
`HashEmbeddings` gives deterministic vectors with no model, so stores can be tested offline.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr

from sleeptime.prompts import parts as parts_prompt

__all__ = ["OUTSIDE_GRAPH", "HashEmbeddings", "Reply", "ScriptedChatModel", "UnscriptedNodeError", "scripted_model"]

Reply = str | Callable[[list[BaseMessage]], str]
"""A scripted reply: a string, or a function of the prompt messages (it may raise to simulate a failure)."""

OUTSIDE_GRAPH = "<outside graph>"
"""The ``by_node`` key of calls made outside any LangGraph node (no ``langgraph_node`` in the run metadata)."""

_WORD = re.compile(r"\S+")


def count_tokens(text: str) -> int:
    """A stand-in tokenizer for the scripted model: one token per whitespace-separated word."""
    return len(_WORD.findall(text))


class UnscriptedNodeError(LookupError):
    """A scripted model was called from a node it has no reply for."""


class ScriptedChatModel(BaseChatModel):
    """A chat model whose replies are scripted, for tests.

    Two ways to script it:

    * ``by_node={"reflect": ..., "answer": [...]}``: each call gets the reply of the LangGraph node
      that makes it (LangGraph puts ``langgraph_node`` in the run metadata every model call inherits).
      A list is consumed in order, its last reply repeating. Calls outside any graph use the key
      :data:`OUTSIDE_GRAPH`. A node with no entry raises :class:`UnscriptedNodeError` naming it
      (unless ``default`` is set).
    * ``replies=[...]``: replayed in call order whatever the caller (cycling when ``cycle=True``),
      then ``default``; when both are given, ``by_node`` answers the nodes it names.

    A reply is a string or a function of the prompt messages. Every call is recorded: `calls`
    (prompts in order), `nodes` (the node of each) and `calls_for(node)`. Usage is reported as
    words in / words out.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    by_node: dict[str, Any] = Field(default_factory=dict)
    """Node name -> a reply or a list of replies (consumed in order, the last one repeating)."""
    replies: list[Any] = Field(default_factory=list)
    cycle: bool = False
    default: Any = None
    """Reply used once `replies` is exhausted, and for nodes `by_node` does not name (None: raise)."""

    _index: int = PrivateAttr(default=0)
    _node_index: dict[str, int] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[tuple[str, list[BaseMessage]]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "sleeptime-scripted"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The prompts this model received, in order."""
        return [messages for _, messages in self._calls]

    @property
    def nodes(self) -> list[str]:
        """The node that made each call, in order (:data:`OUTSIDE_GRAPH` for calls outside a graph)."""
        return [node for node, _ in self._calls]

    def calls_for(self, node: str) -> list[list[BaseMessage]]:
        """The prompts `node` sent, in order."""
        return [messages for n, messages in self._calls if n == node]

    def _pick(self, node: str) -> Any:
        """The scripted reply for this call; the caller holds the lock."""
        if node in self.by_node:
            script = self.by_node[node]
            if not isinstance(script, list):
                return script
            if not script:
                raise UnscriptedNodeError(f"ScriptedChatModel: the reply list of node {node!r} is empty")
            i = self._node_index.get(node, 0)
            self._node_index[node] = i + 1
            return script[min(i, len(script) - 1)]
        if self._index < len(self.replies):
            self._index += 1
            return self.replies[self._index - 1]
        if self.cycle and self.replies:
            self._index += 1
            return self.replies[(self._index - 1) % len(self.replies)]
        if self.default is not None:
            return self.default
        if self.by_node:
            raise UnscriptedNodeError(
                f"ScriptedChatModel has no reply for node {node!r}; scripted nodes: {sorted(self.by_node)}"
            )
        raise RuntimeError(f"ScriptedChatModel ran out of replies after {len(self.replies)} call(s)")

    def _next_reply(self, messages: list[BaseMessage], node: str = OUTSIDE_GRAPH) -> str:
        with self._lock:
            self._calls.append((node, list(messages)))
            reply = self._pick(node)
        text = reply(messages) if callable(reply) else reply
        if isinstance(text, BaseException):
            raise text
        return str(text)

    @staticmethod
    def _node(run_manager: CallbackManagerForLLMRun | None) -> str:
        # LangChain streams some calls (under stream_mode="messages") without a run manager; the
        # node's run config is then still the current one.
        metadata: Mapping[str, Any] = run_manager.metadata if run_manager is not None else {}
        node = metadata.get("langgraph_node") or ensure_config().get("metadata", {}).get("langgraph_node")
        return str(node or OUTSIDE_GRAPH)

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
        text = self._next_reply(messages, self._node(run_manager))
        message = AIMessage(content=text, usage_metadata=self._usage(messages, text))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next_reply(messages, self._node(run_manager))
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


_CITATION = re.compile(r"\[[^\]\n]+\]")
"""A "[source:lines]" header, as packed pieces of a large context carry above their text."""


def _first_fact(messages: list[BaseMessage]) -> str:
    user = messages[-1].text if messages else ""
    facts = (line.strip() for line in user.splitlines() if re.search(r"\d", line))
    return next((f for f in facts if not _CITATION.fullmatch(f)), user.strip()[:120])


def _demo_notes(messages: list[BaseMessage]) -> str:
    # Named numbers, not a quoted sentence: notes that copy the context are dropped (sleeptime.notes.hygiene).
    numbers = re.findall(r"\d+(?:\.\d+)?", _first_fact(messages))
    return "\n".join([*(f"key_number_{i + 1} = {n}" for i, n in enumerate(numbers[:5])), "STATUS: DONE"])


def _demo_answer(messages: list[BaseMessage]) -> str:
    user = messages[-1].text if messages else ""
    note = next((line for line in user.splitlines() if line.startswith("- key_number_")), None)
    return f"From my notes: {note.removeprefix('- ')}" if note else f"From the context: {_first_fact(messages)}"


def _part_notes(messages: list[BaseMessage]) -> str:
    # reflect_part: the part's span and the names it defines (or its longest words, for prose).
    user = messages[-1].text if messages else ""
    span = re.search(r"^Part (\S+):", user, re.M)
    names = re.findall(r"\b(?:def|class)\s+(\w+)", user) or sorted(set(re.findall(r"\b\w{7,}\b", user)), key=len)[::-1]
    key_names = ", ".join(list(dict.fromkeys(names))[:5]) or "none"
    return "\n".join([f"1. {span.group(1) if span else 'This part'} is one part of the collection.",
                      f"2. Key names: {key_names}.", "3. It answers questions about those names."])


def _cited_sources(messages: list[BaseMessage]) -> list[str]:
    # The "[source:lines]" headers the reduce and questions prompts put above each part's notes.
    user = messages[-1].text if messages else ""
    return [line.strip()[1:-1] for line in dict.fromkeys(user.splitlines()) if _CITATION.fullmatch(line.strip())]


def _reduce(messages: list[BaseMessage]) -> str:
    # The reduce node asks twice: notes on the whole (text), then predicted questions (JSON).
    sources = ", ".join(_cited_sources(messages)[:8]) or "its parts"
    if messages and messages[0].text.startswith(_QUESTIONS_SYSTEM_START):
        return json.dumps({"questions": [{"question": "Which sources make up the collection?",
                                          "answer": f"The notes cite {sources}."}]})
    return "\n".join([f"1. The collection's noted parts: {sources}.",
                      "2. Each part's notes name what it defines; ask about a name to find its source."])


_QUESTIONS_SYSTEM_START = parts_prompt.QUESTIONS_SYSTEM.split("{")[0]

_ACK = "OK."
"""For nodes that make no model call of their own (publish may warm the wake prompt prefix with one)."""


def scripted_model() -> ScriptedChatModel:
    """A scripted model with a reply for every node of the sleep, wake and chat graphs, at every
    context size, for demos and trying things with no model: notes naming the numbers of the
    context's first line with one, one predicted question, answers quoting the notes, checks that
    accept; for a context too large for one prompt, notes on each part naming what it defines and
    notes on the whole naming the parts. Nodes that call no model get a plain acknowledgement.
    What the ``scripted`` spec names."""
    def predict(messages: list[BaseMessage]) -> str:
        numbers = list(dict.fromkeys(re.findall(r"\$?\d+(?:\.\d+)?", messages[-1].text if messages else "")))
        return json.dumps({"questions": [{"question": "What are the key numbers?",
                                          "answer": ", ".join(numbers[:5]) or "none"}]})

    return ScriptedChatModel(by_node={
        # sleep, a context that fits one prompt
        "reflect": _demo_notes,
        "predict": predict,
        # sleep, part by part
        "reflect_part": _part_notes,
        "reduce": _reduce,
        # wake and chat
        "answer": _demo_answer,
        "respond": _demo_answer,
        "verify": json.dumps({"verdict": "accept", "reason": "consistent with the notes"}),
        "match": "yes",
        **dict.fromkeys(["ingest", "plan", "merge", "publish", "retrieve", "gather"], _ACK),
    })


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
