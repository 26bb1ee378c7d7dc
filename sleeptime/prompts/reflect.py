"""Reflect (sleep time): rewrite the learned context, as the paper's `rethink_memory` does.

The instructions sit in the user turn, after the situation: small local models follow them
far better there than in a system prompt they have long forgotten by the end of the context.
"""

from __future__ import annotations

import re

SYSTEM = """You are thinking about a situation before anyone asks about it. You write notes that make
later questions quick to answer."""

USER = """Situation:
{context}

Your notes so far:
{notes}

Rewrite the notes. Work out the quantities, inferences and calculations that questions about
this situation are likely to need; double-check every number in the notes so far and fix mistakes;
drop what is useless but keep everything useful, because your reply replaces the notes.
Write the notes as a numbered list of at most 12 items, each one fact or one worked quantity
with its calculation, for example "1. total apples = 4 boxes x 6 apples = 24 apples".
Do not repeat the situation. Keep the notes under {max_chars} characters.
After the list, write STATUS: DONE if the notes are complete and checked,
or STATUS: CONTINUE if another pass would improve them."""

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


def parse_reflection(reply: str, max_chars: int) -> tuple[str, bool]:
    """Split a reply into (notes, done). A reply with no status line is not done."""
    statuses = _STATUS.findall(reply)
    done = bool(statuses) and statuses[-1].upper() == "DONE"
    notes = _drop_repeated_lines(_STATUS.sub("", reply))
    return notes[:max_chars], done
