"""Turn model specs into LangChain models.

Chat model specs (:func:`resolve_chat_model`):

* a ``BaseChatModel`` instance: returned as is (tests pass ``sleeptime.testing.ScriptedChatModel``);
* ``embedded:<name>`` or a bare ``<name>`` from the embedded registry (``qwen2.5-coder-0.5b``,
  ``qwen2.5-coder-1.5b``, ``smollm2-135m``): llama.cpp in this process, weights from pip packages;
* ``gguf:/path/to/model.gguf``: llama.cpp in this process on that file;
* ``scripted``: :func:`sleeptime.testing.scripted_model`, canned replies for trying things with no model;
* ``<provider>:<model>`` (``openai:gpt-4o-mini``, ``anthropic:...``): LangChain's ``init_chat_model``;
  ``openai:`` may name an OpenAI-compatible server with ``base_url`` (vLLM, llama.cpp server, Ollama).

Embedding specs (:func:`resolve_embeddings`): an ``Embeddings`` instance, ``embedded:minilm``
(the default, 384 dimensions, offline) or ``<provider>:<model>`` through ``init_embeddings``.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import ModelSetupError
from sleeptime.local.chat import LLAMA_CPP_MISSING, EmbeddedChatModel
from sleeptime.local.gguf import REGISTRY, ensure_gguf

__all__ = [
    "DEFAULT_EMBEDDINGS",
    "EMBEDDING_DIMS",
    "OwnKind",
    "parse_chat_spec",
    "resolve_chat_model",
    "resolve_embeddings",
]

OwnKind = Literal["embedded", "gguf", "scripted"]
"""Spec kinds this package resolves itself; any other kind is a LangChain provider name."""
_OWN: tuple[OwnKind, ...] = ("embedded", "gguf", "scripted")

DEFAULT_EMBEDDINGS = "embedded:minilm"
EMBEDDING_DIMS: dict[str, int] = {DEFAULT_EMBEDDINGS: 384}
"""Vector size of the embedding specs whose size is known without calling them."""

_CHAT_FORMS = (
    "a BaseChatModel instance, 'embedded:<name>' or a bare <name> (names: {names}), "
    "'gguf:/path/to/model.gguf', 'scripted', or '<provider>:<model>' for LangChain's init_chat_model "
    "(e.g. 'openai:<model>', with base_url for an OpenAI-compatible server)"
)

_embedded_cache: dict[tuple[Any, ...], BaseChatModel] = {}
_embedded_lock = threading.Lock()


def _chat_forms() -> str:
    return _CHAT_FORMS.format(names=", ".join(sorted(REGISTRY)))


def parse_chat_spec(spec: str) -> tuple[str, str]:
    """Split a chat model spec string into its kind and its argument.

    The kind is ``embedded``, ``gguf``, ``scripted`` or a LangChain provider name; whether the
    provider exists is for ``init_chat_model`` to say.

    >>> parse_chat_spec("openai:gpt-4o-mini")
    ('openai', 'gpt-4o-mini')
    >>> parse_chat_spec("smollm2-135m")
    ('embedded', 'smollm2-135m')
    """
    text = spec.strip()
    if text in REGISTRY:
        return "embedded", text
    if text == "scripted":
        return "scripted", ""
    kind, sep, arg = text.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if sep and arg and kind and kind != "scripted":
        if kind == "embedded" and arg not in REGISTRY:
            raise ModelSetupError(f"unknown embedded model {arg!r}; known: {', '.join(sorted(REGISTRY))}")
        return kind, arg
    raise ModelSetupError(f"unknown chat model spec {spec!r}; use {_chat_forms()}")


def resolve_chat_model(
    spec: str | BaseChatModel,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    reasoning_effort: str | None = None,
    temperature: float = 0.0,
    max_tokens: int | None = None,
    cache_dir: Path | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    context_window: int | None = None,
) -> BaseChatModel:
    """The chat model a spec names (see the module docstring for the forms).

    Embedded and ``gguf:`` models are made once per spec and settings per process, so their
    weights load once. ``base_url``, ``api_key`` and ``reasoning_effort`` go to provider models
    (``init_chat_model``); a reasoning effort replaces the temperature, which reasoning models refuse.
    ``cache_dir`` is where embedded weights are assembled (default ``~/.cache/sleeptime/models``).
    ``timeout`` (seconds a call may take), ``max_retries`` and ``context_window`` go to an ``openai:``
    spec with ``base_url``, which resolves to :class:`sleeptime.servers.ServerChatModel`.
    Raises :class:`ModelSetupError` for an unknown spec, a missing package or a bad file.
    """
    if isinstance(spec, BaseChatModel):
        return spec
    if not isinstance(spec, str):
        raise ModelSetupError(f"a chat model spec must be a string or a BaseChatModel, got {type(spec).__name__}")
    kind, arg = parse_chat_spec(spec)
    if kind == "scripted":
        from sleeptime.testing import scripted_model

        return scripted_model()
    if kind not in _OWN:
        provided = _provider_options(kind, base_url, api_key, reasoning_effort, temperature, max_tokens)
        if kind == "openai" and base_url is not None:
            return _server_chat(arg, provided, timeout, max_retries, context_window)
        return _provider_chat(kind, arg, provided)
    _require_llama_cpp()  # before assembling a large file for nothing

    if kind == "embedded":
        path = ensure_gguf(arg, cache_dir=cache_dir)
        name = arg
    else:
        path = Path(arg).expanduser()
        if not path.is_file():
            raise ModelSetupError(f"GGUF file not found: {path}")
        name = path.name
    key = (str(path.resolve()), name, temperature, max_tokens)
    with _embedded_lock:
        model = _embedded_cache.get(key)
        if model is None:
            options: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens is not None else {}
            model = EmbeddedChatModel(model_name=name, model_path=str(path), temperature=temperature, **options)
            _embedded_cache[key] = model
        return model


def _require_llama_cpp() -> None:
    """Fail at resolution, not at the first call, when the embedded runtime is not installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelSetupError(LLAMA_CPP_MISSING)


