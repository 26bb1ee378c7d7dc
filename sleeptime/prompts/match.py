"""Match (wake time, optional): a cheap yes/no check by the wake model that two questions are the same."""

from __future__ import annotations

import re

SYSTEM = """You compare two questions about the same situation.
Reply with only "yes" if they ask for exactly the same quantity (same numbers, units, people and
direction), or only "no" otherwise."""

USER = """Question A: {asked}
Question B: {predicted}
Same question?"""


def parse_yes_no(text: str) -> bool | None:
    """True for a reply starting with yes, False for no, None otherwise."""
    m = re.match(r"\W*(yes|no)\b", text.strip().lower())
    return None if m is None else m.group(1) == "yes"
