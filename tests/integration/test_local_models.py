"""The real embedded chat models (llama.cpp in process): SmolLM2-135M for the plumbing, one
Qwen2.5-Coder-0.5B answer for quality. Weights are assembled into a per-session temp cache."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from pydantic import BaseModel

pytest.importorskip("llama_cpp")

from sleeptime.local.chat import EmbeddedChatModel, PromptTooLongError
from sleeptime.local.gguf import ensure_gguf
from sleeptime.models import resolve_chat_model

PROMPT = [SystemMessage("You are a helpful assistant. Answer in one short sentence."), HumanMessage("Name a fruit.")]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def smol_path(model_cache: Path) -> Path:
    return ensure_gguf("smollm2-135m", cache_dir=model_cache, progress=False)


@pytest.fixture
def smol(model_cache: Path) -> EmbeddedChatModel:
    model = resolve_chat_model("embedded:smollm2-135m", max_tokens=40, cache_dir=model_cache)
    assert isinstance(model, EmbeddedChatModel)
    return model


def _assert_usage(usage: object, max_output: int) -> None:
    assert isinstance(usage, dict)
    assert usage["input_tokens"] > 10
    assert 0 < usage["output_tokens"] <= max_output
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_invoke_reports_usage(smol: EmbeddedChatModel) -> None:
    reply = smol.invoke(PROMPT)
    assert isinstance(reply.content, str)
    assert reply.content.strip()
    _assert_usage(reply.usage_metadata, 40)
    assert reply.response_metadata["finish_reason"] in ("stop", "length")


def test_stream_matches_invoke(smol: EmbeddedChatModel) -> None:
    reply = smol.invoke(PROMPT)
    chunks = list(smol.stream(PROMPT))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert len(chunks) > 2, "tokens arrive one by one"
    assert [c for c in chunks if c.usage_metadata] == [chunks[-1]], "usage comes once, at the end"
    text = "".join(str(c.content) for c in chunks)
    assert text == reply.content  # greedy decoding: the same answer
    assert chunks[-1].usage_metadata == reply.usage_metadata


async def test_async_matches_sync(smol: EmbeddedChatModel) -> None:
    reply = smol.invoke(PROMPT)
    areply = await smol.ainvoke(PROMPT)
    assert (areply.content, areply.usage_metadata) == (reply.content, reply.usage_metadata)
    chunks = [c async for c in smol.astream(PROMPT)]
    assert "".join(str(c.content) for c in chunks) == reply.content
    assert chunks[-1].usage_metadata == reply.usage_metadata


def test_json_mode_returns_parseable_json(smol: EmbeddedChatModel) -> None:
    bound = smol.bind(response_format={"type": "json_object"}, max_tokens=200)
    reply = bound.invoke("Describe a cat as a JSON object with keys name and color.")
    value = json.loads(str(reply.content))
    assert isinstance(value, dict)


class City(BaseModel):
    name: str
    country: str


def test_structured_output_with_a_schema(smol: EmbeddedChatModel) -> None:
    city = smol.with_structured_output(City).invoke("Paris is the capital of France. Give the city as JSON.")
    assert isinstance(city, City)
    assert city.name.strip()


def test_prompt_too_long(smol_path: Path) -> None:
    small = EmbeddedChatModel(model_name="smollm2-135m", model_path=str(smol_path), n_ctx=512, max_tokens=8)
    with pytest.raises(PromptTooLongError, match="n_ctx=512") as info:
        small.invoke("word " * 1000)
    assert info.value.prompt_tokens > 512
    with pytest.raises(PromptTooLongError):
        list(small.stream("word " * 1000))
    assert small.invoke("Say hi.").content  # the model still works afterwards


def test_threads_share_one_model_safely(smol: EmbeddedChatModel) -> None:
    expected = smol.invoke(PROMPT).content
    results: list[object] = []

    def work() -> None:
        results.append(smol.invoke(PROMPT).content)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_qwen_05b_does_simple_arithmetic(model_cache: Path) -> None:
    model = resolve_chat_model("embedded:qwen2.5-coder-0.5b", max_tokens=16, cache_dir=model_cache)
    reply = model.invoke("What is 2+3? Reply with just the number.")
    assert "5" in str(reply.content)
    _assert_usage(reply.usage_metadata, 16)
