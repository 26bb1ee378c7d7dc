"""OpenAI-compatible servers (sleeptime.servers): request payloads, windows, cached tokens, typed errors.

No sockets: the server's probe answers are faked by replacing `sleeptime.servers._get_json`.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from sleeptime import SleepTimeConfig
from sleeptime.errors import ContextWindowError, ServerError, ServerTimeoutError, ServerUnavailableError
from sleeptime.large.windows import window_of
from sleeptime.models import sleep_model, wake_model
from sleeptime.servers import ServerChatModel, cached_tokens_of, server_root, text_tool_call, window_from_refusal

URL = "http://127.0.0.1:8080/v1"


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the fake server answers, by URL (absent: no such endpoint); window probes are not cached."""
    answers: dict[str, Any] = {}
    monkeypatch.setattr("sleeptime.servers._windows", {})
    monkeypatch.setattr("sleeptime.servers._get_json", lambda url, body=None: answers.get(url))
    return answers


def _model(**kwargs: Any) -> ServerChatModel:
    cfg = SleepTimeConfig(sleep_model="openai:qwen", wake_model="openai:qwen", base_url=URL, **kwargs)
    model = sleep_model(cfg)
    assert isinstance(model, ServerChatModel)
    return model


def test_openai_spec_with_base_url_is_a_server_model_with_config_settings(probes: dict[str, Any]) -> None:
    model = _model(server_timeout=12.5, server_retries=5, context_window=4096, max_tokens_sleep=128)
    assert (model.request_timeout, model.max_retries, model.context_window, model.max_tokens) == (12.5, 5, 4096, 128)
    assert model.url == URL
    assert isinstance(wake_model(SleepTimeConfig(wake_model="openai:qwen", base_url=URL)), ServerChatModel)


def test_the_limit_is_sent_as_max_tokens_too(probes: dict[str, Any]) -> None:
    model = _model(max_tokens_sleep=128)
    payload = model._get_request_payload([HumanMessage("hi")])
    assert payload["max_tokens"] == payload["max_completion_tokens"] == 128
    assert payload["extra_body"]["cache_prompt"] is True
    one = model._get_request_payload([HumanMessage("hi")], max_tokens=1)  # the warm-up's call
    assert one["max_tokens"] == one["max_completion_tokens"] == 1


def test_keep_prefix_off_sends_no_cache_prompt(probes: dict[str, Any]) -> None:
    model = _model().model_copy(update={"keep_prefix": False})
    assert "cache_prompt" not in model._get_request_payload([HumanMessage("hi")]).get("extra_body", {})


def test_window_published_by_llama_cpp_props(probes: dict[str, Any]) -> None:
    probes["http://127.0.0.1:8080/props"] = {"default_generation_settings": {"n_ctx": 2048}}
    model = _model()
    assert model.known_window() == 2048
    assert window_of(model).tokens == 2048
    assert window_of(model, 1024).tokens == 1024


def test_window_published_by_vllm_models(probes: dict[str, Any]) -> None:
    probes[f"{URL}/models"] = {"data": [{"id": "other", "max_model_len": 9000},
                                        {"id": "qwen", "max_model_len": 8192}]}
    assert _model().known_window() == 8192


def test_no_published_window_uses_the_config_then_the_default(probes: dict[str, Any]) -> None:
    assert _model().known_window() is None
    assert window_of(_model()).tokens == 32_768
    assert _model(context_window=3000).known_window() == 3000


def test_a_prompt_over_the_window_is_refused_before_the_call(probes: dict[str, Any]) -> None:
    probes["http://127.0.0.1:8080/props"] = {"n_ctx": 512}
    probes["http://127.0.0.1:8080/tokenize"] = {"tokens": list(range(700))}  # the server's own count
    model = _model()
    with pytest.raises(ContextWindowError) as caught:
        model._get_request_payload([SystemMessage("s"), HumanMessage("x " * 400)])
    err = caught.value
    assert (err.window, err.prompt_tokens, err.before_call, err.url) == (512, 700 + 16, True, URL)
    assert "512-token window" in str(err)
    assert URL in str(err)
    model._get_request_payload([HumanMessage("short")])  # fits: no error


