"""Conversation mode: a chat agent whose conversation is the context.

At each turn the agent reads the latest learned context of its context id (the state's
`context_id`, else the thread id) from the store and answers with it. Between turns, a
`TranscriptWatcher` hands the transcript to the idle scheduler, which sleeps on it once the
conversation has been idle: only complete turns are ever sent (a human message still waiting for
its reply is left out), and only when a turn completed since the last processed message id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NotRequired

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from sleeptime.config import SleepTimeConfig
from sleeptime.models import wake_model
from sleeptime.nodes._runtime import config_of
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.structured import invoke_model
from sleeptime.usage import UsageRecord, record_usage

__all__ = ["ChatState", "TranscriptWatcher", "build_chat_graph", "complete_turns", "graph", "render_transcript"]

SYSTEM = """You are a helpful assistant in a long conversation. Answer the user's latest message.
Use your notes about the conversation so far when they help; they were written between turns."""

NOTES_BLOCK = "Your notes about this conversation (version {version}):\n{notes}"


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    context_id: NotRequired[str]
    """Which learned context to read; defaults to the thread id."""
    learned_version: NotRequired[int | None]
    """The learned-context version the last reply used (None: no notes yet)."""
    usage: NotRequired[list[UsageRecord]]


def context_id_of(state: ChatState, config: RunnableConfig) -> str | None:
    if state.get("context_id"):
        return state["context_id"]
    thread_id = (config.get("configurable") or {}).get("thread_id")
    return str(thread_id) if thread_id else None


def respond(state: ChatState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    config = get_config()
    messages: list[BaseMessage] = [SystemMessage(SYSTEM)]
    version: int | None = None
    context_id = context_id_of(state, config)
    if runtime.store is not None and context_id:
        learned = LearnedContextStore.shared(runtime.store, cfg.tenant).latest(context_id)
        if learned is not None:
            version = learned.version
            messages.append(SystemMessage(NOTES_BLOCK.format(version=version, notes=learned.text)))
    messages.extend(state["messages"])
    reply = invoke_model(wake_model(cfg), messages, node="respond")
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=reply.content)
    return {
        "messages": [reply],
        "learned_version": version,
        "usage": [*state.get("usage", []), record_usage(reply, phase="wake", node="respond")],
    }


def complete_turns(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The transcript up to the last complete turn: a trailing human message (or a tool-calling AI
    message still waiting for its tools) is not part of it."""
    seen_human = False
    end = 0
    for i, message in enumerate(messages):
        if isinstance(message, HumanMessage):
            seen_human = True
        elif isinstance(message, AIMessage) and seen_human and not message.tool_calls:
            end = i + 1
    return list(messages[:end])


def render_transcript(messages: Sequence[BaseMessage]) -> str:
    names = {"human": "User", "ai": "Assistant", "tool": "Tool", "system": "System"}
    return "\n".join(f"{names.get(m.type, m.type)}: {m.text}" for m in messages if m.text.strip())


class TranscriptWatcher:
    """Feeds a conversation to a scheduler: call `observe` after each turn (or any time).

    It sends the transcript up to the last complete turn when a turn completed since the last
    processed message id, and nothing otherwise. The transcript is the whole context: the sleep run
    replaces the previous revision with it.
    """

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.last_processed: dict[str, str] = {}

    def pending(self, context_id: str, messages: Sequence[BaseMessage]) -> tuple[str, str] | None:
        """(transcript, id of its last message) when there is a new complete turn, else None."""
        done = complete_turns(messages)
        if not done:
            return None
        last_id = done[-1].id or f"#{len(done)}"
        if self.last_processed.get(context_id) == last_id:
            return None
        return render_transcript(done), last_id

    def observe(self, context_id: str, messages: Sequence[BaseMessage]) -> bool:
        """Notify the scheduler of new complete turns; True when it was notified."""
        found = self.pending(context_id, messages)
        if found is None:
            self.scheduler.touch(context_id)  # activity: a pending sleep waits for the turn to end
            return False
        text, last_id = found
        self.scheduler.notify_change(context_id, text=text)
        self.last_processed[context_id] = last_id
        return True


ChatGraph = StateGraph[ChatState, SleepTimeConfig, ChatState, ChatState]


def build_chat_graph() -> ChatGraph:
    """The uncompiled chat graph; compile it with a store (and a checkpointer to keep threads)."""
    builder: ChatGraph = StateGraph(ChatState, context_schema=SleepTimeConfig)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    return builder


def _compiled() -> CompiledStateGraph[ChatState, SleepTimeConfig, ChatState, ChatState]:
    return build_chat_graph().compile(name="chat")


graph = _compiled()
