"""EmbeddedChatModel's plumbing over a fake llama.cpp object: parameters, usage, errors, locking,
and that the sync and async APIs give the same results. The real model is tested in
tests/integration/test_local_models.py."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from pydantic import BaseModel

from sleeptime.errors import InvalidInputError
from sleeptime.local import chat, loading
from sleeptime.local.chat import EmbeddedChatModel, PromptTooLongError

EOS = 0
REPLY_TOKENS = {11: "Hello", 12: " there", 13: " friend"}


class FakeLlama:
    """Answers like llama_cpp.Llama.create_chat_completion; streams through `generate` as it does."""

    def __init__(self, reply_json: str | None = None) -> None:
        self.calls: list[tuple[list[dict[str, str]], bool, dict[str, Any]]] = []
        self.active = 0
        self.max_active = 0
        self.reply_json = reply_json
        self.delay = 0.0

    def token_eos(self) -> int:
        return EOS

    def generate(self, tokens: list[int], **kwargs: Any) -> Iterator[int]:
        yield from [11, 12, 13, EOS]

    def _enter(self, messages: list[dict[str, str]], stream: bool, params: dict[str, Any]) -> None:
        self.calls.append((messages, stream, params))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay)
        if "TOO LONG" in messages[-1]["content"]:
            self.active -= 1
            raise ValueError("Requested tokens (5000) exceed context window of 4096")

    def create_chat_completion(
        self, messages: list[dict[str, str]], stream: bool = False, **params: Any
    ) -> Any:
        if stream:
            return self._stream(messages, params)
        self._enter(messages, stream, params)
        self.active -= 1
        content = self.reply_json or "Hello there friend"
        return {
            "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }

    def _stream(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self._enter(messages, True, params)
        try:
            for token in self.generate([1] * 7):
                if token == EOS:
                    break
                yield {"choices": [{"delta": {"content": REPLY_TOKENS[token]}, "finish_reason": None}]}
            yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
        finally:
            self.active -= 1


@pytest.fixture
def gguf_file(tmp_path: Path) -> Path:
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture
def fake(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLlama:
    llama = FakeLlama()
    monkeypatch.setitem(chat._loaded, (str(gguf_file.resolve()), 4096, 2), chat._Loaded(llama))
    return llama


@pytest.fixture
def model(gguf_file: Path, fake: FakeLlama) -> EmbeddedChatModel:
    return EmbeddedChatModel(model_name="fake", model_path=str(gguf_file), n_threads=2)


def test_invoke_sends_roles_and_defaults_and_reports_usage(model: EmbeddedChatModel, fake: FakeLlama) -> None:
    reply = model.invoke([SystemMessage("be brief"), HumanMessage("hi"), AIMessage("yo"), HumanMessage("again")])
    assert reply.content == "Hello there friend"
    assert reply.usage_metadata == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert reply.response_metadata["finish_reason"] == "stop"
    messages, stream, params = fake.calls[0]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "again"
    assert stream is False
    assert params == {"temperature": 0.0, "max_tokens": 512, "repeat_penalty": 1.1}


def test_bound_and_call_options_reach_llama(model: EmbeddedChatModel, fake: FakeLlama) -> None:
    bound = model.bind(response_format={"type": "json_object"}, max_tokens=5, seed=3)
    bound.invoke("hi", stop=["\n"])
    params = fake.calls[0][2]
    assert params == {
        "temperature": 0.0,
        "max_tokens": 5,
        "seed": 3,
        "repeat_penalty": 1.1,
        "response_format": {"type": "json_object"},
        "stop": ["\n"],
    }
    model.invoke("hi")
    assert "response_format" not in fake.calls[1][2], "a binding does not leak into the model"


def test_unknown_option_is_refused(model: EmbeddedChatModel) -> None:
    with pytest.raises(TypeError, match="tools"):
        model.invoke("hi", tools=[{"type": "function"}])


def test_stream_yields_tokens_then_usage(model: EmbeddedChatModel, fake: FakeLlama) -> None:
    chunks = list(model.stream("hi"))
    assert [c.content for c in chunks[:-1]] == ["Hello", " there", " friend"]
    last = chunks[-1]
    assert last.content == ""
    # The end token is sampled but, as llama.cpp counts, not part of the completion.
    assert last.usage_metadata == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert last.response_metadata["finish_reason"] == "stop"
    assert "generate" not in vars(fake), "the counting wrapper is removed"
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.content == "Hello there friend"


async def test_sync_and_async_agree(model: EmbeddedChatModel) -> None:
    sync_reply = model.invoke("hi")
    async_reply = await model.ainvoke("hi")
    assert (async_reply.content, async_reply.usage_metadata) == (sync_reply.content, sync_reply.usage_metadata)

    sync_chunks = [(c.content, c.usage_metadata) for c in model.stream("hi")]
    async_chunks = [(c.content, c.usage_metadata) async for c in model.astream("hi")]
    assert async_chunks == sync_chunks


async def test_astream_does_not_block_the_event_loop(model: EmbeddedChatModel, fake: FakeLlama) -> None:
    fake.delay = 0.2
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    chunks = [c async for c in model.astream("hi")]
    await model.ainvoke("hi")
    task.cancel()
    assert len(chunks) == 4
    assert ticks > 0, "the loop kept running while the model worked"


async def test_abandoned_astream_releases_the_model(model: EmbeddedChatModel) -> None:
    stream = model.astream("hi")
    first = await stream.__anext__()
    assert isinstance(first, AIMessageChunk)
    await stream.aclose()
    # The lock was released: another call completes.
    reply = await asyncio.wait_for(model.ainvoke("hi"), timeout=30)
    assert reply.content == "Hello there friend"


def test_calls_are_serialised_per_loaded_model(model: EmbeddedChatModel, fake: FakeLlama) -> None:
    fake.delay = 0.05
    threads = [threading.Thread(target=model.invoke, args=("hi",)) for _ in range(4)]
    threads += [threading.Thread(target=lambda: list(model.stream("hi"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.calls) == 6
    assert fake.max_active == 1


@pytest.mark.parametrize("streaming", [False, True])
def test_prompt_too_long_is_a_clear_value_error(model: EmbeddedChatModel, streaming: bool) -> None:
    def call() -> object:
        return list(model.stream("TOO LONG")) if streaming else model.invoke("TOO LONG")

    with pytest.raises(PromptTooLongError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, InvalidInputError)
    assert (err.prompt_tokens, err.n_ctx) == (5000, 4096)
    assert "n_ctx=4096" in str(err)
    assert "5000 tokens" in str(err)


def test_n_ctx_is_rounded_up_to_llama_cpp_padding(gguf_file: Path) -> None:
    assert EmbeddedChatModel(model_path=str(gguf_file), n_ctx=300).n_ctx == 512
    assert EmbeddedChatModel(model_path=str(gguf_file), n_ctx=4096).n_ctx == 4096
    with pytest.raises(ValueError, match="n_ctx"):
        EmbeddedChatModel(model_path=str(gguf_file), n_ctx=0)


class Person(BaseModel):
    name: str
    age: int


def test_structured_output_constrains_with_the_schema(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    llama = FakeLlama(reply_json=json.dumps({"name": "Bob", "age": 30}))
    monkeypatch.setitem(chat._loaded, (str(gguf_file.resolve()), 4096, 2), chat._Loaded(llama))
    model = EmbeddedChatModel(model_path=str(gguf_file), n_threads=2)
    assert model.with_structured_output(Person).invoke("Bob is 30") == Person(name="Bob", age=30)
    response_format = llama.calls[0][2]["response_format"]
    assert response_format["type"] == "json_object"
    assert set(response_format["schema"]["properties"]) == {"name", "age"}

    raw = model.with_structured_output(Person, include_raw=True).invoke("x")
    assert raw["parsed"] == Person(name="Bob", age=30)
    assert raw["parsing_error"] is None
    assert isinstance(raw["raw"], AIMessage)


def test_structured_output_reports_parsing_errors(model: EmbeddedChatModel) -> None:
    result = model.with_structured_output(Person, include_raw=True).invoke("x")  # reply is not JSON
    assert result["parsed"] is None
    assert result["parsing_error"] is not None


def test_one_llama_per_file_context_and_threads(
    gguf_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, Any]] = []

    class CountingLlama(FakeLlama):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            made.append(kwargs)

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=CountingLlama))
    monkeypatch.setattr(chat, "_loaded", {})
    a = EmbeddedChatModel(model_path=str(gguf_file), n_threads=2)
    b = EmbeddedChatModel(model_path=str(gguf_file), n_threads=2, temperature=0.5)
    c = EmbeddedChatModel(model_path=str(gguf_file), n_threads=2, n_ctx=1024)
    for m in (a, b, c, a):
        m.invoke("hi")
    assert len(made) == 2
    assert made[0]["verbose"] is False
    assert made[0]["n_ctx"] == 4096
    assert made[1]["n_ctx"] == 1024


def test_calling_the_model_inside_its_own_open_stream_is_an_error(model: EmbeddedChatModel) -> None:
    stream = model.stream("hi")
    next(stream)
    with pytest.raises(RuntimeError, match="stream from the same model is still open"):
        model.invoke("again")
    rest = list(stream)
    assert rest[-1].usage_metadata is not None
    assert model.invoke("again").content == "Hello there friend"


def test_default_threads_follow_the_cpus_the_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # A process pinned to one core (taskset -c 0) must not run two llama.cpp threads on it.
    monkeypatch.setattr(loading.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert EmbeddedChatModel(model_path="m.gguf").n_threads == 1
    monkeypatch.setattr(loading.os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    assert EmbeddedChatModel(model_path="m.gguf").n_threads == 3
