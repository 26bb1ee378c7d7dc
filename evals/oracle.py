"""The ``oracle`` notes arm: the answer step gets the gold intermediate values of the instance's worked solution as
its notes, instead of notes the sleep model wrote. It bounds what better notes could still gain.

The values are the ``<<expr=value>>`` annotations of the solution (GSM-Symbolic base and P1 instances carry the
solution with their own values filled in). A solution without annotations (P2's) gives the equations of its lines
instead; an example with no solution at all (AIME, the tiny set) has no oracle notes, and its oracle answers are
recorded as failed (wrong, no tokens) rather than silently left out. The arm runs in :mod:`evals.pareto`
(``--oracle``).
"""

from __future__ import annotations

import re

from evals.examples import Example

_ANNOTATION = re.compile(r"<<([^<>]*?)>>\s*([^\s<]*)")
_EQUATION = re.compile(r"([^=\n:]*\d[^=\n:]*)=\s*([^=\n]*\d[^=\n]*)")
HEADER = "Worked values (checked):"


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
