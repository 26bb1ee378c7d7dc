"""The match checks as typed results: each compares one kind of fact of the asked and predicted questions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from sleeptime.matching.facts import QuestionFacts, Segment


class Check(Enum):
    """Every check a match decision records, in the order they run."""

    SIMILARITY = "similarity"
    NUMBERS = "numbers"
    UNITS = "units"
    QUANTITIES = "quantities"
    ENTITIES = "entities"
    POLARITY = "polarity"
    TARGET = "target"
    SIDES = "sides"
    TIME = "time"
    COUNTED = "counted"
    PRONOUNS = "pronouns"
    TENSE = "tense"
    WORDING = "wording"
    ANSWER = "answer"
    MODEL = "model"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; ``detail`` is for people (the reason text), never parsed back."""

    check: Check
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.check.value} {'ok' if self.passed else 'failed'}{': ' + self.detail if self.detail else ''}"


def _result(check: Check, same: bool, asked: object, predicted: object) -> CheckResult:
    return CheckResult(check, same, "" if same else f"{asked} vs {predicted}")


def _sorted(values: Iterable[str]) -> list[str]:
    return sorted(values)


def check_numbers(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.NUMBERS, Counter(a.numbers) == Counter(p.numbers), list(a.numbers), list(p.numbers))


def check_units(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.UNITS, a.units == p.units, list(a.units), list(p.units))


def check_quantities(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    """Which number each unit measures ("3 hours and 5 minutes" vs "5 hours and 3 minutes")."""
    return _result(Check.QUANTITIES, a.quantities == p.quantities, list(a.quantities), list(p.quantities))


def check_entities(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.ENTITIES, a.entities == p.entities, _sorted(a.entities), _sorted(p.entities))


def check_polarity(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    same = a.negations % 2 == p.negations % 2 and (a.negations > 0) == (p.negations > 0)
    return _result(Check.POLARITY, same, f"{a.negations} negation(s)", f"{p.negations}")


def check_target(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.TARGET, a.targets == p.targets, _sorted(a.targets), _sorted(p.targets))


def check_sides(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    """Which side of a comparison or a "from X to Y" each thing is on."""
    return _result(Check.SIDES, a.sides == p.sides, _sorted(a.sides), _sorted(p.sides))


def check_time(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.TIME, a.times == p.times, list(a.times), list(p.times))


def check_counted(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    return _result(Check.COUNTED, a.counted == p.counted, _sorted(a.counted), _sorted(p.counted))


def check_pronouns(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    """He vs she: checked only when both questions use pronouns (a name may stand for one)."""
    same = not (a.pronouns and p.pronouns) or a.pronouns == p.pronouns
    return _result(Check.PRONOUNS, same, _sorted(a.pronouns), _sorted(p.pronouns))


def same_segments(a: Sequence[Segment], b: Sequence[Segment]) -> bool:
    """Whether both are the same pieces of wording, each piece kept in order, the pieces in any order.

    Pieces may also be joined: "each week, how much more does anna earn than ben" has the pieces of
    "how much more does anna earn than ben each week". Only whole pieces of one side are joined to make
    the other's, so a swap inside a piece, or across two pieces, never matches.
    """
    return sorted(a) == sorted(b) or _joins(list(a), list(b)) or _joins(list(b), list(a))


def _joins(pieces: list[Segment], targets: list[Segment]) -> bool:
    """Whether every target is a concatenation of whole pieces, each piece used exactly once."""
    if not targets:
        return not pieces
    target, rest = targets[0], targets[1:]
    return any(_builds(target, pieces[:i] + pieces[i + 1 :], pieces[i], rest)
               for i in range(len(pieces)) if target[: len(pieces[i])] == pieces[i])


def _builds(target: Segment, pieces: list[Segment], used: Segment, targets: list[Segment]) -> bool:
    if len(used) == len(target):
        return _joins(pieces, targets)
    remaining = target[len(used) :]
    return any(_builds(target, pieces[:i] + pieces[i + 1 :], used + pieces[i], targets)
               for i in range(len(pieces)) if remaining[: len(pieces[i])] == pieces[i])


def check_tense(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    """Past vs future ("did she sell" vs "will she sell"); the present goes with either ("does it take" =
    "will it take"), as does a question that mixes both."""
    same = not (a.tenses and p.tenses) or bool(a.tenses & p.tenses)
    return _result(Check.TENSE, same, _sorted(a.tenses), _sorted(p.tenses))


def check_wording(a: QuestionFacts, p: QuestionFacts) -> CheckResult:
    """The same content words, in the same order within each segment: catches a swap of any two of them."""
    if a.target_words != p.target_words:
        return CheckResult(Check.WORDING, False, f"target words {list(a.target_words)} vs {list(p.target_words)}")
    if same_segments(a.segments, p.segments):
        return CheckResult(Check.WORDING, True, "")
    shown = [" ".join(s) for s in a.segments], [" ".join(s) for s in p.segments]
    return CheckResult(Check.WORDING, False, f"{shown[0]} vs {shown[1]}")


FACT_CHECKS: tuple[Callable[[QuestionFacts, QuestionFacts], CheckResult], ...] = (
    check_numbers, check_units, check_quantities, check_entities, check_polarity, check_target,
    check_sides, check_time, check_counted, check_pronouns, check_tense, check_wording,
)


def fact_checks(asked: QuestionFacts, predicted: QuestionFacts) -> tuple[CheckResult, ...]:
    """Every fact check's result, passed or not."""
    return tuple(check(asked, predicted) for check in FACT_CHECKS)


def compare_facts(asked: QuestionFacts, predicted: QuestionFacts) -> tuple[CheckResult, ...]:
    """The fact checks that fail (empty when the two questions state the same facts)."""
    return tuple(r for r in fact_checks(asked, predicted) if not r.passed)
