"""Test-only graphs for `langgraph dev`: the real sleep graph, run on a scripted model.

The server sends the run's context as JSON, which cannot carry a model object, so this wrapper
runs the package's sleep graph on the server's store with a scripted model's config.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.state import SleepInput, SleepOutput
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

MODEL = staged_model()
_EMBED = HashEmbeddings(64)


async def embed(texts: list[str]) -> list[list[float]]:
    return _EMBED.embed_documents(texts)


async def run_sleep(state: SleepInput, runtime: Runtime[Any]) -> dict[str, Any]:
    inner = build_sleep_graph().compile(store=runtime.store)
    cfg = SleepTimeConfig(sleep_model=MODEL, wake_model=MODEL, max_rounds=1)
    return dict(await inner.ainvoke(state, context=cfg))


def _build() -> Any:
    builder = StateGraph(SleepOutput, input_schema=SleepInput, output_schema=SleepOutput)
    builder.add_node("run_sleep", run_sleep)
    builder.add_edge(START, "run_sleep")
    return builder.compile(name="sleep")


graph = _build()
