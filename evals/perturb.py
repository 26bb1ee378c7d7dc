"""Perturbation set for verified predicted answers, generated at run time from eval questions.

Each eval question is treated as if the sleep step had predicted it, with its gold answer as the stored
worked answer. Rule-based templates then write variants a user might ask instead:

=============  ==================================================================  =============
kind           change                                                              gold holds?
=============  ==================================================================  =============
exact          the predicted question itself                                       yes
paraphrase     "Can you tell me ...", "Quick question: ...", small digits as       yes
               words, ``$5`` as "5 dollars", synonyms ("altogether" <-> "in total",
               "bought" <-> "purchased"), "exactly how many", "If A, how B?" ->
               "How B, if A?", "How many X does" -> "What is the number of X does"
number         one number changed (digits or a number word)                        no
unit           one unit or currency swapped (minutes <-> hours, dollars -> euros)  no
entity         one named entity swapped (a person's name, a weekday, a month)      no
negation       "not" after the question's auxiliary verb                           no
target         what is asked for flipped: left <-> used, more <-> fewer,           no
               each <-> in total, most <-> least, bought <-> sold, ...
object         the counted noun after "how many" swapped (no rule sees this;       no
               only the similarity threshold can stop it)
=============  ==================================================================  =============

Nothing generated here is stored in the repository (the GSM-Symbolic licence forbids sharing derived
sets): the experiment regenerates it from ``--data-dir`` every run, deterministically.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from evals.examples import Example

Kind = Literal["exact", "paraphrase", "number", "unit", "entity", "negation", "target", "object"]
KINDS: tuple[Kind, ...] = ("exact", "paraphrase", "number", "unit", "entity", "negation", "target", "object")
SAME_ANSWER: dict[Kind, bool] = {k: k in ("exact", "paraphrase") for k in KINDS}


@dataclass(frozen=True)
class Perturbed:
    """One variant of a predicted question, labelled with whether the predicted answer still holds."""

    id: str
    source_id: str
    kind: Kind
    template: str
    """Which template wrote it (e.g. ``number:digits``, ``paraphrase:tell-me``)."""
    predicted: str
    """The predicted question (the eval question) whose stored answer might be served."""
    question: str
    """The question actually asked."""
    answer: str
    """The predicted question's gold answer."""
    same_answer: bool


_NAMES = [
    "Ava", "Bea", "Chloe", "Dana", "Elena", "Fatima", "Grace", "Hana", "Ines", "Julia", "Aaron", "Ben",
    "Carlos", "David", "Emil", "Farid", "Gabe", "Hugo", "Ivan", "Jamal", "Kenji", "Liam", "Mateo", "Omar",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_UNIT_SWAPS: list[tuple[str, str]] = [
    ("seconds", "minutes"), ("minutes", "hours"), ("minute", "hour"), ("hours", "minutes"), ("hour", "minute"),
    ("days", "weeks"), ("day", "week"), ("weeks", "days"), ("week", "day"), ("months", "years"),
    ("month", "year"), ("years", "months"), ("year", "month"), ("miles", "kilometers"), ("mile", "kilometer"),
    ("kilometers", "miles"), ("meters", "feet"), ("feet", "meters"), ("inches", "centimeters"),
    ("centimeters", "inches"), ("pounds", "kilograms"), ("kilograms", "pounds"), ("ounces", "grams"),
    ("grams", "ounces"), ("liters", "gallons"), ("gallons", "liters"), ("cups", "liters"),
    ("teaspoons", "tablespoons"), ("tablespoons", "teaspoons"), ("dollars", "euros"), ("dollar", "euro"),
    ("cents", "dollars"), ("percent", "points"), ("percentage", "fraction"),
]
_TARGET_SWAPS: list[tuple[str, str]] = [
    ("have left", "have used"), ("has left", "has used"), ("are left", "are used"), ("is left", "is used"),
    ("left", "used"), ("remaining", "used"), ("remain", "be used"),
    ("more", "fewer"), ("fewer", "more"), ("less", "more"), ("longer", "shorter"), ("older", "younger"),
    ("younger", "older"), ("taller", "shorter"), ("faster", "slower"), ("higher", "lower"),
    ("in total", "each"), ("altogether", "each"), ("in all", "each"), ("total", "average"),
    ("each", "in total"), ("per", "in total for every"), ("average", "total"),
    ("most", "least"), ("least", "most"), ("maximum", "minimum"), ("minimum", "maximum"),
    ("before", "after"), ("after", "before"), ("bought", "sold"), ("buy", "sell"), ("sold", "bought"),
    ("sell", "buy"), ("spend", "earn"), ("spent", "earned"), ("earn", "spend"), ("make", "spend"),
    ("gave", "received"), ("give", "receive"), ("receive", "give"), ("lost", "won"), ("win", "lose"),
]
_SYNONYMS: list[tuple[str, str]] = [
    ("altogether", "in total"), ("in total", "altogether"), ("bought", "purchased"), ("buy", "purchase"),
    ("purchased", "bought"), ("a total of", "altogether"), ("How much money", "What amount of money"),
    ("does it take", "will it take"), ("will it take", "does it take"),
]
_OBJECTS = ["apples", "books", "coins", "stamps", "marbles", "tickets", "cookies", "pencils", "shells", "cards"]
_AUX = re.compile(r"\b(does|did|do|is|are|was|were|will|can|should|would|could|has|have|had)\b")
_QUESTION_WORDS = {"how", "what", "which", "who", "if", "in", "on", "at", "the", "a", "an", "after", "before",
                   "once", "calculate", "find", "determine", "given", "assuming", "suppose", "can", "will",
                   "is", "are", "does", "do", "did", "for", "during", "over", "by", "with", "each", "every"}


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "little")


