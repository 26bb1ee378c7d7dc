"""The ``oracle`` notes arm: the answer step gets the gold intermediate values of the instance's worked solution as
its notes, instead of notes the sleep model wrote. It bounds what better notes could still gain.

The values are the ``<<expr=value>>`` annotations of the solution (GSM-Symbolic base and P1 instances carry the
solution with their own values filled in). A solution without annotations (P2's) gives the equations of its lines
instead; an example with no solution at all (AIME, the tiny set) has no oracle notes, and its oracle answers are
recorded as failed (wrong, no tokens) rather than silently left out. The arm runs in :mod:`evals.pareto`
(``--oracle``).

The full oracle holds the final answer itself in most problems (its last annotation usually computes it: 88 of
100 base problems, issue 28), so it bounds "notes that contain the answer", not "better notes". The
**oracle-intermediate** arm (``--oracle-intermediate``, mode ``oracle-intermediate``) keeps only the values that are
not the answer: every pair whose expression or value states a number equal to the final answer is left out, so
its notes contain the final answer in no problem (checked by ``intermediate_notes`` itself, and by a test over
the generated instances). What it bounds: notes with every step but the last one's result.
"""

from __future__ import annotations

import re
from fractions import Fraction

from evals.examples import Example
from evals.grading import numbers_in, parse_number

_ANNOTATION = re.compile(r"<<([^<>]*?)>>\s*([^\s<]*)")
_EQUATION = re.compile(r"([^=\n:]*\d[^=\n:]*)=\s*([^=\n]*\d[^=\n]*)")
HEADER = "Worked values (checked):"
INTERMEDIATE_HEADER = "Worked intermediate values (checked; the final step is yours):"
ONE_STEP = "- (no intermediate value: the answer is one step from the situation)"


class NoOracleNotesError(ValueError):
    """The example's solution gives no intermediate values to use as oracle notes."""


def oracle_values(solution: str) -> list[tuple[str, str]]:
    """(expression, value) pairs of a worked solution, in order: its ``<<expr=value>>`` annotations, else its
    ``a = b`` equations; the final ``#### answer`` line is not one of them."""
    body = solution.rsplit("####", 1)[0]
    pairs: list[tuple[str, str]] = []
    for inner, after in _ANNOTATION.findall(body):
        expr, sep, value = inner.rpartition("=")
        if not sep:  # "<<72/12>>6": the value is what follows the annotation
            expr, value = inner, after
        value = value.strip().rstrip(".,;")
        if expr.strip() and value:
            pairs.append((expr.strip(), value))
    if pairs:
        return pairs
    for expr, value in _EQUATION.findall(body):
        pairs.append((expr.strip(), value.strip().rstrip(".,;")))
    return pairs


def oracle_notes(ex: Example) -> str:
    """The notes the oracle arm answers from; raises NoOracleNotesError when the example has none."""
    values = oracle_values(str(ex.meta.get("solution", "")))
    if not values:
        raise NoOracleNotesError(f"{ex.id}: no worked solution with intermediate values for oracle notes")
    return "\n".join([HEADER, *(f"- {expr} = {value}" for expr, value in values)])


def final_answer(ex: Example) -> Fraction | None:
    """The example's gold final answer as an exact value (None when it is not a number)."""
    return parse_number(str(ex.answer).rsplit("####", 1)[-1])


def stated_numbers(text: str) -> set[Fraction]:
    """Every number ``text`` states, read both as the grader reads it ("140/60" one fraction) and with each
    side of a "/" on its own (140 and 60)."""
    return numbers_in(text) | numbers_in(text.replace("/", " ÷ "))


def intermediate_values(solution: str, answer: Fraction) -> list[tuple[str, str]]:
    """The worked solution's (expression, value) pairs that state no number equal to ``answer``."""
    return [(expr, value) for expr, value in oracle_values(solution)
            if answer not in stated_numbers(f"{expr} = {value}")]


def intermediate_notes(ex: Example) -> str:
    """The oracle-intermediate notes: the gold intermediate values without the final answer (a one-step problem
    gets a line saying so). Raises NoOracleNotesError when the example has no worked solution or its answer is
    not a number."""
    answer = final_answer(ex)
    if answer is None:
        raise NoOracleNotesError(f"{ex.id}: the gold answer is not a number")
    solution = str(ex.meta.get("solution", ""))
    if not oracle_values(solution):
        raise NoOracleNotesError(f"{ex.id}: no worked solution with intermediate values for oracle notes")
    lines = [f"- {expr} = {value}" for expr, value in intermediate_values(solution, answer)] or [ONE_STEP]
    notes = "\n".join([INTERMEDIATE_HEADER, *lines])
    if answer in stated_numbers(notes):  # the header states no number; this would be a bug above
        raise AssertionError(f"{ex.id}: oracle-intermediate notes state the final answer")
    return notes