def test_a_prompt_that_the_server_counts_as_fitting_passes(probes: dict[str, Any]) -> None:
    probes["http://127.0.0.1:8080/props"] = {"n_ctx": 512}
    probes["http://127.0.0.1:8080/extras/tokenize/count"] = {"count": 300}  # llama-cpp-python
    _model()._get_request_payload([HumanMessage("x " * 400)])


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("This model's maximum context length is 2048 tokens. However, you requested 2300 tokens "
         "(2200 in the messages, 100 in the completion).", (2048, 2200)),
        ("This model's maximum context length is 2048 tokens, however you requested 2300 tokens", (2048, None)),
        ("request (2300 tokens) exceeds the available context size (2048 tokens), try increasing it", (2048, 2300)),
        ("Invalid API key", None),
    ],
)
def test_context_length_refusals_are_read(message: str, expected: tuple[int, int | None] | None) -> None:
    assert window_from_refusal(message) == expected


def _status_error(status: int, message: str) -> openai.APIStatusError:
    request = httpx.Request("POST", f"{URL}/chat/completions")
    return openai.BadRequestError(message, response=httpx.Response(status, request=request), body=None)


def test_failures_are_typed_and_name_the_server(probes: dict[str, Any]) -> None:
    model = _model(server_retries=3)
    request = httpx.Request("POST", f"{URL}/chat/completions")
    down = model._typed(openai.APIConnectionError(request=request))
    assert isinstance(down, ServerUnavailableError)
    assert isinstance(down, ConnectionError)
    assert URL in str(down)
    assert "3 retries" in str(down)
    slow = model._typed(openai.APITimeoutError(request=request))
    assert isinstance(slow, ServerTimeoutError)
    assert "300.0 s" in str(slow)
    other = model._typed(_status_error(400, "bad grammar"))
    assert type(other) is ServerError
    assert "HTTP 400" in str(other)


def test_a_refusal_teaches_the_window(probes: dict[str, Any]) -> None:
    model = _model()
    refusal = model._typed(_status_error(400, "This model's maximum context length is 1024 tokens. However, "
                                              "you requested 1500 tokens (1400 in the messages, 100 in the "
                                              "completion)."))
    assert isinstance(refusal, ContextWindowError)
    assert (refusal.window, refusal.prompt_tokens, refusal.before_call) == (1024, 1400, False)
    assert model.known_window() == 1024
    with pytest.raises(ContextWindowError, match="before the call"):
        model._get_request_payload([HumanMessage("word " * 700)])  # the next one is refused before the call


def test_cached_tokens_from_what_servers_return() -> None:
    assert cached_tokens_of({"usage": {"prompt_tokens": 114, "prompt_tokens_details": {"cached_tokens": 107}}}) == 107
    assert cached_tokens_of({"usage": {"prompt_tokens": 114}, "timings": {"cache_n": 100}}) == 100
    assert cached_tokens_of({"usage": {"prompt_tokens": 114}}) == 0


def test_llama_cpp_timings_become_cache_read(probes: dict[str, Any]) -> None:
    response = {
        "id": "x", "object": "chat.completion", "created": 0, "model": "qwen",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 114, "completion_tokens": 2, "total_tokens": 116},
        "timings": {"cache_n": 107, "prompt_n": 7},
    }
    message = _model()._create_chat_result(response).generations[0].message
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"]["cache_read"] == 107  # type: ignore[attr-defined]


def test_server_root() -> None:
    assert server_root("http://h:1/v1/") == "http://h:1"
    assert server_root("http://h:1") == "http://h:1"


