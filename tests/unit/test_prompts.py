"""Parsing of the reflect step's reply."""

from __future__ import annotations

from sleeptime.prompts.reflect import parse_reflection


def test_status_line_is_removed_and_read() -> None:
    assert parse_reflection("1. total = 4 x 6 = 24\nSTATUS: DONE", 1000) == ("1. total = 4 x 6 = 24", True)
    assert parse_reflection("STATUS: CONTINUE\n1. a = 2", 1000) == ("1. a = 2", False)
    assert parse_reflection("1. a = 2", 1000) == ("1. a = 2", False)


def test_last_status_wins() -> None:
    assert parse_reflection("STATUS: DONE\n1. a = 2\n**STATUS:** CONTINUE", 1000)[1] is False


def test_repeated_lines_are_dropped_whatever_their_numbering() -> None:
    reply = (
        "1. sold = 50 + 14 = 64\n2. left = 72 - 64 = 8\n3. sold = 50 + 14 = 64\n\n"
        "4. Left = 72 - 64 = 8\n\n\n5. cost = 9"
    )
    notes, _ = parse_reflection(reply, 1000)
    assert notes == "1. sold = 50 + 14 = 64\n2. left = 72 - 64 = 8\n\n5. cost = 9"


def test_notes_are_cut_to_the_limit() -> None:
    notes, _ = parse_reflection("x" * 50, 10)
    assert notes == "x" * 10
