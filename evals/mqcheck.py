"""Checked gold for generated Multi-Query questions.

A generated question comes with the generator's answer ("... #### <number>") and an answer *expression* over the
instance's variable names (``n_1 - n_2``). The expression is computed with the instance's own values by
:func:`sleeptime.experimental.evaluate` (an ``ast`` whitelist walker, exact fractions, bounded size: model text is
never executed), and the question is kept only when that value equals the stated number exactly. Every dropped
item has one reason (:data:`DROP_REASONS`), counted per context.

The instance's values come from the template instance the example was generated from (``Example.meta
["variables"]``: gsm-base and gsm-p1). Datasets without them (gsm-p2's released instances, aime) cannot be
checked: see :mod:`evals.multiquery` for what happens there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from evals.grading import extract_gsm_answer, format_number, parse_number
from evals.templates import _WORD_VALUES
from sleeptime.experimental import QuantityError, evaluate, extract_json_object

MALFORMED_REPLY = "malformed reply"
DROP_REASONS = ("malformed item", "no stated answer", "duplicate", "no expression", "does not evaluate",
                "uses no variable", "value differs")
"""Why a generated item was dropped, in the order they are checked ("malformed reply": a whole reply)."""

_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_INT_CALL = re.compile(r"^int\((.*)\)$", re.DOTALL)


def instance_values(variables: Mapping[str, str]) -> dict[str, Fraction]:
    """An instance's numeric variables as exact values: numbers as rendered, words the templates compute with
    ("half", "twice") as their numbers. Text variables (names, items, currency signs) are left out."""
    values: dict[str, Fraction] = {}
    for name, text in variables.items():
        value = parse_number(str(text))
        if value is None and str(text).lower() in _WORD_VALUES:
            value = Fraction(_WORD_VALUES[str(text).lower()])
        if value is not None and name.isidentifier():
            values[name] = value
    return values


def describe_values(variables: Mapping[str, str]) -> str:
    """The variables block of the generation prompt: ``- name = value`` per numeric variable."""
    values = instance_values(variables)
    lines = []
    for name, value in values.items():
        shown = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        text = str(variables[name])
        lines.append(f"- {name} = {shown}" + (f' (written "{text}")' if text != shown else ""))
    return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    """One generated item: kept (with its gold) or dropped (with a reason from DROP_REASONS)."""

    question: str
    gold: str | None
    expression: str
    reason: str | None = None
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.reason is None


def parse_items(text: str) -> list[Any] | None:
    """The reply's ``questions`` list; None when the reply is not a JSON object with one (retry it)."""
    try:
        obj = extract_json_object(text)
    except ValueError:
        return None
    items = obj.get("questions") if isinstance(obj, dict) else None
    return items if isinstance(items, list) else None


def worked_expression(expressions: Iterable[str], values: Mapping[str, Fraction], gold: str) -> str | None:
    """The original question's answer over the instance's variable names, to show the generator what an
    "expression" is: the first template expression ('####', then '#answer:') that computes ``gold`` exactly and
    names a variable. An outer ``int(...)`` is dropped (the checker has no int; on an exact integer it is a no-op)."""
    target = parse_number(gold)
    for text in expressions if target is not None else ():
        outer_int = _INT_CALL.match(text.strip())
        for candidate in (text, *(outer_int.groups() if outer_int else ())):
            try:
                computes = evaluate(candidate, values) == target
            except QuantityError:
                continue
            if computes and set(_NAME.findall(candidate)) & set(values):
                return candidate
    return None


def normalise_question(text: str) -> str:
    return " ".join(text.lower().split())


def check_item(item: Any, values: Mapping[str, Fraction], seen: set[str], *, checked: bool = True) -> Verdict:
    """Keep ``item`` when its expression, computed over ``values``, equals its stated "#### <number>".

    ``seen`` holds the normalised questions already kept (the original's included); a kept one is added.
    ``checked=False`` keeps any item with a stated number (the paper's recipe, gold unchecked).
    """
    if not isinstance(item, dict):
        return Verdict("", None, "", "malformed item")
    question = str(item.get("question", "")).strip()
    expression = str(item.get("expression", "") or "").strip()
    if not question:
        return Verdict("", None, expression, "malformed item")
    stated = extract_gsm_answer(str(item.get("answer", "")))
    value_stated = parse_number(stated) if stated is not None else None
    if stated is None or value_stated is None:
        return Verdict(question, None, expression, "no stated answer")
    if normalise_question(question) in seen:
        return Verdict(question, stated, expression, "duplicate")
    if checked:
        reason, detail = _check_expression(expression, value_stated, values)
        if reason is not None:
            return Verdict(question, stated, expression, reason, detail)
    seen.add(normalise_question(question))
    return Verdict(question, format_number(value_stated), expression)


def _check_expression(expression: str, stated: Fraction, values: Mapping[str, Fraction]) -> tuple[str | None, str]:
    if not expression:
        return "no expression", ""
    try:
        value = evaluate(expression, values)
    except QuantityError as exc:
        return "does not evaluate", str(exc)
    if not set(_NAME.findall(expression)) & set(values):
        return "uses no variable", ""  # constants alone check the arithmetic, not the reading of the instance
    if value != stated:
        return "value differs", f"{value} != {stated}"
    return None, ""


def count_reasons(verdicts: Iterable[Verdict], malformed_replies: int = 0) -> dict[str, int]:
    """Dropped items per reason (only reasons that occurred), plus malformed replies."""
    counts: dict[str, int] = {}
    if malformed_replies:
        counts[MALFORMED_REPLY] = malformed_replies
    for v in verdicts:
        if v.reason is not None:
            counts[v.reason] = counts.get(v.reason, 0) + 1
    return counts
