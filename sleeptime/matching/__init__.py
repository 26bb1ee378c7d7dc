"""Verified matching of a real question to a predicted one, so its stored answer can be served as is.

Semantic answer caches serve wrong answers when a question differs from a cached one only in a
number, a unit, a name, a negation or the order of two things: such pairs score above any similarity
threshold. Here a predicted question's answer is served only when every check agrees
(:class:`~sleeptime.matching.checks.Check`, each result a typed
:class:`~sleeptime.matching.checks.CheckResult`):

* similarity: the store's search score (cosine) at or above a calibrated threshold;
* facts, extracted by rules (:mod:`.facts`) and compared exactly (:mod:`.checks`): numbers (digits,
  fractions, number words, ordinals), units and the number each measures, named entities, polarity,
  the target (left vs used, more vs less, each vs total, ...), the sides of a comparison ("than Ben",
  "from X", "to Y"), time references ("per week", "the first week", "next month", weekdays, months),
  what is counted ("how many apples"), pronouns, and the wording: the same content words in the same
  order within each clause, which catches a swap of any two of them;
* the stored answer has a final answer line (:func:`final_answer_line`), which alone is served;
* optionally a cheap yes/no check by the wake model (``verify_predicted="model"``, prompt in
  :mod:`sleeptime.prompts.match`).
"""

from __future__ import annotations

from sleeptime.matching.answers import final_answer_line
from sleeptime.matching.checks import Check, CheckResult, compare_facts, fact_checks
from sleeptime.matching.decision import MatchDecision, check_candidate, decide
from sleeptime.matching.facts import QuestionFacts, extract_facts
from sleeptime.prompts.match import parse_yes_no

__all__ = [
    "Check",
    "CheckResult",
    "MatchDecision",
    "QuestionFacts",
    "check_candidate",
    "compare_facts",
    "decide",
    "extract_facts",
    "fact_checks",
    "final_answer_line",
    "parse_yes_no",
]
