"""Model spec resolution: no model is loaded and no socket is opened."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableBinding
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel

from sleeptime import models
from sleeptime.errors import ModelSetupError
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.embeddings import MiniLMEmbeddings
from sleeptime.models import (
    EMBEDDING_DIMS,
    parse_chat_spec,
    resolve_chat_model,
    resolve_embeddings,
)
from sleeptime.structured import json_mode
from sleeptime.testing import HashEmbeddings, ScriptedChatModel

REAL_REQUIRE_LLAMA_CPP = models._require_llama_cpp


@pytest.fixture(autouse=True)
def _llama_cpp_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolution checks that llama-cpp-python is importable; these tests do not need it."""
    monkeypatch.setattr(models, "_require_llama_cpp", lambda: None)


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """ensure_gguf replaced by one that records the names asked for and returns a dummy file."""
    asked: list[str] = []
    target = tmp_path / "dummy.gguf"
    target.write_bytes(b"GGUF")

    def ensure(name: str, *, cache_dir: Path | None = None, progress: bool = True) -> Path:
        asked.append(name)
        return target

    monkeypatch.setattr(models, "ensure_gguf", ensure)
    monkeypatch.setattr(models, "_embedded_cache", {})
    return asked


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("embedded:qwen2.5-coder-0.5b", ("embedded", "qwen2.5-coder-0.5b")),
        ("smollm2-135m", ("embedded", "smollm2-135m")),
        (" qwen2.5-coder-1.5b ", ("embedded", "qwen2.5-coder-1.5b")),
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("openai:org/model:tag", ("openai", "org/model:tag")),
        ("gguf:/models/x.gguf", ("gguf", "/models/x.gguf")),
    ],
)
def test_parse_chat_spec(spec: str, expected: tuple[str, str]) -> None:
    assert parse_chat_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "gpt-4o", "openai:", "embedded:", "gguf:", ":model", "scripted:x"])
def test_unknown_specs_list_the_valid_forms(spec: str) -> None:
    with pytest.raises(ModelSetupError, match=r"embedded:<name>.*gguf:/path.*scripted.*<provider>:<model>"):
        parse_chat_spec(spec)


def test_other_providers_go_to_init_chat_model() -> None:
    assert parse_chat_spec("anthropic:claude-x") == ("anthropic", "claude-x")
    # Not installed here: the error names the package to install, as init_chat_model reports it.
    with pytest.raises(ModelSetupError, match="langchain-anthropic"):
        resolve_chat_model("anthropic:claude-x")
    with pytest.raises(ModelSetupError, match=r"nosuch.*Supported model providers.*<provider>:<model>"):
        resolve_chat_model("nosuch:model")


def test_unknown_embedded_name_lists_registry() -> None:
    with pytest.raises(ModelSetupError, match=r"unknown embedded model 'tiny'.*smollm2-135m"):
        resolve_chat_model("embedded:tiny")


def test_scripted_spec_is_the_ready_made_scripted_model() -> None:
    model = resolve_chat_model("scripted")
    assert isinstance(model, ScriptedChatModel)
    assert {"reflect", "predict", "answer", "verify", "match", "respond"} <= set(model.by_node)
    assert resolve_chat_model(" scripted ") is not model  # a fresh one each time: calls are recorded per model


def test_instance_is_returned_as_is() -> None:
    model = ScriptedChatModel(replies=["hi"])
    assert resolve_chat_model(model, base_url="http://127.0.0.1:1", temperature=0.9) is model


def test_non_string_spec_is_refused() -> None:
    with pytest.raises(ModelSetupError, match="int"):
        resolve_chat_model(42)  # type: ignore[arg-type]


def test_embedded_spec_makes_one_model_per_settings(fake_gguf: list[str], tmp_path: Path) -> None:
    first = resolve_chat_model("embedded:smollm2-135m", max_tokens=64, cache_dir=tmp_path)
    assert isinstance(first, EmbeddedChatModel)
    assert first.model_name == "smollm2-135m"
    assert first.model_path == str(tmp_path / "dummy.gguf")
    assert (first.max_tokens, first.temperature) == (64, 0.0)
    assert resolve_chat_model("smollm2-135m", max_tokens=64) is first
    other = resolve_chat_model("smollm2-135m", max_tokens=64, temperature=0.7)
    assert other is not first
    assert other.temperature == 0.7
    assert fake_gguf == ["smollm2-135m"] * 3