def test_a_stream_without_usage_is_reported_once(probes: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from langchain_openai import ChatOpenAI

    def bare(self: Any, *args: Any, **kwargs: Any) -> Any:
        yield ChatGenerationChunk(message=AIMessageChunk(content="4"))
        yield ChatGenerationChunk(message=AIMessageChunk(content="2"))

    monkeypatch.setattr(ChatOpenAI, "_stream", bare)
    monkeypatch.setattr("sleeptime.servers._uncounted_servers", set())
    with caplog.at_level("WARNING", logger="sleeptime.servers"):
        assert "".join(c.message.text for c in _model()._stream([HumanMessage("hi")])) == "42"
        list(_model()._stream([HumanMessage("hi")]))  # another model on the same server: not again
    assert [r.getMessage() for r in caplog.records if "no token usage" in r.getMessage()] == [
        f"server {URL} sent no token usage on a streamed reply (llama-cpp-python's server does not support "
        "stream_options.include_usage): streamed calls count 0 tokens"]


def test_a_tool_calling_turn_has_empty_content_not_null(probes: dict[str, Any]) -> None:
    from langchain_core.messages import AIMessage, ToolMessage

    call = {"name": "answer", "args": {"question": "How much?"}, "id": "call_1"}
    payload = _model()._get_request_payload([HumanMessage("How much?"), AIMessage("", tool_calls=[call]),
                                             ToolMessage("14", tool_call_id="call_1")])
    assistant = payload["messages"][1]
    assert assistant["role"] == "assistant" and assistant["content"] == ""
    assert assistant["tool_calls"][0]["function"]["name"] == "answer"


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "answer", "arguments": {"question": "How much?"}}',
        '<tool_call>\n{"name": "answer", "arguments": {"question": "How much?"}}\n</tool_call>',
        '```json\n{"name": "answer", "arguments": "{\\"question\\": \\"How much?\\"}"}\n```',
        '{"name": "answer", "arguments": {"question": "How much?"}',  # one brace short, as the 0.5B writes it
        '{{"name": "answer", "arguments": {"question": "How much?"}}}',  # doubled, as the 1.5B writes it
        '{{"name": "answer", "arguments": {"question": "How much?"}}',
    ],
)
def test_a_tool_call_left_in_the_text_is_read(text: str) -> None:
    call = text_tool_call(text, {"answer"})
    assert call is not None
    assert (call["name"], call["args"]) == ("answer", {"question": "How much?"})


@pytest.mark.parametrize("text", ['{"name": "other", "arguments": {}}', "The answer is 14.", '{"name": "answer"'])
def test_text_that_is_not_a_bound_tool_call_stays_text(text: str) -> None:
    assert text_tool_call(text, {"answer"}) is None


def test_text_tool_calls_apply_only_when_tools_were_bound(probes: dict[str, Any]) -> None:
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    def result() -> ChatResult:
        text = '{"name": "answer", "arguments": {"question": "How much?"}}'
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    tools = [{"type": "function", "function": {"name": "answer", "parameters": {}}}]
    called = _model()._text_tool_calls(result(), {"tools": tools}).generations[0].message
    assert isinstance(called, AIMessage)
    assert called.tool_calls[0]["name"] == "answer" and called.content == ""
    plain = _model()._text_tool_calls(result(), {}).generations[0].message
    assert isinstance(plain, AIMessage) and not plain.tool_calls


def test_openai_itself_gets_neither_max_tokens_nor_cache_prompt(probes: dict[str, Any]) -> None:
    cfg = SleepTimeConfig(sleep_model="openai:o4-mini", base_url="https://api.openai.com/v1", max_tokens_sleep=64)
    model = sleep_model(cfg)
    assert isinstance(model, ServerChatModel)
    payload = model._get_request_payload([HumanMessage("hi")])
    assert payload["max_completion_tokens"] == 64
    assert "max_tokens" not in payload
    assert "cache_prompt" not in (payload.get("extra_body") or {})


def test_a_server_wake_answer_stops_at_the_prompts_next_block(probes: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_openai import ChatOpenAI
    from langgraph.runtime import Runtime

    from sleeptime.nodes.wake.answer import answer
    from sleeptime.prompts.answer import ANSWER_STOPS

    seen: list[tuple[str, list[str] | None]] = []

    def reply(self: ServerChatModel, messages: Any, stop: list[str] | None = None, run_manager: Any = None,
              **kwargs: Any) -> ChatResult:
        seen.append((self.url, stop))
        return ChatResult(generations=[ChatGeneration(message=AIMessage("The answer is 14."))])

    monkeypatch.setattr(ChatOpenAI, "_generate", reply)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    state: Any = {"question": "How much does Alice pay?", "learned": "Alice pays $14.", "context_id": "shop"}
    hosted = "https://api.openai.com/v1"
    for url in (URL, hosted):
        out = answer(state, Runtime(context=SleepTimeConfig(wake_model="openai:qwen", base_url=url)))
        assert out["answer"] == "The answer is 14."
    assert seen == [(URL, list(ANSWER_STOPS)), (hosted, None)], "OpenAI itself gets no stop"
    assert all(stop.startswith("\n") for stop in ANSWER_STOPS), "only at a line's start"
