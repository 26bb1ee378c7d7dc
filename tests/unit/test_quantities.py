"""The safe evaluator of `name = expression` note lines: what it computes, and every kind it refuses."""

from __future__ import annotations

import ast
import builtins
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from sleeptime.notes.arithmetic import QuantityError, evaluate
from sleeptime.notes.quantities import MAX_LINES, check_notes, format_value


def test_computes_and_states_the_value_it_computed() -> None:
    notes = check_notes("1. muffins baked = 72\n2. muffins_sold = 64\n3. shelter = muffins baked - muffins_sold = 9")
    assert [q.render() for q in notes.quantities] == [
        "muffins_baked = 72",
        "muffins_sold = 64",
        # The model's claim (9) is ignored: the published value is the evaluator's.
        "shelter = muffins_baked - muffins_sold = 72 - 64 = 8",
    ]
    assert notes.values()["shelter"] == 8
    assert notes.rejected == []


def test_facts_pass_through_and_order_is_kept() -> None:
    notes = check_notes("- The shop closes early on Fridays.\nprice = $3\nrevenue = price * 4 dollars")
    assert notes.render().splitlines() == [
        "- The shop closes early on Fridays.",
        "- price = 3",
        "- revenue = price * 4 = 3 * 4 = 12",
    ]


def test_exact_arithmetic() -> None:
    assert evaluate("0.1 + 0.2", {}) == Fraction(3, 10)
    assert evaluate("7 / 3", {}) == Fraction(7, 3)
    assert evaluate("7 // 2 + 7 % 2", {}) == 4
    assert evaluate("-(2 ** 3)", {}) == -8
    assert evaluate("round(2.5) + round(-2.5) + round(1.005, 2)", {}) == Fraction(101, 100)
    assert evaluate("min(3, 4) + max([3, 4]) + abs(-2) + sum(1, 2, 3)", {}) == 15
    assert format_value(Fraction(7, 3)) == "7/3 (about 2.3333)"
    assert format_value(Fraction(5, 4)) == "1.25"


