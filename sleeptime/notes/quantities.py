"""Checked quantities: `name = expression` lines in model notes, computed by a safe evaluator.

Each expression is computed by the safe evaluator of ``sleeptime.notes.arithmetic`` over the names defined
on earlier lines; the line count is bounded here, everything about one expression there.

A line that does not evaluate is **dropped** from the published notes and kept, with the reason, in
:attr:`CheckedNotes.rejected`: an unverifiable calculation is the kind of note that misled the wake model
(issue 12), so it is not worth its tokens. Lines without ``=`` are facts and pass through unchanged.

With ``keep_unchecked=True`` (the ``worked`` notes style) a line the evaluator cannot read is **kept as an
unchecked plain line** instead, and listed with the reason in :attr:`CheckedNotes.unchecked`: measured on
GSM-Symbolic, dropping what a 1.5B model writes in its own words lost more right quantities than the wrong
ones it removed. Lines shown to be wrong (inline arithmetic that does not add up, a name defined twice, a
division by zero, a value out of bounds) are dropped in both modes.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sleeptime.notes.arithmetic import FUNCTIONS, MAX_EXPRESSION_CHARS, QuantityError, evaluate

MAX_LINES = 200
"""Lines looked at per note text; the rest is counted in ``CheckedNotes.ignored_lines``, never parsed."""


@dataclass(frozen=True)
class Quantity:
    """A derived quantity whose value the evaluator computed (not the value the model claimed)."""

    name: str
    expression: str
    value: Fraction
    substituted: str
    """The expression with every name replaced by its value ("72 - 64")."""
    agreed: bool = False
    """Set by :func:`sleeptime.notes.hygiene.merge_samples` when a majority of the k samples computed this value."""

    def render(self) -> str:
        parts = [self.name, self.expression]
        if self.substituted != self.expression:
            parts.append(self.substituted)
        shown = format_value(self.value)
        if parts[-1] != shown:
            parts.append(shown)
        line = " = ".join(parts)
        return f"{line} (agreed)" if self.agreed else line


@dataclass(frozen=True)
class Rejected:
    line: str
    reason: str


@dataclass
class CheckedNotes:
    """Notes split into facts (plain lines) and checked quantities, in their original order."""

    items: list[str | Quantity] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    unchecked: list[Rejected] = field(default_factory=list)
    """Lines kept as plain text although they hold a calculation the evaluator could not read (and why)."""
    ignored_lines: int = 0

    @property
    def quantities(self) -> list[Quantity]:
        return [item for item in self.items if isinstance(item, Quantity)]

    @property
    def facts(self) -> list[str]:
        return [item for item in self.items if isinstance(item, str)]

    def values(self) -> dict[str, Fraction]:
        return {q.name: q.value for q in self.quantities}

    def render(self) -> str:
        return "\n".join(f"- {item.render() if isinstance(item, Quantity) else item}" for item in self.items)


def format_value(value: Fraction) -> str:
    """An integer as is, a terminating decimal up to 6 places, else the fraction and a rounded decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    scaled = value * 10**6
    if scaled.denominator == 1:
        sign = "-" if value < 0 else ""
        whole, frac = divmod(abs(scaled.numerator), 10**6)
        return f"{sign}{whole}.{frac:06d}".rstrip("0")
    return f"{value.numerator}/{value.denominator} (about {float(value):.4f})"


# ---------------------------------------------------------------------------------------- parsing a line

_BULLET = re.compile(r"^\s*(?:\d+\s*[.)]|[-*\u2022])\s*")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
# Spellings small models use for operators; '$' is a currency mark, not an operator.
_OPERATORS = {"\u00d7": "*", "\u00f7": "/", "\u2212": "-", "\u2013": "-", "$": "", "\u20ac": "", "\u00a3": ""}
_TIMES_X = re.compile(r"(?<=[\d)])\s+x\s+(?=[\d(])")
_ARITHMETIC = re.compile(r"\d\s*[-+*/x\u00d7\u00f7]\s*\$?\d")
_AGREED = re.compile(r"\s*\(agreed\)\s*$")
_NAMED_STEP = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(\S.*)$")
"""The right side of "label = total_cost: 3 * 2 + 4": the instructions' word, then the name and its calculation."""
_SPLIT_PAIR = re.compile(r"^([ \t]*(?:\d+[.)]|[-*\u2022])?[ \t]*)(?:label|name)[ \t]*=[ \t]*"
                         r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n"
                         r"[ \t]*(?:\d+[.)]|[-*\u2022])?[ \t]*(?:calculation|expression)[ \t]*=[ \t]*(\S[^\n]*)$",
                         re.IGNORECASE | re.MULTILINE)
