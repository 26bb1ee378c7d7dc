"""llama-cpp-python's OpenAI-compatible server for a GGUF, reporting the prompt tokens it reused and its window.

Run with: ``python -m sleeptime.local.server --model PATH.gguf [--n_ctx 2048 --cache true ...]``
(the same flags as ``python -m llama_cpp.server``; it serves the same app, ``llama_cpp.server.app.create_app``).

Stock llama-cpp-python (0.3.x) reuses a prompt's prefix from the KV state it holds (and from ``--cache``), but
says nothing about it: its usage has prompt, completion and total tokens only, and it publishes no context
length, so a client can neither show what a warmed prefix saved nor size a prompt to the window. This launcher
adds, and changes nothing else:

* ``usage.prompt_tokens_details.cached_tokens`` on every non-streamed completion (the form OpenAI and vLLM
  send, which :class:`sleeptime.servers.ServerChatModel` reads): the prompt tokens llama.cpp did not evaluate
  for that completion because its KV state already held them. The figure is measured, not estimated: it is the
  prompt's length less the tokens ``Llama.generate`` hands to its first ``eval`` after its own prefix match
  (against the tokens it holds, after any state ``--cache`` loaded). Streamed replies carry no usage in
  llama-cpp-python, and none here. The two completion routes lose their declared response model (a TypedDict
  of three usage counts that FastAPI would filter the field out by); their endpoints and errors are unchanged.
* ``GET /props`` with ``default_generation_settings.n_ctx``, as llama.cpp's own server publishes it, so
  ``ServerChatModel`` refuses a prompt that does not fit before the call (:class:`sleeptime.errors.ContextWindowError`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.server.settings import ModelSettings

__all__ = ["PrefixReuseCounting", "create_app", "main", "with_cached_tokens"]


def with_cached_tokens(response: dict[str, Any], cached: int) -> dict[str, Any]:
    """``response`` (a completion or chat completion) with ``usage.prompt_tokens_details.cached_tokens``."""
    usage = response.get("usage")
    if isinstance(usage, dict):
        details = dict(usage.get("prompt_tokens_details") or {})
        details["cached_tokens"] = cached
        usage["prompt_tokens_details"] = details
    return response


class PrefixReuseCounting:
    """Mixed in before ``llama_cpp.Llama``: ``reused_prompt_tokens`` of the last completion, and non-streamed
    completions that report it.

    ``Llama.generate`` matches the prompt against the tokens its KV state holds, keeps that prefix and passes
    only the rest to its first ``eval`` (none when the whole prompt is held, one when it must refresh the
    logits); every later ``eval`` is a sampled token. So the first ``eval`` of a ``generate`` tells what was
    reused.
    """

    reused_prompt_tokens: int = 0
    """Prompt tokens the last completion took from the KV state instead of evaluating them."""

    _unevaluated_prompt: int | None = None
    """The prompt's length while ``generate`` has not yet evaluated it; None otherwise."""

    def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        tokens = list(tokens)
        self.reused_prompt_tokens = 0
        self._unevaluated_prompt = len(tokens)
        try:
            yield from super().generate(tokens, *args, **kwargs)  # type: ignore[misc]
        finally:
            self._unevaluated_prompt = None

    def eval(self, tokens: Sequence[int]) -> None:
        if self._unevaluated_prompt is not None:
            self.reused_prompt_tokens = max(self._unevaluated_prompt - len(tokens), 0)
            self._unevaluated_prompt = None
        super().eval(tokens)  # type: ignore[misc]

    def create_completion(self, *args: Any, **kwargs: Any) -> Any:
        result = super().create_completion(*args, **kwargs)  # type: ignore[misc]
        if isinstance(result, dict):  # streamed: an iterator of chunks without usage
            return with_cached_tokens(result, self.reused_prompt_tokens)
        return result


def _reporting(model: Llama) -> Llama:
    """The loaded ``Llama`` as a :class:`PrefixReuseCounting` one (the same object: only its class changes, to a
    subclass that adds methods and no state of its own, so the server's loader stays llama-cpp-python's)."""
    base = type(model)
    if not isinstance(model, PrefixReuseCounting):
        model.__class__ = type(f"Reporting{base.__name__}", (PrefixReuseCounting, base), {})
    return model


def create_app(server_settings: Any, model_settings: list[Any]) -> Any:
    """llama-cpp-python's FastAPI app for these settings, its models reporting reused tokens, plus ``/props``."""
    from llama_cpp.server import app as server_app

    _unfiltered(server_app.router, COMPLETION_ROUTES)  # before create_app includes the router
    app = server_app.create_app(server_settings=server_settings, model_settings=model_settings)
    proxy = server_app._llama_proxy  # what create_app built and loaded (one model at a time)
    if proxy is None:
        raise RuntimeError("llama_cpp.server.app.create_app loaded no model")
    load = proxy.load_llama_from_model_settings

    def load_reporting(settings: ModelSettings) -> Llama:  # the proxy's loader, on a model switch
        return _reporting(load(settings))

    proxy.load_llama_from_model_settings = load_reporting  # type: ignore[method-assign]
    loaded = proxy._current_model
    if loaded is not None:
        _reporting(loaded)

    def props() -> dict[str, Any]:
        # No request lock: a window probe must not wait behind a long generation.
        current = proxy._current_model
        n_ctx = int(current.n_ctx()) if current is not None else int(model_settings[0].n_ctx)
        settings = {"n_ctx": n_ctx, "model": proxy._current_model_alias}
        return {"default_generation_settings": settings, "n_ctx": n_ctx}

    app.add_api_route("/props", props, methods=["GET"], summary="Window (llama.cpp's /props form)")
    return app


COMPLETION_ROUTES = frozenset({"/v1/completions", "/v1/chat/completions"})


def _unfiltered(router: Any, paths: frozenset[str]) -> None:
    """The router's routes at ``paths`` without their response model: llama-cpp-python declares usage as a
    TypedDict of three counts, and FastAPI's validation against it drops ``prompt_tokens_details``. Endpoint,
    dependencies and route class (its error formatting, which clients parse for context-length refusals) are
    kept; a route already without one is left as it is."""
    from fastapi.routing import APIRoute

    for i, route in enumerate(router.routes):
        if isinstance(route, APIRoute) and route.path in paths and route.response_model is not None:
            router.routes[i] = type(route)(
                route.path, route.endpoint, response_model=None, methods=sorted(route.methods or ()),
                dependencies=list(route.dependencies), summary=route.summary, tags=route.tags,
                responses=route.responses, name=route.name)


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    parser = argparse.ArgumentParser(
        prog="python -m sleeptime.local.server",
        description="llama-cpp-python's OpenAI-compatible server, reporting cached prompt tokens and its window.",
    )
    add_args_from_model(parser, Settings)
    args = parser.parse_args(argv)
    server_settings = parse_model_from_args(ServerSettings, args)
    model_settings = [parse_model_from_args(ModelSettings, args)]
    app = create_app(server_settings, model_settings)
    uvicorn.run(app, host=os.getenv("HOST", server_settings.host), port=int(os.getenv("PORT", server_settings.port)),
                ssl_keyfile=server_settings.ssl_keyfile, ssl_certfile=server_settings.ssl_certfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
