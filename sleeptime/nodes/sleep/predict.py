"""Predict: likely questions about the context, each with a worked answer (short, in one JSON call; or, with
the ``LEVEL4`` question work of ``sleeptime.notes.strategies``, listed by each reflect sample from its own notes
and then each worked step by step in its own call at that verbosity level, as the wake graph would answer it)."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.models import sleep_model
from sleeptime.nodes._runtime import config_of
from sleeptime.notes.strategies import Experiment
from sleeptime.prompts import predict as prompt
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.state import PredictedQuestion, SleepState
from sleeptime.structured import ask_json, ask_text
from sleeptime.usage import UsageRecord

_QUESTION = re.compile(r"[^?\n]*\?")
_MARKS = re.compile(r"^[\s*_#>-]*(?:(?:question\s*)?\d+\s*[.):]\s*)?[\s*_]*", re.IGNORECASE)


def _question_key(question: str) -> str:
    """A question as compared for repeats: lower case, whitespace collapsed."""
    return " ".join(question.lower().split())


def listed_questions(text: str) -> list[str]:
    """The questions of a listing reply, in order, each once: every stretch ending in "?" (several on one line
    count), numbering, bullets and bold marks dropped."""
    out: list[str] = []
    for m in _QUESTION.finditer(text):
        question = _MARKS.sub("", m.group(0)).strip()
        if len(question) > 3 and _question_key(question) not in {_question_key(q) for q in out}:
            out.append(question)
    return out


def predict(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    if cfg.n_questions == 0 or not any(n.strip() for n in state.get("learned", [])):
        return {"questions": []}  # none asked, or no notes: nothing will be published
    work = (cfg.experiment or Experiment()).question_work
    if work.budget is not None:
        return _work_questions(state, cfg, work.budget)
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
        key = _question_key(qa.question)
        if key not in seen:  # small models repeat themselves
            seen.add(key)
            questions.append(PredictedQuestion(question=qa.question, answer=qa.answer))
    questions = questions[: cfg.n_questions]
    warnings = list(state.get("warnings") or [])
    if len(questions) < cfg.n_questions:  # reported, never silent (issue 12)
        warnings.append(f"{len(questions)} of {cfg.n_questions} predicted questions")
    return {"questions": questions, "usage": usage, "warnings": warnings}


def _work_questions(state: SleepState, cfg: SleepTimeConfig, budget: int) -> dict[str, Any]:
    """Each reflect sample lists questions from its own notes (one call, at the sample's temperature), then each
    question no earlier sample listed is answered at ``budget`` with the context and those notes: k samples are k
    parallel sleeps whose predicted questions are pooled, so more samples cover more of what may be asked, and a
    sleep of k samples holds the sleep of its first j (each question records its sample)."""
    exp = cfg.experiment or Experiment()
    samples = sorted(state.get("samples") or [], key=lambda s: s["sample"])
    sources = [(s["sample"], s["notes"]) for s in samples if s["notes"].strip()]
    if not sources:  # no sample recorded (a caller that set learned itself): the merged notes
        sources = [(0, "\n\n".join(state.get("learned", [])))]
    questions: list[PredictedQuestion] = []
    spent: list[UsageRecord] = []
    warnings = list(state.get("warnings") or [])
    seen: set[str] = set()
    answerer = sleep_model(cfg)
    for i, notes in sources:
        temperature = exp.sampling.temperature(i, cfg.temperature, cfg.sample_temperature)
        listed, usage = ask_text(sleep_model(cfg, temperature=temperature), [
            SystemMessage(prompt.PROBE_SYSTEM.format(n=cfg.n_questions)),
            HumanMessage(prompt.USER.format(context=state["raw_context"], notes=notes)),
        ], phase="sleep", node="predict", retries=cfg.json_retries)
        spent += [{**r, "sample": i} for r in usage]
        asked = listed_questions(listed)[: cfg.n_questions]
        if len(asked) < cfg.n_questions:
            warnings.append(f"sample {i}: {len(asked)} of {cfg.n_questions} predicted questions")
        for question in asked:
            key = _question_key(question)
            if key in seen:  # an earlier sample's question, already worked
                continue
            seen.add(key)
            messages = build_answer_messages({"question": question, "learned": notes, "current_budget": budget,
                                              "raw_context": state["raw_context"], "with_raw_context": True},
                                             cfg.answer_instructions)
            answer, used = ask_text(answerer, messages, phase="sleep", node="predict", retries=cfg.json_retries)
            spent += [{**r, "sample": i} for r in used]
            questions.append(PredictedQuestion(question=question, answer=answer, sample=i))
    return {"questions": questions, "usage": spent, "warnings": warnings}
