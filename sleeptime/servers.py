"""OpenAI-compatible model servers (vLLM, llama.cpp's server, llama-cpp-python's, Ollama) as a tested path.

An ``openai:<model>`` spec with ``base_url`` resolves to :class:`ServerChatModel`, a ``ChatOpenAI`` that:

* bounds generation in a form every server honours: langchain-openai sends ``max_completion_tokens``,
  which llama.cpp-family servers ignore, so ``max_tokens`` is sent beside it; a reply longer than the
  limit is logged as a server that ignores it;
* knows its window: the server's published context length (llama.cpp ``/props``, vLLM ``max_model_len``
  in ``/v1/models``), else ``context_window``, else one learned from the server's first context-length
  refusal; a prompt that does not fit is refused before the call with :class:`ContextWindowError`;
* asks the server to keep the prompt's prefix (``cache_prompt``, llama.cpp) and reports cached prompt
  tokens from what the server returns (``usage.prompt_tokens_details.cached_tokens``, llama.cpp
  ``timings.cache_n``) as ``usage_metadata.input_token_details.cache_read``;
* takes the wake answer's stop sequences (:data:`sleeptime.prompts.answer.ANSWER_STOPS`; not on OpenAI
  itself, whose reasoning models refuse ``stop``);
* reads a tool call that a server left in the reply's text (a chat format that does not parse them) as a
  tool call, and sends a tool-calling assistant turn with content ``""`` (llama-cpp-python refuses null);
* raises typed errors naming the server: :class:`ServerUnavailableError`, :class:`ServerTimeoutError`,
  after ``max_retries`` retries (the openai client's exponential backoff) within ``timeout`` seconds each.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, ToolCall
from langchain_core.messages.tool import tool_call
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr

from sleeptime.errors import ContextWindowError, ServerError, ServerTimeoutError, ServerUnavailableError

__all__ = ["ServerChatModel", "cached_tokens_of", "server_root", "text_tool_call", "window_from_refusal"]

log = logging.getLogger(__name__)

MESSAGE_MARGIN = 8
"""Tokens a chat template adds per message (role markers), with room."""

PROBE_TIMEOUT = 5.0
"""Seconds one window or token-count probe may take; a server that does not answer has none."""

_windows: dict[tuple[str, str], int | None] = {}
_windows_lock = threading.Lock()
_uncounted_servers: set[str] = set()
"""Servers already reported for streaming replies with no usage (warned once per server and process)."""

_REFUSALS = (
    # OpenAI, vLLM, llama-cpp-python: "This model's maximum context length is 2048 tokens. However, you
    # requested 2300 tokens (2200 in the messages, 100 in the completion)"
    re.compile(r"maximum context length is (\d+) tokens.*?requested (\d+) tokens(?: \((\d+) in the messages)?",
               re.S),
    re.compile(r"maximum context length is (\d+) tokens", re.S),
    # llama.cpp: "request (2300 tokens) exceeds the available context size (2048 tokens)"
    re.compile(r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)", re.S),
)


def _openai_hosted(base_url: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(base_url).hostname or ""
    return host == "openai.com" or host.endswith(".openai.com") or host.endswith(".azure.com")


def server_root(base_url: str) -> str:
    """The server's root URL: ``base_url`` without a trailing ``/v1`` (where ``/props``, ``/tokenize`` live)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def window_from_refusal(message: str) -> tuple[int, int | None] | None:
    """(window, prompt tokens or None) from a server's context-length refusal, or None for another error."""
    for i, pattern in enumerate(_REFUSALS):
        found = pattern.search(message)
        if found is None:
            continue
        if i == 2:
            return int(found.group(2)), int(found.group(1))
        window = int(found.group(1))
        if i == 0:
            prompt = found.group(3) or None
            return window, int(prompt) if prompt else None
        return window, None
    return None


_WRAPPERS = re.compile(r"^\s*(?:<tool_call>|```(?:json)?)\s*(.*?)\s*(?:</tool_call>|```)?\s*$", re.S)


def text_tool_call(text: str, names: set[str]) -> ToolCall | None:
    """The tool call a reply's whole text states (one JSON object naming a tool in `names`), or None."""
    found = _WRAPPERS.match(text)
    body = found.group(1) if found else text.strip()
    try:
        data = _json_closed(body)
        name, args = data["name"], data["arguments"] if "arguments" in data else data["parameters"]
        if isinstance(args, str):
            args = json.loads(args)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    if name not in names or not isinstance(args, dict):
        return None
    return tool_call(name=name, args=args, id=f"call_{uuid.uuid4().hex[:12]}")


