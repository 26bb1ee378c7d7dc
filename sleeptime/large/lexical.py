"""Lexical search for large contexts: code-aware tokens, BM25 and reciprocal rank fusion. Text only, no store.

Dense embeddings of a small model miss exact names (a question about ``show_default`` should find the
chunk that defines it); BM25 over code-aware tokens finds them, and reciprocal rank fusion (RRF: each
list adds ``1 / (rrf_k + rank)``) merges its ranking with the dense one without comparing their scores.

Tokens: words and identifiers, lowercased, each identifier kept whole and split at ``_``, ``.`` and
camelCase (``HelpFormatter.write_usage`` -> ``helpformatter``, ``help``, ``formatter``, ``write_usage``,
``write``, ``usage``), common English and Python words dropped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["BM25", "rrf", "tokens"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STOP_WORDS = (
    "a an and are as at be been but by can do does for from has have how if in into is it its of on or "
    "so that the their then there these this to was were what when where which while who why will with "
    "would should must not no yes you your we our they them i me my all any each more most other some such "
    "than too very one also only just may might shall change changes changed file files "
    "self cls def class return none true false import pass else elif try except finally raise lambda "
    "str int bool list dict t"
)
_STOP = frozenset(_STOP_WORDS.split())


def tokens(text: str) -> list[str]:
    """The search terms of `text`: identifiers whole and in their parts, lowercased, stop words dropped."""
    out: list[str] = []
    for word in _WORD.findall(text):
        pieces = [p for part in word.split(".") for p in part.split("_") if p]
        parts = [w.lower() for p in pieces for w in _CAMEL.findall(p)]
        whole = word.lower()
        for term in dict.fromkeys([whole, *(p.lower() for p in word.split(".")), *parts]):
            if len(term) > 1 and term not in _STOP:
                out.append(term)
    return out


class BM25:
    """Okapi BM25 over a fixed list of documents (their term counts kept; built once per revision)."""

    def __init__(self, docs: Iterable[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.counts = [Counter(tokens(d)) for d in docs]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        for c in self.counts:
            df.update(c.keys())
        n = len(self.counts)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[float]:
        terms = [t for t in dict.fromkeys(tokens(query)) if t in self.idf]
        out: list[float] = []
        for counts, length in zip(self.counts, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.avg) if self.avg else self.k1
            out.append(sum(self.idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm) for t in terms if t in counts))
        return out

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The indices of the `k` best-scoring documents (score > 0), best first."""
        scored = [(i, s) for i, s in enumerate(self.scores(query)) if s > 0]
        scored.sort(key=lambda x: (-x[1], x[0]))
        return scored[:k]


def rrf(rankings: Sequence[Sequence[str]], rrf_k: int = 60,
        weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of rankings (keys, best first): keys by the sum of ``w / (rrf_k + rank)``
    (``w`` the ranking's weight, 1 by default)."""
    fused: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights is not None else 1.0
        for rank, key in enumerate(dict.fromkeys(ranking), start=1):
            fused[key] = fused.get(key, 0.0) + w / (rrf_k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
