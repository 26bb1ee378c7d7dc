"""The project's launcher (`python -m sleeptime.local.server`): llama-cpp-python's own server app whose model
reports the prompt tokens it reused (``usage.prompt_tokens_details.cached_tokens``) and publishes its window
(``/props``). The 0.5B model on 127.0.0.1, one thread pinned to core 1 at lower priority; every generation is
bounded. Stock llama-cpp-python's server is covered by test_openai_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from sleeptime import SleepTime, SleepTimeConfig
from sleeptime.errors import ContextWindowError
from sleeptime.models import wake_model
from sleeptime.servers import ServerChatModel
from tests.servers import SERVER_N_CTX, SERVER_SPEC, SHOP, qwen_server, require_llama_cpp_server

require_llama_cpp_server()

N_CTX, SPEC = SERVER_N_CTX, SERVER_SPEC


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with qwen_server(module="sleeptime.local.server") as url:
        yield url


def _cfg(url: str, **kwargs: object) -> SleepTimeConfig:
    return SleepTimeConfig(sleep_model=SPEC, wake_model=SPEC, base_url=url, **kwargs)  # type: ignore[arg-type]


def _cached(reply: object) -> int:
    assert isinstance(reply, AIMessage) and reply.usage_metadata is not None
    return int(dict(reply.usage_metadata.get("input_token_details") or {}).get("cache_read", 0) or 0)


def test_a_shared_prefix_is_reported_as_cached_tokens(server: str) -> None:
    model = wake_model(_cfg(server, max_tokens_wake=4))
    system = SystemMessage("You answer questions about this shop. " + SHOP * 4)
    unrelated = model.invoke([HumanMessage("Name one colour.")])  # the state now holds another prompt
    assert _cached(unrelated) < 10, "a different prompt reuses at most the chat template's first tokens"
    first = model.invoke([system, HumanMessage("How much does Alice pay?")])
    second = model.invoke([system, HumanMessage("How much does Bob pay?")])
    assert first.usage_metadata is not None and second.usage_metadata is not None
    prompt = second.usage_metadata["input_tokens"]
    cached = _cached(second)
    assert prompt > 100
    # Everything up to the question's first differing token is reused; the question's own tokens are not.
    assert prompt - 15 <= cached < prompt, (cached, prompt)


def test_a_warmed_ask_reads_cached_tokens(server: str, tmp_path: Path) -> None:
    from sleeptime.testing import HashEmbeddings, scripted_model

    # Sleep is scripted (instant); the wake model, its warm-up at publish and the answer are the server.
    with SleepTime(path=tmp_path / "store", sleep_model=scripted_model(), wake_model=SPEC, base_url=server,
                   embeddings=HashEmbeddings(64), max_tokens_wake=16, budget=0, warm_prefix="on") as app:
        app.ingest("shop", SHOP)
        slept = app.sleep("shop")
        assert slept.published
        assert slept.warm_usage.calls == 1 and slept.warm_usage.output_tokens <= 1, \
            "the publish warmed the server's prefix with a one-token call"
        answer = app.ask("How much does Alice pay?", "shop")
    assert answer.route in ("learned", "predicted")
    assert answer.wake_usage.cache_read_tokens > 0, answer.wake_usage
    assert answer.wake_usage.cache_read_tokens < answer.wake_usage.input_tokens


def test_the_published_window_refuses_before_the_call(server: str) -> None:
    model = wake_model(_cfg(server))  # no context_window configured: the server's /props says it
    assert isinstance(model, ServerChatModel)
    assert model.known_window() == N_CTX
    with pytest.raises(ContextWindowError) as caught:
        model.invoke("apple " * 3000)
    assert caught.value.before_call, "refused before the call, from the published window"
    assert (caught.value.window, caught.value.url) == (N_CTX, server)
    assert caught.value.prompt_tokens is not None and caught.value.prompt_tokens > N_CTX


def test_the_server_ends_an_answer_at_the_prompts_next_block(server: str) -> None:
    from sleeptime.prompts.answer import ANSWER_STOPS

    model = wake_model(_cfg(server, max_tokens_wake=48))
    lines = "Question: one\nQuestion: two\nQuestion: three\nQuestion: four"
    reply = model.invoke([HumanMessage(f"Repeat these lines exactly, nothing else:\n{lines}")],
                         stop=list(ANSWER_STOPS))
    assert reply.response_metadata["finish_reason"] == "stop"
    assert "two" not in reply.text and "four" not in reply.text, reply.text


def test_evals_over_the_server_with_two_examples_in_flight(server: str, tmp_path: Path) -> None:
    from evals.__main__ import main
    from evals.records import RECORDS_FILE, read_records

    out = tmp_path / "pareto"
    assert main(["pareto", "--out", str(out), "--dataset", "tiny", "--limit", "2", "--model", SPEC, "--base-url",
                 server, "--concurrency", "2", "--budgets", "0", "--max-rounds", "1", "--n-questions", "0",
                 "--max-tokens-sleep", "48", "--max-tokens-wake", "24", "--no-progress"]) == 0
    records = read_records(out / RECORDS_FILE)
    answers = [r for r in records if r.get("mode") in ("test-time", "sleep")]
    assert sorted(str(r["mode"]) for r in answers) == ["sleep", "sleep", "test-time", "test-time"], records
    assert not [r for r in answers if r.get("error")], answers
    assert all(0 < int(str(r["output_tokens"])) <= 24 for r in answers), "every wake call bounded by the server"
    sleeps = [r for r in records if r.get("mode") == "sleep-run"]
    assert len(sleeps) == 2 and all(r["published"] for r in sleeps), sleeps
    for r in sleeps:  # every sleep call bounded at --max-tokens-sleep
        assert 0 < int(str(r["sleep_output_tokens"])) <= 48 * int(str(r["sleep_calls"])), r
    assert len({r["example_id"] for r in answers}) == 2
