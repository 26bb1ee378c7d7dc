"""Conversation mode: the chat agent reads the learned context; sleep never sees a partial turn."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from sleeptime.config import SleepTimeConfig
from sleeptime.facade import SleepTime
from sleeptime.graphs.chat import ChatState, TranscriptWatcher, build_chat_graph, complete_turns, render_transcript
from sleeptime.scheduler import FakeClock, IdleScheduler
from sleeptime.testing import ScriptedChatModel
from tests.scripts import staged_model


def turn(i: int) -> list[BaseMessage]:
    return [HumanMessage(f"My dog number {i} is called Rex{i}.", id=f"h{i}"), AIMessage(f"Noted, Rex{i}.", id=f"a{i}")]


def test_complete_turns_drop_a_trailing_human_message() -> None:
    messages = [*turn(1), *turn(2), HumanMessage("And my cat?", id="h3")]
    assert [m.id for m in complete_turns(messages)] == ["h1", "a1", "h2", "a2"]
    assert complete_turns([HumanMessage("hi", id="h")]) == []
    assert complete_turns([AIMessage("Welcome!", id="greeting")]) == []


def test_a_tool_calling_reply_is_not_a_complete_turn() -> None:
    calling = AIMessage("", id="a2", tool_calls=[{"name": "lookup", "args": {}, "id": "c1"}])
    messages = [*turn(1), HumanMessage("look it up", id="h2"), calling, ToolMessage("42", tool_call_id="c1", id="t1")]
    assert [m.id for m in complete_turns(messages)] == ["h1", "a1"]
    done = [*messages, AIMessage("It is 42.", id="a3")]
    assert complete_turns(done)[-1].id == "a3"


def test_render_transcript_names_speakers() -> None:
    assert render_transcript(turn(1)) == "User: My dog number 1 is called Rex1.\nAssistant: Noted, Rex1."


def make_app(store: InMemoryStore, model: ScriptedChatModel) -> SleepTime:
    return SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=1)


async def test_idle_gap_reflects_on_complete_turns_only(memory_store: InMemoryStore) -> None:
    seen: list[str] = []

    def reflect(messages: list[Any]) -> str:
        seen.append(messages[-1].text)
        return "The user has dogs named Rex1 and Rex2.\nSTATUS: DONE"

    app = make_app(memory_store, staged_model(reflect=reflect))
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock) as sched:
        watcher = TranscriptWatcher(sched)
        conversation = [*turn(1), *turn(2), HumanMessage("What about my cat Tom?", id="h3")]
        assert watcher.observe("chat-1", conversation)  # two complete turns, one partial
        assert watcher.last_processed["chat-1"] == "a2"
        clock.advance(10)
        await sched.asettle()
        # Still mid-turn (no reply yet): nothing new is complete, so no new sleep is scheduled.
        assert not watcher.observe("chat-1", conversation)
        clock.advance(100)
        await sched.asettle()
    assert len(seen) == 1
    assert "Rex2" in seen[0] and "cat Tom" not in seen[0]
    assert [e.kind for e in sched.timeline].count("sleep_started") == 1
    raw = app.learned_store().raw_text("chat-1")
    assert "cat Tom" not in raw and raw.rstrip().endswith("Noted, Rex2.")


async def test_a_turn_in_progress_pushes_back_a_pending_sleep(memory_store: InMemoryStore) -> None:
    app = make_app(memory_store, staged_model())
    clock = FakeClock()
    async with IdleScheduler(app, idle_after=10, clock=clock) as sched:
        watcher = TranscriptWatcher(sched)
        watcher.observe("chat-1", turn(1))
        clock.advance(8)
        watcher.observe("chat-1", [*turn(1), HumanMessage("more", id="h2")])  # user typing again
        clock.advance(8)
        await sched.asettle()
        assert "sleep_started" not in [e.kind for e in sched.timeline]
        clock.advance(2)
        await sched.asettle()
    assert [e.kind for e in sched.timeline].count("sleep_finished") == 1


def test_chat_graph_answers_with_the_latest_learned_context(memory_store: InMemoryStore) -> None:
    model = staged_model(respond="Your dogs are Rex1 and Rex2.")
    app = make_app(memory_store, model)
    graph = build_chat_graph().compile(store=memory_store, checkpointer=InMemorySaver())
    cfg = SleepTimeConfig(wake_model=model, sleep_model=model)
    thread: RunnableConfig = {"configurable": {"thread_id": "chat-1"}}
    first = graph.invoke(ChatState(messages=[HumanMessage("hi")]), thread, context=cfg)
    assert first["learned_version"] is None
    assert not any("notes about this conversation" in m.text for m in model.calls[-1])
    app.sleep("chat-1", render_transcript(turn(1)))
    second = graph.invoke(ChatState(messages=[HumanMessage("What are my dogs called?")]), thread, context=cfg)
    assert second["learned_version"] == 1
    prompt = model.calls[-1]
    assert "notes about this conversation (version 1)" in prompt[1].text
    assert "Pens cost $2" in prompt[1].text  # the scripted notes
    assert [m.type for m in second["messages"]] == ["human", "ai", "human", "ai"]
    assert second["messages"][-1].text == "Your dogs are Rex1 and Rex2."
    assert len(second["usage"]) == 2


def test_chat_graph_state_context_id_overrides_thread(memory_store: InMemoryStore) -> None:
    model = staged_model(respond="ok")
    make_app(memory_store, model).sleep("shared", "Notebooks cost $4 each.")
    graph = build_chat_graph().compile(store=memory_store)
    out = graph.invoke(
        ChatState(messages=[HumanMessage("hi")], context_id="shared"),
        {"configurable": {"thread_id": "someone"}},
        context=SleepTimeConfig(wake_model=model, sleep_model=model),
    )
    assert out["learned_version"] == 1
