"""SleepTime, its answer tool and its retriever use the app's own store from inside other graphs.

A compiled graph invoked from a node of another LangGraph run takes that run's store (and
checkpointer); these tests run every SleepTime call inside `langchain.agents.create_agent` and
inside a custom `StateGraph` node, compiled with no store and with a different store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

from sleeptime.facade import SleepTime
from sleeptime.integrations import LearnedContextRetriever, create_answer_tool
from sleeptime.testing import HashEmbeddings

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


class ToolCallingFake(GenericFakeChatModel):
    """Replays `messages`; accepts tools like a tool-calling model would."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


def _call(name: str, question: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": {"question": question}, "id": "call-1"}])


def _outer_store(kind: str) -> BaseStore | None:
    if kind == "none":
        return None
    # A different store, indexed too, that holds no sleeptime data.
    return InMemoryStore(index={"dims": 16, "embed": HashEmbeddings(16), "fields": ["text"]})


STORES = ["none", "other"]


@pytest.mark.parametrize("outer", STORES)
def test_answer_tool_inside_create_agent(app: SleepTime, outer: str) -> None:
    app.sleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop")
    model = ToolCallingFake(messages=iter([_call(tool.name, "How much does Alice pay?"), AIMessage("She pays $6.")]))
    agent = create_agent(model, [tool], store=_outer_store(outer), checkpointer=InMemorySaver())
    out = agent.invoke({"messages": [HumanMessage("How much does Alice pay?")]}, {"configurable": {"thread_id": "t"}})
    (message,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.status == "success", message.text
    assert message.text.endswith("The answer is 6.")
    assert message.artifact == {**message.artifact, "context_id": "shop", "version": 1, "route": "learned"}
    assert out["messages"][-1].text == "She pays $6."


@pytest.mark.parametrize("outer", STORES)
async def test_answer_tool_inside_create_agent_async(app: SleepTime, outer: str) -> None:
    await app.asleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop")
    model = ToolCallingFake(messages=iter([_call(tool.name, "How much?"), AIMessage("done")]))
    agent = create_agent(model, [tool], store=_outer_store(outer))
    out = await agent.ainvoke({"messages": [HumanMessage("How much?")]})
    (message,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.status == "success", message.text
    assert message.artifact["version"] == 1


class _State(TypedDict, total=False):
    question: str
    results: dict[str, Any]


def _graph_calling(app: SleepTime, outer: str) -> Any:
    """A custom graph whose one node calls every SleepTime entry point."""

    def node(state: _State) -> _State:
        question = state["question"]
        slept = app.sleep("shop")
        answer = app.ask(question, "shop")
        streamed = "".join(app.stream_answer(question, "shop"))
        docs = LearnedContextRetriever.from_app(app, "shop").invoke(question)
        return {"results": {"slept": slept.version, "answer": answer.answer, "version": answer.version,
                            "streamed": streamed, "docs": [d.metadata["version"] for d in docs],
                            "contexts": [c.context_id for c in app.contexts()]}}

    async def anode(state: _State) -> _State:
        question = state["question"]
        slept = await app.asleep("shop")
        answer = await app.aask(question, "shop")
        streamed = "".join([t async for t in app.astream_answer(question, "shop")])
        docs = await LearnedContextRetriever.from_app(app, "shop").ainvoke(question)
        return {"results": {"slept": slept.version, "answer": answer.answer, "version": answer.version,
                            "streamed": streamed, "docs": [d.metadata["version"] for d in docs],
                            "contexts": [c.context_id for c in await app.acontexts()]}}

    builder = StateGraph(_State)
    builder.add_node("calls", anode if outer.startswith("async") else node)
    builder.add_edge(START, "calls")
    builder.add_edge("calls", END)
    return builder.compile(store=_outer_store(outer.removeprefix("async-")), checkpointer=InMemorySaver())


@pytest.mark.parametrize("outer", STORES)
def test_every_call_inside_a_state_graph_node(app: SleepTime, outer: str) -> None:
    app.ingest("shop", CONTEXT)
    graph = _graph_calling(app, outer)
    out = graph.invoke({"question": "How much does Alice pay?"}, {"configurable": {"thread_id": "t"}})
    results = out["results"]
    assert results["slept"] == 1 and results["version"] == 1
    assert results["answer"].endswith("The answer is 6.") and results["streamed"] == results["answer"]
    assert set(results["docs"]) == {1} and results["contexts"] == ["shop"]


@pytest.mark.parametrize("outer", [f"async-{s}" for s in STORES])
async def test_every_async_call_inside_a_state_graph_node(app: SleepTime, outer: str) -> None:
    app.ingest("shop", CONTEXT)
    graph = _graph_calling(app, outer)
    out = await graph.ainvoke({"question": "How much does Alice pay?"}, {"configurable": {"thread_id": "t"}})
    results = out["results"]
    assert results["slept"] == 1 and results["version"] == 1
    assert results["answer"].endswith("The answer is 6.") and results["streamed"] == results["answer"]
    assert set(results["docs"]) == {1}


def test_outer_graph_stream_still_streams_its_own_nodes(app: SleepTime) -> None:
    """The inner runs are not mixed into the outer graph's updates (nor into its checkpoints)."""
    app.sleep("shop", CONTEXT)
    graph = _graph_calling(app, "none")
    updates: Iterator[Any] = graph.stream({"question": "How much?"}, {"configurable": {"thread_id": "t"}},
                                          stream_mode="updates", subgraphs=True)
    namespaces = {ns for ns, _ in updates}
    assert namespaces == {()}
    assert graph.get_state({"configurable": {"thread_id": "t"}}).values["results"]["version"] == 2


def test_isolation_keeps_the_callers_context_variables(app: SleepTime) -> None:
    """Only LangChain's inherited run config is cleared; the caller's own context is left as it was."""
    import contextvars

    from langchain_core.runnables.config import var_child_runnable_config

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("caller")
    token = var_child_runnable_config.set({"configurable": {"thread_id": "outer"}})
    try:
        app.sleep("shop", CONTEXT)
        assert app.ask("How much?", "shop").version == 1
        assert var_child_runnable_config.get() == {"configurable": {"thread_id": "outer"}}
        assert marker.get() == "caller"
    finally:
        var_child_runnable_config.reset(token)


def test_return_direct_ends_the_agent_run_with_the_tool_answer(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop", return_direct=True)
    # Only one model reply is scripted: a second model turn would fail the run.
    model = ToolCallingFake(messages=iter([_call(tool.name, "How much does Alice pay?")]))
    out = create_agent(model, [tool]).invoke({"messages": [HumanMessage("How much does Alice pay?")]})
    last = out["messages"][-1]
    assert isinstance(last, ToolMessage) and last.text.endswith("The answer is 6.")
    assert last.artifact["version"] == 1
