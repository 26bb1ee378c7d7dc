"""Grading as in the paper, compared exactly (Fraction), plus the aggregation helpers the experiments use.

GSM: the number after the last ``####`` if the reply has one; else what follows the last "The answer is" (the
wording the answer prompts ask for); else the last number in the reply, with ``$``, thousands separators and a
trailing ``.`` stripped; compared to the gold answer as exact rationals, so ``"12.0" == "12"`` and
``"$1,200" == "1200"``. A reply that ends in arithmetic ("... 8 - 3") or whose answer sentence is arithmetic
("The answer is 8 - 3.") is evaluated exactly (5): " - " between two numbers is a subtraction, not a sign.

AIME: the last ``\\boxed{...}`` (nested braces handled) as an
integer, falling back to the last 1-3 digit number in the reply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sleeptime.experimental import Limits, QuantityError
from sleeptime.experimental import evaluate as evaluate_arithmetic

# A number: optional sign, optional '$', digits with optional thousands separators, optional decimals,
# optional '/denominator' (a fraction such as 3/4). A '-' glued to a word or digit ("3-4", "x-2") is a
# hyphen, not a sign.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>-)?\s?\$?\s?(?P<sign2>-)?"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:\s?/\s?(?P<den>\d+(?:\.\d+)?))?"
    r"(?![\d])"
)
_HASHES = re.compile(r"####\s*(.*)", re.DOTALL)
_ANCHOR = re.compile(r"\bthe\s+(?:final\s+)?answer\s+is\b", re.IGNORECASE)

# Arithmetic written out: unsigned numbers (a fraction such as 3/4 is one number) joined by + - * × ÷.
_TERM = r"\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?/\s?\d+(?:\.\d+)?)?"
# A "-" needs a space before it to be a minus: "8-3" is a range or a hyphen, as the last-number rule reads it.
_OP = r"(?:\s*[+*×÷]|\s+-|\s+[xX](?=\s))\s*"
_EXPR = rf"(?:-\s?)?{_TERM}(?:{_OP}{_TERM})+"
_TRAILING_EXPR = re.compile(rf"(?<![\w.,/$-]){_EXPR}(?=[\s.!*]*$)")
_LEADING_ANSWER = re.compile(
    rf"[\s:*]*(?P<expr>(?:-\s?)?{_TERM}(?:{_OP}{_TERM})*)(?:\s*=\s*(?P<result>(?:-\s?)?\$?\s?-?{_TERM}))?"
)
_TOKEN = re.compile(rf"{_TERM}|[-+*×÷xX]")
_OPERATORS = {"+": "+", "-": "-", "*": "*", "×": "*", "÷": "/", "x": "*", "X": "*"}
# In the answer sentence: a restatement ("7 dozen, i.e. 84", "twelve, that is 12") reads as "=" (the restated
# value is the answer); a mixed number ("2 1/2") is one value; digits grouped by spaces ("1 000") are one number.
_RESTATE = re.compile(r",?\s*\b(?:i\.\s?e\.|that is|which is)\s*,?\s*", re.IGNORECASE)
_MIXED = re.compile(r"(?<![\d/.,])(\d+)[ \u00a0](\d+)\s?/\s?(\d+)(?![\d/])")
_SPACED = re.compile(r"(?<![\d.,/])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d/]|[ \u00a0\u202f]?\.\d)")
# The answer sentence ends at a '.', ';', '!' or '?' that is not a decimal point.
_CLAUSE_END = re.compile(r"(?<!\d)\.|\.(?!\d)|[;!?]")
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’]*")
UNBOUNDED = Limits(chars=None, nodes=None, magnitude=None, denominator=None)


def parse_number(text: str) -> Fraction | None:
    """An exact value for a number string such as ``"1,200"``, ``"$3.50"``, ``"-2"``, ``"3/4"``, ``"12."``."""
    s = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    s = s.rstrip(".")
    if s.endswith("%"):
        s = s[:-1]
    if not s:
        return None
    try:
        if "/" in s:
            num, _, den = s.partition("/")
            d = Fraction(Decimal(den))
            return None if d == 0 else Fraction(Decimal(num)) / d
        return Fraction(Decimal(s))
    except (InvalidOperation, ValueError):
        return None


def numbers_in(text: str) -> set[Fraction]:
    """Every number written in ``text`` (as the graders read numbers), as exact values."""
    return {v for m in _NUMBER.finditer(text) if (v := parse_number(m.group(0))) is not None}


def format_number(value: Fraction) -> str:
    """Exact canonical text: ``"12"``, ``"-0.75"``, or ``"1/3"`` when no finite decimal exists."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def evaluate(expr: str) -> Fraction | None:
    """The exact value of written-out arithmetic such as ``"8 - 3"`` or ``"$2.50 × 4 + 1/2"`` (``*`` and ``/``
    before ``+`` and ``-``; ``3/4`` is one number); None when it is not such arithmetic, divides by zero or
    is too deep to parse; computed by the library's evaluator (``sleeptime.experimental.evaluate``) without its
    bounds for notes: a reply's arithmetic is graded whatever its size, as the paper's grader reads it."""
    tokens = _TOKEN.findall(expr)
    if not tokens or "".join(t.replace(" ", "") for t in tokens) != re.sub(r"\s", "", expr):
        return None
    sign = ""
    if tokens[0] == "-":  # a leading sign
        sign, tokens = "-", tokens[1:]
    if len(tokens) % 2 == 0:
        return None
    parts: list[str] = []
    for i, tok in enumerate(tokens):
        if i % 2 == 1:
            if tok not in _OPERATORS:
                return None
            parts.append(_OPERATORS[tok])
            continue
        value = parse_number(tok)
        if value is None:
            return None
        # Each number is one operand: "6 ÷ 3/4" divides by three quarters.
        parts.append(str(value.numerator) if value.denominator == 1 else f"({value.numerator}/{value.denominator})")
    try:
        return evaluate_arithmetic(sign + " ".join(parts), {}, UNBOUNDED)
    except QuantityError:
        return None