"""The instructions' "label = calculation" copied as two lines ("label = total_cost", "calculation = 3 * 2 + 4"):
one quantity, the name from the first line and the calculation from the second."""
GENERIC_NAMES = frozenset(
    {"name", "label", "quantity", "value", "result", "number", "expression", "calculation", "fact", "answer"}
)
"""Names that say nothing about what is counted (small models copy the instructions' words)."""


def normalise_name(raw: str) -> str | None:
    """'Total apples ($)' -> 'total_apples'; None when it cannot be an identifier we accept (a sentence)."""
    if re.search(r"[.:;!?]\s|[.:;!?]$", raw.strip()) or len(raw.split()) > 8 or _ARITHMETIC.search(raw):
        return None
    name = re.sub(r"[^A-Za-z0-9]+", "_", raw.strip().replace("'s ", " ")).strip("_").lower()
    if not _NAME.match(name) or keyword.iskeyword(name) or name in FUNCTIONS | GENERIC_NAMES or len(name) > 60:
        return None
    if name.startswith("label_"):  # the prompt's placeholder labels (<label_one>) copied without meaning
        return None
    return name


def split_assignment(line: str) -> tuple[str | None, list[str]] | None:
    """(name, expressions) for a `name = expression [= expression ...] [= claimed value]` line, else None
    (a fact).

    The expressions are the chain's steps to try in order ("shelter = baked - sold = 72 - 64 = 9" gives
    "baked - sold" then "72 - 64"); a last step without an operator is the model's own claim and is
    ignored: the evaluator computes it. The name is None when the left side cannot be a name: the line is
    still a calculation, and rejected.
    """
    body = _AGREED.sub("", _BULLET.sub("", line, count=1))
    if "=" not in body or any(op in body for op in ("==", "<=", ">=", "!=")):
        return None
    parts = body.split("=")
    generic = parts[0].strip().lower() in GENERIC_NAMES
    if generic and (named := _NAMED_STEP.match(parts[1])):
        parts = [named.group(1), named.group(2), *parts[2:]]  # "label = total_cost: 3 * 2 + 4"
    elif generic and len(parts) > 2:
        parts = parts[1:]  # "name = shelter = a - b": the instructions' word copied as a prefix
    steps = [parts[1].strip()] + [p.strip() for p in parts[2:] if _ARITHMETIC.search(p)]
    return normalise_name(parts[0]), steps


def _normalise_expression(text: str, known: Sequence[str]) -> str:
    for src, dst in _OPERATORS.items():
        text = text.replace(src, dst)
    text = _THOUSANDS.sub("", text)
    text = _TIMES_X.sub(" * ", text)
    # Names are case-insensitive, as normalise_name lowers them ("TOTAL = A + B").
    text = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", lambda m: m.group(0).lower(), text)
    # A known multi-word name written with spaces ("muffins baked") is the identifier.
    for name in sorted((n for n in known if "_" in n), key=len, reverse=True):
        spaced = name.replace("_", " ")
        text = re.sub(rf"(?<![\w]){re.escape(spaced)}(?![\w])", name, text, flags=re.IGNORECASE)
    return text.strip().rstrip(".")


