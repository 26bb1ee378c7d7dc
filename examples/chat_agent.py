"""The chat agent in conversation mode, with the in-process idle scheduler.

Each turn goes through the chat graph, which answers with the latest learned context of its thread.
After each turn the transcript (complete turns only) is handed to an IdleScheduler; in the idle
gap before the next turn it sleeps on it, and the next turn reads the new version.

Run with: python -m examples.chat_agent
(add --scripted for an instant run on a scripted model; by default the embedded local model.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from examples.qa_folder import build_app
from sleeptime.graphs.chat import ChatState, TranscriptWatcher, build_chat_graph
from sleeptime.scheduler import IdleScheduler, SchedulerEvent

TURNS = [
    "Hi! I'm planning a trip to Lisbon in May with my sister Ana.",
    "We have a budget of 900 euros for the two of us, flights already booked.",
    "What do you know about my trip so far?",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scripted", action="store_true", help="scripted model instead of the embedded one")
    parser.add_argument("--idle-after", type=float, default=1.0, help="idle seconds before sleeping")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sleeptime-chat-") as tmp:
        app = build_app(tmp, scripted=args.scripted)
        graph = build_chat_graph().compile(store=app.store, checkpointer=InMemorySaver())
        thread: RunnableConfig = {"configurable": {"thread_id": "trip"}}

        def show(event: SchedulerEvent) -> None:
            if event.kind in ("sleep_started", "sleep_finished", "skipped_budget", "sleep_failed"):
                print(f"   (scheduler) {event.kind} {event.status or event.detail}".rstrip())

        with IdleScheduler(app, idle_after=args.idle_after, on_event=show) as sched:
            watcher = TranscriptWatcher(sched)
            for text in TURNS:
                print(f"\nuser: {text}")
                out: dict[str, Any] = graph.invoke(ChatState(messages=[HumanMessage(text)]), thread,
                                                   context=app.config)
                version = out.get("learned_version")
                print(f"agent [notes version {version}]: {out['messages'][-1].text.strip()}")
                watcher.observe("trip", out["messages"])
                time.sleep(args.idle_after)  # the user pauses: the conversation goes idle
                sched.settle()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
