"""The safe arithmetic evaluator: one expression of model text to an exact value, or the reason it has none.

Model text never reaches ``exec``/``eval``/``compile``: each expression is parsed with :func:`ast.parse`
and walked by a tree walker that accepts only a whitelist of node kinds (numeric literals, ``+ - * / // %
**``, unary minus/plus, parentheses, the calls ``round/min/max/abs/sum`` and names from ``env``).
Arithmetic is exact (:class:`fractions.Fraction`); exponents are bounded, and magnitudes, denominators,
expression length and tree size by `Limits` (`NOTE_LIMITS` unless a caller that reads bounded text, such as
a grader reading one reply, lifts them), so no input can make the walker slow or huge. The note checker
(``sleeptime.notes.quantities``) and the evals lab's graders use this one evaluator.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["FUNCTIONS", "MAX_EXPRESSION_CHARS", "NOTE_LIMITS", "Limits", "QuantityError", "evaluate"]

MAX_EXPRESSION_CHARS = 200
MAX_NODES = 80
MAX_EXPONENT = 12
MAX_MAGNITUDE = Fraction(10**15)
MAX_DENOMINATOR = 10**9
MAX_ARGS = 20

FUNCTIONS = frozenset({"round", "min", "max", "abs", "sum"})
"""The calls an expression may make."""


class QuantityError(ValueError):
    """Why one expression was not evaluated (a reason, never model text executed)."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one expression and every value computed on the way; None: unbounded."""

    chars: int | None = MAX_EXPRESSION_CHARS
    nodes: int | None = MAX_NODES
    magnitude: Fraction | None = MAX_MAGNITUDE
    denominator: int | None = MAX_DENOMINATOR

    def check(self, value: Fraction) -> Fraction:
        if self.magnitude is not None and abs(value) > self.magnitude:
            raise QuantityError("value too large")
        if self.denominator is not None and value.denominator > self.denominator:
            raise QuantityError("fraction too fine")
        return value


NOTE_LIMITS = Limits()
"""The bounds for model notes: what is published must be a number a reader can use."""


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise QuantityError("non-integer exponent")
    if abs(exponent) > MAX_EXPONENT:
        raise QuantityError("exponent too large")
    if base == 0 and exponent < 0:
        raise QuantityError("division by zero")
    # |exponent| <= 12 and a base within the walker's limits keep this small enough to check afterwards.
    return base ** int(exponent)


def _divide(a: Fraction, b: Fraction) -> Fraction:
    if b == 0:
        raise QuantityError("division by zero")
    return a / b


def _floordiv(a: Fraction, b: Fraction) -> Fraction:
    if b == 0:
        raise QuantityError("division by zero")
    return Fraction(a // b)


def _mod(a: Fraction, b: Fraction) -> Fraction:
    if b == 0:
        raise QuantityError("division by zero")
    return a % b


_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: _power,
}


def _round(values: list[Fraction]) -> Fraction:
    """round(x) or round(x, digits), halves away from zero (money rounding, not Python's half-even)."""
    if len(values) not in (1, 2):
        raise QuantityError("round takes one or two arguments")
    digits = values[1] if len(values) == 2 else Fraction(0)
    if digits.denominator != 1 or not 0 <= digits <= 6:
        raise QuantityError("round digits must be 0..6")
    scale = Fraction(10) ** int(digits)
    scaled = abs(values[0]) * scale
    rounded = Fraction(int(scaled + Fraction(1, 2))) / scale
    return rounded if values[0] >= 0 else -rounded


def _needs(values: list[Fraction], name: str) -> list[Fraction]:
    if not values:
        raise QuantityError(f"{name} needs an argument")
    return values


_CALLS: dict[str, Callable[[list[Fraction]], Fraction]] = {
    "round": _round,
    "min": lambda v: min(_needs(v, "min")),
    "max": lambda v: max(_needs(v, "max")),
    "sum": lambda v: sum(v, Fraction(0)),
    "abs": lambda v: abs(v[0]) if len(v) == 1 else _raise("abs takes one argument"),
}


def _raise(reason: str) -> Fraction:
    raise QuantityError(reason)


class _Walker:
    def __init__(self, env: Mapping[str, Fraction], limits: Limits) -> None:
        self.env = env
        self.check = limits.check

    def eval(self, node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant):
            value = node.value
            # bool is an int subclass: True/False are not numbers here.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise QuantityError("only numbers are allowed")
            return self.check(Fraction(value) if isinstance(value, int) else Fraction(repr(value)))
        if isinstance(node, ast.Name):
            if node.id not in self.env:
                raise QuantityError(f"undefined name {node.id}")
            return self.env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.eval(node.left), self.eval(node.right)
            return self.check(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.eval(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            return self._call(node)
        raise QuantityError(f"{type(node).__name__} is not allowed")

    def _call(self, node: ast.Call) -> Fraction:
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLS:
            raise QuantityError("only round/min/max/abs/sum may be called")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise QuantityError("keyword or starred arguments are not allowed")
        args: list[ast.expr] = list(node.args)
        # sum([a, b]) / max((a, b)): one list or tuple literal of numbers as the only argument.
        if len(args) == 1 and isinstance(args[0], ast.List | ast.Tuple) and node.func.id != "round":
            args = list(args[0].elts)
        if len(args) > MAX_ARGS:
            raise QuantityError("too many arguments")
        return self.check(_CALLS[node.func.id]([self.eval(a) for a in args]))


def evaluate(expression: str, env: Mapping[str, Fraction], limits: Limits = NOTE_LIMITS) -> Fraction:
    """The exact value of one expression over ``env`` within ``limits``; :class:`QuantityError` says why not."""
    if limits.chars is not None and len(expression) > limits.chars:
        raise QuantityError("expression too long")
    if not expression.isascii():
        raise QuantityError("non-ASCII character")
    if not expression.strip():
        raise QuantityError("empty expression")
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise QuantityError("not an arithmetic expression") from None
    if limits.nodes is not None and sum(1 for _ in ast.walk(tree)) > limits.nodes:
        raise QuantityError("expression too complex")
    try:
        return _Walker(env, limits).eval(tree.body)
    except (ArithmeticError, ValueError, RecursionError) as error:
        if isinstance(error, QuantityError):
            raise
        raise QuantityError("arithmetic error") from None