def _json_closed(body: str) -> Any:
    """The JSON object in `body`, also when its closing braces are missing (the 0.5B over llama-cpp-python's
    server ends its calls one ``}`` short) or doubled as in a template's example (the 1.5B: ``{{...}}``)."""
    bodies = [body]
    if body.startswith("{{"):  # the 1.5B copies the template's doubled braces: {{"name": ..., ...}}
        bodies.append(body[1:-1] if body.endswith("}}") else body[1:])
    for text in bodies:
        for tail in ("", "}", "}}"):
            try:
                return json.loads(text + tail)
            except json.JSONDecodeError:
                continue
    raise json.JSONDecodeError("not a JSON object", body, 0)


def cached_tokens_of(response: dict[str, Any]) -> int:
    """Prompt tokens a server says it served from its cache: OpenAI/vLLM ``prompt_tokens_details``,
    llama.cpp ``timings.cache_n``; 0 when it says nothing."""
    usage = response.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens")
    if cached:
        return int(cached)
    timings = response.get("timings") or {}
    return int(timings.get("cache_n") or 0)


def published_window(base_url: str, model: str) -> int | None:
    """The context length the server publishes, probed once per server and model; None when it says none."""
    key = (base_url, model)
    with _windows_lock:
        if key in _windows:
            return _windows[key]
    window = _probe_window(base_url, model)
    with _windows_lock:
        _windows[key] = window
    return window


