"""Verify: accept the answer, or escalate (more budget, the raw context) within max_escalations.

The model check's prompt holds the context, the question and the whole answer (up to twice
`max_tokens_wake` at budget levels 3-4), so it may not fit where the answer's prompt did: the
context is cut to what the wake window leaves, and a window too small for even the answer skips
the model check and says so.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.models import wake_model
from sleeptime.nodes._runtime import config_of
from sleeptime.prompts import verify as prompt
from sleeptime.state import WakeState
from sleeptime.structured import ask_json, is_refusal
from sleeptime.usage import UsageRecord
from sleeptime.wake_budget import wake_window

logger = logging.getLogger(__name__)

_MIN_CONTEXT = 16
"""Tokens of context below which a model check is not worth making."""
_NO_ANSWER = re.compile(r"\b(i don'?t know|not enough information|cannot be determined|unknown)\b", re.I)


def check_format(answer: str) -> str | None:
    """Why the answer is not a usable answer, or None when it is."""
    if not answer.strip():
        return "empty answer"
    if is_refusal(answer) or _NO_ANSWER.search(answer):
        return "no answer given"
    return None


def check_messages(cfg: SleepTimeConfig, context: str, question: str, answer: str) -> list[BaseMessage] | None:
    """The model check's prompt with `context` cut to fit the wake window beside its reply; None
    when even the question and answer leave no room for context."""
    window = wake_window(cfg)

    def messages(text: str) -> list[BaseMessage]:
        return [SystemMessage(prompt.SYSTEM),
                HumanMessage(prompt.USER.format(context=text, question=question, answer=answer))]

    room = window.room(cfg.max_tokens_wake) - window.prompt_tokens(messages(""))
    if room < _MIN_CONTEXT:
        return None
    return messages(window.fit(context, room))


def verify(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    answer_text = state.get("answer", "")
    usage: list[UsageRecord] = []
    problem: str | None = None
    skipped = False
    if cfg.verify != "off":
        problem = check_format(answer_text)
    if problem is None and cfg.verify == "model":
        context = state.get("raw_context") or state.get("learned") or "(none)"
        messages = check_messages(cfg, context, state["question"], answer_text)
        if messages is None:
            logger.warning("model check skipped: the wake window leaves no room for the context beside the answer")
            skipped = True
        else:
            verdict, usage = ask_json(
                wake_model(cfg), messages, prompt.Verdict, phase="wake", node="verify", retries=cfg.json_retries
            )
            if verdict.verdict == "reject":
                problem = f"checker rejected it: {verdict.reason}"
    escalations = state.get("escalations", 0)
    if problem is None:
        reason = "checks passed" if cfg.verify != "off" else "not verified"
        if skipped:
            reason = "format checks passed; model check skipped (no room in the wake window)"
        return {"verdict": "accept", "reason": reason, "usage": usage}
    logger.info("answer not accepted (%s); escalations used %d of %d", problem, escalations, cfg.max_escalations)
    if escalations < cfg.max_escalations:
        return {
            "verdict": "escalate",
            "reason": problem,
            "escalations": escalations + 1,
            "current_budget": min(4, state.get("current_budget", cfg.budget) + 2),
            "with_raw_context": bool(state.get("raw_context")),
            "usage": usage,
        }
    return {"verdict": "unverified", "reason": f"{problem}; no escalations left", "usage": usage}


def route_after_verify(state: WakeState) -> Literal["answer", "__end__"]:
    return "answer" if state.get("verdict") == "escalate" else "__end__"
