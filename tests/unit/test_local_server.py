"""The llama-cpp-python launcher (sleeptime.local.server) without a model: counting the prompt tokens a
completion reused, the usage it reports, and ``/props``.

``FakeLlama`` calls ``eval`` as ``Llama.generate`` does (llama-cpp-python 0.3.x): it keeps the longest prefix of
the prompt its state holds (one token less when that is the whole prompt: the logits need a refresh), evaluates
the rest in one ``eval``, then one ``eval`` per sampled token.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from sleeptime.local.server import PrefixReuseCounting, _reporting, with_cached_tokens
from sleeptime.servers import cached_tokens_of

SAMPLED = 99


class FakeLlama:
    def __init__(self) -> None:
        self.held: list[int] = []
        self.evals: list[list[int]] = []

    def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        tokens = list(tokens)
        shared = 0
        for a, b in zip(self.held, tokens, strict=False):
            if a != b:
                break
            shared += 1
        keep = shared - 1 if shared == len(tokens) else shared
        self.held = self.held[:keep]
        rest = tokens[keep:]
        while True:
            self.eval(rest)
            yield SAMPLED
            rest = [SAMPLED]

    def eval(self, tokens: Sequence[int]) -> None:
        self.evals.append(list(tokens))
        self.held += list(tokens)

    def create_completion(self, prompt: list[int], max_tokens: int = 2, stream: bool = False) -> Any:
        generator = self.generate(prompt)
        out = [next(generator) for _ in range(max_tokens)]
        if stream:
            return iter([{"choices": [{"text": str(t)}]} for t in out])
        return {"choices": [{"text": " ".join(map(str, out))}],
                "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(out),
                          "total_tokens": len(prompt) + len(out)}}


class CountingFake(PrefixReuseCounting, FakeLlama):
    pass


def test_with_cached_tokens_writes_the_openai_usage_details() -> None:
    response = {"usage": {"prompt_tokens": 114, "completion_tokens": 3, "total_tokens": 117}}
    out = with_cached_tokens(response, 107)
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 107}
    assert out["usage"]["prompt_tokens"] == 114
    assert cached_tokens_of(out) == 107, "the client reads what the launcher writes"
    assert with_cached_tokens({"choices": []}, 5) == {"choices": []}, "no usage: nothing invented"


def test_reused_tokens_are_the_prompt_tokens_not_evaluated() -> None:
    llama = CountingFake()
    prefix = list(range(1, 41))
    first = llama.create_completion([*prefix, 50, 51])
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, "a cold state reuses nothing"
    second = llama.create_completion([*prefix, 60, 61, 62])
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] == 40
    assert llama.evals[-2] == [60, 61, 62], "only the new suffix was evaluated (then the sampled token)"
    held = list(llama.held[:-1])  # the state after the last eval of a sampled token: all of it but that token
    third = llama.create_completion(held)
    assert third["usage"]["prompt_tokens_details"]["cached_tokens"] == len(held) - 1, \
        "a prompt held whole replays its last token to refresh the logits"
    fourth = llama.create_completion([7, *prefix])
    assert fourth["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, "a different first token: a cold prefill"


def test_a_streamed_completion_is_passed_through() -> None:
    llama = CountingFake()
    llama.create_completion([1, 2, 3, 4])
    chunks = list(llama.create_completion([1, 2, 3, 5], stream=True))
    assert all("usage" not in chunk for chunk in chunks)
    assert llama.reused_prompt_tokens == 3, "the count is kept even where the reply cannot carry it"


def test_reporting_changes_only_the_class() -> None:
    llama: Any = FakeLlama()
    llama.create_completion([1, 2, 3])
    same = _reporting(llama)
    assert same is llama and isinstance(llama, PrefixReuseCounting) and isinstance(llama, FakeLlama)
    assert llama.held[:3] == [1, 2, 3], "the state is the one the server loaded"
    assert _reporting(llama).__class__ is llama.__class__, "applied once"
    reply = llama.create_completion([1, 2, 3, 8])
    assert reply["usage"]["prompt_tokens_details"]["cached_tokens"] == 3


@pytest.mark.skipif(importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python's [server] extra is not installed")
def test_the_app_publishes_its_window_and_keeps_the_usage_details(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient
    from llama_cpp.llama_types import CompletionUsage
    from llama_cpp.server import app as server_app
    from llama_cpp.server.errors import RouteErrorHandler
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    class Loaded(FakeLlama):
        def n_ctx(self) -> int:
            return 1536

    class Proxy:
        def __init__(self) -> None:
            self._current_model: Any = Loaded()
            self._current_model_alias = "qwen"

        @staticmethod
        def load_llama_from_model_settings(settings: Any) -> Any:
            return Loaded()

    def usage() -> dict[str, Any]:  # what the launcher's model returns, under llama-cpp-python's declared type
        reply = with_cached_tokens({"usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}, 7)
        return dict(reply["usage"])

    # A router like llama-cpp-python's: its route class, a response model that drops what it does not declare.
    router = APIRouter(route_class=RouteErrorHandler)
    router.add_api_route("/v1/completions", usage, methods=["POST"], response_model=CompletionUsage)
    router.add_api_route("/v1/models", usage, methods=["GET"], response_model=CompletionUsage)
    proxy = Proxy()

    def fake_create_app(**kwargs: Any) -> FastAPI:  # what the real one does, without loading a model
        server_app._llama_proxy = proxy  # type: ignore[assignment]
        app = FastAPI()
        app.include_router(router)
        return app

    monkeypatch.setattr(server_app, "_llama_proxy", None)
    monkeypatch.setattr(server_app, "router", router)
    monkeypatch.setattr(server_app, "create_app", fake_create_app)
    from sleeptime.local.server import create_app

    client = TestClient(create_app(ServerSettings(), [ModelSettings(model="m.gguf", n_ctx=2048)]))
    props = client.get("/props").json()
    assert props["default_generation_settings"]["n_ctx"] == 1536, "the loaded model's window, not the setting"
    assert client.post("/v1/completions").json()["prompt_tokens_details"] == {"cached_tokens": 7}
    assert "prompt_tokens_details" not in client.get("/v1/models").json(), "other routes keep their model"
    assert all(isinstance(r, RouteErrorHandler) for r in router.routes), "the error formatting is kept"
    assert isinstance(proxy._current_model, PrefixReuseCounting)
    assert isinstance(proxy.load_llama_from_model_settings(None), PrefixReuseCounting), "a switched model reports"