def _get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        if body is None:
            response = httpx.get(url, timeout=PROBE_TIMEOUT)
        else:
            response = httpx.post(url, json=body, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _probe_window(base_url: str, model: str) -> int | None:
    props = _get_json(f"{server_root(base_url)}/props")  # llama.cpp's server
    if isinstance(props, dict):
        settings = props.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") or props.get("n_ctx")
        if isinstance(n_ctx, int) and n_ctx > 0:
            return n_ctx
    models = _get_json(f"{base_url.rstrip('/')}/models")  # vLLM: max_model_len
    if isinstance(models, dict):
        entries = [m for m in models.get("data") or [] if isinstance(m, dict)]
        for entry in sorted(entries, key=lambda m: m.get("id") != model):
            length = entry.get("max_model_len")
            if isinstance(length, int) and length > 0:
                return length
    return None


def _server_count(base_url: str, text: str) -> int | None:
    """The prompt's tokens by the server's own tokenizer, where it has an endpoint for it."""
    root = server_root(base_url)
    counted = _get_json(f"{root}/extras/tokenize/count", {"input": text})  # llama-cpp-python
    if isinstance(counted, dict) and isinstance(counted.get("count"), int):
        return int(counted["count"])
    tokens = _get_json(f"{root}/tokenize", {"content": text})  # llama.cpp
    if isinstance(tokens, dict) and isinstance(tokens.get("tokens"), list):
        return len(tokens["tokens"])
    return None


class ServerChatModel(ChatOpenAI):
    """``ChatOpenAI`` for an OpenAI-compatible server at ``openai_api_base`` (see the module docstring)."""

    context_window: int | None = None
    """Tokens a prompt and reply share; None: what the server publishes, else learned from its refusal."""

    keep_prefix: bool = True
    """Ask the server to keep the prompt's prefix cached (``cache_prompt``; llama.cpp-family servers)."""

    parse_text_tool_calls: bool = True
    """A reply whose whole text is a JSON call of a bound tool (``{"name": ..., "arguments": {...}}``, bare,
    fenced or in ``<tool_call>`` tags) becomes a tool call (non-streamed calls)."""
    """Ask the server to keep the prompt's prefix cached (``cache_prompt``; llama.cpp-family servers)."""

    _learned_window: int | None = PrivateAttr(default=None)

    @property
    def url(self) -> str:
        return str(self.openai_api_base or "")

    @property
    def takes_stop(self) -> bool:
        """Whether ``stop`` may be sent: OpenAI itself refuses it on reasoning models; servers take it."""
        return not _openai_hosted(self.url)

    def known_window(self) -> int | None:
        """The window: the smaller of ``context_window`` and what the server publishes or refused at."""
        found = [w for w in (self.context_window, self._learned_window,
                             published_window(self.url, self.model_name)) if w]
        return min(found) if found else None

    def _get_request_payload(
        self, input_: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        hosted = _openai_hosted(self.url)  # OpenAI itself refuses both additions on some models
        limit = payload.get("max_completion_tokens")
        if limit is not None and not hosted:
            payload["max_tokens"] = limit  # what llama.cpp-family servers read
        for message in payload.get("messages") or []:
            # langchain-openai sends an assistant turn that only calls tools with content null, which
            # llama-cpp-python's server refuses (HTTP 500, a validation error); "" means the same everywhere.
            if message.get("role") == "assistant" and message.get("content") is None:
                message["content"] = ""
        if self.keep_prefix and not hosted:  # not an openai client argument: sent in the body as is
            payload["extra_body"] = {**(payload.get("extra_body") or {}), "cache_prompt": True}
        self._check_window(payload.get("messages") or [])
        return payload

    def _check_window(self, messages: list[dict[str, Any]]) -> None:
        window = self.known_window()
        if window is None:
            return
        text = "\n".join(m["content"] if isinstance(m.get("content"), str) else str(m.get("content") or "")
                         for m in messages)
        margin = MESSAGE_MARGIN * len(messages)
        # Three characters a token under-counts digits and code: ask the server when it might not fit.
        if math.ceil(len(text) / 3) + margin < window // 2:
            return
        counted = _server_count(self.url, text)
        tokens = (counted if counted is not None else math.ceil(len(text) / 3)) + margin
        if tokens >= window:
            raise ContextWindowError(url=self.url, window=window, prompt_tokens=tokens, before_call=True)

    def _typed(self, exc: openai.OpenAIError) -> Exception:
        if isinstance(exc, openai.APITimeoutError):
            return ServerTimeoutError(f"no reply within {self.request_timeout} s after {self.max_retries} "
                                      "retries", url=self.url)
        if isinstance(exc, openai.APIConnectionError):
            return ServerUnavailableError(f"cannot connect after {self.max_retries} retries: {exc}", url=self.url)
        if isinstance(exc, openai.APIStatusError):
            refusal = window_from_refusal(str(exc))
            if refusal is not None:
                window, prompt = refusal
                self._learned_window = window
                return ContextWindowError(url=self.url, window=window, prompt_tokens=prompt, before_call=False)
            return ServerError(f"HTTP {exc.status_code}: {' '.join(str(exc).split())[:300]}", url=self.url)
        return exc

    def _create_chat_result(self, response: Any, generation_info: dict[str, Any] | None = None) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        raw = response if isinstance(response, dict) else response.model_dump() if hasattr(response, "model_dump") \
            else {}
        cached = cached_tokens_of(raw)
        for generation in result.generations:
            if isinstance(generation.message, AIMessage):
                _note_cached(generation.message, cached)
        return result

    def _convert_chunk_to_generation_chunk(self, chunk: dict[str, Any], *args: Any,
                                           **kwargs: Any) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(chunk, *args, **kwargs)
        if generation is not None and isinstance(generation.message, AIMessage):
            _note_cached(generation.message, cached_tokens_of(chunk))
        return generation

    def _warn_unbounded(self, result: ChatResult, kwargs: dict[str, Any]) -> None:
        limit = kwargs.get("max_tokens") or self.max_tokens
        for generation in result.generations:
            message = generation.message
            meta = message.usage_metadata if isinstance(message, AIMessage) else None
            used = meta["output_tokens"] if meta else 0
            if limit and used > limit:
                log.warning("server %s ignored max_tokens=%d: the reply has %d tokens", self.url, limit, used)

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            result = super()._generate(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._typed(exc) from exc
        self._warn_unbounded(result, kwargs)
        return self._text_tool_calls(result, kwargs)

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            result = await super()._agenerate(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._typed(exc) from exc
        self._warn_unbounded(result, kwargs)
        return self._text_tool_calls(result, kwargs)

    def _text_tool_calls(self, result: ChatResult, kwargs: dict[str, Any]) -> ChatResult:
        """Tool calls a server left in the reply's text (a chat format that does not parse them, e.g.
        llama-cpp-python's default for a GGUF's own template) made into ``tool_calls``."""
        names = {t.get("function", {}).get("name") for t in kwargs.get("tools") or [] if isinstance(t, dict)}
        if not self.parse_text_tool_calls or not names:
            return result
        for generation in result.generations:
            message = generation.message
            if isinstance(message, AIMessage) and not message.tool_calls:
                call = text_tool_call(message.text, names)
                if call is not None:
                    message.content = ""
                    message.tool_calls = [call]
        return result

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        counted = False
        try:
            for chunk in super()._stream(*args, **kwargs):
                counted = counted or bool(getattr(chunk.message, "usage_metadata", None))
                yield chunk
        except openai.OpenAIError as exc:
            raise self._typed(exc) from exc
        self._note_uncounted(counted)

    def _note_uncounted(self, counted: bool) -> None:
        if not counted and self.stream_usage and self.url not in _uncounted_servers:
            _uncounted_servers.add(self.url)
            log.warning("server %s sent no token usage on a streamed reply (llama-cpp-python's server does not "
                        "support stream_options.include_usage): streamed calls count 0 tokens", self.url)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        counted = False
        try:
            async for chunk in super()._astream(*args, **kwargs):
                counted = counted or bool(getattr(chunk.message, "usage_metadata", None))
                yield chunk
        except openai.OpenAIError as exc:
            raise self._typed(exc) from exc
        self._note_uncounted(counted)


def _note_cached(message: AIMessage, cached: int) -> None:
    meta = message.usage_metadata
    if not cached or meta is None:
        return
    details = dict(meta.get("input_token_details") or {})
    if not details.get("cache_read"):
        details["cache_read"] = cached
        meta["input_token_details"] = details  # type: ignore[typeddict-item]