def _sub_first(pattern: str, repl: str, text: str, flags: int = 0) -> str | None:
    new, n = re.subn(pattern, repl, text, count=1, flags=flags)
    return new if n and new != text else None


def _lower_first(q: str) -> str:
    return q[:1].lower() + q[1:] if q[:2] != q[:2].upper() else q


# --------------------------------------------------------------------------- templates


def _number(q: str, rng: random.Random) -> list[tuple[str, str]]:
    m = re.search(r"(?<![\w.,/])(\d+)(?![\d,./])", q)
    if m:
        n = int(m.group(1))
        new = n + rng.choice([1, 2, 3, 5, 10]) if n < 1000 else n + rng.choice([100, 1000])
        return [("number:digits", q[: m.start(1)] + str(new) + q[m.end(1):])]
    words = "|".join(_SMALL[2:])
    m2 = re.search(rf"\b({words})\b", q, flags=re.I)
    if m2:
        idx = _SMALL.index(m2.group(1).lower())
        other = _SMALL[min(20, idx + 1) if idx < 20 else idx - 1]
        return [("number:word", q[: m2.start(1)] + other + q[m2.end(1):])]
    m3 = re.search(r"\btwice\b", q)
    if m3:
        return [("number:twice", q[: m3.start()] + "three times" + q[m3.end():])]
    return []


def _unit(q: str, rng: random.Random) -> list[tuple[str, str]]:
    m = re.search(r"\$\s?(\d[\d,]*(?:\.\d+)?)", q)
    if m:
        return [("unit:currency", q[: m.start()] + m.group(1) + " euros" + q[m.end():])]
    for old, new in _UNIT_SWAPS:
        out = _sub_first(rf"\b{old}\b", new, q)
        if out:
            return [(f"unit:{old}", out)]
    return []


def _entity(q: str, rng: random.Random) -> list[tuple[str, str]]:
    for pool in (_DAYS, _MONTHS):
        for word in pool:
            if re.search(rf"\b{word}\b", q):
                other = rng.choice([w for w in pool if w != word])
                return [("entity:calendar", re.sub(rf"\b{word}\b", other, q))]
    tokens = list(re.finditer(r"\b([A-Z][a-z]+)(?:'s)?\b", q))
    for i, m in enumerate(tokens):
        word = m.group(1)
        at_start = m.start() == 0 or q[: m.start()].rstrip().endswith((".", "?", "!"))
        if word.lower() in _QUESTION_WORDS or (at_start and i == 0 and word.lower() in _QUESTION_WORDS):
            continue
        if word in ("I", "Mr", "Mrs", "Ms", "Dr"):
            continue
        other = rng.choice([n for n in _NAMES if n != word])
        return [("entity:name", re.sub(rf"\b{word}\b", other, q))]
    return []


