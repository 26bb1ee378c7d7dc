"""`EmbeddedChatModel`: a LangChain chat model over an in-process llama.cpp model (llama-cpp-python).

One ``llama_cpp.Llama`` is loaded per (file, n_ctx, n_threads) per process and shared by every
model object that asks for it; a lock serialises calls because a llama.cpp context is not
thread-safe (`sleeptime.local.loading`). Async calls run in a worker thread, so the event loop never blocks.

Every reply carries ``usage_metadata`` (input, output and total tokens as llama.cpp counted them);
when streaming, it arrives on the last chunk.

Per-call settings can be bound: ``model.bind(response_format={"type": "json_object"}, max_tokens=64)``.
A ``response_format`` of type ``json_object`` constrains decoding with a grammar (add ``"schema"``
to constrain it to a JSON schema); :meth:`EmbeddedChatModel.with_structured_output` does that for
a pydantic model or a JSON schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel, Field, field_validator

from sleeptime.errors import InvalidInputError
from sleeptime.local import kv_state
from sleeptime.local.generate_hooks import counting
from sleeptime.local.llama_messages import (
    PromptTooLongError,
    llama_usage,
    pop_prefix_key,
    prompt_too_long,
    to_llama_messages,
)
from sleeptime.local.loading import LLAMA_CPP_MISSING, clear_loaded_models, load_llama, usable_cpus

# Re-exported: tests seed the table of loaded models (`chat._loaded`) with fakes (`chat._Loaded`).
from sleeptime.local.loading import _Loaded as _Loaded
from sleeptime.local.loading import _loaded as _loaded
from sleeptime.local.prefix_cache import PrefixKey, PrefixState, default_prefix_cache

__all__ = ["LLAMA_CPP_MISSING", "EmbeddedChatModel", "PromptTooLongError", "clear_loaded_models"]

_PASSTHROUGH = frozenset(
    {
        "temperature",
        "max_tokens",
        "seed",
        "response_format",
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
    }
)
_CTX_PAD = 256


class EmbeddedChatModel(BaseChatModel):
    """A chat model run in this process by llama.cpp from a GGUF file.

    Usually made by ``sleeptime.models.resolve_chat_model("embedded:qwen2.5-coder-0.5b")``.
    """

    model_name: str = "embedded"
    """Name reported in metadata (the registry name, or the file name)."""
    model_path: str
    """The GGUF file."""
    n_ctx: int = 4096
    """Context window in tokens; rounded up to a multiple of 256 (llama.cpp pads it so)."""
    n_threads: int = Field(default_factory=lambda: usable_cpus())
    """Threads for llama.cpp; defaults to the CPUs this process may run on (respects ``taskset``)."""
    max_tokens: int | None = 512
    """Most tokens generated per call (None: until the context window is full)."""
    temperature: float = 0.0
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    """Passed to llama.cpp, e.g. ``{"type": "json_object"}`` for grammar-constrained JSON."""
    stop: list[str] | None = None
    repeat_penalty: float = 1.1
    """Small models fall into repeating a line; llama.cpp's usual 1.1 keeps them out."""

    @field_validator("n_ctx")
    @classmethod
    def _round_n_ctx(cls, value: int) -> int:
        # llama.cpp pads the context to a multiple of 256 while llama-cpp-python sizes its token
        # buffer from the number asked for; asking for a padded size keeps the two equal.
        if value < 1:
            raise ValueError(f"n_ctx must be >= 1, got {value}")
        return -(-value // _CTX_PAD) * _CTX_PAD

    @property
    def _llm_type(self) -> str:
        return "sleeptime-embedded-llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }

    def _loaded(self) -> _Loaded:
        return load_llama(self.model_path, self.n_ctx, self.n_threads)

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "response_format": self.response_format,
            "stop": stop if stop is not None else self.stop,
            "repeat_penalty": self.repeat_penalty,
        }
        for key, value in kwargs.items():
            if key in _PASSTHROUGH:
                params[key] = value
            elif not key.startswith("ls_"):
                raise TypeError(f"EmbeddedChatModel does not support the option {key!r}")
        return {k: v for k, v in params.items() if v is not None}

    @contextlib.contextmanager
    def _reusing(self, llama: Any, key: PrefixKey | None) -> Iterator[kv_state.Reuse]:
        """With a key: load that version's saved prompt state when it saves prefill (else as is)."""
        if key is None:
            yield kv_state.Reuse()
            return
        cache = default_prefix_cache()
        with kv_state.reusing_prefix(llama, lambda: cache.get(key, self.model_path, self.n_ctx)) as reuse:
            yield reuse

    def precompute_prefix(self, key: PrefixKey, variants: list[list[BaseMessage]]) -> PrefixState | None:
        """Evaluate the prompt prefix that ``variants`` (one version's prompt with different questions)
        share under this model's chat template, and save its state for ``key``, dropping the context's
        other versions' states. None when they share too little to be worth it."""
        if len(variants) < 2:
            raise InvalidInputError("precompute_prefix needs >= 2 prompt variants to find what they share")
        cache = default_prefix_cache()
        cache.drop_other_versions(key.tenant, key.context_id, key.version)
        with self._loaded().use() as llama:
            entry = kv_state.precompute(llama, [functools.partial(
                llama.create_chat_completion, messages=to_llama_messages(v), max_tokens=1) for v in variants])
        if entry is not None:
            cache.put(key, self.model_path, self.n_ctx, entry)
        return entry

    async def aprecompute_prefix(self, key: PrefixKey, variants: list[list[BaseMessage]]) -> PrefixState | None:
        """Async twin of :meth:`precompute_prefix` (runs in a worker thread)."""
        return await asyncio.to_thread(self.precompute_prefix, key, variants)

    def _wrap_error(self, exc: ValueError) -> Exception:
        return prompt_too_long(exc, self.model_name)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        key = pop_prefix_key(kwargs)
        params = self._params(stop, kwargs)
        loaded = self._loaded()
        with loaded.use() as llama, self._reusing(llama, key) as reuse:
            try:
                response = llama.create_chat_completion(
                    messages=to_llama_messages(messages), **params
                )
            except ValueError as exc:
                raise self._wrap_error(exc) from exc
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        usage_metadata = llama_usage(
            int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), reuse.cached_tokens
        )
        finish_reason = choice.get("finish_reason")
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=usage_metadata,
            response_metadata={"model_name": self.model_name, "finish_reason": finish_reason},
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": finish_reason})],
            llm_output={"token_usage": dict(usage), "model_name": self.model_name},
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        key = pop_prefix_key(kwargs)
        params = self._params(stop, kwargs)
        loaded = self._loaded()
        finish_reason: str | None = None
        with loaded.use() as llama, counting(llama) as count, self._reusing(llama, key) as reuse:
            try:
                stream = llama.create_chat_completion(
                    messages=to_llama_messages(messages), stream=True, **params
                )
            except ValueError as exc:
                raise self._wrap_error(exc) from exc
            try:
                for part in stream:
                    choice = part["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    text = choice.get("delta", {}).get("content")
                    if not text:
                        continue
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
            except ValueError as exc:
                raise self._wrap_error(exc) from exc
            finally:
                stream.close()
            usage_metadata = llama_usage(count.prompt, count.completion, reuse.cached_tokens)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage_metadata,
                response_metadata={"model_name": self.model_name, "finish_reason": finish_reason},
                chunk_position="last",
            ),
            generation_info={"finish_reason": finish_reason},
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                for chunk in self._stream(messages, stop, None, **kwargs):
                    if cancelled.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, ("chunk", chunk))
            except BaseException as exc:  # handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("done", None))

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                kind, item = await queue.get()
                if kind == "done":
                    break
                if kind == "error":
                    raise item
                if run_manager and item.text:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            cancelled.set()
            # Let the worker finish (it stops at the next token) so the model's lock is released.
            await asyncio.shield(worker)

    def bind_json_schema(self, schema: dict[str, Any]) -> Runnable[LanguageModelInput, BaseMessage]:
        """This model bound to reply with JSON matching `schema`, grammar-constrained (how
        ``sleeptime.structured`` asks a model that can for JSON)."""
        return self.bind(response_format={"type": "json_object", "schema": schema})

    def with_structured_output(
        self,
        schema: dict[str, Any] | type[BaseModel],
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Replies constrained by a grammar to ``schema`` (a pydantic model or a JSON schema), parsed.

        Returns pydantic instances for a pydantic model and dicts for a JSON schema. With
        ``include_raw=True`` returns ``{"raw", "parsed", "parsing_error"}`` as LangChain does.
        """
        if kwargs:
            raise TypeError(f"unsupported options: {sorted(kwargs)}")
        json_schema = convert_to_json_schema(schema)
        llm = self.bind(response_format={"type": "json_object", "schema": json_schema})
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            parser = PydanticOutputParser(pydantic_object=schema)
        else:
            parser = JsonOutputParser()
        if not include_raw:
            return llm | parser
        parse_ok = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        parse_none = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parse_ok.with_fallbacks([parse_none], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Tool calling by grammar-constrained JSON (see ``sleeptime.local.tool_calling``): each turn is
        one call of a bound tool or, with ``tool_choice`` None/"auto", a direct answer."""
        from sleeptime.local.tool_calling import bind_embedded_tools

        return bind_embedded_tools(self, tools, tool_choice=tool_choice, **kwargs)
