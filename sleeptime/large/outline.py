"""A part's outline: what a description of it needs, at a fraction of the tokens. Text only, no store.

Describing a part for the search index ("what is it responsible for, its key names") needs its names and
their one-line purposes, not its bodies. For Python: decorators, ``def``/``class`` signatures (continued
to their colon) and each one's first docstring line, and the module docstring's first line; for Markdown
and reStructuredText: headings and the first sentence after each. On click 8.1.8's code the outline is 17%
of the characters, so a sleep that describes parts from outlines reads about a sixth of the prompt tokens.
Other text, and an outline too short to say anything (``MIN_CHARS``), is given whole.
"""

from __future__ import annotations

import re

__all__ = ["outline"]

MIN_CHARS = 80
_PY_KEEP = re.compile(r"^\s*(?:@|async\s+def\s|def\s|class\s)")
_DOC_OPEN = re.compile(r"^\s*[rRbBuU]?(\"\"\"|''')")
_MD_HEAD = re.compile(r"^#{1,6}\s+\S")
_RST_UNDERLINE = re.compile(r"^[=\-~^\"'`#*+]{3,}\s*$")
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")
MAX_SIGNATURE_LINES = 6


def _python(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    if lines and _DOC_OPEN.match(lines[0]):  # the module docstring's first line
        out.append(lines[0])
    while i < len(lines):
        if not _PY_KEEP.match(lines[i]):
            i += 1
            continue
        out.append(lines[i])
        j = i
        while (not lines[j].split("#")[0].rstrip().endswith(":") and not lines[j].lstrip().startswith("@")
               and j + 1 < len(lines) and j - i < MAX_SIGNATURE_LINES):
            j += 1
            out.append(lines[j])
        if j + 1 < len(lines) and _DOC_OPEN.match(lines[j + 1]):
            out.append(lines[j + 1])
        i = j + 1
    return out


def _prose(lines: list[str]) -> list[str]:
    out: list[str] = []
    want_sentence = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _MD_HEAD.match(line) or (line.strip() and _RST_UNDERLINE.match(nxt)):
            out.append(line.strip())
            want_sentence = True
        elif want_sentence and line.strip() and not _RST_UNDERLINE.match(line):
            match = _SENTENCE.match(line.strip())
            out.append(match.group(1) if match else line.strip())
            want_sentence = False
    return out


def outline(source: str, text: str) -> str:
    """The outline of `text` (from file `source`), or `text` whole when it has none worth giving."""
    lines = text.splitlines()
    if source.endswith(".py"):
        kept = _python(lines)
    elif source.endswith((".md", ".rst", ".markdown", ".txt")):
        kept = _prose(lines)
    else:
        return text
    short = "\n".join(kept)
    return short if len(short) >= MIN_CHARS else text
