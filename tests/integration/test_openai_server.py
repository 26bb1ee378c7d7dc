"""A real OpenAI-compatible server: llama-cpp-python's own (`python -m llama_cpp.server`) on 127.0.0.1,
the 0.5B model, one thread pinned to core 1 at lower priority, behind `openai:` specs with base_url.

Every generation here is bounded (long eval runs share the machine's two cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from sleeptime import SleepTime, SleepTimeConfig
from sleeptime.errors import ContextWindowError, ServerUnavailableError
from sleeptime.models import sleep_model, wake_model
from sleeptime.notes.strategies import WORKED, Experiment
from sleeptime.servers import ServerChatModel
from tests.servers import SERVER_N_CTX, SERVER_SPEC, SHOP, free_port, qwen_server, require_llama_cpp_server

require_llama_cpp_server()

N_CTX, SPEC = SERVER_N_CTX, SERVER_SPEC


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with qwen_server() as url:
        yield url


def _cfg(url: str, **kwargs: object) -> SleepTimeConfig:
    return SleepTimeConfig(sleep_model=SPEC, wake_model=SPEC, base_url=url, **kwargs)  # type: ignore[arg-type]


def test_a_sleep_call_stops_at_max_tokens_sleep(server: str) -> None:
    model = sleep_model(_cfg(server, max_tokens_sleep=128))
    assert isinstance(model, ServerChatModel)
    # Unbounded, the 0.5B writes this story past 300 tokens (measured: finish_reason 'length' at 300).
    reply = model.invoke([SystemMessage("You write long, complete answers."),
                          HumanMessage("Write a 2000-word story about a lighthouse keeper.")])
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == 128, "the limit binds: the reply was cut at 128 tokens"
    assert reply.response_metadata["finish_reason"] == "length"


def test_the_warm_up_call_is_one_token(server: str) -> None:
    reply = wake_model(_cfg(server), max_tokens=1).invoke("Write a poem about the sea.", max_tokens=1)
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] <= 1


def test_a_prompt_over_the_window_is_refused_before_the_call(server: str) -> None:
    # llama-cpp-python publishes no window: the configured one, then the one its refusal names.
    configured = wake_model(_cfg(server, context_window=N_CTX))
    with pytest.raises(ContextWindowError) as caught:
        configured.invoke("apple " * 3000)
    assert caught.value.before_call
    assert (caught.value.window, caught.value.url) == (N_CTX, server)
    assert caught.value.prompt_tokens is not None
    assert caught.value.prompt_tokens > N_CTX
    unconfigured = wake_model(_cfg(server))
    with pytest.raises(ContextWindowError) as refused:
        unconfigured.invoke("pear " * 3000)
    assert not refused.value.before_call
    assert refused.value.window == N_CTX
    with pytest.raises(ContextWindowError) as learned:
        unconfigured.invoke("plum " * 3000)
    assert learned.value.before_call, "the window learned from the refusal is checked before the next call"


def test_a_dead_server_is_a_typed_error_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    model = wake_model(_cfg(url, server_retries=0, server_timeout=5))
    with pytest.raises(ServerUnavailableError, match=url.replace(".", r"\.")):
        model.invoke("hello")


def test_ingest_sleep_ask_and_stream_over_the_server(server: str, tmp_path: Path) -> None:
    with SleepTime(path=tmp_path / "store", sleep_model=SPEC, wake_model=SPEC, base_url=server, max_rounds=1,
                   n_questions=1, samples=1, max_tokens_sleep=128, max_tokens_wake=96, budget=0,
                   warm_prefix="on") as app:
        app.ingest("shop", SHOP)
        early = app.ask("How much does Alice pay?", "shop")
        assert early.route == "test-time"
        assert early.reason.startswith("no published learned context")
        # Worked notes: the 0.5B's default name = expression notes on this context all fail checking (measured:
        # "label = apples", "calculation = 3 * 2 + 2 * 4 = 10"), and such a sleep publishes nothing; worked
        # notes keep the lines the checker cannot read, as unchecked.
        result = app.sleep("shop", experiment=Experiment(WORKED))
        assert result.published, result.status
        learned = app.learned("shop")
        assert learned is not None
        assert learned.sleep_usage, "the version records its sleep calls"
        assert all(r["output_tokens"] <= 128 for r in learned.sleep_usage if r["phase"] == "sleep")
        answer = app.ask("How much does Alice pay?", "shop")
        assert answer.route in ("learned", "predicted")
        assert answer.wake_usage.output_tokens <= 96 * (1 + answer.escalations) * 2
        tokens = list(app.stream_answer("How much does Bob pay?", "shop"))
        assert len(tokens) > 1


def test_an_agent_over_the_server_calls_the_answer_tool(server: str, tmp_path: Path) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import ToolMessage

    from sleeptime.integrations import create_answer_tool
    from sleeptime.testing import HashEmbeddings, scripted_model

    scripted = scripted_model()  # the tool's app: only the agent's model is the server here
    with SleepTime(path=tmp_path / "store", sleep_model=scripted, wake_model=scripted,
                   embeddings=HashEmbeddings(64)) as app:
        app.ingest("shop", SHOP)
        agent = create_agent(
            wake_model(_cfg(server, max_tokens_wake=96)),
            [create_answer_tool(app, "shop", return_direct=True)],
            system_prompt="You are a helpful shop assistant. Use the tool to answer questions about the shop.",
        )
        result = agent.invoke({"messages": [{"role": "user", "content": "How much does Alice spend in total?"}]})
    tools = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tools, f"the agent answered without the tool: {result['messages'][-1].content!r}"
