"""The sleep graph: ingest -> plan -> reflect (k samples, a `Send` fan-out) -> merge -> predict -> publish.

A context too large for one prompt goes from `plan` to one `reflect_part` per changed part (a
`Send` fan-out), then `reduce` (notes on the whole and predicted questions), then publish.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from sleeptime.config import SleepTimeConfig
from sleeptime.nodes.sleep.ingest import ingest, ingest_on_server
from sleeptime.nodes.sleep.parts import PartTask, plan, reduce, reflect_part, route_after_plan
from sleeptime.nodes.sleep.predict import predict
from sleeptime.nodes.sleep.publish import publish
from sleeptime.nodes.sleep.reflect import merge, reflect
from sleeptime.state import SleepInput, SleepOutput, SleepState

SleepGraph = StateGraph[SleepState, SleepTimeConfig, SleepInput, SleepOutput]


def build_sleep_graph(*, on_server: bool = False) -> SleepGraph:
    """The uncompiled sleep graph; compile it with the store (and checkpointer) of your choice.

    `on_server=True` (what langgraph.json serves): files and folders named in a run's input are read
    only under ``SLEEPTIME_SERVER_FILE_ROOTS`` (off when unset; `nodes.sleep.ingest.check_server_paths`)."""
    builder: SleepGraph = StateGraph(
        SleepState, context_schema=SleepTimeConfig, input_schema=SleepInput, output_schema=SleepOutput
    )
    builder.add_node("ingest", ingest_on_server if on_server else ingest)
    builder.add_node("reflect", reflect)
    builder.add_node("merge", merge)
    builder.add_node("predict", predict)
    builder.add_node("publish", publish)
    builder.add_node("plan", plan)
    builder.add_node("reflect_part", reflect_part, input_schema=PartTask)
    builder.add_node("reduce", reduce)
    builder.add_edge(START, "ingest")
    builder.add_edge("ingest", "plan")
    builder.add_conditional_edges("plan", route_after_plan, ["reflect", "reflect_part", "reduce"])
    builder.add_edge("reflect_part", "reduce")
    builder.add_edge("reduce", "publish")
    builder.add_edge("reflect", "merge")
    builder.add_edge("merge", "predict")
    builder.add_edge("predict", "publish")
    builder.add_edge("publish", END)
    return builder


def _compiled() -> CompiledStateGraph[SleepState, SleepTimeConfig, SleepInput, SleepOutput]:
    return build_sleep_graph().compile(name="sleep")


# For langgraph.json: the server injects its store (or the Chroma one named there).
graph = _compiled()
server_graph = build_sleep_graph(on_server=True).compile(name="sleep")
"""What `sleeptime.graphs.server` serves: the same graph, with the server's file policy."""
