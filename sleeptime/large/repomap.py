"""A map of a large context: one line per file, what it is for and its key names, most central first.

Built at sleep from the code itself (top-level classes and functions of Python files, headings of
Markdown and reStructuredText) and, when sleep described the parts, the first sentence of each file's
first description. Files are ranked by how many other files name their key symbols (then by size), so a
wake that shows only the map's first lines (`MAP_SHARE` of the budget) shows the most central files.
Text only: no model, no store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sleeptime.large.sources import SourceChunk

__all__ = ["MAP_HEADER", "file_map", "key_symbols"]

MAP_HEADER = "Map of the files (most central first): path: what it is for [key names]"
_PY_DEF = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.M)
_MD_HEAD = re.compile(r"^#{1,3}\s+(.+?)\s*#*$", re.M)
_RST_HEAD = re.compile(r"^([^\n]{3,80})\n[=\-~^\"'`#*+]{3,}\s*$", re.M)
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.S)
MAX_SYMBOLS = 8
MAX_DESCRIPTION = 110


def key_symbols(source: str, text: str) -> list[str]:
    """Top-level definitions of a Python file (public first), or a document's headings."""
    if source.endswith(".py"):
        names = list(dict.fromkeys(_PY_DEF.findall(text)))
        return [n for n in names if not n.startswith("_")] + [n for n in names if n.startswith("_")]
    heads = _MD_HEAD.findall(text) + [h.strip() for h in _RST_HEAD.findall(text)]
    return list(dict.fromkeys(h.strip("`* ") for h in heads if h.strip()))


_PART_PREFIX = re.compile(r"^(?:Part\s+\S+\s*)?(?:Description:?\s*)?")


def _first_sentence(text: str) -> str:
    """The description's first sentence: its first line that is not one of the part's questions (small
    models often begin with a question, or echo the part's label)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("Q:")]
    text = _PART_PREFIX.sub("", " ".join(" ".join(lines[:1]).split()))
    match = _SENTENCE.match(text)
    sentence = match.group(1) if match else text
    return sentence if len(sentence) <= MAX_DESCRIPTION else sentence[: MAX_DESCRIPTION - 3].rstrip() + "..."


def file_map(chunks: Sequence[SourceChunk], descriptions: Mapping[str, str] | None = None) -> str:
    """The map: a header, then per file ``path: first sentence of its description [symbols]``."""
    texts: dict[str, list[str]] = {}
    for c in chunks:
        texts.setdefault(c.source, []).append(c.text)
    symbols = {s: key_symbols(s, "\n".join(t)) for s, t in texts.items()}
    words = {s: set(re.findall(r"[A-Za-z_]\w+", "\n".join(t))) for s, t in texts.items()}
    named = {  # centrality: how many other files name a symbol of this one
        source: sum(1 for other, w in words.items() if other != source and w & set(syms[:20]))
        for source, syms in symbols.items()
    }
    order = sorted(texts, key=lambda s: (-named[s], -sum(len(t) for t in texts[s]), s))
    lines = [MAP_HEADER]
    for source in order:
        desc = _first_sentence(descriptions[source]) if descriptions and descriptions.get(source) else ""
        syms = ", ".join(symbols[source][:MAX_SYMBOLS])
        lines.append(f"{source}: {desc} [{syms}]".replace(":  [", ": ["))
    return "\n".join(lines)
