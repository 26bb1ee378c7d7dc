"""Worked-step Multi-Query questions: new questions whose answers are intermediate results of the template's own
worked answer.

Asked to invent questions with answer expressions, the 1.5B kept about one of four (see :mod:`evals.mqcheck`).
Here the model computes nothing: each GSM-Symbolic worked answer marks its calculations (``<<9*8=72>>``), the
template computed them from the instance's values, and :func:`worked_steps` keeps those whose expression gives
their stated value exactly (not the final answer, no value twice). The model is shown the steps with their results
and writes one question per step; the gold is the step's value. What stays unchecked is whether the question asks
for exactly that quantity. A kept question is one that names a known step, is new, and does not state its answer.

These questions need fewer steps than the original (each is a part of its solution): runs that use them say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from evals.examples import Example
from evals.grading import format_number, parse_number
from evals.mqcheck import Verdict, normalise_question
from sleeptime.quantities import QuantityError, evaluate

STEP_DROP_REASONS = ("unknown step", "states its answer")
"""Why a worked-step item was dropped, beside "malformed item" and "duplicate" (:data:`evals.mqcheck.DROP_REASONS`)."""

STEPS_SYSTEM = (
    "You write math word problem questions. You are given a situation, one question about it, and numbered steps "
    "of that question's worked answer, each with its result. For each step, write one question about the "
    "situation whose answer is exactly that step's result, in the step's unit. Each question must make sense on "
    "its own after the situation and must not state the result. Reply with JSON only: "
    '{"questions": [{"step": 1, "question": "..."}]}'
)

# '<<9*8=72>>72' or '<<72/12>>6': the expression, then its value inside the brackets or right after them.
_ANNOTATION = re.compile(r"<<([^<>=]+)(?:=([^<>]*))?>>\s*(-?\$?[\d,]*\.?\d+)?")


@dataclass(frozen=True)
class Step:
    """One calculation of a worked answer: its line (annotation removed), expression and exact value."""

    text: str
    expression: str
    value: Fraction


def worked_steps(solution: str, answer: str) -> list[Step]:
    """The intermediate results of a worked answer whose expression computes their stated value exactly, in order,
    without the final answer and without a value twice."""
    final = parse_number(answer)
    seen: set[Fraction] = set() if final is None else {final}
    steps = []
    for line in solution.splitlines():
        for m in _ANNOTATION.finditer(line):
            expression, inside, after = m.group(1).strip(), m.group(2), m.group(3)
            stated = parse_number((inside or after or "").strip())
            try:
                value = evaluate(expression, {})
            except QuantityError:
                continue
            if stated is None or value != stated or value in seen:
                continue
            seen.add(value)
            steps.append(Step(_ANNOTATION.sub(lambda a: a.group(3) or "", line).strip(), expression, value))
    return steps


def steps_messages(ex: Example, steps: Sequence[Step]) -> list[BaseMessage]:
    listed = "\n".join(f"{i}. {s.text} (result: {format_number(s.value)})" for i, s in enumerate(steps, 1))
    user = f"Situation:\n{ex.context}\n\nQuestion: {ex.question}\n\nSteps:\n{listed}"
    return [SystemMessage(STEPS_SYSTEM), HumanMessage(user)]


def check_step_item(item: Any, steps: Sequence[Step], seen: set[str]) -> tuple[int | None, Verdict]:
    """(index of the step it answers, verdict); a kept question's normalised text is added to ``seen``."""
    if not isinstance(item, dict) or not str(item.get("question", "")).strip():
        return None, Verdict("", None, "", "malformed item")
    question = str(item["question"]).strip()
    try:
        index = int(item.get("step", 0)) - 1
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(steps):
        return None, Verdict(question, None, "", "unknown step", f"step {item.get('step')!r}")
    step = steps[index]
    gold = format_number(step.value)
    if normalise_question(question) in seen:
        return index, Verdict(question, gold, step.expression, "duplicate")
    if re.search(rf"(?<![\d.]){re.escape(gold)}(?![\d])", question.replace(",", "")):
        return index, Verdict(question, gold, step.expression, "states its answer")
    seen.add(normalise_question(question))
    return index, Verdict(question, gold, step.expression)
