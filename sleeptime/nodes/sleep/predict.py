"""Predict: likely questions about the context, each with a worked answer."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.models import sleep_model
from sleeptime.nodes._runtime import config_of
from sleeptime.prompts import predict as prompt
from sleeptime.state import PredictedQuestion, SleepState
from sleeptime.structured import ask_json


def predict(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    if cfg.n_questions == 0:
        return {"questions": []}
    messages = [
        SystemMessage(prompt.SYSTEM.format(n=cfg.n_questions)),
        HumanMessage(prompt.USER.format(context=state["raw_context"], notes="\n\n".join(state.get("learned", [])))),
    ]
    parsed, usage = ask_json(
        sleep_model(cfg), messages, prompt.Predictions, phase="sleep", node="predict", retries=cfg.json_retries
    )
    seen: set[str] = set()
    questions: list[PredictedQuestion] = []
    for qa in parsed.questions:
        key = " ".join(qa.question.lower().split())
        if key not in seen:  # small models repeat themselves
            seen.add(key)
            questions.append(PredictedQuestion(question=qa.question, answer=qa.answer))
    questions = questions[: cfg.n_questions]
    warnings = list(state.get("warnings") or [])
    if len(questions) < cfg.n_questions:  # reported, never silent (issue 12)
        warnings.append(f"{len(questions)} of {cfg.n_questions} predicted questions")
    return {"questions": questions, "usage": usage, "warnings": warnings}
