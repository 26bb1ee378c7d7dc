"""Pack retrieved pieces (raw chunks, part notes) into a token budget, with their sources.

A context larger than one prompt is answered from what retrieval finds. The pieces go in by
relevance until the budget is spent; a piece that does not fit is left out (the first one is cut to
fit rather than leaving the prompt empty). The packed text lists pieces in source order, each under
a `[source:start-end]` header, so the model can cite them and readers can check them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sleeptime.errors import InvalidInputError

TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A conservative estimate (3 characters a token) for when the model's tokenizer is not at hand."""
    return math.ceil(len(text) / 3)


@dataclass(frozen=True)
class Piece:
    text: str
    source: str
    """Where it came from: a path, or a label such as ``notes``."""
    start_line: int = 0
    end_line: int = 0
    score: float = 0.0
    """Higher is more relevant."""

    @property
    def citation(self) -> str:
        return f"{self.source}:{self.start_line}-{self.end_line}" if self.end_line else self.source


@dataclass(frozen=True)
class Packed:
    text: str
    pieces: list[Piece]
    tokens: int
    left_out: int

    @property
    def sources(self) -> list[str]:
        return [p.citation for p in self.pieces]


def _block(piece: Piece) -> str:
    return f"[{piece.citation}]\n{piece.text}"


def _cut_to_fit(piece: Piece, budget: int, count: TokenCounter) -> Piece | None:
    lo, hi = 0, len(piece.text)
    while lo < hi:  # the longest prefix whose block fits
        mid = (lo + hi + 1) // 2
        if count(_block(Piece(piece.text[:mid], piece.source, piece.start_line, piece.end_line))) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return None
    text = piece.text[:lo]
    end = piece.start_line + text.count("\n") if piece.end_line else 0
    return Piece(text, piece.source, piece.start_line, end, piece.score)


def pack(pieces: Sequence[Piece], budget_tokens: int, count: TokenCounter = approx_tokens) -> Packed:
    """The most relevant pieces whose blocks fit `budget_tokens` together, in source order."""
    if budget_tokens < 1:
        raise InvalidInputError(f"budget_tokens must be >= 1, got {budget_tokens!r}")
    chosen: list[Piece] = []
    used = 0
    for piece in sorted(pieces, key=lambda p: -p.score):
        cost = count(_block(piece)) + 1  # +1 for the blank line between blocks
        if used + cost <= budget_tokens:
            chosen.append(piece)
            used += cost
        elif not chosen:
            cut = _cut_to_fit(piece, budget_tokens - 1, count)
            if cut is not None:
                chosen.append(cut)
                used += count(_block(cut)) + 1
    chosen.sort(key=lambda p: (p.source, p.start_line))
    text = "\n\n".join(_block(p) for p in chosen)
    return Packed(text=text, pieces=chosen, tokens=count(text) if text else 0, left_out=len(pieces) - len(chosen))
