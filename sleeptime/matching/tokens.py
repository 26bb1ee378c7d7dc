"""A question as a sequence of typed tokens: numbers (canonical), units, clause breaks and words.

Every fact extractor reads this one sequence, so a number written as "three hundred twenty five",
"325" or "a third" is read once, the same way, wherever it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from sleeptime.matching import vocabulary as v


class Kind(Enum):
    NUMBER = "number"
    ORDINAL = "ordinal"
    UNIT = "unit"
    WORD = "word"
    BREAK = "break"
    """A clause boundary: punctuation inside the question."""


@dataclass(frozen=True)
class Token:
    text: str
    """As written (for a number run: its first word)."""
    kind: Kind
    value: str
    """Canonical: ``"3"``, ``"1/2"``, ``"#2"`` (ordinal), ``"usd"`` (unit), the lowercase word."""

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


_HEADER = re.compile(r"^\s*[A-Z][A-Za-z]*(?: [A-Za-z]+){0,2}:\s+(?=\S)")
_RAW = re.compile(
    r"\$|€|£|¥|₹|%"
    r"|(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:/\d+)?"
    r"|[A-Za-z]+(?:'[A-Za-z]+)?"
    r"|n't"
    r"|[,;:.!?]"
)


def raw_tokens(question: str) -> list[str]:
    """Words, numbers, signs and punctuation; a short header ("Quick question:") is dropped."""
    text = _HEADER.sub("", question, count=1)
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"(\w)n't\b", r"\1 n't", text)
    text = re.sub(r"(?i)\bcan not\b", "cannot", text)
    # Hyphenated number words ("twenty-five", "two-thirds") and "per-cent" become separate words.
    text = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)
    return _RAW.findall(text)


def canon_number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def parse_digits(tok: str) -> Fraction | None:
    s = tok.replace(",", "")
    try:
        if "/" in s:
            num, _, den = s.partition("/")
            return None if Fraction(den) == 0 else Fraction(num) / Fraction(den)
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _is_number_word(low: str) -> bool:
    return low in v.CARDINALS or low in v.SCALES


def _number_run(lows: list[str], i: int) -> tuple[str, int]:
    """A run of number words from i ("three hundred twenty five", "two thirds"): (canonical, next index)."""
    total, current, j = 0, 0, i
    while j < len(lows):
        w = lows[j]
        joins = w == "and" and j > i and j + 1 < len(lows) and lows[j + 1] in v.CARDINALS
        if not (_is_number_word(w) or joins):
            break
        if w in v.CARDINALS:
            current += v.CARDINALS[w]
        elif w in v.SCALES:
            current = max(current, 1) * v.SCALES[w]
            if v.SCALES[w] >= 1000:
                total, current = total + current, 0
        j += 1
    value = total + current
    after = lows[j] if j < len(lows) else ""
    if after in v.FRACTION_DENOMS or (after == "half" and value > 0):
        den = 2 if after == "half" else v.FRACTION_DENOMS[after]
        return canon_number(Fraction(value, den)), j + 1
    return str(value), j


def _is_ordinal(low: str, prev: Token | None) -> bool:
    # "per second", "a second", "3 seconds": a unit, not the ordinal.
    if low not in v.ORDINALS:
        return False
    if low != "second":
        return True
    return not (prev is not None and (prev.kind is Kind.NUMBER or prev.value in ("per", "a", "each", "every")))


def _is_unit(low: str, prev: Token | None) -> bool:
    if low not in v.UNITS:
        return False
    return low not in v.UNITS_AFTER_NUMBER_ONLY or (prev is not None and prev.kind is Kind.NUMBER)


def scan(question: str) -> tuple[Token, ...]:
    """The question's typed tokens, in order."""
    raw = raw_tokens(question)
    lows = [t.lower() for t in raw]
    out: list[Token] = []
    i = 0
    while i < len(raw):
        tok, low = raw[i], lows[i]
        prev = out[-1] if out else None
        nxt = lows[i + 1] if i + 1 < len(raw) else ""
        if tok in ",;:.!?":
            out.append(Token(tok, Kind.BREAK, tok))
        elif tok in v.CURRENCY_SIGNS and nxt[:1].isdigit() and (value := parse_digits(nxt)) is not None:
            # "$5" reads as "5 dollars": the number first, then its unit.
            out.extend((Token(nxt, Kind.NUMBER, canon_number(value)), Token(tok, Kind.UNIT, v.UNITS[tok])))
            i += 2
            continue
        elif low in v.RATE_ADVERBS:
            out.extend((Token(tok, Kind.WORD, "per"), Token(tok, Kind.UNIT, v.RATE_ADVERBS[low])))
        elif low == "compared" and nxt in ("to", "with"):  # "compared with Ben" is "than Ben"
            out.append(Token(tok, Kind.WORD, "than"))
            i += 2
            continue
        elif tok[0].isdigit() and (value := parse_digits(tok)) is not None:
            out.append(Token(tok, Kind.NUMBER, canon_number(value)))
        elif _is_number_word(low):
            canon, i = _number_run(lows, i)
            out.append(Token(tok, Kind.NUMBER, canon))
            continue
        elif low in ("a", "an") and nxt in v.FRACTION_DENOMS and nxt != "second":
            out.append(Token(tok, Kind.NUMBER, canon_number(Fraction(1, v.FRACTION_DENOMS[nxt]))))
            i += 2
            continue
        elif low in v.MULTIPLIERS:
            out.append(Token(tok, Kind.NUMBER, canon_number(v.MULTIPLIERS[low])))
        elif _is_ordinal(low, prev):
            out.append(Token(tok, Kind.ORDINAL, f"#{v.ORDINALS[low]}"))
        elif _is_unit(low, prev):
            out.append(Token(tok, Kind.UNIT, v.UNITS[low]))
        else:
            out.append(Token(tok, Kind.WORD, low))
        i += 1
    return tuple(out)


def lemma(word: str) -> str:
    """A crude lemma so "sells", "selling" and "sold" compare equal, as do "apple" and "apples"."""
    if word in v.LEMMAS:
        return v.LEMMAS[word]
    for suffix, repl, min_len in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            if suffix == "es" and not word[:-2].endswith(("s", "x", "ch", "sh", "o")):
                return word[:-1]
            return word[: len(word) - len(suffix)] + repl
    return word
