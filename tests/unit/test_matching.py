"""Rule checks of verified matching: extraction, every rejection reason, paraphrases, the threshold."""

from __future__ import annotations

import pytest

from sleeptime.matching import (
    compare_facts,
    decide,
    extract_facts,
    final_answer_line,
    parse_yes_no,
)
from sleeptime.state import PredictedQuestion

BASE = "How many rolls does Mira have left after she sells 15 rolls on Monday?"


def qa(question: str, answer: str = "4 x 12 = 48; 48 - 15 = 33. #### 33") -> PredictedQuestion:
    return PredictedQuestion(question=question, answer=answer)


def problems(a: str, b: str) -> list[str]:
    return compare_facts(extract_facts(a), extract_facts(b))


def test_extracts_numbers_units_entities_polarity_targets() -> None:
    facts = extract_facts("If Wei's cupcake cost $11 and twice as many pies cost 3.5 euros, how much did he not spend?")
    assert sorted(facts.numbers) == ["11", "2", "7/2"]  # exact rationals: 3.5 -> 7/2
    assert facts.units == ("eur", "usd")
    assert facts.quantities == ("11 usd", "7/2 eur")
    assert facts.entities == {"wei"}
    assert facts.negations == 1
    assert "disposed" in facts.targets


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("How many are left from three hundred twenty five?", ["325"]),
        ("What is half of 1,200?", ["1/2", "1200"]),
        ("What is two-thirds of a dozen?", ["12", "2/3"]),
        ("How far is a third of the way on the second day?", ["#2", "1/3"]),
        ("How many liters per second drain?", []),
        ("What is 3/4 of 10.50 dollars?", ["21/2", "3/4"]),
    ],
)
def test_number_extraction(text: str, numbers: list[str]) -> None:
    assert sorted(extract_facts(text).numbers) == sorted(numbers)


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ("How many rolls does Mira have left after she sells 16 rolls on Monday?", "numbers"),
        ("How many rolls does Mira have left after she sells fifteen rolls on Monday twice?", "numbers"),
        ("How many kilograms of rolls does Mira have left after she sells 15 rolls on Monday?", "units"),
        ("How many rolls does Lena have left after she sells 15 rolls on Monday?", "entities"),
        ("How many rolls does Mira have left after she sells 15 rolls on Tuesday?", "entities"),
        ("How many rolls does Mira not have left after she sells 15 rolls on Monday?", "polarity"),
        ("How many rolls doesn't Mira have left after she sells 15 rolls on Monday?", "polarity"),
        ("How many rolls does Mira sell after she sells 15 rolls on Monday?", "target"),
    ],
)
def test_each_kind_of_change_is_rejected_with_its_reason(variant: str, why: str) -> None:
    found = problems(variant, BASE)
    assert found, variant
    assert any(p.startswith(why) for p in found), found


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("How many more apples does Ana have than Ben?", "How many fewer apples does Ana have than Ben?", "target"),
        ("How much does each ticket cost?", "How much do the tickets cost in total?", "target"),
        ("What is the most he can spend?", "What is the least he can spend?", "target"),
        ("How long does it take in minutes?", "How long does it take in hours?", "units"),
        ("How much does it cost in dollars?", "How much does it cost in euros?", "units"),
    ],
)
def test_target_and_unit_flips(a: str, b: str, why: str) -> None:
    assert any(p.startswith(why) for p in problems(a, b))


@pytest.mark.parametrize(
    "paraphrase",
    [
        "Can you tell me how many rolls Mira has left after she sells 15 rolls on Monday?",
        "How many rolls remain with Mira after she sells fifteen rolls on Monday?",
        "After selling 15 rolls on Monday, how many rolls does Mira have left?",
        "how many rolls does mira have left after she sells 15 rolls on Monday?".replace("mira", "Mira"),
    ],
)
def test_paraphrases_keep_the_same_facts(paraphrase: str) -> None:
    assert problems(paraphrase, BASE) == []


def test_swapped_units_between_numbers_are_rejected() -> None:
    assert any("what they measure" in p for p in problems(
        "How long is 3 hours and 5 minutes?", "How long is 5 hours and 3 minutes?"))
    assert any(p.startswith("units") for p in problems("How many emails in a 4 week work week on the last day?",
                                                      "How many emails in a 4 day work week on the last day?"))


def test_a_short_header_is_not_an_entity() -> None:
    assert problems("Quick question: How many rolls does Mira have left?", "How many rolls does Mira have left?") == []


def test_equivalent_number_and_currency_forms_agree() -> None:
    assert problems("Does it cost $4 twice?", "Does it cost 4 dollars two times?") == []
    assert problems("What is 1/2 of it?", "What is half of it?") == []
    assert problems("What is 25% of it?", "What is 25 percent of it?") == []


def test_final_answer_line() -> None:
    assert final_answer_line("4 x 12 = 48; 48 - 15 = 33. #### 33") == "33"
    assert final_answer_line("She has 33 left.\nThe answer is 33.") == "33"
    assert final_answer_line("Alice pays 3 x 2 = 6.") == "6"
    assert final_answer_line("Total: 3 + 4 = $7") == "$7"
    assert final_answer_line("") is None
    assert final_answer_line("   \n ") is None


def test_decide_serves_only_above_threshold() -> None:
    cands = [(qa(BASE), 0.95)]
    served = decide(BASE, cands, threshold=0.9)
    assert served.served and served.answer == "33" and served.question == BASE
    assert "similarity ok 0.950" in served.reason and "facts ok" in served.reason
    low = decide(BASE, cands, threshold=0.96)
    assert not low.served and low.answer is None
    assert "similarity: low 0.950 < 0.960" in low.reason
    assert not decide(BASE, [(qa(BASE), None)], threshold=0.5).served


def test_decide_names_the_failed_check_and_tries_the_next_candidate() -> None:
    wrong = qa(BASE.replace("15", "16"), "#### 32")
    right = qa(BASE)
    d = decide(BASE, [(wrong, 0.99), (right, 0.97)], threshold=0.9)
    assert d.served and d.answer == "33"
    d2 = decide(BASE, [(wrong, 0.99)], threshold=0.9)
    assert not d2.served and "numbers differ" in d2.reason and "16" in d2.reason


def test_no_final_answer_is_not_served() -> None:
    assert not decide(BASE, [(qa(BASE, "  "), 0.99)], threshold=0.5).served


def test_no_candidates() -> None:
    d = decide(BASE, [], threshold=0.5)
    assert not d.served and d.reason == "no predicted questions to match"


def test_parse_yes_no() -> None:
    assert parse_yes_no("Yes.") is True
    assert parse_yes_no(" no, they differ") is False
    assert parse_yes_no("maybe") is None
