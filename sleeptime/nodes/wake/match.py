"""Match: serve a predicted question's stored answer, with no generation, when the match is verified."""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import ModelOutputError
from sleeptime.matching import Check, CheckResult, MatchDecision, decide
from sleeptime.models import wake_model
from sleeptime.nodes._runtime import config_of
from sleeptime.prompts import match as prompt
from sleeptime.state import WakeState
from sleeptime.structured import ask_text
from sleeptime.usage import UsageRecord

logger = logging.getLogger(__name__)


def _model_check(cfg: SleepTimeConfig, asked: str, predicted: str) -> tuple[CheckResult, list[UsageRecord]]:
    """The wake model's yes/no on whether the two questions are the same (any other reply is a no)."""
    messages = [SystemMessage(prompt.SYSTEM), HumanMessage(prompt.USER.format(asked=asked, predicted=predicted))]
    try:
        reply, usage = ask_text(
            wake_model(cfg, max_tokens=4), messages, phase="wake", node="match", retries=cfg.json_retries
        )
    except ModelOutputError as exc:  # no usable yes: not served; the answer step takes over
        return CheckResult(Check.MODEL, False, f"no usable reply ({exc})"), []
    same = prompt.parse_yes_no(reply) is True
    return CheckResult(Check.MODEL, same, "yes" if same else f"said {reply[:40]!r}"), usage


def match_predicted(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Decide whether the nearest predicted questions answer this one; serve the answer if so."""
    cfg = config_of(runtime)
    if not cfg.serve_predicted or state.get("path") != "learned":
        return {}
    related = state.get("related") or []
    scores = state.get("related_scores") or [None] * len(related)
    decision: MatchDecision = decide(state["question"], list(zip(related, scores, strict=False)), cfg.match_threshold)
    usage: list[UsageRecord] = []
    if decision.served and decision.question is not None and cfg.verify_predicted == "model":
        result, usage = _model_check(cfg, state["question"], decision.question)
        decision = decision.with_check(result)
    logger.info("predicted answer %s: %s", "served" if decision.served else "not served", decision.reason)
    if not decision.served:
        return {"predicted_match": decision.record(), "usage": usage}
    return {
        "predicted_match": decision.record(),
        "path": "predicted",
        "answer": f"The answer is {decision.answer}.",
        "verdict": "accept",
        "reason": decision.reason,
        "usage": usage,
    }


def route_after_match(state: WakeState) -> Literal["answer", "__end__"]:
    return "__end__" if state.get("path") == "predicted" else "answer"