def _substitute(expression: str, env: Mapping[str, Fraction]) -> str:
    def value_of(m: re.Match[str]) -> str:
        name = m.group(0)
        if name not in env:
            return name
        shown = format_value(env[name]).split(" (about")[0]
        return f"({shown})" if env[name] < 0 or env[name].denominator != 1 else shown

    return re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b(?!\s*\()", value_of, expression)


_UNIT_WORDS = re.compile(r"(?<=[\d)%])(?:\s+(?!x\b)[A-Za-z][A-Za-z'_-]*)+")


def _without_units(expression: str) -> str:
    """Words that follow a number dropped, as units: "6 trays * 12 muffins per tray" -> "6 * 12".

    Only words right after a number or ')' go: a word standing for an operand ("morning sales + 14")
    stays, so the line still fails rather than losing an operand.
    """
    return _TIMES_X.sub(" * ", " ".join(_UNIT_WORDS.sub(" ", expression).split()))


def _evaluate_line(expression: str, env: Mapping[str, Fraction]) -> tuple[str, Fraction]:
    """Evaluate; an expression that does not parse is tried once more without its unit words."""
    try:
        return expression, evaluate(expression, env)
    except QuantityError as first:
        bare = _without_units(expression)
        if bare and bare != expression and str(first) == "not an arithmetic expression":
            return bare, evaluate(bare, env)
        raise


_INLINE = re.compile(r"([\d$(][\d\s.,+\-*/x\u00d7\u00f7()$%]*)$")
_LEADING = re.compile(r"^\s*(-?[\d$(][\d\s.,+\-*/x\u00d7\u00f7()$%]*)")
_DECIMALS = re.compile(r"\.(\d+)\s*$")


def _leading_value(segment: str) -> tuple[Fraction, int] | None:
    """The value of the arithmetic a chain segment starts with ("154 - 141 " of "154 - 141 = 13", "6" of
    "$6 each.") and how many decimals it shows when it is a bare number; None when it has none."""
    found = _LEADING.match(segment)
    if found is None:
        return None
    text = found.group(1).strip().rstrip(".,")
    try:
        value = evaluate(_normalise_expression(text, ()), {})
    except QuantityError:
        return None
    shown = _DECIMALS.search(text) if not _ARITHMETIC.search(text) else None
    return value, len(shown.group(1)) if shown else 0


def _same(value: Fraction, claim: Fraction, decimals: int) -> bool:
    """Equal, or a claim shown with decimals that is the value rounded to them (4.537 shown as 4.54)."""
    return value == claim or (decimals > 0 and abs(value - claim) <= Fraction(1, 2 * 10**decimals))


def check_inline(line: str) -> str | None:
    """For prose with a calculation in it ("Alice buys 3 pens: 3 x 2 = $6."): None when the arithmetic
    right before the first '=' gives every step after it ("= 154 - 141 = 13"), else why not (the line is
    then dropped when wrong, and unreadable when the arithmetic cannot be found)."""
    left, *rights = line.split("=")
    found = _INLINE.search(left.rstrip())
    if found is None or not rights or not _ARITHMETIC.search(found.group(1)):
        return "left of '=' is not a name"
    try:
        value = evaluate(_normalise_expression(found.group(1), ()), {})
    except QuantityError:
        return "left of '=' is not a name"
    for i, right in enumerate(rights):
        step = _leading_value(right)
        if step is None:
            if i == 0:
                return "left of '=' is not a name"  # no number stated after the arithmetic
            break  # prose after the result: nothing more to check
        if not _same(value, *step):
            return f"inline arithmetic is wrong: {found.group(1).strip()} is {format_value(value)}"
    return None


def _evaluate_steps(steps: Sequence[str], defined: Mapping[str, Fraction]) -> tuple[str, Fraction]:
    """The first step of a chain that evaluates; when none does, the first step's error."""
    first: QuantityError | None = None
    for step in steps:
        try:
            if len(step) > MAX_EXPRESSION_CHARS:
                raise QuantityError("expression too long")
            return _evaluate_line(_normalise_expression(step, list(defined)), defined)
        except QuantityError as error:
            first = first or error
    raise first or QuantityError("empty expression")


UNREADABLE = ("left of '=' is not a name", "not an arithmetic expression", "undefined name", "non-ASCII",
              "expression too long")
"""Reasons (prefixes) that say the evaluator could not read a line's words, not that the line is wrong.
Code the walker refused (attribute access, lambdas, calls other than the five) is not a note: dropped."""


def _unreadable(reason: str) -> bool:
    return reason.startswith(UNREADABLE)


def check_notes(
    text: str,
    *,
    env: Mapping[str, Fraction] | None = None,
    max_lines: int = MAX_LINES,
    keep_unchecked: bool = False,
) -> CheckedNotes:
    """Evaluate every `name = expression` line of ``text`` in order; never raises on model text.

    ``env`` holds names defined before this text (an earlier sample's or round's quantities need not be
    given; each text is checked on its own). A name defined twice keeps its first definition.
    ``keep_unchecked`` keeps lines the evaluator cannot read as plain lines (see the module docstring).
    """
    out = CheckedNotes()
    defined: dict[str, Fraction] = dict(env or {})
    lines = _SPLIT_PAIR.sub(r"\1\2 = \3", text).splitlines()
    out.ignored_lines = max(0, len(lines) - max_lines)

    def fail(line: str, reason: str) -> None:
        if keep_unchecked and _unreadable(reason):
            plain = _BULLET.sub("", line, count=1)
            out.items.append(plain)
            out.unchecked.append(Rejected(plain[:MAX_EXPRESSION_CHARS], reason))
        else:
            out.rejected.append(Rejected(line[:MAX_EXPRESSION_CHARS], reason))

    for raw in lines[:max_lines]:
        line = raw.strip()
        if not line:
            continue
        parts = split_assignment(line)
        if parts is None:
            out.items.append(_BULLET.sub("", line, count=1))
            continue
        name, steps = parts
        if name is None:
            problem = check_inline(_BULLET.sub("", line, count=1)[:MAX_EXPRESSION_CHARS * 2])
            if problem is None:
                out.items.append(_BULLET.sub("", line, count=1))  # prose whose arithmetic checks out
            else:
                fail(line, problem)
            continue
        if name in defined:
            out.rejected.append(Rejected(line[:MAX_EXPRESSION_CHARS], f"redefined name {name}"))
            continue
        try:
            expression, value = _evaluate_steps(steps, defined)
        except QuantityError as error:
            fail(line, str(error))
            continue
        out.items.append(Quantity(name, expression, value, _substitute(expression, defined)))
        defined[name] = value
    return out