def test_embedded_default_max_tokens_is_the_models(fake_gguf: list[str]) -> None:
    model = resolve_chat_model("embedded:qwen2.5-coder-0.5b")
    assert isinstance(model, EmbeddedChatModel)
    assert model.max_tokens == EmbeddedChatModel.model_fields["max_tokens"].default


def test_gguf_spec(tmp_path: Path) -> None:
    path = tmp_path / "my-model.gguf"
    path.write_bytes(b"GGUF")
    model = resolve_chat_model(f"gguf:{path}")
    assert isinstance(model, EmbeddedChatModel)
    assert (model.model_name, model.model_path) == ("my-model.gguf", str(path))


def test_gguf_spec_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelSetupError, match="GGUF file not found"):
        resolve_chat_model(f"gguf:{tmp_path / 'absent.gguf'}")


def test_openai_spec_with_base_url() -> None:
    model = resolve_chat_model("openai:qwen", base_url="http://127.0.0.1:8080/v1", temperature=0.3, max_tokens=99)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "qwen"
    assert model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "not-needed"
    assert model.stream_usage is True
    assert model.temperature == 0.3
    assert model.max_tokens == 99
    assert model.reasoning_effort is None


def test_openai_reasoning_effort_omits_temperature() -> None:
    model = resolve_chat_model(
        "openai:o4-mini", base_url="http://127.0.0.1:8080/v1", api_key="k", reasoning_effort="low"
    )
    assert isinstance(model, ChatOpenAI)
    assert model.reasoning_effort == "low"
    assert model.temperature is None
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "k"


def test_openai_without_key_or_server_is_a_setup_error() -> None:
    with pytest.raises(ModelSetupError, match="gpt-4o-mini"):
        resolve_chat_model("openai:gpt-4o-mini")


def test_embeddings_specs() -> None:
    assert isinstance(resolve_embeddings(), MiniLMEmbeddings)  # lazily loaded: nothing runs here
    assert isinstance(resolve_embeddings("embedded:minilm"), MiniLMEmbeddings)
    fake = HashEmbeddings(8)
    assert resolve_embeddings(fake) is fake
    assert EMBEDDING_DIMS["embedded:minilm"] == 384

    remote = resolve_embeddings("openai:nomic", base_url="http://127.0.0.1:8080/v1")
    assert isinstance(remote, OpenAIEmbeddings)
    assert (remote.model, remote.openai_api_base) == ("nomic", "http://127.0.0.1:8080/v1")
    assert remote.check_embedding_ctx_length is False  # tiktoken would need a download


@pytest.mark.parametrize("spec", ["minilm-large", "openai:", "hash"])
def test_unknown_embeddings_spec(spec: str) -> None:
    with pytest.raises(ModelSetupError, match="embedded:minilm"):
        resolve_embeddings(spec)


def test_embedded_spec_without_llama_cpp_names_the_build_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_require_llama_cpp", REAL_REQUIRE_LLAMA_CPP)  # with llama_cpp made absent
    monkeypatch.setattr(models, "ensure_gguf", lambda *a, **k: pytest.fail("nothing is assembled"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a)
    )
    with pytest.raises(ModelSetupError, match=r"llama-cpp-python.*DGGML_NATIVE=OFF.*llama-cpp-python==0\.3\.36"):
        resolve_chat_model("embedded:smollm2-135m")


def test_json_mode_is_chosen_by_capability_not_class_name(fake_gguf: list[str]) -> None:
    class Schema(BaseModel):
        answer: str

    embedded = resolve_chat_model("embedded:smollm2-135m")
    bound = json_mode(embedded, Schema)
    assert isinstance(bound, RunnableBinding)
    assert bound.kwargs["response_format"] == {"type": "json_object", "schema": Schema.model_json_schema()}
    remote = json_mode(resolve_chat_model("openai:qwen", base_url="http://127.0.0.1:8080/v1"), Schema)
    assert isinstance(remote, RunnableBinding) and remote.kwargs["response_format"] == {"type": "json_object"}

    class Renamed(ScriptedChatModel):  # a model that says it can, whatever its class is called
        def bind_json_schema(self, schema: dict[str, Any]) -> Any:
            return self.bind(stop=["schema:" + ",".join(schema["properties"])])

    assert json_mode(Renamed(), Schema).kwargs == {"stop": ["schema:answer"]}  # type: ignore[attr-defined]
    plain = ScriptedChatModel()
    assert json_mode(plain, Schema) is plain
