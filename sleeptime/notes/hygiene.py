"""Learned-context hygiene: from a reflect reply to notes worth publishing, and k samples merged into one.

Each step drops a kind of line that made published notes wrong in issue 12, and says why (`Rejected`):

- a reply cut at the token limit loses its last, unfinished line (`drop_cut_tail`);
- a line holding the prompt's placeholders is a leak of the prompt, not a note (`is_leak`);
- a plain line that copies a sentence of the context adds nothing the wake model does not already read;
- a plain line that copies the instructions (or is a bare heading such as "Quantities:") is not a note;
- `name = expression` lines are computed by ``sleeptime.notes.quantities`` (unevaluable ones dropped there).

Merge rules for k samples (`merge_samples`), documented here because they decide what is published. The majority
rule (``MAJORITY``):

1. A value's *support* is the number of samples that computed it, under any name (merge by value: two
   samples that call 8 `shelter` and `leftover` agree on 8).
2. A quantity is kept only if its value has majority support (more than k/2 samples); it is marked agreed.
   Minority values are dropped (reason "minority"), so a quantity only one of three samples computed is
   not published: the point of k samples on a small model is to keep what they agree on.
3. A name given different values by different samples keeps the value most samples gave that name; a tie
   drops the name (reason "conflict"), as does a kept name's losing value.
4. Facts (plain lines) come from sample 0, the deterministic one, with the other samples' facts added when
   a majority of samples state them (same words, case and spacing aside).

With k = 1 the merge returns the sample unchanged (nothing is marked agreed).

The default rule, `concatenate` (the ``CONCAT`` strategy, ``sleeptime.notes.strategies``), is the paper's: the k
learned contexts are concatenated, each quantity and fact kept once (same name and value; same words), in sample
order, values with majority support marked agreed and nothing else dropped. Measured in issue 16, the majority
rule cost a weak sleep model its recall (the 1.5B's samples at temperature rarely agree, so notes shrank as k grew); the
concatenation keeps every sample's notes and leaves the disagreements for the wake model to read.

A third rule, `reconcile` (``RECONCILE``, not a default), avoids both concatenation's duplication and majority's
loss:

1. Values that agree across samples are kept once, by value: a value is published as many times as the one sample
   that computed it most often did (two samples that call 8 `shelter` and `leftover` publish one line, the first
   sample's), marked agreed when a majority of the k samples computed it.
2. A quantity only some samples computed is kept, as concatenation keeps it.
3. A name the samples give different values is resolved by majority when k >= 3 and more than half of the samples
   that computed the name gave one value (that value kept, the others dropped, reason "outvoted");
   otherwise every value is kept on one plain line labelled with the samples that gave it
   ("sold: the samples disagree: 64 in sample 1; 60 in sample 2"), with no ``=`` so a re-check keeps it as a fact.
4. Facts are kept once each (same words), in sample order.

A fourth rule, `medoid` (``MEDOID``), selects rather than merges (self-consistency over whole samples): the one
sample whose numbers agree most with the other samples' (mean Jaccard similarity of the sets of numbers each
sample states, in quantities and in facts) is published alone, its values with majority support marked agreed.
The notes stay as short as one sample's; a tie goes to the earlier sample, so with k = 2 sample 0 (the
deterministic one) is published.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from fractions import Fraction
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable

from sleeptime.notes.quantities import (
    CheckedNotes,
    Quantity,
    Rejected,
    check_notes,
    format_value,
    normalise_name,
)
from sleeptime.prompts.reflect import PLACEHOLDERS, USER, USER_WORKED
from sleeptime.structured import ask_text
from sleeptime.usage import UsageRecord

NOTHING_LEARNED = "no note survived checking"
"""A sleep's warning when every line of every sample was dropped: it publishes nothing (the published version,
if any, stays; ``SleepResult.published`` is False and its status says why)."""

COPY_RATIO = 0.8
"""A plain line whose words match a context sentence's this closely (difflib ratio) is a copy."""
MIN_COPY_WORDS = 4
"""Shorter sentences ("She sells pies.") are not treated as copyable: they collide with real notes."""

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def context_sentences(context: str) -> list[list[str]]:
    """The context's sentences as word lists, those long enough to be copied."""
    sentences = (_words(s) for s in _SENTENCE.split(context))
    return [s for s in sentences if len(s) >= MIN_COPY_WORDS]


def copies_context(line: str, sentences: Sequence[list[str]]) -> bool:
    """True when the line is (nearly) a sentence of the context, or contains one whole."""
    words = _words(line)
    if len(words) < MIN_COPY_WORDS:
        return False
    joined = " ".join(words)
    for sentence in sentences:
        if f" {' '.join(sentence)} " in f" {joined} ":
            return True
        if SequenceMatcher(None, words, sentence, autojunk=False).ratio() >= COPY_RATIO:
            return True
    return False