def _last_number(text: str) -> str | None:
    last: re.Match[str] | None = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - we want the final match
        pass
    if last is None:
        return None
    negative = bool(last.group("sign") or last.group("sign2"))
    if negative and re.search(r"[\d)]\s*$", text[: last.start()]):
        negative = False  # "8 - 3": a subtraction, not a negative 3
    sign = "-" if negative else ""
    num = last.group("num").replace(",", "")
    den = last.group("den")
    return f"{sign}{num}/{den}" if den else f"{sign}{num}"


def extract_gsm_answer(text: str) -> str | None:
    """The reply's final answer as a number string (no ``$``, ``,`` or trailing ``.``), or None."""
    if not text:
        return None
    m = None
    for m in _HASHES.finditer(text):  # noqa: B007
        pass
    if m is not None:
        after = m.group(1)
        # The answer follows the last '####'; its first number is the answer.
        first = _NUMBER.search(after)
        if first is not None:
            found = _last_number(after[: first.end()])
            if found is not None:
                return found
    anchored = _after_anchor(text)
    if anchored is not None:
        return anchored
    return _final_value(text)


def _after_anchor(text: str) -> str | None:
    """The answer stated after the last "The answer is", read in its sentence: the result after its last "="
    (or restatement, "i.e. 84"), unless that result is the rounded value of exact arithmetic before it
    ("2/3 = 0.67" -> 2/3); else the value of its arithmetic, units and all ("3 x 4", "3 hours * 60"); else its
    first number. None when the sentence after the anchor holds no number."""
    m = None
    for m in _ANCHOR.finditer(text):  # noqa: B007 - we want the final match
        pass
    if m is None:
        return None
    rest = text[m.end():].split("\n", 1)[0]
    rest = _RESTATE.sub(" = ", rest)
    rest = _MIXED.sub(lambda g: f"{int(g[1]) * int(g[3]) + int(g[2])}/{g[3]}", rest)
    rest = _SPACED.sub(lambda g: re.sub(r"\s", "", g[0]), rest)
    clause = _CLAUSE_END.split(rest, 1)[0]
    if not clause.lstrip(" :*$").startswith("(") and "(" in clause:
        clause = clause.split("(", 1)[0]  # "5 (since 8 - 3 = 5)": the answer comes before its aside
    if "=" in clause:
        parts = clause.split("=")
        for i in range(len(parts) - 1, 0, -1):
            first = _NUMBER.search(parts[i])
            if first is None:
                continue
            stated = _last_number(parts[i][: first.end()])
            if stated is None:
                continue
            exact = _arithmetic_value(parts[i - 1])
            return format_number(exact) if exact is not None and _rounds_to(exact, stated) else stated
    lead = _LEADING_ANSWER.match(clause)
    value = evaluate(lead.group("expr")) if lead is not None and _TOKEN.findall(lead.group("expr"))[1:] else None
    if value is None:
        value = _arithmetic_value(clause)  # units between the numbers: "3 hours * 60"
    if value is None and lead is not None:
        value = evaluate(lead.group("expr"))
    if value is not None:
        return format_number(value)
    first = _NUMBER.search(clause)
    return _last_number(clause[: first.end()]) if first is not None else None


