"""Reflect: one rethink round over every unfinished sample; the graph loops until done or max_rounds."""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.nodes._runtime import config_of, sleep_model
from sleeptime.prompts import reflect as prompt
from sleeptime.state import SleepState
from sleeptime.structured import ask_text
from sleeptime.usage import UsageRecord

logger = logging.getLogger(__name__)


def _rethink(cfg: SleepTimeConfig, sample: int, context: str, notes: str) -> tuple[str, bool, list[UsageRecord]]:
    # Sample 0 is deterministic at the configured temperature; the others explore.
    model = sleep_model(cfg, temperature=cfg.temperature if sample == 0 else cfg.sample_temperature)
    messages = [
        SystemMessage(prompt.SYSTEM),
        HumanMessage(
            prompt.USER.format(context=context, notes=notes or prompt.EMPTY_NOTES, max_chars=cfg.learned_max_chars)
        ),
    ]
    reply, usage = ask_text(model, messages, phase="sleep", node="reflect", retries=cfg.json_retries)
    new_notes, done = prompt.parse_reflection(reply, cfg.learned_max_chars)
    if len(new_notes) >= cfg.learned_max_chars:
        logger.info("learned context truncated to learned_max_chars=%d", cfg.learned_max_chars)
    # A reply that is only a status line keeps the previous notes rather than erasing them.
    return (new_notes or notes), done, usage


def reflect(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    learned = list(state.get("learned") or [""] * cfg.samples)
    finished = list(state.get("finished") or [False] * cfg.samples)
    todo = [i for i in range(cfg.samples) if not finished[i]]
    usage: list[UsageRecord] = []
    # The context copy carries the run's callbacks and metadata (tracing, streaming, langgraph_node).
    with ContextThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        results = pool.map(lambda i: (i, _rethink(cfg, i, state["raw_context"], learned[i])), todo)
        for i, (notes, done, records) in results:
            learned[i], finished[i] = notes, done
            usage.extend(records)
    return {"learned": learned, "finished": finished, "round": state.get("round", 0) + 1, "usage": usage}


def route_after_reflect(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> Literal["reflect", "predict"]:
    cfg = config_of(runtime)
    if all(state.get("finished") or [False]) or state.get("round", 0) >= cfg.max_rounds:
        return "predict"
    return "reflect"
