"""Grading and aggregation: the paper's last-number and boxed rules, compared exactly."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from evals.grading import (
    accuracy,
    extract_aime_answer,
    extract_gsm_answer,
    format_number,
    grade_aime,
    grade_gsm,
    mean_tokens,
    parse_number,
    summarize,
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("The answer is 42.", "42"),
        ("She pays $1,200 in total.", "1200"),
        ("It costs $0.75 each", "0.75"),
        ("The change is -5.", "-5"),
        ("We get -$5", "-5"),
        ("so 7-4 = 3", "3"),
        ("3/4 of the cake", "3/4"),
        ("#### 12\nNote: checked with 15 items", "12"),
        ("First 3 then #### 1,024", "1024"),
        ("It grew 25%.", "25"),
        ("Result: 12.0", "12.0"),
        ("1,2 and 3, 4", "4"),
        ("Step 1. Step 2.", "2"),
        ("no digits here", None),
        ("", None),
    ],
)
def test_extract_gsm_answer_last_number_rule(reply: str, expected: str | None) -> None:
    assert extract_gsm_answer(reply) == expected


@pytest.mark.parametrize(
    ("reply", "gold", "ok"),
    [
        ("12.0", "12", True),
        ("$1,200", "1200", True),
        ("The answer is 1200.", "#### 1,200", True),
        ("0.5", "1/2", True),
        ("3/4", "0.75", True),
        ("-3", "3", False),
        ("12.01", "12", False),
        ("nothing", "0", False),
        ("It is 7", 7, True),
    ],
)
def test_grade_gsm_exact(reply: str, gold: str | int, ok: bool) -> None:
    assert grade_gsm(reply, gold) is ok


def test_parse_and_format_are_exact() -> None:
    assert parse_number("0.1") == Fraction(1, 10)
    assert parse_number("1/0") is None
    assert format_number(Fraction(7, 4)) == "1.75"
    assert format_number(Fraction(1, 3)) == "1/3"
    assert format_number(Fraction(-10)) == "-10"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (r"so \boxed{33}", 33),
        (r"\boxed{1} first, final \boxed{033}", 33),
        (r"\boxed{\frac{1}{2}} then \boxed{204}", 204),
        (r"answer \boxed{m+n=\text{73}}", 73),
        ("m+n = 1234 and then 56.", 56),
        (r"unfinished \boxed{12", 12),
        ("no answer", None),
    ],
)
def test_extract_aime_answer(reply: str, expected: int | None) -> None:
    assert extract_aime_answer(reply) == expected


def test_grade_aime_zero_padded_gold() -> None:
    assert grade_aime(r"\boxed{25}", "025")
    assert not grade_aime(r"\boxed{26}", "025")


def test_aggregation() -> None:
    records = [
        {"mode": "sleep", "budget": 0, "correct": True, "output_tokens": 10, "input_tokens": 100},
        {"mode": "sleep", "budget": 0, "correct": False, "output_tokens": 20, "input_tokens": 300},
        {"mode": "test", "budget": 0, "correct": True, "output_tokens": 50, "input_tokens": None},
        {"mode": "test", "budget": 1, "correct": True, "output_tokens": 70},
    ]
    assert accuracy(records) == 0.75
    assert math.isnan(accuracy([]))
    assert mean_tokens(records, "output_tokens") == 37.5
    assert mean_tokens(records, "input_tokens") == 200  # missing counts are skipped, not zeroed
    rows = summarize(records, by=["mode", "budget"])
    assert [(r["mode"], r["budget"], r["n"]) for r in rows] == [("sleep", 0, 2), ("test", 0, 1), ("test", 1, 1)]
    assert rows[0]["accuracy"] == 0.5
    assert rows[0]["mean_output_tokens"] == 15
    assert math.isnan(rows[2]["mean_input_tokens"])
    assert summarize(records)[0]["n"] == 4


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # " - " between two numbers is a subtraction, never a negative last number (it used to grade as -3).
        ("so she has 8 - 3", "5"),
        ("Left: 12 - 3 - 4.", "5"),
        ("so 2 * 3 + 4", "10"),
        ("it is 1/2 + 1/4", "0.75"),
        ("10 ÷ 4", "2.5"),
        ("x = -3", "-3"),
        ("pages 8-3", "3"),  # glued: a hyphen, as before
        ("3 - 10", "-7"),
        # "The answer is ..." is the anchor, before the last-number fallback.
        ("The answer is 5. Then 8 more people came.", "5"),
        ("The answer is 8 - 3.", "5"),
        ("The answer is 8 - 3 = 6.", "6"),  # the stated result is graded, right or wrong
        ("The answer is: **$1,200**.", "1200"),
        ("The answer is 5 (since 8 - 3 = 5), not 7.", "5"),
        ("The final answer is -4", "-4"),
        ("the answer is twelve, that is 12 rolls; 3 left over", "12"),
        ("The answer is unclear.\nTotal 14", "14"),  # no number in the answer sentence: the fallback
        ("The answer is 3.\n#### 4", "4"),  # '####' still comes first
    ],
)
def test_answer_anchor_and_subtraction(reply: str, expected: str) -> None:
    assert extract_gsm_answer(reply) == expected


def test_evaluate_written_arithmetic_exactly() -> None:
    from evals.grading import evaluate

    assert evaluate("8 - 3") == 5
    assert evaluate("2 + 3 * 4 - 6 ÷ 4") == Fraction(25, 2)
    assert evaluate("$2.50 × 4") == 10
    assert evaluate("- 2 + 5") == 3
    assert evaluate("1 ÷ 0") is None
    assert evaluate("8 - apples") is None
    # A written fraction is one operand; the notes' bounds do not apply to a reply's arithmetic.
    assert evaluate("6 ÷ 3/4") == 8 and evaluate("-3/4 × 2") == Fraction(-3, 2)
    assert evaluate("999,999,999 × 999,999,999") == 999999998000000001
    assert evaluate(" + ".join(["7"] * 300)) == 2100
    assert evaluate("5 + - 3") is None and evaluate("5 +") is None


@pytest.mark.parametrize(
    ("reply", "gold"),
    [
        # Issue 28: answer sentences the grader misread (graded as 3, 3, 8, 7, 1, 2 and 0.67 before).
        ("The answer is 3 x 4 = 12.", "12"),
        ("The answer is 3 hours * 60 = 180 minutes.", "180"),
        ("The answer is (8 - 3) = 5.", "5"),
        ("The answer is 7 dozen, i.e. 84.", "84"),
        ("The answer is 1 000.", "1000"),
        ("The answer is 2 1/2.", "5/2"),
        ("The answer is 2/3 = 0.67.", "2/3"),  # a rounded result of exact arithmetic: the exact value
        ("The answer is 3 x 4.", "12"),
        ("The answer is 3 hours * 60.", "180"),
        ("The answer is 7 dozen, which is 84 eggs.", "84"),
    ],
)
def test_answer_sentence_forms(reply: str, gold: str) -> None:
    assert grade_gsm(reply, gold)


@pytest.mark.parametrize(
    ("reply", "gold"),
    [
        ("The answer is 2/3 = 0.6.", "2/3"),  # 0.6 is not 2/3 rounded to one place: the stated 0.6 is graded
        ("The answer is 8 - 3 = 6.", "5"),  # a wrong stated result stays wrong
        ("The answer is 3 x 4 = 13.", "12"),
        ("The answer is 12 apples and 3 pears.", "15"),  # words between numbers are not arithmetic
        ("The answer is 2 1/2.", "2"),
    ],
)
def test_answer_sentence_forms_wrong(reply: str, gold: str) -> None:
    assert not grade_gsm(reply, gold)
