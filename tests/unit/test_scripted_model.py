"""ScriptedChatModel routes replies by the LangGraph node that calls it, never by prompt text."""

from __future__ import annotations

from pathlib import Path
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


def _graph_nodes() -> dict[str, set[str]]:
    """Every node of every compiled graph the library ships, read from the graph objects."""
    from sleeptime.graphs import chat, sleep, wake

    graphs = {"sleep": sleep.graph, "wake": wake.graph, "chat": chat.graph}
    return {name: {n for n in graph.nodes if not n.startswith("__")} for name, graph in graphs.items()}


def test_the_ready_made_model_has_a_reply_for_every_node_of_every_graph() -> None:
    nodes = _graph_nodes()
    assert {"reflect_part", "reduce", "answer", "respond"} <= set().union(*nodes.values())  # the read works
    model = scripted_model()
    for graph, names in nodes.items():
        for node in sorted(names):
            # As LangGraph calls it from inside the node: the node's name is in the run metadata.
            reply = model.invoke([SystemMessage("s"), HumanMessage("Part a.py:1-3:\ndef f(): return 1")],
                                 config={"metadata": {"langgraph_node": node}})
            assert reply.text.strip(), f"{graph}/{node}: empty reply"
    assert set(model.nodes) == set().union(*nodes.values())


def _module(name: str) -> str:
    body = [f'"""Module {name}: helpers for {name}."""', ""]
    for i in range(12):
        body += [f"def {name}_add_{i}(value):", f'    """Return value plus {i}, as {name} needs."""',
                 f"    return value + {i}", ""]
    return "\n".join(body)


def test_the_scripted_specs_run_a_folder_part_by_part_end_to_end(memory_store: Any, tmp_path: Path) -> None:
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    for name in names:
        (tmp_path / f"{name}.py").write_text(_module(name))
    # 1500 tokens hold no more than a few of the eight files: the sleep must go part by part.
    app = SleepTime(store=memory_store, sleep_model="scripted", wake_model="scripted", context_window=1500,
                    max_rounds=1, verify="model")
    assert sorted(app.ingest("code", folder=tmp_path).sources) == sorted(f"{n}.py" for n in names)

    slept = app.sleep("code")
    assert slept.published and slept.version == 1, slept.status
    assert all(f"{n}.py" in slept.learned[0] for n in names)  # notes on the whole name every part
    assert slept.usage.calls >= len(names) + 2  # a note per part, then the whole, then its questions
    assert slept.questions and "beta.py" in slept.questions[0]["answer"]

    answer = app.ask("What does beta_add_3 return?", "code")
    assert answer.verdict == "accept" and answer.answer.startswith("From ")
    assert not answer.answer.startswith("From the context: [")  # a fact, not a citation header
    assert answer.sources
