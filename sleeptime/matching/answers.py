"""The final answer line of a stored worked answer: the only text a served match returns.

Read in this order: the last ``#### <answer>``; the last ``\\boxed{<answer>}`` (a step-by-step answer, as the sleep
model's level-4 question work writes); the last "answer is ..." line; else the last sentence of the last line: the
right-hand side of its last ``=``, the sentence itself when it is a bare value ("8 muffins", "$10"), the value
after its last "is"/"are"/"equals" ("..., the cost is $10"), or its one number ("She has 33 apples left."). A
sentence with none of these (several numbers, none stated as the result) has no final answer (None), so nothing is
served from it: served whole, "The answer is To make a 20-minute call ... is $10." would be graded as 20.
"""

from __future__ import annotations

import re

_HASHES = re.compile(r"####\s*(.+)")
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER_IS = re.compile(r"(?i)\b(?:final answer|answer)\s*(?:is|:|=)\s*(.+)")
_VALUE = r"[-$\u20ac\u00a3]?\s*\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?%?"
_BARE = re.compile(rf"^{_VALUE}(?:\s+[A-Za-z$%\u20ac\u00a3][\w-]*){{0,2}}$")
_IS_VALUE = re.compile(rf"(?i)\b(?:is|are|was|were|equals|comes to|costs?)\s+({_VALUE}(?:\s+[A-Za-z][\w-]*){{0,2}})$")
_NUMBER = re.compile(rf"(?<![\w.]){_VALUE}(?![\w.])")
_MATH_WRAP = re.compile(r"\\[()\[\]]|\$\$")


def _from_sentence(lines: list[str]) -> str | None:
    """An "answer is ..." line, else the value the last sentence states (module docstring), else None."""
    for line in reversed(lines):
        if m := _ANSWER_IS.search(line):
            return m.group(1)
    last = re.split(r"(?<=[.!?])\s+(?=[A-Z])", lines[-1])[-1]  # "3 x 2 = 6." -> "6"
    if "=" in last:
        return last.rsplit("=", 1)[-1]
    sentence = re.sub(r"[.\s]+$", "", last.strip().strip("*").strip())
    if _BARE.match(sentence):
        return sentence
    if m := _IS_VALUE.search(sentence):
        return m.group(1)
    numbers = _NUMBER.findall(sentence)
    return numbers[0] if len(numbers) == 1 else None  # several numbers and no "is <value>": which one is unknown


def final_answer_line(worked: str) -> str | None:
    """The final answer of a worked answer (module docstring), or None when it states none that can be read."""
    text = (worked or "").strip()
    if not text:
        return None
    hashes = _HASHES.findall(text)
    boxed = _BOXED.findall(text)
    if hashes:
        found: str | None = hashes[-1]
    elif boxed:
        found = boxed[-1].replace("\\$", "$").replace("\\%", "%").replace("\\,", "")
    else:
        found = _from_sentence([ln.strip() for ln in text.splitlines() if ln.strip()])
    if found is None:
        return None
    found = _MATH_WRAP.sub("", found)
    found = re.sub(r"[.\s]+$", "", found.strip().strip("*").strip())
    return found or None
