"""Where names are defined: a question that names ``Choice.get_invalid_choice_message`` or ``click.edit``
is about the chunk that defines ``Choice`` or ``edit``. Text only, no store.

Dense search finds chunks that *use* a name as readily as the one that *defines* it (click's core.py uses
``Choice`` in many places; types.py defines it), and BM25 ranks by how often a name occurs. This ranking
lists the chunks that define a name the question names: Python ``def``/``class`` (methods too) and
module-level assignments, Markdown and reStructuredText headings' identifiers. A name counts as named when
the question writes it as code: in backticks, dotted (``click.edit``), with an underscore, or in
CamelCase; plain words do not count (``edit`` in prose is not ``click.edit``). Names defined in more than
`MAX_PLACES` chunks (``__init__``, ``name``) say nothing about where to look and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sleeptime.large.sources import SourceChunk

__all__ = ["Definitions", "named"]

MAX_PLACES = 3
_PY_DEF = re.compile(r"^[ \t]*(?:async[ \t]+def|def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_PY_ASSIGN = re.compile(r"^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)", re.M)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODE_SPAN = re.compile(r"`+([^`]+)`+")
_CODE_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Za-z0-9]*_[A-Za-z0-9_]*"
                        r"|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*|[a-z]+[A-Z][A-Za-z0-9]*")


def named(question: str) -> list[str]:
    """The identifiers `question` writes as code (see the module doc), in order, each once."""
    found: list[str] = []
    for span in _CODE_SPAN.findall(question):
        found += _IDENT.findall(span)
    for word in _CODE_LIKE.findall(_CODE_SPAN.sub(" ", question)):
        found += _IDENT.findall(word)
    return [n for n in dict.fromkeys(found) if len(n) > 1]


def _defined(chunk: SourceChunk) -> set[str]:
    if chunk.source.endswith(".py"):
        return set(_PY_DEF.findall(chunk.text)) | set(_PY_ASSIGN.findall(chunk.text))
    return set()


class Definitions:
    """Name -> the chunks (digests, in manifest order) that define it, for one revision's chunks."""

    def __init__(self, chunks: Sequence[SourceChunk]) -> None:
        self.places: dict[str, list[str]] = {}
        for c in chunks:
            for name in _defined(c):
                digests = self.places.setdefault(name, [])
                if c.digest not in digests:
                    digests.append(c.digest)

    def ranking(self, question: str) -> list[str]:
        """Chunks defining the names `question` names, those defining more of them first (then the
        question's order); names defined in more than `MAX_PLACES` chunks are skipped."""
        hits: dict[str, int] = {}
        for name in named(question):
            places = self.places.get(name, [])
            if 0 < len(places) <= MAX_PLACES:
                for digest in places:
                    hits[digest] = hits.get(digest, 0) + 1
        order = list(hits)
        return sorted(order, key=lambda d: (-hits[d], order.index(d)))
