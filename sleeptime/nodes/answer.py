"""Answer: the question at a test-time budget level, from the learned context or the raw one."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.nodes._runtime import config_of, wake_model
from sleeptime.prompts import answer as prompt
from sleeptime.state import WakeState
from sleeptime.structured import ask_text
from sleeptime.wake_prefix import bind_prefix_state


def build_answer_messages(state: WakeState, instructions: str | None = None) -> list[BaseMessage]:
    """The answer prompt; ``instructions`` (``SleepTimeConfig.answer_instructions``) follow the budget's own."""
    learned = state.get("learned", "")
    blocks: list[str] = []
    if state.get("with_raw_context") and state.get("raw_context"):
        blocks.append(prompt.CONTEXT_BLOCK.format(context=state["raw_context"]))
    if learned:
        blocks.append(prompt.NOTES_BLOCK.format(notes=learned))
    related = state.get("related") or []
    if related:
        items = "\n".join(prompt.RELATED_ITEM.format(question=qa["question"], answer=qa["answer"])
                          for qa in prompt.stable_order(related))
        blocks.append(prompt.RELATED_BLOCK.format(related=items))
    instruction = prompt.instruction(state.get("current_budget", 1), instructions)
    blocks.append(prompt.QUESTION_BLOCK.format(question=state["question"], instruction=instruction))
    system = prompt.SYSTEM_LEARNED if learned else prompt.SYSTEM_BASELINE
    return [SystemMessage(system), HumanMessage("\n\n".join(blocks))]


def answer(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    budget = state.get("current_budget", cfg.budget)
    # Step-by-step levels need room to finish their reasoning.
    max_tokens = cfg.max_tokens_wake * (2 if budget >= 3 else 1)
    text, usage = ask_text(
        bind_prefix_state(wake_model(cfg, max_tokens=max_tokens), cfg, state),  # saved prompt state
        build_answer_messages(state, cfg.answer_instructions),
        phase="wake",
        node="answer",
        retries=cfg.json_retries,
    )
    return {"answer": text, "usage": usage}
