"""Match: serve a predicted question's stored answer, with no generation, when the match is verified."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime import matching
from sleeptime.config import SleepTimeConfig
from sleeptime.errors import ModelOutputError
from sleeptime.nodes._runtime import config_of, wake_model
from sleeptime.state import MatchInfo, WakeState
from sleeptime.structured import ask_text
from sleeptime.usage import UsageRecord


def _info(decision: matching.MatchDecision) -> MatchInfo:
    return MatchInfo(
        served=decision.served,
        reason=decision.reason,
        question=decision.question,
        answer=decision.answer,
        score=decision.score,
        checks=dict(decision.checks),
    )


def match_predicted(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Decide whether the nearest predicted questions answer this one; serve the answer if so."""
    cfg = config_of(runtime)
    if not cfg.serve_predicted or state.get("path") != "learned":
        return {}
    related = state.get("related") or []
    scores = state.get("related_scores") or [None] * len(related)
    decision = matching.decide(state["question"], list(zip(related, scores, strict=False)), cfg.match_threshold)
    usage: list[UsageRecord] = []
    if decision.served and cfg.verify_predicted == "model":
        messages = [
            SystemMessage(matching.CHECK_SYSTEM),
            HumanMessage(matching.CHECK_USER.format(asked=state["question"], predicted=decision.question)),
        ]
        try:
            reply, usage = ask_text(
                wake_model(cfg, max_tokens=4), messages, phase="wake", node="match", retries=cfg.json_retries
            )
        except ModelOutputError as exc:  # no usable yes: not served; the answer step takes over
            reply = f"no usable reply ({exc})"
        same = matching.parse_yes_no(reply)
        decision.checks["model"] = "ok yes" if same else f"said {reply[:40]!r}"
        if not same:
            decision.served = False
            decision.answer = None
            decision.reason = f"predicted question {decision.question!r} not served (model check: {reply[:40]!r})"
        else:
            decision.reason += "; model ok yes"
    info = _info(decision)
    if not decision.served:
        return {"predicted_match": info, "usage": usage}
    return {
        "predicted_match": info,
        "path": "predicted",
        "answer": f"The answer is {decision.answer}.",
        "verdict": "accept",
        "reason": decision.reason,
        "usage": usage,
    }


def route_after_match(state: WakeState) -> Literal["answer", "__end__"]:
    return "__end__" if state.get("path") == "predicted" else "answer"
