"""SleepTime, its answer tool and its retriever use the app's own store from inside other graphs.

A compiled graph invoked from a node of another LangGraph run takes that run's store (and
checkpointer); these tests run every SleepTime call inside `langchain.agents.create_agent` and
inside a custom `StateGraph` node, compiled with no store and with a different store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
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


class _Runs(BaseCallbackHandler):
    """Every chain and tool run started: name -> (run_id, parent_run_id, tags)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, UUID, UUID | None, list[str]]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                       tags: list[str] | None = None, **kwargs: Any) -> None:
        self.runs.append((str(kwargs.get("name")), run_id, parent_run_id, list(tags or [])))

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None,
                      tags: list[str] | None = None, **kwargs: Any) -> None:
        self.runs.append((f"tool:{serialized.get('name')}", run_id, parent_run_id, list(tags or [])))

    def named(self, name: str) -> list[tuple[str, UUID, UUID | None, list[str]]]:
        return [r for r in self.runs if r[0] == name]

    def children(self, run_id: UUID) -> list[str]:
        return [r[0] for r in self.runs if r[2] == run_id]


def test_ask_and_sleep_trace_under_the_callers_callbacks(app: SleepTime) -> None:
    runs = _Runs()
    slept = app.sleep("shop", CONTEXT, callbacks=[runs])
    assert slept.version == 1
    ((_, sleep_id, parent, _),) = runs.named("sleep")
    assert parent is None, "a top-level run of its own when the caller has none"
    assert {"ingest", "reflect", "merge", "predict", "publish"} <= set(runs.children(sleep_id))
    runs.runs.clear()
    answer = app.ask("How much?", "shop", config={"callbacks": [runs], "tags": ["caller"],
                                                  "configurable": {"thread_id": "not-the-apps"}})
    assert answer.version == 1, "the caller's configurable does not reach the run: the app's store answers"
    ((_, wake_id, _, tags),) = runs.named("wake")
    assert "caller" in tags
    assert "answer" in runs.children(wake_id)
    runs.runs.clear()
    app.ask("How much?", "shop")
    assert runs.runs == [], "no callbacks given: none called"


@pytest.mark.parametrize("outer", STORES)
def test_the_tools_wake_run_nests_under_the_agents_tool_run(app: SleepTime, outer: str) -> None:
    app.sleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop")
    model = ToolCallingFake(messages=iter([_call(tool.name, "How much does Alice pay?"), AIMessage("$6.")]))
    agent = create_agent(model, [tool], store=_outer_store(outer), checkpointer=InMemorySaver())
    runs = _Runs()
    out = agent.invoke({"messages": [HumanMessage("How much does Alice pay?")]},
                       {"configurable": {"thread_id": "t"}, "callbacks": [runs]})
    (message,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.artifact["version"] == 1, "still the app's own store"
    ((_, tool_id, _, _),) = runs.named(f"tool:{tool.name}")
    ((_, _, wake_parent, _),) = runs.named("wake")
    assert wake_parent == tool_id, "the wake graph's run is a child of the agent's tool run"
    assert len([r for r in runs.runs if r[0] == "answer"]) == 1, "its nodes are traced too"


async def test_the_async_tools_wake_run_nests_under_the_agents_tool_run(app: SleepTime) -> None:
    await app.asleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop")
    model = ToolCallingFake(messages=iter([_call(tool.name, "How much?"), AIMessage("done")]))
    runs = _Runs()
    await create_agent(model, [tool]).ainvoke({"messages": [HumanMessage("How much?")]}, {"callbacks": [runs]})
    ((_, tool_id, _, _),) = runs.named(f"tool:{tool.name}")
    ((_, _, wake_parent, _),) = runs.named("wake")
    assert wake_parent == tool_id
