"""The wake graph: retrieve -> gather -> match -> answer -> verify (-> answer again on escalation).

`gather` replaces a raw context too large for the wake prompt by retrieved pieces that fit.

`match` ends the run with a predicted question's stored answer when the match is verified and
``serve_predicted`` is on; otherwise it passes through to `answer`.
"""

from __future__ import annotations

from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from sleeptime.config import SleepTimeConfig
from sleeptime.nodes.wake.answer import answer
from sleeptime.nodes.wake.gather import gather
from sleeptime.nodes.wake.match import match_predicted, route_after_match
from sleeptime.nodes.wake.retrieve import retrieve
from sleeptime.nodes.wake.verify import route_after_verify, verify
from sleeptime.state import WakeInput, WakeOutput, WakeState

WakeGraph = StateGraph[WakeState, SleepTimeConfig, WakeInput, WakeOutput]


def build_wake_graph() -> WakeGraph:
    """The uncompiled wake graph; compile it with the store of your choice."""
    builder: WakeGraph = StateGraph(
        WakeState, context_schema=SleepTimeConfig, input_schema=WakeInput, output_schema=WakeOutput
    )
    builder.add_node("retrieve", retrieve)
    builder.add_node("match", match_predicted)
    builder.add_node("answer", answer)
    builder.add_node("verify", verify)
    builder.add_edge(START, "retrieve")
    builder.add_node("gather", gather)
    builder.add_edge("retrieve", "gather")
    builder.add_edge("gather", "match")
    builder.add_conditional_edges("match", route_after_match)
    builder.add_edge("answer", "verify")
    builder.add_conditional_edges("verify", route_after_verify)
    return builder


def _compiled() -> CompiledStateGraph[WakeState, SleepTimeConfig, WakeInput, WakeOutput]:
    return build_wake_graph().compile(name="wake")


graph = _compiled()
