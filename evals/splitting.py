"""Split a word problem into a context (what is known beforehand) and a question (what arrives later).

Two rules:

* ``rule="paper"``: the paper's exact rule (letta-ai/sleep-time-compute, create_stateful_gsm_symbolic.py):
  split on every ``'.'``, the last non-empty piece is the question, the other pieces joined by ``". "``
  plus a final ``"."`` are the context. Kept for comparability; it breaks decimals (``$0.75``) and
  abbreviations (``Mr.``).
* ``rule="sentence"`` (default): a sentence ends at ``.``, ``?`` or ``!`` (optionally followed by closing
  quotes or brackets) followed by whitespace or the end of the text, except after an abbreviation
  (Mr., Mrs., Ms., Dr., St., Prof., etc., e.g., i.e., vs., No., single capital initials) and never inside
  a number, nor before a lowercase word. The question starts at the last sentence that ends with
  ``?`` (so a trailing instruction such as "Round to the nearest cent." stays with its question);
  without such a sentence it is the last sentence. The context is the original text before the
  question, unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SplitRule = Literal["sentence", "paper"]

# Abbreviations after which a '.' never ends a sentence (compared case-insensitively, without the dot).
_NEVER_END = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "mt", "ft", "no", "vs", "e.g", "i.e", "approx", "fig"}
)
# Abbreviations that end a sentence only when the next word starts with a capital letter.
_END_IF_CAPITAL = frozenset({"etc", "a.m", "p.m", "inc", "ltd", "co"})

_CANDIDATE = re.compile(r"[.?!][\"'”’)\]]*(?=\s|$)")
_NEXT_IS_LOWER = re.compile(r"\s+[a-z]")  # "3 mi. at noon": a lowercase word does not start a sentence
_WORD_BEFORE = re.compile(r"([A-Za-z](?:[A-Za-z.]*[A-Za-z])?)$")


@dataclass(frozen=True)
class Split:
    context: str
    question: str


def _is_abbreviation_end(text: str, dot: int, following: str) -> bool:
    """True when the '.' at ``dot`` closes an abbreviation rather than a sentence."""
    m = _WORD_BEFORE.search(text[:dot])
    if m is None:
        return False
    word = m.group(1)
    start = m.start(1)
    if start > 0 and not (text[start - 1].isspace() or text[start - 1] in "(\"'“‘"):
        return False  # e.g. "$1.5." is not an abbreviation
    low = word.lower()
    if low in _NEVER_END:
        return True
    if len(word) == 1 and word.isupper():
        return True  # single capital initial: "John F. Kennedy"
    if low in _END_IF_CAPITAL:
        nxt = following.lstrip()
        return not (nxt[:1].isupper())
    return False


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        if text[m.start()] == "." and (
            _is_abbreviation_end(text, m.start(), text[m.end() :]) or _NEXT_IS_LOWER.match(text, m.end())
        ):
            continue
        if text[start : m.end()].strip():
            spans.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (each stripped, terminal punctuation kept)."""
    return [text[a:b].strip() for a, b in _sentence_spans(text)]


def _split_sentence_rule(text: str) -> Split:
    spans = _sentence_spans(text)
    if not spans:
        return Split(context="", question="")
    sentences = [text[a:b].strip() for a, b in spans]
    q_index = len(sentences) - 1
    for i in range(len(sentences) - 1, -1, -1):
        if sentences[i].rstrip("\"'”’)]").endswith("?"):
            q_index = i
            break
    if q_index == 0 and len(sentences) > 1:
        q_index = len(sentences) - 1  # the only question opens the text: keep a non-empty context
    cut = spans[q_index][0]
    # Both halves are slices of the original text, so spacing and newlines are kept as written.
    return Split(context=text[:cut].strip(), question=text[cut:].strip())


def _split_paper_rule(text: str) -> Split:
    parts = [p.strip() for p in text.split(".")]
    parts = [p for p in parts if p]
    if not parts:
        return Split(context="", question="")
    question = parts[-1]
    context = ". ".join(parts[:-1]) + "." if len(parts) > 1 else ""
    return Split(context=context, question=question)


def split_context_question(text: str, rule: SplitRule = "sentence") -> Split:
    """Split a problem into context and question by ``rule`` ("sentence" or "paper")."""
    if rule == "sentence":
        return _split_sentence_rule(text)
    if rule == "paper":
        return _split_paper_rule(text)
    raise ValueError(f"unknown split rule {rule!r}; use 'sentence' or 'paper'")