def _provider_options(
    provider: str,
    base_url: str | None,
    api_key: str | None,
    reasoning_effort: str | None,
    temperature: float,
    max_tokens: int | None,
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if provider == "openai":
        options["stream_usage"] = True  # token counts on streamed replies too
    if base_url is not None:
        options["base_url"] = base_url
    if api_key is not None or base_url is not None:
        options["api_key"] = api_key or "not-needed"  # local OpenAI-compatible servers need no key
    if reasoning_effort is not None:
        options["reasoning_effort"] = reasoning_effort
    else:
        options["temperature"] = temperature
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    return options


def _server_chat(model: str, options: dict[str, Any], timeout: float | None, max_retries: int | None,
                 context_window: int | None) -> BaseChatModel:
    try:
        from sleeptime.servers import ServerChatModel
    except ImportError as exc:
        raise ModelSetupError(f"cannot create an 'openai' chat model: {exc}") from exc
    extra: dict[str, Any] = {"context_window": context_window}
    if timeout is not None:
        extra["timeout"] = timeout
    if max_retries is not None:
        extra["max_retries"] = max_retries
    return ServerChatModel(model=model, **options, **extra)


def _provider_chat(provider: str, model: str, options: dict[str, Any]) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    try:
        if provider == "anthropic":  # a cache breakpoint after the wake prompt's stable prefix
            from sleeptime.prompt_caching import cached_prefix_anthropic

            try:
                return cached_prefix_anthropic(model=model, **options)
            except ImportError as exc:
                raise ImportError(f"{exc}; pip install langchain-anthropic") from exc
        chat: BaseChatModel = init_chat_model(model, model_provider=provider, **options)
        return chat
    except ImportError as exc:  # the provider's integration package is not installed
        raise ModelSetupError(f"cannot create a {provider!r} chat model: {exc}") from exc
    except Exception as exc:  # an unknown provider, or e.g. no api_key and no OPENAI_API_KEY
        first = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelSetupError(f"cannot create {provider}:{model}: {first}; use {_chat_forms()}") from exc


def resolve_embeddings(
    spec: str | Embeddings = DEFAULT_EMBEDDINGS,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Embeddings:
    """The embeddings a spec names: an instance (as is), ``embedded:minilm`` or ``<provider>:<model>``
    through LangChain's ``init_embeddings`` (``openai:<model>`` with ``base_url`` for a compatible server)."""
    if isinstance(spec, Embeddings):
        return spec
    if not isinstance(spec, str):
        raise ModelSetupError(f"an embeddings spec must be a string or Embeddings, got {type(spec).__name__}")
    text = spec.strip()
    if text in (DEFAULT_EMBEDDINGS, "minilm"):
        from sleeptime.local.embeddings import MiniLMEmbeddings

        return MiniLMEmbeddings()
    kind, _, model = (part.strip() for part in text.partition(":"))
    forms = (f"use an Embeddings instance, {DEFAULT_EMBEDDINGS!r} or '<provider>:<model>' "
             "(e.g. 'openai:<model>', with base_url for an OpenAI-compatible server)")
    if not kind or not model or kind == "embedded":
        raise ModelSetupError(f"unknown embeddings spec {spec!r}; {forms}")
    from langchain.embeddings import init_embeddings

    options: dict[str, Any] = {}
    if base_url is not None:
        options["base_url"] = base_url
        if kind == "openai":
            # Counting tokens with tiktoken would download its tables; compatible servers do not need it.
            options["check_embedding_ctx_length"] = False
    if api_key is not None or base_url is not None:
        options["api_key"] = api_key or "not-needed"
    try:
        return init_embeddings(model, provider=kind, **options)
    except Exception as exc:  # unknown provider, missing package, no key
        first = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelSetupError(f"cannot create embeddings {kind}:{model}: {first}; {forms}") from exc


def sleep_model(cfg: SleepTimeConfig, *, temperature: float | None = None,
                max_tokens: int | None = None) -> BaseChatModel:
    """The run's sleep model (reflect, predict), bounded by ``max_tokens_sleep`` unless told less."""
    return resolve_chat_model(
        cfg.sleep_model,
        base_url=cfg.base_url,
        reasoning_effort=cfg.sleep_reasoning_effort,
        temperature=cfg.temperature if temperature is None else temperature,
        max_tokens=cfg.max_tokens_sleep if max_tokens is None else min(max_tokens, cfg.max_tokens_sleep),
        **_server_settings(cfg),
    )


def wake_model(cfg: SleepTimeConfig, *, max_tokens: int | None = None) -> BaseChatModel:
    """The run's wake model (answer, verify, match), bounded by ``max_tokens_wake`` unless told otherwise."""
    return resolve_chat_model(
        cfg.wake_model,
        base_url=cfg.base_url,
        reasoning_effort=cfg.reasoning_effort,
        temperature=cfg.temperature,
        max_tokens=max_tokens or cfg.max_tokens_wake,
        **_server_settings(cfg),
    )


def _server_settings(cfg: SleepTimeConfig) -> dict[str, Any]:
    return {"timeout": cfg.server_timeout, "max_retries": cfg.server_retries, "context_window": cfg.context_window}