def _arithmetic_value(text: str) -> Fraction | None:
    """The exact value of ``text`` read as arithmetic once its unit words are dropped ("3 hours * 60"); None
    when it is no such arithmetic (a lone number is not)."""
    bare = " ".join(_WORDS.sub(lambda w: w[0] if w[0] in ("x", "X") else " ", text).split()).strip(" :*,")
    return evaluate(bare) if bare else None


def _rounds_to(exact: Fraction, stated: str) -> bool:
    """True when ``stated`` is a decimal that ``exact`` rounds to, and not ``exact`` itself ("0.67" for 2/3)."""
    value = parse_number(stated)
    if value is None or value == exact or "." not in stated:
        return False
    places = len(stated.split(".", 1)[1])
    return abs(exact - value) <= Fraction(1, 2 * 10**places)


def _final_value(text: str) -> str | None:
    """The last number, or the value of the arithmetic the reply ends with ("... so 8 - 3" -> 5)."""
    tail = _TRAILING_EXPR.search(text)
    if tail is not None:
        value = evaluate(tail.group(0))
        if value is not None:
            return format_number(value)
    return _last_number(text)


def _gold_value(gold: str | int | Fraction) -> Fraction | None:
    if isinstance(gold, Fraction):
        return gold
    if isinstance(gold, int):
        return Fraction(gold)
    text = gold
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    return parse_number(text)


def grade_gsm(reply: str, gold: str | int | Fraction) -> bool:
    """True when the reply's extracted answer equals the gold answer exactly."""
    got = extract_gsm_answer(reply)
    if got is None:
        return False
    value = parse_number(got)
    expected = _gold_value(gold)
    return value is not None and expected is not None and value == expected


def _last_boxed(text: str) -> str | None:
    idx = text.rfind("\\boxed")
    while idx >= 0:
        j = idx + len("\\boxed")
        while j < len(text) and text[j].isspace():
            j += 1
        if j < len(text) and text[j] == "{":
            depth = 0
            for k in range(j, len(text)):
                if text[k] == "{":
                    depth += 1
                elif text[k] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[j + 1 : k]
            return None  # unbalanced: an unfinished reply
        idx = text.rfind("\\boxed", 0, idx)
    return None


_INT = re.compile(r"(?<![\d.])-?\d[\d,]*(?![\d])")
_SHORT_INT = re.compile(r"(?<![\d.,])\d{1,3}(?![\d,]|\.\d)")


def extract_aime_answer(text: str) -> int | None:
    """The last ``\\boxed{}`` as an integer; else the last 1-3 digit number; else None."""
    if not text:
        return None
    boxed = _last_boxed(text)
    if boxed is not None:
        ints = _INT.findall(boxed.replace("{,}", ","))
        if ints:
            try:
                return int(ints[-1].replace(",", ""))
            except ValueError:
                pass
    shorts = _SHORT_INT.findall(text)
    return int(shorts[-1]) if shorts else None


def grade_aime(reply: str, gold: str | int) -> bool:
    got = extract_aime_answer(reply)
    return got is not None and got == int(str(gold).strip())


# ---------------------------------------------------------------- aggregation over per-example records


def accuracy(records: Sequence[Mapping[str, Any]], field: str = "correct") -> float:
    """Share of records whose ``field`` is true; NaN for no records."""
    if not records:
        return math.nan
    return sum(1 for r in records if r.get(field)) / len(records)


def mean_tokens(records: Iterable[Mapping[str, Any]], field: str) -> float:
    """Mean of a token count over the records that report it (None/missing are skipped, never zeroed);
    NaN when none do."""
    values = [r[field] for r in records if r.get(field) is not None]
    if not values:
        return math.nan
    return sum(float(v) for v in values) / len(values)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float | Fraction):
        return (1, value)
    return (2, str(value))


def summarize(
    records: Iterable[Mapping[str, Any]],
    by: Sequence[str] = (),
    *,
    correct_field: str = "correct",
    output_field: str = "output_tokens",
    input_field: str = "input_tokens",
) -> list[dict[str, Any]]:
    """One row per group of ``by`` keys (sorted): the keys, n, accuracy, mean output and input tokens."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(tuple(r.get(k) for k in by), []).append(r)
    rows: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda t: tuple(_sort_key(v) for v in t)):
        members = groups[key]
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row["n"] = len(members)
        row["accuracy"] = accuracy(members, correct_field)
        row["mean_output_tokens"] = mean_tokens(members, output_field)
        row["mean_input_tokens"] = mean_tokens(members, input_field)
        rows.append(row)
    return rows