_LABEL = re.compile(r"<label_([a-z][a-z0-9_]*)>", re.IGNORECASE)
_PLACEHOLDER_WORDS = frozenset({"one", "two", "what_is_counted"})


def unwrap_labels(line: str) -> str:
    """A placeholder's form filled with a real name ("<label_dolphin_length> = ...") as that name: the
    model followed the format literally, the content is its own. The prompt's own labels stay (a leak)."""
    return _LABEL.sub(lambda m: m.group(0) if m.group(1).lower() in _PLACEHOLDER_WORDS else m.group(1), line)


def is_leak(line: str) -> bool:
    """A line that carries the prompt's placeholder text rather than content."""
    lowered = line.lower()
    return any(p in lowered for p in PLACEHOLDERS)


_INSTRUCTIONS = [s for user in (USER, USER_WORKED) for s in context_sentences(user.split("{notes}", 1)[1])]
_HEADING = re.compile(r"^\W*(quantities|facts|notes|situation|inferences|calculations)\W*$", re.IGNORECASE)


def _is_heading(line: str) -> bool:
    return bool(_HEADING.match(line))


def is_cut_off(message: Any, max_tokens: int | None) -> bool:
    """Whether a reply stopped at the token limit: the backend says so, or it used every token allowed."""
    meta: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
    if str(meta.get("finish_reason") or meta.get("stop_reason") or "").lower() in ("length", "max_tokens"):
        return True
    usage: Mapping[str, Any] = getattr(message, "usage_metadata", None) or {}
    out = usage.get("output_tokens")
    return max_tokens is not None and isinstance(out, int) and out >= max_tokens


CONTINUE = "Your reply was cut off. Continue the notes after the last complete line; do not repeat lines."


def ask_notes(
    model: Runnable[Any, BaseMessage],
    messages: list[BaseMessage],
    *,
    max_tokens: int | None,
    retries: int,
    continuations: int = 1,
    node: str = "reflect",
) -> tuple[str, list[UsageRecord], bool]:
    """A notes reply, continued in further calls while it is cut at the token limit.

    Returns (text, usage, truncated): ``truncated`` is True when the last call was still cut off after
    ``continuations`` further calls; the caller drops the unfinished last line and reports it.
    A call is cut off when it used every token allowed (the usage record, so any backend shows it).
    """
    text, usage = ask_text(model, messages, phase="sleep", node=node, retries=retries)
    cut = max_tokens is not None and usage[-1]["output_tokens"] >= max_tokens
    convo = list(messages)
    for _ in range(continuations):
        if not cut:
            break
        text = drop_cut_tail(text)
        convo = [*convo, AIMessage(text), HumanMessage(CONTINUE)]
        more, more_usage = ask_text(model, convo, phase="sleep", node=node, retries=retries)
        usage += more_usage
        text = f"{text}\n{more}" if text else more
        cut = max_tokens is not None and more_usage[-1]["output_tokens"] >= max_tokens
    return text, usage, cut


def drop_cut_tail(text: str) -> str:
    """Text without its last line, which a cut-off reply left unfinished."""
    lines = text.rstrip().splitlines()
    return "\n".join(lines[:-1])


@dataclass
class CleanNotes:
    """Notes ready to publish and everything that was left out, with reasons."""

    notes: CheckedNotes
    truncated: bool = False
    dropped: list[Rejected] = field(default_factory=list)

    @property
    def unchecked(self) -> list[Rejected]:
        """Lines published although the evaluator could not check them (``keep_unchecked``)."""
        return self.notes.unchecked

    def render(self) -> str:
        return self.notes.render()


def clean_reply(
    notes_text: str, context: str, *, truncated: bool = False, keep_unchecked: bool = False
) -> CleanNotes:
    """Filter and check one reflect reply's notes (status line already removed). Never raises on model text.

    ``keep_unchecked`` keeps calculations the evaluator cannot read as plain lines (the ``worked`` style).
    """
    dropped: list[Rejected] = []
    if truncated:
        tail = notes_text.rstrip().splitlines()[-1:] if notes_text.strip() else []
        dropped += [Rejected(t[:200], "cut off at the token limit") for t in tail]
        notes_text = drop_cut_tail(notes_text)
    lines = []
    for line in map(unwrap_labels, notes_text.splitlines()):
        if is_leak(line):
            dropped.append(Rejected(line.strip()[:200], "prompt placeholder"))
        else:
            lines.append(line)
    checked = check_notes("\n".join(lines), keep_unchecked=keep_unchecked)
    sentences = context_sentences(context)
    kept: list[str | Quantity] = []
    for item in checked.items:
        if isinstance(item, str) and copies_context(item, sentences):
            dropped.append(Rejected(item[:200], "copies the context"))
            continue
        if isinstance(item, str) and (_is_heading(item) or copies_context(item, _INSTRUCTIONS)):
            dropped.append(Rejected(item[:200], "copies the instructions"))
            continue
        kept.append(item)
    # A bare label line ("Total muffins sold") beside its quantity says nothing more.
    names = {q.name for q in checked.quantities}
    labels = [i for i in kept if isinstance(i, str) and normalise_name(i) in names]
    dropped += [Rejected(label[:200], "repeats a quantity's label") for label in labels]
    checked.items = [i for i in kept if not (isinstance(i, str) and i in labels)]
    published = {i[:200] for i in checked.items if isinstance(i, str)}
    checked.unchecked = [u for u in checked.unchecked if u.line in published]
    return CleanNotes(checked, truncated, dropped + checked.rejected)