def _negation(q: str, rng: random.Random) -> list[tuple[str, str]]:
    m = _AUX.search(q)
    if not m:
        return []
    return [(f"negation:{m.group(1)}-not", q[: m.end()] + " not" + q[m.end():])]


def _target(q: str, rng: random.Random) -> list[tuple[str, str]]:
    for old, new in _TARGET_SWAPS:
        out = _sub_first(rf"\b{old}\b", new, q)
        if out:
            return [(f"target:{old}->{new}", out)]
    return []


def _object(q: str, rng: random.Random) -> list[tuple[str, str]]:
    m = re.search(r"\b[Hh]ow many (?:more |fewer |)([a-z]+s)\b", q)
    if not m:
        return []
    noun = m.group(1)
    other = rng.choice([o for o in _OBJECTS if o != noun])
    return [("object:noun", q[: m.start(1)] + other + q[m.end(1):])]


def _paraphrases(q: str, rng: random.Random) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if re.match(r"(How|What)\b", q):
        out.append(("paraphrase:tell-me", "Can you tell me " + _lower_first(q)))
        if q.startswith("How many"):
            out.append(("paraphrase:exactly", "Exactly how many" + q[len("How many"):]))
        elif q.startswith("How much"):
            out.append(("paraphrase:exactly", "Exactly how much" + q[len("How much"):]))
    out.append(("paraphrase:quick-question", "Quick question: " + q))
    m0 = re.match(r"^(If|When|Once|Assuming|Given that) ([^?]+?), ((?:how|what)\b[^?]*)\?$", q)
    if m0:
        head = m0.group(3)
        out.append(("paraphrase:clause-order",
                    f"{head[:1].upper()}{head[1:]}, {m0.group(1).lower()} {m0.group(2)}?"))
    if q.startswith("How many ") and re.match(r"How many \w+ (?:does|did|do|will|are|were|is|was)\b", q):
        out.append(("paraphrase:what-number", "What is the number of" + q[len("How many"):]))
    m = re.search(r"(?<![\w.,/$¥€£₹])([2-9]|1\d|20)(?![\d,./%])(?=\s+[a-z])", q)
    if m:
        out.append(("paraphrase:digit-words", q[: m.start(1)] + _SMALL[int(m.group(1))] + q[m.end(1):]))
    m2 = re.search(r"\$(\d[\d,]*(?:\.\d+)?)", q)
    if m2 and "dollar" not in q:
        out.append(("paraphrase:dollars", q[: m2.start()] + m2.group(1) + " dollars" + q[m2.end():]))
    for old, new in _SYNONYMS:
        s = _sub_first(rf"\b{old}\b", new, q)
        if s:
            out.append((f"paraphrase:{old}->{new}", s))
            break
    return out


_GENERATORS: dict[Kind, Callable[[str, random.Random], list[tuple[str, str]]]] = {
    "paraphrase": _paraphrases,
    "number": _number,
    "unit": _unit,
    "entity": _entity,
    "negation": _negation,
    "target": _target,
    "object": _object,
}


def perturb_question(source_id: str, question: str, answer: str) -> list[Perturbed]:
    """Every variant of one predicted question (deterministic per source id)."""
    q = " ".join(question.split())
    items = [Perturbed(f"{source_id}:exact:0", source_id, "exact", "exact", q, q, answer, True)]
    for kind, gen in _GENERATORS.items():
        rng = random.Random(_seed(source_id, kind))
        for i, (template, text) in enumerate(gen(q, rng)):
            text = " ".join(text.split())
            if text == q:
                continue
            items.append(Perturbed(f"{source_id}:{kind}:{i}", source_id, kind, template, q, text, answer,
                                   SAME_ANSWER[kind]))
    return items


def perturbation_set(examples: Iterable[Example]) -> list[Perturbed]:
    """The perturbations of every example's question, in example order."""
    out: list[Perturbed] = []
    for ex in examples:
        out.extend(perturb_question(ex.id, ex.question, ex.answer))
    return out


def counts(items: Iterable[Perturbed]) -> dict[str, int]:
    """How many items of each kind."""
    found: dict[str, int] = {}
    for it in items:
        found[it.kind] = found.get(it.kind, 0) + 1
    return dict(sorted(found.items()))
