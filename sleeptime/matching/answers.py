"""The final answer line of a stored worked answer: the only text a served match returns."""

from __future__ import annotations

import re

_HASHES = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(r"(?i)\b(?:final answer|answer)\s*(?:is|:|=)\s*(.+)")


def _fallback_line(lines: list[str]) -> str:
    """An "answer is ..." line, else the right-hand side of the last ``=`` of the last sentence."""
    for line in reversed(lines):
        if m := _ANSWER_IS.search(line):
            return m.group(1)
    last = re.split(r"(?<=[.!?])\s+(?=[A-Z])", lines[-1])[-1]  # "3 x 2 = 6." -> "6"
    return last.rsplit("=", 1)[-1] if "=" in last else last


def final_answer_line(worked: str) -> str | None:
    """The final answer of a worked answer (after the last ``####`` when there is one), or None."""
    text = (worked or "").strip()
    if not text:
        return None
    hashes = _HASHES.findall(text)
    found = hashes[-1] if hashes else _fallback_line([ln.strip() for ln in text.splitlines() if ln.strip()])
    found = re.sub(r"[.\s]+$", "", found.strip().strip("*").strip())
    return found or None
