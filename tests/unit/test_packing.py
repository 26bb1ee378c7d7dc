"""Packing retrieved pieces into a token budget."""

from __future__ import annotations

import pytest

from sleeptime.errors import InvalidInputError
from sleeptime.large.packing import Piece, approx_tokens, pack


def words(text: str) -> int:
    return len(text.split())


def test_most_relevant_pieces_fit_and_come_out_in_source_order() -> None:
    pieces = [
        Piece("alpha " * 10, "b.py", 1, 3, score=0.9),
        Piece("beta " * 10, "a.py", 5, 9, score=0.8),
        Piece("gamma " * 10, "c.py", 1, 2, score=0.1),
    ]
    packed = pack(pieces, budget_tokens=25, count=words)
    assert packed.sources == ["a.py:5-9", "b.py:1-3"]  # gamma (least relevant) left out
    assert packed.left_out == 1
    assert packed.tokens <= 25
    assert packed.text.index("[a.py:5-9]") < packed.text.index("[b.py:1-3]")


@pytest.mark.parametrize("budget", [1, 2, 5, 17, 40, 200])
def test_packed_text_never_exceeds_the_budget(budget: int) -> None:
    pieces = [Piece(f"line {i}\n" * (i + 1), f"f{i}.txt", 1, i + 1, score=float(i % 4)) for i in range(12)]
    packed = pack(pieces, budget_tokens=budget, count=approx_tokens)
    assert packed.tokens <= budget


def test_a_first_piece_too_big_is_cut_to_fit_with_its_span_shortened() -> None:
    big = Piece("\n".join(f"row {i} of data" for i in range(100)), "big.md", 10, 109, score=1.0)
    packed = pack([big], budget_tokens=30, count=words)
    assert len(packed.pieces) == 1
    cut = packed.pieces[0]
    assert cut.start_line == 10 and 10 <= cut.end_line < 109
    assert packed.tokens <= 30


def test_bad_budget_is_named() -> None:
    with pytest.raises(InvalidInputError, match="budget_tokens"):
        pack([], 0)
