"""Answer: the question at a test-time budget level, from the learned context or the raw one."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.models import wake_model
from sleeptime.nodes._runtime import config_of
from sleeptime.prompts.answer import ANSWER_STOPS, build_answer_messages
from sleeptime.state import WakeState
from sleeptime.structured import ask_text
from sleeptime.warmup import bind_prefix_state


def answer(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    budget = state.get("current_budget", cfg.budget)
    # Step-by-step levels need room to finish their reasoning.
    max_tokens = cfg.max_tokens_wake * (2 if budget >= 3 else 1)
    model = wake_model(cfg, max_tokens=max_tokens)
    bound = bind_prefix_state(model, cfg, state)  # saved prompt state
    if getattr(model, "takes_stop", False):  # ServerChatModel's; not imported here (it loads langchain_openai)
        # A server's answer ends at the prompt's next block marker too (embedded models keep the token limit
        # only: their runs are the recorded evals' figures).
        bound = bound.bind(stop=list(ANSWER_STOPS))
    text, usage = ask_text(
        bound,
        build_answer_messages(state, cfg.answer_instructions),
        phase="wake",
        node="answer",
        retries=cfg.json_retries,
    )
    return {"answer": text, "usage": usage}
