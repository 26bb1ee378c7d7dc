"""Worked-step Multi-Query questions: new questions whose answers are intermediate results of the template's own
worked answer.

Asked to invent questions with answer expressions, the 1.5B kept about one of four (see :mod:`evals.mqcheck`).
Here the model computes nothing: each GSM-Symbolic worked answer marks its calculations (``<<9*8=72>>``), the
template computed them from the instance's values, and :func:`worked_steps` keeps those whose expression gives
their stated value exactly (not the final answer, no value twice). The model is shown the situation and one step with
its result and asked for the question that step answers (one call per step, the reply a plain question: asked for
all steps at once in JSON, the 1.5B copied the original question); the gold is the step's value. What stays unchecked is
whether the question asks for exactly that quantity. A question is kept when it is new, is not the original
question again, and states no computed result (a number a step or the final answer computes that the situation
does not state).

These questions need fewer steps than the original (each is a part of its solution): runs that use them say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from fractions import Fraction

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from evals.examples import Example
from evals.grading import format_number, numbers_in, parse_number
from evals.mqcheck import Verdict, normalise_question
from sleeptime.experimental import QuantityError, evaluate

STEP_DROP_REASONS = ("no question", "repeats the original", "states a result")
"""Why a worked-step question was dropped, beside "duplicate" (:data:`evals.mqcheck.DROP_REASONS`)."""

STEP_SYSTEM = (
    "You turn one step of a worked math answer into a question. You are given a situation and one calculation "
    "from a worked answer about it. Write the question this calculation answers: a question about the situation "
    "whose answer is exactly the calculation's result, in its unit. Do not state the result. Reply with the "
    "question only."
)
SIMILAR = 0.8
"""A question this similar (difflib ratio) to the original asks it again. Not used between generated questions:
"pounds of wheat" and "pounds of beets" differ by one word and ask two steps."""

# '<<9*8=72>>72' or '<<72/12>>6': the expression, then its value inside the brackets or right after them.
_ANNOTATION = re.compile(r"<<([^<>=]+)(?:=([^<>]*))?>>\s*(-?\$?[\d,]*\.?\d+)?")
_PREFIX = re.compile(r"^\s*(?:\**\s*(?:new\s+)?question\s*\d*\s*\**\s*[:.-]\s*)", re.IGNORECASE)


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


def step_messages(ex: Example, step: Step) -> list[BaseMessage]:
    # No list of the questions asked so far: shown one, the 1.5B copied it (40 duplicates in 80 calls, 1 of 11
    # contexts usable, against 9 of 24 without it).
    user = (f"Situation:\n{ex.context}\n\nCalculation: {step.text}\nResult: {format_number(step.value)}\n\n"
            "Question:")
    return [SystemMessage(STEP_SYSTEM), HumanMessage(user)]


def reply_question(text: str) -> str:
    """The question in a reply: its first line with a '?', up to it, without a "Question:" label or quotes."""
    for line in text.splitlines():
        line = _PREFIX.sub("", line).strip().strip('"*').strip()
        if "?" in line:
            return line[: line.index("?") + 1].strip('"* ')
    return ""


def _stem(question: str) -> str:
    """Words without a plural 's' or punctuation: questions equal under it ask the same."""
    return " ".join(w.rstrip("s") for w in re.findall(r"[a-z0-9.]+", question.lower()))


def _similar(a: str, b: str) -> bool:
    return SequenceMatcher(None, normalise_question(a), normalise_question(b)).ratio() >= SIMILAR


def check_step_question(reply: str, step: Step, ex: Example, results: Sequence[Fraction], seen: set[str]) -> Verdict:
    """Keep the reply's question for ``step`` (gold: the step's value) or say why not; ``results`` are every value
    the worked answer computes (the final answer too), ``seen`` the kept questions' stems (a kept one is added)."""
    question = reply_question(reply)
    gold = format_number(step.value)
    if not question:
        return Verdict(reply.strip()[:200], None, step.expression, "no question")
    if _similar(question, ex.question):
        return Verdict(question, gold, step.expression, "repeats the original")
    if _stem(question) in seen:  # "muffin" and "muffins": one question for two steps, one gold wrong
        return Verdict(question, gold, step.expression, "duplicate")
    stated = (numbers_in(question) & set(results)) - numbers_in(ex.context)
    if stated:
        shown = ", ".join(sorted(format_number(v) for v in stated))
        return Verdict(question, gold, step.expression, "states a result", shown)
    seen.add(_stem(question))
    return Verdict(question, gold, step.expression)
