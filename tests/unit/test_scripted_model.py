"""ScriptedChatModel routes replies by the LangGraph node that calls it, never by prompt text."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from sleeptime.facade import SleepTime
from sleeptime.testing import OUTSIDE_GRAPH, ScriptedChatModel, UnscriptedNodeError, scripted_model


class _State(TypedDict, total=False):
    prompt: str
    first: str
    second: str


def _two_node_graph(model: ScriptedChatModel) -> Any:
    def first(state: _State) -> dict[str, Any]:
        return {"first": model.invoke([HumanMessage(state["prompt"])]).text}

    def second(state: _State) -> dict[str, Any]:
        # The same prompt as `first`: only the node tells them apart.
        return {"second": model.invoke([HumanMessage(state["prompt"])]).text}

    builder = StateGraph(_State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    return builder.compile()


def test_replies_follow_the_calling_node_not_the_prompt() -> None:
    model = ScriptedChatModel(by_node={"first": "one", "second": ["two", "three"]})
    graph = _two_node_graph(model)
    assert graph.invoke({"prompt": "same words"}) == {"prompt": "same words", "first": "one", "second": "two"}
    out = graph.invoke({"prompt": "completely reworded prompt"})
    assert (out["first"], out["second"]) == ("one", "three")  # a list is consumed in order
    assert graph.invoke({"prompt": "x"})["second"] == "three"  # ... and its last reply repeats
    assert model.nodes == ["first", "second"] * 3
    assert [c[0].text for c in model.calls_for("first")] == ["same words", "completely reworded prompt", "x"]


async def test_async_and_streamed_calls_are_routed_too() -> None:
    model = ScriptedChatModel(by_node={"first": "one two", "second": "three"})
    graph = _two_node_graph(model)
    out = await graph.ainvoke({"prompt": "p"})
    assert (out["first"], out["second"]) == ("one two", "three")
    tokens = [chunk.text for chunk, meta in graph.stream({"prompt": "p"}, stream_mode="messages")
              if meta["langgraph_node"] == "first"]
    assert "".join(tokens) == "one two"


def test_a_node_with_no_reply_is_a_clear_error() -> None:
    model = ScriptedChatModel(by_node={"first": "one"})
    with pytest.raises(UnscriptedNodeError, match=r"no reply for node 'second'; scripted nodes: \['first'\]"):
        _two_node_graph(model).invoke({"prompt": "p"})


def test_calls_outside_a_graph_use_their_own_key() -> None:
    model = ScriptedChatModel(by_node={OUTSIDE_GRAPH: "outside", "first": "inside"})
    assert model.invoke([HumanMessage("hi")]).text == "outside"
    assert model.nodes == [OUTSIDE_GRAPH]
    with pytest.raises(UnscriptedNodeError, match="<outside graph>"):
        ScriptedChatModel(by_node={"first": "x"}).invoke("hi")


def test_ordered_replies_and_default_still_work() -> None:
    model = ScriptedChatModel(replies=["a", "b"], default="z")
    assert [model.invoke("q").text for _ in range(3)] == ["a", "b", "z"]
    cycling = ScriptedChatModel(replies=["a", "b"], cycle=True)
    assert [cycling.invoke("q").text for _ in range(3)] == ["a", "b", "a"]
    with pytest.raises(RuntimeError, match="ran out of replies after 0"):
        ScriptedChatModel().invoke("q")
    failing = ScriptedChatModel(by_node={OUTSIDE_GRAPH: lambda m: ValueError(m[-1].text)})  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="boom"):
        failing.invoke("boom")


def test_usage_is_reported_as_words() -> None:
    reply = ScriptedChatModel(replies=["three words here"]).invoke([SystemMessage("s"), HumanMessage("a b")])
    assert isinstance(reply, AIMessage) and reply.usage_metadata is not None
    assert (reply.usage_metadata["input_tokens"], reply.usage_metadata["output_tokens"]) == (3, 3)


def test_the_ready_made_model_runs_both_graphs(memory_store: Any) -> None:
    model = scripted_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1, verify="model")
    slept = app.sleep("shop", "A shop sells pens at $2 each.\nAlice buys 3 pens.")
    assert slept.published and slept.questions[0]["answer"].startswith("$2, 3")  # then the notes' numbers
    answer = app.ask("How much does one pen cost?", "shop")
    assert answer.answer == "From my notes: key_number_1 = 2" and answer.verdict == "accept"
    assert set(model.nodes) == {"reflect", "predict", "answer", "verify"}
