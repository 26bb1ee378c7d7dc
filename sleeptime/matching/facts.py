"""What a question states, read by small rule extractors over its typed tokens."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sleeptime.matching import vocabulary as v
from sleeptime.matching.tokens import Kind, Token, lemma, scan

Segment = tuple[str, ...]
"""A clause or phrase's content words, in order."""


@dataclass(frozen=True)
class QuestionFacts:
    """What a question states, as compared by :func:`sleeptime.matching.checks.compare_facts`."""

    numbers: tuple[str, ...]
    """Sorted canonical numbers: ``"3"``, ``"1/2"``, ordinals as ``"#2"``."""
    units: tuple[str, ...]
    """Sorted canonical units, repeats kept (a "4 day work week" has a day and a week)."""
    quantities: tuple[str, ...]
    """Sorted ``"<number> <unit>"`` pairs, a unit bound to the number just before it ("3 hours")."""
    entities: frozenset[str]
    negations: int
    targets: frozenset[str]
    sides: frozenset[str]
    """The ordered sides of comparisons: ``"than ben"``, ``"from park"``, ``"to school"``."""
    times: tuple[str, ...]
    """Sorted time references: ``"per week"``, ``"#1 week"``, ``"next month"``, ``"monday"``."""
    counted: frozenset[str]
    """What is counted or measured: the word after "how many", "how much", "number of"."""
    pronouns: frozenset[str]
    tenses: frozenset[str]
    """``"past"`` and/or ``"future"``, from the auxiliaries ("did", "will")."""
    segments: tuple[Segment, ...]
    """Content words in order, per segment of the question (see :func:`segments_of`)."""
    target_words: tuple[str, ...]


def _words(tokens: Sequence[Token]) -> list[Token]:
    return [t for t in tokens if t.kind is Kind.WORD]


def numbers_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    return tuple(sorted(t.value for t in tokens if t.kind in (Kind.NUMBER, Kind.ORDINAL)))


def units_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    return tuple(sorted(t.value for t in tokens if t.kind is Kind.UNIT))


def quantities_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    """Units bound to the number just before them ("$3" is scanned as "3 dollars": ``"3 usd"``)."""
    found: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind is not Kind.UNIT:
            continue
        before = [t for t in tokens[max(0, i - 2) : i] if t.kind in (Kind.NUMBER, Kind.ORDINAL)]
        if before:
            found.append(f"{before[-1].value} {tok.value}")
    return tuple(sorted(found))


def entities_of(tokens: Sequence[Token]) -> frozenset[str]:
    """Capitalised words that are not question or function words, possessives stripped."""
    names: set[str] = set()
    for t in _words(tokens):
        if t.value != t.text.lower():  # a rewritten word ("Compared with" -> "than") is no name
            continue
        name = t.value[:-2] if t.value.endswith("'s") else t.value
        if t.capitalised and name not in v.NOT_ENTITIES and name not in v.UNITS and name not in v.CARDINALS:
            names.add(name)
    return frozenset(names)


def negations_of(tokens: Sequence[Token]) -> int:
    return sum(1 for t in _words(tokens) if t.value in v.NEGATIONS)


def targets_of(tokens: Sequence[Token]) -> frozenset[str]:
    found = {v.TARGETS[t.value] for t in _words(tokens) if t.value in v.TARGETS}
    values = [t.value for t in tokens]
    if any(a == "in" and b == "all" for a, b in itertools.pairwise(values)):
        found.add("total")
    return frozenset(found)


def _side_after(tokens: Sequence[Token], i: int) -> str | None:
    """The first content token after position i: the side a comparison word introduces."""
    for t in tokens[i + 1 :]:
        if t.kind is Kind.BREAK:
            return None
        if t.kind is Kind.WORD and t.value in v.FUNCTION_WORDS:
            continue
        value = t.value[:-2] if t.value.endswith("'s") else t.value
        return lemma(value) if t.kind is Kind.WORD else value
    return None


def sides_of(tokens: Sequence[Token]) -> frozenset[str]:
    """The side each order-giving word introduces: "than X", "from X", "to X", "as ... as X".

    Swapping the two sides of "How much more does Anna earn than Ben?" keeps every word but moves
    "than ben" to "than anna"; "from X to Y" becomes "from y", "to x".
    """
    values = [t.value for t in tokens]
    sides: set[str] = set()
    has_from = "from" in values
    as_seen = 0
    for i, word in enumerate(values):
        role: str | None = None
        if word == "than":  # "compared with/to" is scanned as "than"
            role = "than"
        elif word == "from" or (word == "to" and (has_from or "ratio" in values[:i])):
            role = word
        elif word == "as" and as_seen % 2 == 1:  # the second "as" of "as many ... as"
            role = "than"
        if word == "as":
            as_seen += 1
        if role is not None and (side := _side_after(tokens, i)) is not None:
            sides.add(f"{role} {side}")
    return frozenset(sides)


