"""Reflect (sleep time): rewrite the learned context, as the paper's `rethink_memory` does."""

from __future__ import annotations

import re

SYSTEM = """You are thinking about a situation before anyone asks about it.
You will get the situation and your current notes about it. Rewrite the notes so that later
questions can be answered quickly from them:
- work out quantities, inferences and calculations for questions that are likely to be asked;
- double-check the numbers in your earlier notes and fix any mistake;
- drop anything useless, but keep everything useful: your reply replaces the notes entirely.
Write the notes as short lines. Keep them under {max_chars} characters.
On the last line write STATUS: DONE if the notes are complete and checked,
or STATUS: CONTINUE if another pass would improve them."""

USER = """Situation:
{context}

Current notes:
{notes}

Rewrite the notes now."""

EMPTY_NOTES = "(none yet)"

_STATUS = re.compile(r"^\s*\**\s*STATUS\s*:\s*(DONE|CONTINUE)\b.*$", re.IGNORECASE | re.MULTILINE)


def parse_reflection(reply: str, max_chars: int) -> tuple[str, bool]:
    """Split a reply into (notes, done). A reply with no status line is not done."""
    statuses = _STATUS.findall(reply)
    done = bool(statuses) and statuses[-1].upper() == "DONE"
    notes = _STATUS.sub("", reply).strip()
    return notes[:max_chars], done
