"""Verified matching of a real question to a predicted one, so its stored answer can be served as is.

Semantic answer caches serve wrong answers when a question differs from a cached one only in a
number, a unit, a name or a negation: such pairs score above any similarity threshold. Here a
predicted question's answer is served only when every check below agrees:

* facts: the quantities each question states, extracted by rules and compared exactly
  - numbers (digits, decimals, fractions, ``$3.50``, ``25%``, number words such as "three", "twice",
    "half", "a dozen", and ordinals such as "second" kept apart from cardinals);
  - units and currencies (canonical names: ``$``/"dollars" -> ``usd``, "km"/"kilometres" -> ``km``, ...);
  - named entities (capitalised words that are not question or function words, possessives stripped);
  - polarity (how many negations: "not", "n't", "never", "no", "without", ...);
  - the question's target: groups of words that decide what is asked for, such as remaining ("left")
    vs disposed ("sold", "used"), "more" vs "less", "each" vs "total", "most" vs "least", buy vs sell;
* similarity: the store's search score (cosine) at or above a calibrated threshold;
* optionally a cheap yes/no check by the wake model (``verify_predicted="model"``).

The stored answer is a worked answer; :func:`final_answer_line` takes its final answer (the text after
the last ``####``, else an "answer is ..." line, else the right-hand side of the last ``=`` on the last
line, else the last line) and that alone is served.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sleeptime.state import PredictedQuestion

# ----------------------------------------------------------------------------- vocabulary

_CARDINALS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_MULTIPLIERS: dict[str, Fraction] = {
    "twice": Fraction(2), "double": Fraction(2), "doubled": Fraction(2), "thrice": Fraction(3),
    "triple": Fraction(3), "tripled": Fraction(3), "quadruple": Fraction(4), "half": Fraction(1, 2),
    "halved": Fraction(1, 2), "dozen": Fraction(12), "dozens": Fraction(12), "quarter": Fraction(1, 4),
    "quarters": Fraction(1, 4), "pair": Fraction(2), "couple": Fraction(2),
}
_ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "last": -1,
}
# "a third", "two thirds", "one fifth": fractions written with an ordinal denominator.
_FRACTION_DENOMS: dict[str, int] = {
    "third": 3, "thirds": 3, "fourth": 4, "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6,
    "eighth": 8, "eighths": 8, "tenth": 10, "tenths": 10,
}

_UNITS: dict[str, str] = {}
for _canon, _words in {
    "second": "second seconds sec secs",
    "minute": "minute minutes min mins",
    "hour": "hour hours hr hrs",
    "day": "day days daily",
    "week": "week weeks weekly",
    "month": "month months monthly",
    "year": "year years yearly annually annual",
    "mm": "millimeter millimeters millimetre millimetres mm",
    "cm": "centimeter centimeters centimetre centimetres cm",
    "m": "meter meters metre metres",
    "km": "kilometer kilometers kilometre kilometres km",
    "inch": "inch inches",
    "foot": "foot feet ft",
    "yard": "yard yards",
    "mile": "mile miles",
    "ml": "milliliter milliliters millilitre millilitres ml",
    "liter": "liter liters litre litres",
    "gallon": "gallon gallons",
    "quart": "quart quarts",
    "pint": "pint pints",
    "cup": "cup cups",
    "teaspoon": "teaspoon teaspoons tsp",
    "tablespoon": "tablespoon tablespoons tbsp",
    "ounce": "ounce ounces oz",
    "pound": "pound pounds lb lbs",
    "gram": "gram grams g",
    "kg": "kilogram kilograms kilo kilos kg",
    "ton": "ton tons tonne tonnes",
    "usd": "dollar dollars usd bucks $",
    "cent": "cent cents",
    "eur": "euro euros eur €",
    "gbp": "£ gbp",
    "yen": "yen ¥",
    "inr": "rupee rupees ₹",
    "percent": "percent percentage percentages % per-cent",
    "mph": "mph",
    "degree": "degree degrees",
}.items():
    for _w in _words.split():
        _UNITS[_w] = _canon
# Single letters count as units only right after a number ("5 g", "3 m").
_UNITS_AFTER_NUMBER_ONLY = {"g", "m", "min", "sec", "ml", "mm", "cm", "km", "kg", "oz", "lb", "lbs", "ft", "hr"}

_TARGETS: dict[str, str] = {}
for _group, _words in {
    "remaining": "left remain remains remaining remained leftover leftovers rest",
    "disposed": "sold sell sells selling used use uses using spent spend spends spending ate eat eats eaten "
    "gave give gives given giving lost lose loses removed remove took take taken consumed consume "
    "donated donate threw throw thrown",
    "acquired": "bought buy buys buying purchased purchase purchases received receive receives got get gets "
    "collected collect collects found find earned earn earns gained gain gains won win wins added add adds",
    "more": "more greater larger longer older taller higher bigger faster heavier extra exceed exceeds",
    "less": "less fewer smaller shorter younger lower cheaper slower lighter",
    "each": "each per every apiece average individually",
    "total": "total totally altogether together combined overall sum entire whole all",
    "most": "most maximum greatest highest largest biggest",
    "least": "least minimum fewest lowest smallest",
    "before": "before earlier initially originally start beginning",
    "after": "after later finally end",
    "difference": "difference differ",
    "ratio": "ratio proportion fraction",
}.items():
    for _w in _words.split():
        _TARGETS[_w] = _group
_NEGATIONS = {"not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "cannot", "except"}

# Capitalised words that are not names: question words, function words, imperative openers.
_NOT_ENTITY_WORDS = """
How What Which Who Whom Whose When Where Why If In On At The A An After Before Once Calculate Find
Determine Compute Given Assuming Assume Suppose Can Could Would Will Is Are Does Do Did Was Were
Please Tell Me For To Of And But So Then During Over By With Each Every All Together Altogether Total
I Mr Mrs Ms Dr Prof It This That These Those There They He She His Her Their Its We You Your Our
Also Now Still Since While Until As From Into Out Up Down Some Any Many Much More Less Most Least
Let Using Use Work Working Figure Give Express Round Answer Question Q Based Considering Including
Excluding Say Show Explain Estimate Should Must May Might Has Have Had Being Been Not No Yes Only
Just Exactly About Approximately Roughly
"""
_NOT_ENTITIES = {w.lower() for w in _NOT_ENTITY_WORDS.split()}

_HEADER = re.compile(r"^\s*[A-Z][A-Za-z]*(?: [A-Za-z]+){0,2}:\s+(?=\S)")
_TOKEN = re.compile(
    r"\$|€|£|¥|₹|%"
    r"|(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:/\d+)?"
    r"|[A-Za-z]+(?:'[A-Za-z]+)?"
    r"|n't"
)


# ----------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class QuestionFacts:
    """What a question states, as compared by :func:`compare_facts`."""

    numbers: tuple[str, ...]
    """Sorted canonical numbers: ``"3"``, ``"1/2"``, ordinals as ``"#2"``."""
    units: tuple[str, ...]
    """Sorted canonical units, repeats kept (a "4 day work week" has a day and a week)."""
    quantities: tuple[str, ...]
    """Sorted ``"<number> <unit>"`` pairs, a unit bound to the number just before it ("3 hours")."""
    entities: frozenset[str]
    negations: int
    targets: frozenset[str]


def _tokens(text: str) -> list[str]:
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"(\w)n't\b", r"\1 n't", text)
    text = re.sub(r"(?i)\bcan not\b", "cannot", text)
    # Hyphenated number words ("twenty-five", "two-thirds") and "per-cent" become separate words.
    text = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)
    return _TOKEN.findall(text)


def _canon_number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _parse_digits(tok: str) -> Fraction | None:
    s = tok.replace(",", "")
    try:
        if "/" in s:
            num, _, den = s.partition("/")
            return None if float(den) == 0 else Fraction(num) / Fraction(den)
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def extract_facts(question: str) -> QuestionFacts:
    """The numbers, units, entities, negations and targets a question states (see the module doc)."""
    # A short header such as "Quick question:" or "Q:" is not part of what is asked.
    question = _HEADER.sub("", question, count=1)
    toks = _tokens(question)
    lows = [t.lower() for t in toks]
    numbers: list[str] = []
    units: list[str] = []
    quantities: list[str] = []
    last_number_at = -10
    entities: set[str] = set()
    targets: set[str] = set()
    negations = 0
    i = 0
    prev_number = False
    while i < len(toks):
        tok, low = toks[i], lows[i]
        nxt = lows[i + 1] if i + 1 < len(toks) else ""
        prev = lows[i - 1] if i > 0 else ""
        is_number = False
        if tok[0].isdigit():
            value = _parse_digits(tok)
            if value is not None:
                numbers.append(_canon_number(value))
                is_number = True
        elif low in _CARDINALS or low in _SCALES:
            # A run of number words: "three hundred twenty five", "one", "twenty four".
            total, current, j = 0, 0, i
            while j < len(lows) and (lows[j] in _CARDINALS or lows[j] in _SCALES or
                                     (lows[j] == "and" and j + 1 < len(lows) and lows[j + 1] in _CARDINALS
                                      and j > i)):
                w = lows[j]
                if w in _CARDINALS:
                    current += _CARDINALS[w]
                elif w in _SCALES:
                    current = max(current, 1) * _SCALES[w]
                    if _SCALES[w] >= 1000:
                        total, current = total + current, 0
                j += 1
            value_int = total + current
            after = lows[j] if j < len(lows) else ""
            if after in _FRACTION_DENOMS or (after == "half" and value_int > 0):
                den = 2 if after == "half" else _FRACTION_DENOMS[after]
                numbers.append(_canon_number(Fraction(value_int, den)))
                j += 1
            else:
                numbers.append(str(value_int))
            i = j
            prev_number = True
            last_number_at = j - 1
            continue
        elif low in ("a", "an") and nxt in _FRACTION_DENOMS and nxt not in ("second",):
            numbers.append(_canon_number(Fraction(1, _FRACTION_DENOMS[nxt])))
            i += 2
            prev_number = True
            last_number_at = i - 1
            continue
        elif low in _MULTIPLIERS:
            numbers.append(_canon_number(_MULTIPLIERS[low]))
            is_number = True
        elif low in _ORDINALS and not (low == "second" and (prev_number or prev in ("per", "a", "each", "every"))):
            numbers.append(f"#{_ORDINALS[low]}")
            is_number = True
        elif low in _UNITS and (low not in _UNITS_AFTER_NUMBER_ONLY or prev_number):
            units.append(_UNITS[low])
            if low in ("$", "€", "£", "¥", "₹") and i + 1 < len(toks) and toks[i + 1][0].isdigit():
                value = _parse_digits(toks[i + 1])
                if value is not None:
                    quantities.append(f"{_canon_number(value)} {_UNITS[low]}")
            elif numbers and i - last_number_at <= 2:
                quantities.append(f"{numbers[-1]} {_UNITS[low]}")
        if low in _TARGETS:
            targets.add(_TARGETS[low])
        if low in _NEGATIONS or low == "n't":
            negations += 1
        if tok[0].isupper() and low not in _NOT_ENTITIES and low not in _UNITS and low not in _CARDINALS:
            name = low[:-2] if low.endswith("'s") else low
            if name not in _NOT_ENTITIES:
                entities.add(name)
        prev_number = is_number
        if is_number:
            last_number_at = i
        i += 1
    # "in all" is a total; "how much more/less" compares.
    joined = " ".join(lows)
    if re.search(r"\bin all\b", joined):
        targets.add("total")
    return QuestionFacts(
        numbers=tuple(sorted(numbers)),
        units=tuple(sorted(units)),
        quantities=tuple(sorted(quantities)),
        entities=frozenset(entities),
        negations=negations,
        targets=frozenset(targets),
    )


def compare_facts(asked: QuestionFacts, predicted: QuestionFacts) -> list[str]:
    """Every way the two questions' facts disagree (empty when they all agree)."""
    problems: list[str] = []
    if Counter(asked.numbers) != Counter(predicted.numbers):
        problems.append(f"numbers differ: {list(asked.numbers)} vs {list(predicted.numbers)}")
    if asked.units != predicted.units:
        problems.append(f"units differ: {list(asked.units)} vs {list(predicted.units)}")
    elif asked.quantities != predicted.quantities:
        problems.append(f"units differ in what they measure: {list(asked.quantities)} vs {list(predicted.quantities)}")
    if asked.entities != predicted.entities:
        problems.append(f"entities differ: {sorted(asked.entities)} vs {sorted(predicted.entities)}")
    if asked.negations % 2 != predicted.negations % 2 or (asked.negations > 0) != (predicted.negations > 0):
        problems.append(f"polarity differs: {asked.negations} vs {predicted.negations} negation(s)")
    if asked.targets != predicted.targets:
        problems.append(f"target differs: {sorted(asked.targets)} vs {sorted(predicted.targets)}")
    return problems