def _time_qualifier(tokens: Sequence[Token], i: int) -> str:
    """Which one a time unit means: "per" (each/every/a, "$5 a week"), a number, "#1", "next", or ""."""
    prev = tokens[i - 1] if i > 0 else None
    if prev is None:
        return ""
    if prev.kind in (Kind.NUMBER, Kind.ORDINAL):
        return prev.value
    if prev.value in ("a", "an"):
        before = tokens[i - 2].value if i > 1 else ""
        return "1" if before in ("in", "for", "within", "over", "during", "of", "after", "take", "takes") else "per"
    if prev.value in v.RATE_WORDS:
        return "per"
    if prev.value in v.RELATIVE_TIME_WORDS:
        return prev.value
    return ""


def times_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    """Time units with what picks them out, and named times (weekdays, months, parts of the day)."""
    found: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind is Kind.UNIT and tok.value in v.TIME_UNITS:
            found.append(f"{_time_qualifier(tokens, i)} {tok.value}".strip())
        elif tok.kind is Kind.WORD and tok.value in v.TIME_WORDS:
            found.append(v.TIME_WORDS[tok.value])
        elif tok.kind is Kind.WORD and i > 0 and tok.text in v.CAPITALISED_ONLY_TIME_WORDS:
            found.append(v.CAPITALISED_ONLY_TIME_WORDS[tok.text])
    return tuple(sorted(found))


_COUNT_OPENERS = {("how", "many"), ("how", "much"), ("number", "of"), ("amount", "of")}
_COUNT_SKIP = {"more", "fewer", "less", "extra", "additional", "total", "the", "of"}


def counted_of(tokens: Sequence[Token]) -> frozenset[str]:
    """The word right after "how many" / "how much" / "number of" (skipping "more", "fewer"): what is counted."""
    found: set[str] = set()
    values = [t.value for t in tokens]
    for i in range(len(values) - 1):
        if (values[i], values[i + 1]) not in _COUNT_OPENERS:
            continue
        for t in tokens[i + 2 :]:
            if t.kind is Kind.WORD and t.value in _COUNT_SKIP:
                continue
            if t.kind in (Kind.WORD, Kind.UNIT) and t.value not in v.FUNCTION_WORDS:
                found.add(lemma(t.value) if t.kind is Kind.WORD else t.value)
            break
    return frozenset(found)


def tenses_of(tokens: Sequence[Token]) -> frozenset[str]:
    return frozenset(v.TENSES[t.value] for t in _words(tokens) if t.value in v.TENSES)


def pronouns_of(tokens: Sequence[Token]) -> frozenset[str]:
    return frozenset(v.PRONOUNS[t.value] for t in _words(tokens) if t.value in v.PRONOUNS)


_CLAUSE_OPENERS = frozenset({"if", "when", "once", "after", "before", "while", "given", "assuming", "since",
                             "until", "suppose", "supposing", "considering"})


def _content(tok: Token) -> str | None:
    """The token as the wording check sees it, or None when it only frames the question."""
    if tok.kind is not Kind.WORD:
        return tok.value
    word = tok.value[:-2] if tok.value.endswith("'s") else tok.value
    if word in v.FUNCTION_WORDS or word in v.NEGATIONS or word in v.TARGETS:
        return None
    return v.PRONOUNS.get(word) or lemma(word)


def segments_of(tokens: Sequence[Token]) -> tuple[Segment, ...]:
    """Content words in order, in segments split at punctuation and at "if", "when", "after", ...

    Order inside a segment tells "Anna gives Ben 3 apples" from "Ben gives Anna 3 apples"; segments
    may move ("If A, how B?" = "How B, if A?"; "Each week, how much ...?" = "How much ... each week?").
    Target words ("left", "sold", "more") are left out: their place varies freely in paraphrases, and
    :func:`target_words_of` compares them as a bag.
    """
    segments: list[Segment] = []
    current: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind is Kind.BREAK or (tok.kind is Kind.WORD and tok.value in _CLAUSE_OPENERS):
            if current:
                segments.append(tuple(current))
            current = []
        elif tok.kind is Kind.UNIT and tok.value in v.TIME_UNITS:  # "weekly" and "the week" stay apart
            current.append(f"{_time_qualifier(tokens, i)} {tok.value}".strip())
        elif (word := _content(tok)) is not None:
            current.append(word)
    if current:
        segments.append(tuple(current))
    return tuple(sorted(segments))


def target_words_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    """The target words' lemmas, sorted: "sold" and "sell" agree, "sell" and "eat" (both disposed) do not."""
    return tuple(sorted(lemma(t.value) for t in _words(tokens) if t.value in v.TARGETS))


def extract_facts(question: str) -> QuestionFacts:
    """Everything the match checks compare, read from one question."""
    tokens = scan(question)
    return QuestionFacts(
        numbers=numbers_of(tokens),
        units=units_of(tokens),
        quantities=quantities_of(tokens),
        entities=entities_of(tokens),
        negations=negations_of(tokens),
        targets=targets_of(tokens),
        sides=sides_of(tokens),
        times=times_of(tokens),
        counted=counted_of(tokens),
        pronouns=pronouns_of(tokens),
        tenses=tenses_of(tokens),
        segments=segments_of(tokens),
        target_words=target_words_of(tokens),
    )
