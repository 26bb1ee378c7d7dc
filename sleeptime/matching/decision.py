"""The match decision: which predicted question (if any) may be served, with every check's typed result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sleeptime.errors import InvalidInputError
from sleeptime.matching.answers import final_answer_line
from sleeptime.matching.checks import Check, CheckResult, fact_checks
from sleeptime.matching.facts import QuestionFacts, extract_facts
from sleeptime.state import MatchInfo, PredictedQuestion


@dataclass(frozen=True)
class MatchDecision:
    """Whether a predicted answer may be served. Frozen: a later check makes a new decision."""

    served: bool
    question: str | None = None
    """The predicted question that matched (or came closest)."""
    answer: str | None = None
    """The final answer to serve (only when served)."""
    score: float | None = None
    checks: tuple[CheckResult, ...] = ()

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reason(self) -> str:
        if self.question is None:
            return "no predicted questions to match"
        if self.served:
            return f"served predicted question {self.question!r}: " + "; ".join(str(c) for c in self.checks)
        failed = "; ".join(str(c) for c in self.failed)
        return f"nearest predicted question {self.question!r} not served ({failed})"

    def with_check(self, result: CheckResult) -> MatchDecision:
        """This decision with one more check (the model's): a failed one withdraws the answer."""
        served = self.served and result.passed
        return replace(self, served=served, answer=self.answer if served else None, checks=(*self.checks, result))

    def record(self) -> MatchInfo:
        """The one JSON-safe shape of a decision (graph state, results files)."""
        return MatchInfo(
            served=self.served,
            reason=self.reason,
            question=self.question,
            answer=self.answer,
            score=self.score,
            checks={c.check.value: str(c) for c in self.checks},
        )


def similarity_check(score: float | None, threshold: float) -> CheckResult:
    if score is None or math.isnan(score):
        return CheckResult(Check.SIMILARITY, False, "no score")
    if score >= threshold:
        return CheckResult(Check.SIMILARITY, True, f"{score:.3f} >= {threshold:.3f}")
    return CheckResult(Check.SIMILARITY, False, f"{score:.3f} < {threshold:.3f}")


def answer_check(final: str | None) -> CheckResult:
    if final is None:
        return CheckResult(Check.ANSWER, False, "no final answer in the stored answer")
    return CheckResult(Check.ANSWER, True, repr(final))


def check_candidate(
    question: str | QuestionFacts, candidate: PredictedQuestion, score: float | None, threshold: float
) -> tuple[CheckResult, ...]:
    """Every check of one candidate, passed or not: similarity, each fact, the stored answer."""
    asked = extract_facts(question) if isinstance(question, str) else question
    facts = fact_checks(asked, extract_facts(candidate["question"]))
    return (similarity_check(score, threshold), *facts, answer_check(final_answer_line(candidate["answer"])))


def decide(
    question: str, candidates: Sequence[tuple[PredictedQuestion, float | None]], threshold: float
) -> MatchDecision:
    """The first candidate (nearest first) that passes every check; else the nearest, not served."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError(f"threshold must be in (0, 1], got {threshold!r}")
    if not candidates:
        return MatchDecision(False)
    asked = extract_facts(question)
    nearest: MatchDecision | None = None
    for cand, score in candidates:
        checks = check_candidate(asked, cand, score, threshold)
        if all(c.passed for c in checks):
            return MatchDecision(True, cand["question"], final_answer_line(cand["answer"]), score, checks)
        nearest = nearest or MatchDecision(False, cand["question"], None, score, checks)
    assert nearest is not None
    return nearest