# ----------------------------------------------------------------------------- answers

_HASHES = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(r"(?i)\b(?:final answer|answer)\s*(?:is|:|=)\s*(.+)")


def final_answer_line(worked: str) -> str | None:
    """The final answer of a worked answer (see the module doc), or None when there is none."""
    text = (worked or "").strip()
    if not text:
        return None
    found: str | None = None
    hashes = _HASHES.findall(text)
    if hashes:
        found = hashes[-1]
    else:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        for line in reversed(lines):
            m = _ANSWER_IS.search(line)
            if m:
                found = m.group(1)
                break
        if found is None:
            last = lines[-1]
            # The last sentence of the last line: "3 x 2 = 6." -> "6".
            last = re.split(r"(?<=[.!?])\s+(?=[A-Z])", last)[-1]
            found = last.rsplit("=", 1)[-1] if "=" in last else last
    found = found.strip().strip("*").strip()
    found = re.sub(r"[.\s]+$", "", found)
    return found or None


# ----------------------------------------------------------------------------- decisions


@dataclass
class MatchDecision:
    """Whether a predicted answer may be served, with every check's result."""

    served: bool
    reason: str
    question: str | None = None
    """The predicted question that matched (or came closest)."""
    answer: str | None = None
    """The final answer to serve (only when served)."""
    score: float | None = None
    checks: dict[str, str] = field(default_factory=dict)


