"""Reflect (sleep time): rewrite the learned context, as the paper's `rethink_memory` does.

The instructions sit in the user turn, after the situation: small local models follow them
far better there than in a system prompt they have long forgotten by the end of the context.

Derived quantities are asked for as `name = expression` lines, which ``sleeptime.notes.quantities`` computes;
the model's own arithmetic is never published. The format is shown with neutral placeholders only
(``PLACEHOLDERS``): a worked example with real content turned up, copied, in published notes (issue 12).
"""

from __future__ import annotations

import re

SYSTEM = """You are thinking about a situation before anyone asks about it. You write notes that make
later questions quick to answer."""

PLACEHOLDERS = ("<label_", "<number>")
"""The prompt's only example content; a notes line that contains one is a leak and is dropped."""

USER = """Situation:
{context}

Your notes so far:
{notes}

Rewrite the notes; your reply replaces them. Write one item per line, then a last line
STATUS: DONE if the notes are complete, or STATUS: CONTINUE if another pass would improve them.
Work out the quantities that questions about this situation are likely to need, each on a line
"label = calculation": the label is a short snake_case name for what is counted; the calculation
uses numbers from the situation, + - * / ( ) and labels from earlier lines, like
<label_one> = <number> * <number>
<label_two> = <label_one> - <number>
The calculations are computed for you: write no result after them.
Other useful inferences the situation does not state word for word go on plain lines.
Do not copy sentences of the situation. At most 15 lines, under {max_chars} characters in all.
Write the notes now."""

USER_WORKED = """Situation:
{context}

Your notes so far:
{notes}

Rewrite the notes. Work out the quantities, inferences and calculations that questions about
this situation are likely to need; double-check every number in the notes so far and fix mistakes;
drop what is useless but keep everything useful, because your reply replaces the notes.
Write the notes as a numbered list of at most twelve items, each one inference or one worked quantity
with its calculation and result, in the form "<label_what_is_counted> = <number> x <number> = <number>".
Do not repeat the situation. Keep the notes under {max_chars} characters.
After the list, write STATUS: DONE if the notes are complete and checked,
or STATUS: CONTINUE if another pass would improve them."""
"""The ``WORKED`` notes style's prompt (``sleeptime.notes.strategies``): the free-text worked items of the
reflect prompt before issue 12 (better recall on small models), its content example replaced by placeholders;
the arithmetic is checked afterwards."""

USER_EXTEND = """Situation:
{context}

Your notes so far (each calculation was computed for you):
{notes}

Check the notes against the situation, then extend them. For a wrong line, write it again with the
same label and the right calculation. Then add the quantities that later questions are likely to need
and the notes do not have yet, building on the labels above; every line you do not repeat is kept.
Write one item per line, "label = calculation", the calculation using numbers from the situation,
+ - * / ( ) and labels, like
<label_one> = <number> * <number>
The calculations are computed for you: write no result after them.
At most 10 new or corrected lines, under {max_chars} characters in all. Then a last line
STATUS: DONE if the notes are complete, or STATUS: CONTINUE if another pass would improve them."""
"""The reflect user turn of rounds 2.. under the ``EXTEND`` rethink (``sleeptime.notes.strategies``): round r
reads the context and round r-1's notes, checks and extends them; its lines are merged into the notes
(``sleeptime.notes.hygiene.extend_notes``) instead of replacing them."""

VIEWS = (
    "Focus of this pass: chain the facts forward into totals, differences and remainders, each line building on "
    "the labels of earlier lines, up to the largest quantity the situation leads to.",
    "Focus of this pass: take each person, item or period of the situation in turn and work out the quantities "
    "about it (a price or rate times a count or a time, a share of a whole).",
    "Focus of this pass: think of the three questions most likely to be asked about this situation and write the "
    "lines that compute each answer, the answer's own label last.",
)
"""The ``VIEWS`` sampling's focus lines (``sleeptime.notes.strategies``): sample i > 0 of k reads the same prompt
with focus ``VIEWS[(i - 1) % len(VIEWS)]`` at the configured temperature, so k samples look at the situation
in k different ways instead of drawing the same view again at a higher temperature."""


def with_focus(user_turn: str, focus: str | None) -> str:
    """The reflect user turn with a sample's focus line after it (None: unchanged)."""
    return f"{user_turn}\n{focus}" if focus else user_turn


EMPTY_NOTES = "(none yet)"

_STATUS = re.compile(r"^\s*\**\s*STATUS\s*:\s*\**\s*(DONE|CONTINUE)\b.*$", re.IGNORECASE | re.MULTILINE)


_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*])\s*")


def _drop_repeated_lines(notes: str) -> str:
    """Keep the first of lines that say the same thing: small models loop on one line until the token cap."""
    seen: set[str] = set()
    kept: list[str] = []
    for line in notes.splitlines():
        key = " ".join(_NUMBERING.sub("", line).lower().split())
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def system(instructions: str | None = None) -> str:
    """The system prompt, with a task's own instructions (``SleepTimeConfig.sleep_instructions``) after it."""
    return f"{SYSTEM}\n\n{instructions.strip()}" if instructions and instructions.strip() else SYSTEM


def format_user(context: str, notes: str, max_chars: int, template: str = USER) -> str:
    """The reflect user turn from a template (`USER`, or a notes style's, ``sleeptime.notes.strategies``)."""
    return template.format(context=context, notes=notes or EMPTY_NOTES, max_chars=max_chars)


def parse_reflection(reply: str, max_chars: int) -> tuple[str, bool]:
    """Split a reply into (notes, done). A reply with no status line is not done."""
    statuses = _STATUS.findall(reply)
    done = bool(statuses) and statuses[-1].upper() == "DONE"
    notes = _drop_repeated_lines(_STATUS.sub("", reply))
    return notes[:max_chars], done