def test_operator_spellings() -> None:
    assert check_notes("a = 4 x 6\nb = 8 \u00d7 2\nc = 1,200 \u2212 200").values() == {"a": 24, "b": 16, "c": 1000}


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(1).real", "Attribute is not allowed"),
        ("__import__('os').system('touch /tmp/pwned')", "only round/min/max/abs/sum may be called"),
        ("import os", "not an arithmetic expression"),
        ("(lambda: 1)()", "only round/min/max/abs/sum may be called"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[i for i in range(3)]", "ListComp is not allowed"),
        ("sum(i for i in range(10**9))", "GeneratorExp is not allowed"),
        ("2 ** 10000", "exponent too large"),
        ("9 ** 9 ** 9", "exponent too large"),
        ("10 ** 12 * 10 ** 12", "value too large"),
        ("2 ** 0.5", "non-integer exponent"),
        ("1 / 0", "division by zero"),
        ("1 // (2 - 2)", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("1e400", "arithmetic error"),
        ("nope + 1", "undefined name nope"),
        ("\u0663 + 1", "non-ASCII character"),
        ("'text'", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("x[0]", "Subscript is not allowed"),
        ("open('f')", "only round/min/max/abs/sum may be called"),
        ("round(x=1)", "keyword or starred arguments are not allowed"),
        ("1 if 1 else 2", "IfExp is not allowed"),
        ("1 < 2", "Compare is not allowed"),
        ("(" * 150 + "1" + ")" * 150, "expression too long"),
        ("+".join(["1"] * 90), "expression too complex"),
        ("", "empty expression"),
    ],
)
def test_refuses_unsafe_or_malformed(expression: str, reason: str) -> None:
    with pytest.raises(QuantityError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expression, {})


def test_nothing_is_executed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    called: list[str] = []
    real_compile = builtins.compile

    def trap(name: str) -> Callable[..., object]:
        def fail(*args: object, **kwargs: object) -> object:
            called.append(name)
            raise AssertionError(f"{name} called")

        return fail

    def ast_only_compile(*args: Any, **kwargs: Any) -> object:
        # ast.parse compiles to a tree only; anything else would make code objects from model text.
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        if not flags & ast.PyCF_ONLY_AST:
            called.append("compile")
        return real_compile(*args, **kwargs)

    monkeypatch.setattr(builtins, "eval", trap("eval"))
    monkeypatch.setattr(builtins, "exec", trap("exec"))
    monkeypatch.setattr(builtins, "compile", ast_only_compile)
    marker = tmp_path / "pwned"
    notes = check_notes(
        f"a = __import__('os').system('touch {marker}')\nb = open('{marker}', 'w').write('x')\nc = 1 + 1"
    )
    assert called == []
    assert not marker.exists()
    assert notes.values() == {"c": 2}
    assert len(notes.rejected) == 2


def test_lines_that_fail_are_dropped_with_reasons() -> None:
    notes = check_notes("x = 5\nx = 6\ny = z + 1\nw = x / 0\nTotal cost ($) = x * 2\n1 = 2")
    assert notes.values() == {"x": 5, "total_cost": 10}
    assert [r.reason for r in notes.rejected] == [
        "redefined name x",
        "undefined name z",
        "division by zero",
        "left of '=' is not a name",
    ]
    assert "x = 6" not in notes.render()


def test_names_only_from_earlier_lines() -> None:
    notes = check_notes("b = a + 1\na = 2")
    assert notes.values() == {"a": 2}
    assert notes.rejected[0].reason == "undefined name a"


def test_function_names_and_keywords_cannot_be_defined() -> None:
    notes = check_notes("round = 3\nclass = 4\ncalculation = 6 * 12\nok = round(2.4)")
    assert notes.values() == {"ok": 2}


def test_ten_thousand_lines_are_bounded() -> None:
    text = "\n".join(f"q{i} = {i} * 2" for i in range(10_000))
    start = time.perf_counter()
    notes = check_notes(text)
    assert time.perf_counter() - start < 5
    assert len(notes.quantities) == MAX_LINES
    assert notes.ignored_lines == 10_000 - MAX_LINES


def test_one_huge_line_is_refused_quickly() -> None:
    notes = check_notes("x = " + "9" * 1_000_000)
    assert notes.values() == {}
    assert notes.rejected[0].reason == "expression too long"


def test_unit_words_after_numbers_are_dropped_but_operands_are_not() -> None:
    notes = check_notes(
        "baked = 6 trays * 12 muffins per tray = 72 muffins\n"
        "sold = 50 muffins in the morning + 14 in the afternoon\n"
        "lost = morning sales + 14\n"
        "quantity = 3\n"
        "apples = 4 boxes x 6 apples"
    )
    assert notes.values() == {"baked": 72, "sold": 64, "apples": 24}
    assert [r.reason for r in notes.rejected] == ["not an arithmetic expression", "left of '=' is not a name"]


def test_names_are_case_insensitive_and_copied_prefixes_ignored() -> None:
    notes = check_notes("TRAYS = 6\nPer_Tray = 12\nname = MUFFINS = TRAYS * per_tray")
    assert notes.values() == {"trays": 6, "per_tray": 12, "muffins": 72}


def test_the_instructions_word_before_a_name_and_colon_is_read_as_that_name() -> None:
    # the 1.5B's reply to the README's example: the format's "label = calculation" copied around its own names
    notes = check_notes("label = total_cost: 3 * 2 + 4\nlabel = total_pens: 3\nlabel = total: 3 * 5 = 16\n"
                        "label = a sentence: 3 + 1")
    assert notes.values() == {"total_cost": 10, "total_pens": 3, "total": 15}  # the claimed 16 is not read
    assert [(r.line, r.reason) for r in notes.rejected] == [("label = a sentence: 3 + 1", "left of '=' is not a name")]


def test_the_instructions_words_on_two_lines_are_one_quantity() -> None:
    # the 1.5B's other reply to the README's example
    notes = check_notes("label = total_cost\ncalculation = 3 * 2 + 4\n- label = pens\n- calculation = 3\n"
                        "label = notebook\nA notebook costs 4 dollars.")
    assert notes.values() == {"total_cost": 10, "pens": 3}
    assert notes.facts == ["A notebook costs 4 dollars."]
    assert [r.line for r in notes.rejected] == ["label = notebook"]


def test_prose_with_inline_arithmetic_is_kept_only_when_right() -> None:
    notes = check_notes(
        "Pens cost $2 each. Alice buys 3 pens: 3 x 2 = $6.\n"
        "She spends 4 x 6 = 20 dollars on apples.\n"
        "The rest is given away: nothing = left"
    )
    assert notes.facts == ["Pens cost $2 each. Alice buys 3 pens: 3 x 2 = $6."]
    assert [r.reason for r in notes.rejected] == [
        "inline arithmetic is wrong: 4 x 6 is 24",
        "left of '=' is not a name",
    ]


def test_limits_bound_notes_and_can_be_lifted_by_a_caller() -> None:
    from sleeptime.notes.arithmetic import NOTE_LIMITS, Limits

    huge, fine, long_sum = "999999999 * 999999999", "1 / 3 / 999999999", " + ".join(["1"] * 120)
    for expression, reason in ((huge, "value too large"), (fine, "fraction too fine"),
                               (long_sum, "expression too long")):
        with pytest.raises(QuantityError, match=reason):
            evaluate(expression, {}, NOTE_LIMITS)
    free = Limits(chars=None, nodes=None, magnitude=None, denominator=None)
    assert evaluate(huge, {}, free) == 999999998000000001
    assert evaluate(fine, {}, free) == Fraction(1, 2999999997)
    assert evaluate(long_sum, {}, free) == 120
    with pytest.raises(QuantityError, match="exponent too large"):  # lifted limits keep the exponent bound
        evaluate("2 ** 13", {}, free)