def check_candidate(
    question: str, candidate: PredictedQuestion, score: float | None, threshold: float
) -> tuple[bool, dict[str, str]]:
    """Run the rule and similarity checks of one candidate; every check's result is recorded."""
    checks: dict[str, str] = {}
    ok = True
    if score is None:
        checks["similarity"] = "no score"
        ok = False
    elif score >= threshold:
        checks["similarity"] = f"ok {score:.3f} >= {threshold:.3f}"
    else:
        checks["similarity"] = f"low {score:.3f} < {threshold:.3f}"
        ok = False
    problems = compare_facts(extract_facts(question), extract_facts(candidate["question"]))
    checks["facts"] = "ok" if not problems else "; ".join(problems)
    ok = ok and not problems
    final = final_answer_line(candidate["answer"])
    checks["answer"] = f"final line {final!r}" if final else "no final answer in the stored answer"
    ok = ok and final is not None
    return ok, checks


def decide(
    question: str, candidates: Sequence[tuple[PredictedQuestion, float | None]], threshold: float
) -> MatchDecision:
    """The first candidate (nearest first) that passes every rule and similarity check, if any."""
    if not candidates:
        return MatchDecision(False, "no predicted questions to match")
    first: tuple[PredictedQuestion, float | None, dict[str, str]] | None = None
    for cand, score in candidates:
        ok, checks = check_candidate(question, cand, score, threshold)
        if ok:
            final = final_answer_line(cand["answer"])
            return MatchDecision(
                True,
                f"served predicted question {cand['question']!r}: " + "; ".join(f"{k} {v}" for k, v in checks.items()),
                cand["question"], final, score, checks,
            )
        if first is None:
            first = (cand, score, checks)
    assert first is not None
    cand, score, checks = first
    failed = "; ".join(f"{k}: {v}" for k, v in checks.items() if not v.startswith(("ok", "final line")))
    return MatchDecision(False, f"nearest predicted question {cand['question']!r} not served ({failed})",
                         cand["question"], None, score, checks)


# ----------------------------------------------------------------------------- model check

CHECK_SYSTEM = """You compare two questions about the same situation.
Reply with only "yes" if they ask for exactly the same quantity (same numbers, units, people and
direction), or only "no" otherwise."""

CHECK_USER = """Question A: {asked}
Question B: {predicted}
Same question?"""


def parse_yes_no(text: str) -> bool | None:
    """True for a reply starting with yes, False for no, None otherwise."""
    m = re.match(r"\W*(yes|no)\b", text.strip().lower())
    return None if m is None else m.group(1) == "yes"


def decision_dict(decision: MatchDecision) -> dict[str, Any]:
    """A JSON-safe view of a decision (for state and results files)."""
    return {
        "served": decision.served,
        "reason": decision.reason,
        "question": decision.question,
        "answer": decision.answer,
        "score": decision.score,
        "checks": dict(decision.checks),
    }