def _fact_key(fact: str) -> str:
    return " ".join(_words(fact))


def _support(samples: Sequence[CheckedNotes]) -> Counter[Fraction]:
    """How many samples computed each value, under any name."""
    support: Counter[Fraction] = Counter()
    for sample in samples:
        support.update({q.value for q in sample.quantities})
    return support


MergeRule = Callable[[Sequence[CheckedNotes]], tuple[CheckedNotes, list[Rejected]]]
"""A merge rule for k >= 2 samples: the merged notes and what was dropped (`merge_samples` handles k < 2)."""


def concatenate(samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
    """The paper's rule for k >= 2 samples: every sample's notes in order, each quantity (name and value) and
    fact once; nothing is dropped."""
    k, support = len(samples), _support(samples)
    merged = CheckedNotes()
    seen: set[object] = set()
    for sample in samples:
        for item in sample.items:
            key: object = _fact_key(item) if isinstance(item, str) else (item.name, item.value)
            if key in seen:
                continue
            seen.add(key)
            if not isinstance(item, str) and support[item.value] * 2 > k:
                item = replace(item, agreed=True)
            merged.items.append(item)
    return merged, []


_DEFINES = re.compile(r"^\s*(?:[-*]|\d+[.)])?\s*([^=\n]+?)\s*=")


def extend_notes(notes: str, reply: str) -> str:
    """Round r's reply joined to round r-1's notes (the ``EXTEND`` rethink), as one text to clean and check:
    the old lines whose label the reply writes again are left out (the reply corrects them), the rest come
    first so the reply's lines can use their labels."""
    redefined = {name for m in _DEFINES.finditer(reply) if (name := normalise_name(m.group(1)))}
    kept = [line for line in notes.splitlines()
            if not ((m := _DEFINES.match(line)) and normalise_name(m.group(1)) in redefined)]
    return "\n".join([*kept, reply])


def merge_samples(samples: Sequence[CheckedNotes], rule: MergeRule) -> tuple[CheckedNotes, list[Rejected]]:
    """One set of notes from k samples by `rule` (`majority` or `concatenate`; the run's `SampleMerge` strategy
    chooses), and what it dropped; k = 0 or 1 needs no rule (no notes; the sample unchanged)."""
    if len(samples) == 0:
        return CheckedNotes(), []
    if len(samples) == 1:
        return samples[0], []
    return rule(samples)


def majority(samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
    """The majority rule of the module docstring for k >= 2 samples."""
    k, support = len(samples), _support(samples)
    by_name: dict[str, Counter[Fraction]] = {}
    for sample in samples:
        for q in sample.quantities:
            by_name.setdefault(q.name, Counter())[q.value] += 1
    winner: dict[str, Fraction | None] = {}
    for name, counts in by_name.items():
        ranked = counts.most_common(2)
        winner[name] = None if len(ranked) == 2 and ranked[0][1] == ranked[1][1] else ranked[0][0]

    merged = CheckedNotes()
    dropped: list[Rejected] = []
    placed: set[str] = set()
    reported: set[tuple[str, Fraction]] = set()
    fact_counts = Counter(key for s in samples for key in {_fact_key(f) for f in s.facts})
    seen_facts: set[str] = set()
    for index, sample in enumerate(samples):
        for item in sample.items:
            if isinstance(item, str):
                key = _fact_key(item)
                if key in seen_facts or (index > 0 and fact_counts[key] * 2 <= k):
                    continue
                seen_facts.add(key)
                merged.items.append(item)
                continue
            if winner[item.name] != item.value:
                if (item.name, item.value) not in reported:
                    reported.add((item.name, item.value))
                    dropped.append(Rejected(item.render(), f"conflict: samples disagree on {item.name}"))
                continue
            if item.name in placed:
                continue
            if support[item.value] * 2 <= k:
                dropped.append(Rejected(item.render(), f"minority: {support[item.value]} of {k} samples"))
                continue
            placed.add(item.name)
            merged.items.append(replace(item, agreed=True))
    return merged, dropped


def _disagreement(name: str, versions: Sequence[tuple[int, Quantity]]) -> str:
    """One plain line stating every value the samples gave ``name``, each with the samples (1-based) that gave it
    and how they computed it; no ``=``, so checking the published notes again keeps it as a fact."""
    by_value: dict[Fraction, list[tuple[int, Quantity]]] = {}
    for index, q in versions:
        by_value.setdefault(q.value, []).append((index, q))
    parts: list[str] = []
    for value, given in by_value.items():
        shown = format_value(value)
        numbers = ", ".join(str(i + 1) for i, _ in given)
        q = given[0][1]
        how = [e for e in dict.fromkeys((q.expression, q.substituted)) if e != shown]
        parts.append(f"{shown} in sample{'s' if len(given) > 1 else ''} {numbers}"
                     + (f" ({', '.join(how)})" if how else ""))
    return f"{name}: the samples disagree: " + "; ".join(parts)


def reconcile(samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
    """The reconcile rule of the module docstring for k >= 2 samples: agreement by value kept once, what one sample
    alone computed kept, disagreements on a name resolved by majority (k >= 3) or kept labelled."""
    k, support = len(samples), _support(samples)
    versions: dict[str, list[tuple[int, Quantity]]] = {}
    for index, sample in enumerate(samples):
        for q in sample.quantities:
            versions.setdefault(q.name, []).append((index, q))
    winner: dict[str, Fraction | None] = {}  # contested names only: the majority value, or None (labelled)
    for name, given in versions.items():
        counts = Counter(q.value for _, q in given)
        if len(counts) > 1:
            value, top = counts.most_common(1)[0]
            winner[name] = value if k >= 3 and top * 2 > len(given) else None

    def plain(q: Quantity) -> bool:
        """Not a contested name, or the value that won it."""
        return q.name not in winner or winner[q.name] == q.value

    merged = CheckedNotes()
    dropped: list[Rejected] = []
    placed: set[tuple[str, Fraction]] = set()
    labelled: set[str] = set()
    published: Counter[Fraction] = Counter()  # quantities published per value, by the samples before this one
    seen_facts: set[str] = set()
    for sample in samples:
        room = Counter(q.value for q in sample.quantities if plain(q))
        room.subtract(published)  # how many more of each value this sample may publish (a multiset union)
        added: Counter[Fraction] = Counter()
        for item in sample.items:
            if isinstance(item, str):
                key = _fact_key(item)
                if key not in seen_facts:
                    seen_facts.add(key)
                    merged.items.append(item)
                continue
            won = winner.get(item.name, item.value)
            if won is None:  # no majority: every value stated once, labelled
                if item.name not in labelled:
                    labelled.add(item.name)
                    merged.items.append(_disagreement(item.name, versions[item.name]))
                continue
            if won != item.value:
                dropped.append(Rejected(item.render(), f"outvoted: samples disagree on {item.name}, "
                                                       f"{format_value(won)} has the majority"))
                continue
            if (item.name, item.value) in placed or room[item.value] <= 0:
                continue  # the same name and value, or the same value under another name, is already published
            room[item.value] -= 1
            added[item.value] += 1
            placed.add((item.name, item.value))
            merged.items.append(replace(item, agreed=support[item.value] * 2 > k))
        published.update(added)
    return merged, dropped


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS_SEP = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _numbers(notes: CheckedNotes) -> set[str]:
    """The numbers a sample states: its quantities' values and the numbers written in its facts."""
    found = {format_value(q.value) for q in notes.quantities}
    for fact in notes.facts:
        found.update(_NUMBER.findall(_THOUSANDS_SEP.sub("", fact)))
    return found


def medoid(samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
    """The medoid rule of the module docstring for k >= 2 samples: the sample whose numbers agree most with the
    others', alone; the other samples' lines are reported as left out."""
    numbers = [_numbers(s) for s in samples]

    def agreement(i: int) -> Fraction:  # exact, so equal agreement ties whatever the order of the sum
        return sum((Fraction(len(numbers[i] & numbers[j]), len(numbers[i] | numbers[j]))
                    for j in range(len(samples)) if j != i and numbers[i] | numbers[j]), Fraction(0))

    best = max(range(len(samples)), key=lambda i: (agreement(i), -i))
    k, support = len(samples), _support(samples)
    chosen = CheckedNotes(items=[replace(item, agreed=True) if isinstance(item, Quantity)
                                 and support[item.value] * 2 > k else item for item in samples[best].items])
    dropped = [Rejected(q.render(), f"medoid: sample {best + 1} agreed more with the others")
               for i, sample in enumerate(samples) if i != best for q in sample.quantities]
    return chosen, dropped
