"""GSM-Symbolic templates: a small interpreter for Apple's template mini-language, and instance generation.

The template mini-language (``#init``, ``#conditions``, ``#answer`` and the ``{expr}`` placeholders) is
evaluated by a small tree-walking interpreter over a whitelist of ``ast`` node types and functions; there is
no ``eval``. Numbers are exact: integer literals stay ``int``, decimal literals become ``Fraction`` and ``/``
always gives a ``Fraction``. The gold answer is the worked solution's ``#### {expr}`` line, as in Apple's
released answers; the ``#answer`` expression is evaluated too and any disagreement is recorded (see
:func:`check_templates`).
"""

from __future__ import annotations

import ast
import json
import math
import operator
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from evals.errors import TemplateError, require_path
from evals.grading import format_number, parse_number

# ====================================================================== template mini-language


@dataclass(frozen=True)
class Named:
    """A sampled item shown as text but computed with as a number: ("half", 1/2), ("alphabet", 26)."""

    label: str
    value: int | Fraction

    def __str__(self) -> str:
        return self.label

    def __getitem__(self, index: int) -> Any:
        return (self.label, self.value)[index]


def _named(items: Iterable[tuple[str, int | Fraction]]) -> list[Any]:
    return [Named(label, value) for label, value in items]


_F = Fraction
# The project's own word lists (Apple's generator did not release its lists).
_NAMES_FEMALE = [
    "Ava",
    "Bea",
    "Chloe",
    "Dana",
    "Elena",
    "Fatima",
    "Grace",
    "Hana",
    "Ines",
    "Julia",
    "Kira",
    "Lena",
    "Maya",
    "Nora",
    "Olga",
    "Priya",
    "Rosa",
    "Sofia",
    "Tara",
    "Yuki",
]
_NAMES_MALE = [
    "Aaron",
    "Ben",
    "Carlos",
    "David",
    "Emil",
    "Farid",
    "Gabe",
    "Hugo",
    "Ivan",
    "Jamal",
    "Kenji",
    "Liam",
    "Mateo",
    "Nikhil",
    "Omar",
    "Pavel",
    "Ravi",
    "Samuel",
    "Theo",
    "Yusuf",
]
_WORD_LISTS: dict[str, list[Any]] = {
    "names_female": _NAMES_FEMALE,
    "names_male": _NAMES_MALE,
    "names": _NAMES_FEMALE + _NAMES_MALE,
    "fractions": _named(
        [
            ("half", _F(1, 2)),
            ("a third", _F(1, 3)),
            ("a quarter", _F(1, 4)),
            ("a fifth", _F(1, 5)),
            ("two-thirds", _F(2, 3)),
            ("three-quarters", _F(3, 4)),
        ]
    ),
    "fraction_alph": _named(
        [
            ("half", _F(1, 2)),
            ("a third", _F(1, 3)),
            ("a quarter", _F(1, 4)),
            ("a fifth", _F(1, 5)),
            ("a tenth", _F(1, 10)),
        ]
    ),
    "fraction_nums": _named(
        [
            ("1/2", _F(1, 2)),
            ("1/3", _F(1, 3)),
            ("1/4", _F(1, 4)),
            ("1/5", _F(1, 5)),
            ("2/3", _F(2, 3)),
            ("3/4", _F(3, 4)),
            ("2/5", _F(2, 5)),
            ("3/5", _F(3, 5)),
        ]
    ),
    "fraction_alnum": _named(
        [
            ("half", _F(1, 2)),
            ("one-third", _F(1, 3)),
            ("one-fourth", _F(1, 4)),
            ("one-fifth", _F(1, 5)),
            ("1/2", _F(1, 2)),
            ("1/3", _F(1, 3)),
            ("1/4", _F(1, 4)),
            ("1/5", _F(1, 5)),
            ("two-thirds", _F(2, 3)),
            ("three-fifths", _F(3, 5)),
            ("3/4", _F(3, 4)),
        ]
    ),
    "fraction_decimals": [_F(1, 10), _F(1, 5), _F(1, 4), _F(1, 2), _F(3, 4)],
    "multi_times": _named([("twice", 2), ("three times", 3), ("four times", 4), ("five times", 5)]),
    "multiple_ice": _named([("twice", 2), ("thrice", 3)]),
    "multiple": _named([("double", 2), ("triple", 3), ("quadruple", 4)]),
    "currencies_sym": ["$", "€", "£"],
    "weights_sm": ["ounce", "gram"],
    "weights_med": ["pound", "kilogram"],
    "length_lg": ["mile", "kilometer"],
    "fruits": ["apple", "banana", "pear", "plum", "mango", "kiwi", "peach", "orange"],
    "colors": ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"],
    "cities": ["Lisbon", "Nairobi", "Osaka", "Lima", "Oslo", "Denver"],
    "sports": ["tennis", "soccer", "basketball", "hockey"],
    "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
# Words the templates use as their own example values, with the number they stand for.
_WORD_VALUES: dict[str, int | Fraction] = {
    "half": _F(1, 2),
    "a half": _F(1, 2),
    "quarter": _F(1, 4),
    "a quarter": _F(1, 4),
    "one-fourth": _F(1, 4),
    "one quarter": _F(1, 4),
    "third": _F(1, 3),
    "a third": _F(1, 3),
    "one-third": _F(1, 3),
    "two-thirds": _F(2, 3),
    "three quarters": _F(3, 4),
    "three-quarters": _F(3, 4),
    "one-fifth": _F(1, 5),
    "a fifth": _F(1, 5),
    "three-fifths": _F(3, 5),
    "a tenth": _F(1, 10),
    "twice": 2,
    "double": 2,
    "two": 2,
    "two times": 2,
    "triple": 3,
    "thrice": 3,
    "three": 3,
    "three times": 3,
    "four": 4,
    "four times": 4,
    "quadruple": 4,
    "five times": 5,
}
_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
for _n, _word in enumerate(_NUMBER_WORDS):
    _WORD_VALUES.setdefault(_word, _n)
for _t, _tens in enumerate(_TENS, start=2):
    _WORD_VALUES.setdefault(_tens, 10 * _t)
    for _u in range(1, 10):
        _WORD_VALUES.setdefault(f"{_tens}-{_NUMBER_WORDS[_u]}", 10 * _t + _u)
for _items in _WORD_LISTS.values():
    for _item in _items:
        if isinstance(_item, Named):
            _WORD_VALUES.setdefault(_item.label, _item.value)

_MAX_SEQ = 100_000


def _num(x: Any) -> Any:
    return x.value if isinstance(x, Named) else x


def _is_number(x: Any) -> bool:
    return isinstance(x, int | Fraction)


def _to_int(x: Any) -> int:
    x = _num(x)
    if isinstance(x, Fraction):
        if x.denominator != 1:
            raise TemplateError(f"expected an integer, got {x}")
        return int(x)
    if isinstance(x, int):
        return x
    raise TemplateError(f"expected an integer, got {x!r}")


def _frac(x: Any) -> Fraction:
    x = _num(x)
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, str):
        value = parse_number(x)
        if value is not None:
            return value
    raise TemplateError(f"expected a number, got {x!r}")


class _Sampler:
    """The functions a template may call, bound to one random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "sample": self.sample,
            "sample_sequential": self.sample_sequential,
            "shuffle_list": self.shuffle_list,
            "np.random.randint": self.randint,
            "range": _range,
            "np.arange": _arange,
            "frange": _arange,
            "numbers_within": lambda a, b: list(range(_to_int(a), _to_int(b) + 1)),
            "fix_floats": _fix_floats,
            "list": lambda x=(): list(x),
            "len": len,
            "sum": lambda xs: sum((_num(x) for x in xs), start=0),
            "min": lambda *a: min(_num(x) for x in (a[0] if len(a) == 1 else a)),
            "max": lambda *a: max(_num(x) for x in (a[0] if len(a) == 1 else a)),
            "abs": lambda x: abs(_num(x)),
            "int": lambda x: int(_num(x)) if not isinstance(x, str) else int(x),
            "float": _frac,
            "round": lambda x, n=None: round(_num(x)) if n is None else round(_frac(x), _to_int(n)),
            "Fraction": lambda a, b=1: Fraction(_frac(a), _frac(b)),
            "is_int": lambda x: _frac(x).denominator == 1,
            "divides": lambda a, b: _frac(b) != 0 and (_frac(a) / _frac(b)).denominator == 1,
            "math.floor": lambda x: math.floor(_num(x)),
            "math.ceil": lambda x: math.ceil(_num(x)),
            "str": lambda x: _render(x),
        }

    def sample(self, seq: Any, k: Any = None) -> Any:
        items = list(seq)
        if not items:
            raise TemplateError("sample() from an empty list")
        if k is None:
            return _as_named(self.rng.choice(items))
        return [_as_named(x) for x in self.rng.sample(items, _to_int(k))]

    def sample_sequential(self, seq: Any, k: Any) -> list[Any]:
        items, n = list(seq), _to_int(k)
        if n > len(items):
            raise TemplateError("sample_sequential() asks for more items than the list has")
        start = self.rng.randrange(len(items) - n + 1)
        return items[start : start + n]

    def shuffle_list(self, seq: Any) -> list[Any]:
        items = list(seq)
        self.rng.shuffle(items)
        return items

    def randint(self, low: Any, high: Any, size: Any = None) -> Any:
        lo, hi = _to_int(low), _to_int(high)
        if size is None:
            return self.rng.randrange(lo, hi)
        return [self.rng.randrange(lo, hi) for _ in range(min(_to_int(size), _MAX_SEQ))]


def _as_named(x: Any) -> Any:
    """A sampled ("label", number) pair, e.g. ("alphabet", 26) or (5, 5), becomes a Named."""
    if isinstance(x, tuple) and len(x) == 2 and _is_number(_num(x[1])) and not isinstance(x[1], bool):
        return Named(_render(x[0]), _num(x[1]))
    return x


def _range(*args: Any) -> range:
    r = range(*(_to_int(a) for a in args))
    if len(r) > _MAX_SEQ * 100:
        raise TemplateError("range too large")
    return r


def _arange(start: Any, stop: Any | None = None, step: Any = 1) -> list[Fraction]:
    if stop is None:
        start, stop = 0, start
    a, b, s = _frac(start), _frac(stop), _frac(step)
    if s <= 0:
        raise TemplateError("arange step must be positive")
    n = math.ceil((b - a) / s)
    if n > _MAX_SEQ:
        raise TemplateError("arange too large")
    return [a + i * s for i in range(max(n, 0))]


def _fix_floats(x: Any) -> Any:
    if isinstance(x, list | tuple | range):
        return [_fix_floats(v) for v in x]
    return round(_frac(x), 2)


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Evaluator:
    """Evaluates one parsed expression over a whitelist of node types; anything else is refused."""

    def __init__(self, env: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> None:
        self.env = env
        self.functions = functions

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise TemplateError(f"unsupported syntax in template: {type(node).__name__}")
        return method(node)

    def _expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, int | str):
            return v
        if isinstance(v, float):
            return Fraction(repr(v))
        raise TemplateError(f"unsupported constant {v!r}")

    def _name(self, node: ast.Name) -> Any:
        if node.id in self.env:
            return self.env[node.id]
        if node.id in _WORD_LISTS:
            return _WORD_LISTS[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise TemplateError(f"unknown name {node.id!r}")

    def _binop(self, node: ast.BinOp) -> Any:
        left, right = _num(self.eval(node.left)), _num(self.eval(node.right))
        numeric = _is_number(left) and _is_number(right)
        try:
            if isinstance(node.op, ast.Div):
                if not numeric:
                    raise TemplateError("'/' on non-numbers")
                return _frac(left) / _frac(right)
            if isinstance(node.op, ast.Pow):
                if not numeric or _frac(right).denominator != 1 or abs(right) > 64:
                    raise TemplateError("'**' needs a small integer exponent")
                return left ** int(right)
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise TemplateError(f"unsupported operator {type(node.op).__name__}")
            if not numeric:
                if not (isinstance(node.op, ast.Add | ast.Mult)):
                    raise TemplateError("unsupported operation on non-numbers")
                size = (len(left) if hasattr(left, "__len__") else 1) * (right if isinstance(right, int) else 1)
                if isinstance(size, int) and size > _MAX_SEQ:
                    raise TemplateError("sequence too large")
            return op(left, right)
        except ZeroDivisionError as exc:
            raise TemplateError("division by zero") from exc
        except TypeError as exc:
            raise TemplateError(f"type error: {exc}") from exc

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        v = _num(self.eval(node.operand))
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return +v
        if isinstance(node.op, ast.Not):
            return not v
        raise TemplateError("unsupported unary operator")

    def _boolop(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for value in node.values:
            result = self.eval(value)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            fn = _CMPOPS.get(type(op))
            if fn is None:
                raise TemplateError("unsupported comparison")
            a, b = left, right
            if isinstance(a, str) or isinstance(b, str):
                a, b = str(a), str(b)
            elif not isinstance(op, ast.In | ast.NotIn):
                a, b = _num(a), _num(b)
            try:
                if not fn(a, b):
                    return False
            except TypeError as exc:
                raise TemplateError(f"type error: {exc}") from exc
            left = right
        return True

    def _ifexp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _list(self, node: ast.List) -> list[Any]:
        return [self.eval(e) for e in node.elts]

    def _tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.eval(e) for e in node.elts)

    def _subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            s = node.slice
            parts = [None if p is None else _to_int(self.eval(p)) for p in (s.lower, s.upper, s.step)]
            return value[slice(*parts)]
        try:
            return value[_to_int(self.eval(node.slice))]
        except (IndexError, TypeError) as exc:
            raise TemplateError(f"bad index: {exc}") from exc

    def _call(self, node: ast.Call) -> Any:
        name = _dotted(node.func)
        if name is None or name not in self.functions:
            raise TemplateError(f"function not allowed in templates: {name or ast.dump(node.func)}")
        if node.keywords:
            raise TemplateError("keyword arguments are not supported in templates")
        args = [self.eval(a) for a in node.args]
        try:
            return self.functions[name](*args)
        except (ZeroDivisionError, ValueError, TypeError, IndexError) as exc:
            raise TemplateError(f"{name}(): {exc}") from exc

    def _attribute(self, node: ast.Attribute) -> Any:
        raise TemplateError(f"attribute access is not allowed: {_dotted(node)}")


def _parse_expr(text: str) -> ast.Expression:
    # '$name' marks a numeric variable in #init; a few expressions carry the mark too ('#answer: $ans').
    text = re.sub(r"\$(?=[A-Za-z_])", "", text)
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise TemplateError(f"cannot parse template expression {text.strip()!r}: {exc.msg}") from exc


def _render(value: Any) -> str:
    if isinstance(value, Named):
        return value.label
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Fraction):
        return format_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(_render(v) for v in value)
    return str(value)


_SECTION = re.compile(r"^#(init|conditions|answer)\b\s*[:=]?(.*)$", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_VAR_DEFAULT = re.compile(r"^\s*([A-Za-z_]\w*)\s*,(.*)$", re.DOTALL)


@dataclass(frozen=True)
class _InitLine:
    names: tuple[str, ...]
    numeric: bool
    expr: ast.Expression
    text: str


@dataclass(frozen=True)
class Template:
    """A parsed GSM-Symbolic template."""

    id: str
    question: str  # the question part of question_annotated, with {var,default} placeholders
    init: tuple[_InitLine, ...]
    conditions: tuple[tuple[str, ast.Expression], ...]
    answer_expr: ast.Expression | None  # the '#answer:' expression
    solution: str  # answer_annotated, with {expr} placeholders
    solution_expr: ast.Expression | None  # the '#### {expr}' of the solution
    defaults: dict[str, str]  # the template's own example: {var, default} in the question
    # Conditions 'x == expr' solved directly (see _solve_equalities): (x, expr, x's #init expression).
    equalities: tuple[tuple[str, ast.Expression, ast.Expression], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _find_equalities(
    init: Sequence[_InitLine], conditions: Sequence[tuple[str, ast.Expression]]
) -> tuple[tuple[str, ast.Expression, ast.Expression], ...]:
    lines = {line.names[0]: line for line in init if len(line.names) == 1}
    used_in_init: set[str] = set()
    for line in init:
        used_in_init |= _names_in(line.expr)
    found: list[tuple[str, ast.Expression, ast.Expression]] = []
    for _, cond in conditions:
        c = cond.body
        if not (isinstance(c, ast.Compare) and len(c.ops) == 1 and isinstance(c.ops[0], ast.Eq)):
            continue
        for target, other in ((c.left, c.comparators[0]), (c.comparators[0], c.left)):
            if not isinstance(target, ast.Name) or target.id not in lines or target.id in used_in_init:
                continue
            domain = lines[target.id].expr
            fn = domain.body.func if isinstance(domain.body, ast.Call) else None
            if _dotted(fn) != "range" if fn is not None else True:
                continue  # only plain uniform ranges
            if target.id in _names_in(other) or any(target.id == f[0] for f in found):
                continue
            found.append((target.id, ast.Expression(other), domain))
            break
    return tuple(found)


def parse_template(data: Mapping[str, Any], template_id: str = "") -> Template:
    """Parse one template (a dict with question_annotated and answer_annotated)."""
    qa = str(data["question_annotated"])
    sections: dict[str, list[str]] = {"question": [], "#init": [], "#conditions": [], "#answer": []}
    current = "question"
    for line in qa.split("\n"):
        hm = _SECTION.match(line.strip())
        if hm:
            current = "#" + hm.group(1)
            if hm.group(2).strip():
                sections[current].append(hm.group(2))
        else:
            sections[current].append(line)
    question = "\n".join(sections["question"]).strip()

    init: list[_InitLine] = []
    for line in sections["#init"]:
        text = line.strip()
        if not text:
            continue
        text = text.lstrip("-").strip()
        lhs, eq, rhs = text.partition("=")
        if not eq:
            raise TemplateError(f"{template_id}: #init line without '=': {line!r}")
        numeric = lhs.strip().startswith("$")
        names = tuple(n.strip().lstrip("$").strip() for n in lhs.split(","))
        if not all(n.isidentifier() for n in names):
            raise TemplateError(f"{template_id}: bad variable names in {line!r}")
        init.append(_InitLine(names, numeric, _parse_expr(rhs), text))

    conditions: list[tuple[str, ast.Expression]] = []
    for line in sections["#conditions"]:
        text = line.strip().lstrip("-").strip()
        if text:
            conditions.append((text, _parse_expr(text)))

    answer_text = " ".join(s.strip() for s in sections["#answer"]).strip()
    if answer_text.startswith("{") and answer_text.endswith("}"):
        answer_text = answer_text[1:-1]
    answer_expr = _parse_expr(answer_text) if answer_text else None

    solution = str(data.get("answer_annotated", ""))
    solution_expr = None
    m = re.search(r"####\s*\{(.*)\}\s*$", solution, re.DOTALL)
    if m:
        solution_expr = _parse_expr(m.group(1))

    defaults: dict[str, str] = {}
    for ph in _PLACEHOLDER.finditer(question):
        vm = _VAR_DEFAULT.match(ph.group(1))
        if vm:
            defaults.setdefault(vm.group(1), vm.group(2).strip())
    return Template(
        equalities=_find_equalities(init, conditions),
        id=template_id,
        question=question,
        init=tuple(init),
        conditions=tuple(conditions),
        answer_expr=answer_expr,
        solution=solution,
        solution_expr=solution_expr,
        defaults=defaults,
        raw=dict(data),
    )


def render_text(text: str, env: Mapping[str, Any], rng: random.Random | None = None) -> str:
    """Replace ``{var,default}`` and ``{expr}`` placeholders with values from ``env``."""
    functions = _Sampler(rng or random.Random(0)).functions()

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1)
        vm = _VAR_DEFAULT.match(inner)
        expr = vm.group(1) if vm else inner
        return _render(_Evaluator(env, functions).eval(_parse_expr(expr)))

    return _PLACEHOLDER.sub(repl, text)


def _assign(line: _InitLine, value: Any, env: dict[str, Any], rng: random.Random) -> None:
    if len(line.names) > 1:
        values = list(value)
        if len(values) != len(line.names):
            raise TemplateError(f"cannot unpack {len(values)} values into {line.names}")
        for n, v in zip(line.names, values, strict=True):
            env[n] = _as_named(v)
        return
    if isinstance(value, list | range):
        if len(value) == 0:
            raise TemplateError(f"empty range for {line.names[0]}")
        value = rng.choice(value)
    env[line.names[0]] = _as_named(value)


def sample_variables(
    template: Template, rng: random.Random, functions: Mapping[str, Callable[..., Any]] | None = None
) -> dict[str, Any]:
    """One draw of every #init variable (conditions not checked)."""
    env: dict[str, Any] = {}
    ev = _Evaluator(env, functions or _Sampler(rng).functions())
    for line in template.init:
        _assign(line, ev.eval(line.expr), env, rng)
    return env


def _solve_equalities(template: Template, env: dict[str, Any]) -> bool:
    """For a condition ``x == expr`` where ``x`` is drawn uniformly and used nowhere else in #init, set
    ``x`` to ``expr`` when that value is in x's range (False when it is not). Conditioning a uniform draw
    on an equality this way gives the same distribution as rejection sampling, in one attempt."""
    for name, expr, domain_expr in template.equalities:
        value = _num(evaluate(expr, env))
        domain = evaluate(domain_expr, env)
        if not isinstance(domain, list | range):
            continue
        if isinstance(value, Fraction) and value.denominator == 1:
            value = int(value)
        if not any(_num(d) == value for d in domain):
            return False
        env[name] = value
    return True


def conditions_hold(template: Template, env: Mapping[str, Any]) -> bool:
    ev = _Evaluator(env, _STATIC_FUNCTIONS)
    return all(bool(ev.eval(expr)) for _, expr in template.conditions)


_STATIC_FUNCTIONS = _Sampler(random.Random(0)).functions()


def evaluate(
    expr: ast.Expression, env: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None
) -> Any:
    """Evaluate a parsed template expression over ``env``."""
    return _Evaluator(env, functions or _STATIC_FUNCTIONS).eval(expr)


def _answer_text(value: Any) -> str:
    return format_number(_frac(value))


@dataclass(frozen=True)
class Instance:
    template_id: str
    question: str
    answer: str  # from the worked solution's '#### {expr}' line
    answer_expr_value: str | None  # from '#answer:', None when it could not be evaluated
    variables: dict[str, str]
    attempts: int
    solution: str = ""  # the worked solution with this instance's values ("" when it does not render)
    expressions: tuple[str, ...] = ()  # the template's answer expressions in its variable names ('####', '#answer:')


def instantiate(template: Template, rng: random.Random, max_attempts: int = 20_000) -> Instance:
    """Sample variables until the conditions hold (at most ``max_attempts`` draws), then render."""
    last_error = "conditions never held"
    functions = _Sampler(rng).functions()
    for attempt in range(1, max_attempts + 1):
        try:
            env = sample_variables(template, rng, functions)
            if not _solve_equalities(template, env) or not conditions_hold(template, env):
                continue
            gold_expr = template.solution_expr or template.answer_expr
            if gold_expr is None:
                raise TemplateError(f"{template.id}: no '#### {{expr}}' solution line and no #answer")
            gold = _answer_text(evaluate(gold_expr, env))
            question = render_text(template.question, env, rng)
        except TemplateError as exc:
            last_error = str(exc)
            continue
        except RecursionError:
            raise TemplateError(f"{template.id}: expression nested too deeply") from None
        expr_value: str | None = None
        if template.answer_expr is not None:
            try:
                expr_value = _answer_text(evaluate(template.answer_expr, env))
            except TemplateError:
                expr_value = None
        return Instance(
            template_id=template.id,
            question=question,
            answer=gold,
            answer_expr_value=expr_value,
            variables={k: _render(v) for k, v in env.items()},
            attempts=attempt,
            solution=_rendered_solution(template, env),
            expressions=tuple(ast.unparse(e.body) for e in (template.solution_expr, template.answer_expr) if e),
        )
    raise TemplateError(f"{template.id}: no valid instance in {max_attempts} attempts ({last_error})")


def _rendered_solution(template: Template, env: Mapping[str, Any]) -> str:
    """The worked solution with the instance's values. Its own generator: rendering must not draw from the one
    that samples instances, or every later instance (and every committed P1 result) would change."""
    try:
        return render_text(template.solution, env, random.Random(0))
    except (TemplateError, RecursionError, ArithmeticError, TypeError, ValueError):
        return ""


def _default_value(template: Template, line: _InitLine, name: str, text: str) -> Any:
    value: Any = parse_number(text)
    if not line.numeric and value is None:
        return text
    if value is not None:
        if isinstance(value, Fraction) and value.denominator == 1 and "." not in text:
            value = int(value)
        if "/" in text or text.strip().startswith(("0.", ".")) or text.lower() in _WORD_VALUES:
            return Named(text, value) if "/" in text else value
        return value
    # A word: look for it among the items this line samples from, then in the known words.
    node = line.expr.body
    if isinstance(node, ast.Call) and _dotted(node.func) == "sample" and node.args:
        try:
            pool = evaluate(ast.Expression(node.args[0]), {})
        except TemplateError:
            pool = []
        for item in pool:
            item = _as_named(item)
            if isinstance(item, Named) and item.label == text:
                return item
    key = text.lower()
    if key in _WORD_VALUES:
        return Named(text, _WORD_VALUES[key])
    raise TemplateError(f"{template.id}: cannot read the example value {text!r} of {name}")


@dataclass(frozen=True)
class TemplateFailure:
    template_id: str
    instance: int
    reason: str


@dataclass(frozen=True)
class TemplateCheck:
    """A template's ``#answer`` against its worked solution's ``#### {expr}``: at the template's own
    example values (``{var,default}`` in the question) and over ``sampled`` seeded valid instances."""

    template_id: str
    answer_expr_value: str | None  # at the example values
    solution_value: str | None  # at the example values
    agrees: bool | None  # at the example values; None: could not be evaluated (see note)
    example_meets_conditions: bool | None  # the example values satisfy #conditions
    sampled: int = 0  # valid instances drawn
    sampled_disagreements: int = 0  # of those, where #answer != solution line
    original_answer: str | None = None  # the released answer, when the template's question is its example
    matches_original: bool | None = None  # solution line at the example == released answer
    note: str = ""

    @property
    def answer_disagrees(self) -> bool:
        """True when ``#answer`` contradicts the worked solution where the conditions hold."""
        return self.sampled_disagreements > 0 or (self.agrees is False and bool(self.example_meets_conditions))


def _example_env(template: Template, rng: random.Random) -> tuple[dict[str, Any], str]:
    env: dict[str, Any] = {}
    note = ""
    functions = _Sampler(rng).functions()
    for line in template.init:
        if all(n in template.defaults for n in line.names):
            for n in line.names:
                env[n] = _default_value(template, line, n, template.defaults[n])
        else:
            _assign(line, _Evaluator(env, functions).eval(line.expr), env, rng)
            note = "some variables have no example value and were sampled"
    return env, note


def check_template(template: Template, seed: int = 0, samples: int = 20) -> TemplateCheck:
    """Compare ``#answer`` with the solution line at the example values and on ``samples`` instances."""
    rng = random.Random(f"check:{seed}:{template.id}")
    a = s = None
    agrees: bool | None = None
    meets: bool | None = None
    original_answer: str | None = None
    matches: bool | None = None
    notes: list[str] = []
    try:
        env, note = _example_env(template, rng)
        if note:
            notes.append(note)
        try:
            meets = conditions_hold(template, env)
        except TemplateError as exc:
            meets = False
            notes.append(f"conditions at the example: {exc}")
        a = _answer_text(evaluate(template.answer_expr, env)) if template.answer_expr else None
        s = _answer_text(evaluate(template.solution_expr, env)) if template.solution_expr else None
        agrees = None if a is None or s is None else parse_number(a) == parse_number(s)
        original = template.raw.get("answer")
        if isinstance(original, str) and "####" in original:
            rendered = render_text(template.question, env, rng)
            if " ".join(rendered.split()) == " ".join(str(template.raw.get("question", "")).split()):
                original_answer = original.rsplit("####", 1)[1].strip()
                ov = parse_number(original_answer)
                matches = ov is not None and s is not None and ov == parse_number(s)
    except TemplateError as exc:
        notes.append(f"example: {exc}")
    sampled = disagreements = 0
    for i in range(samples):
        try:
            inst = instantiate(template, random.Random(f"check:{seed}:{template.id}:{i}"), 5_000)
        except TemplateError as exc:
            notes.append(f"sampling: {exc}")
            break
        sampled += 1
        if inst.answer_expr_value is not None and parse_number(inst.answer_expr_value) != parse_number(inst.answer):
            disagreements += 1
    return TemplateCheck(
        template.id, a, s, agrees, meets, sampled, disagreements, original_answer, matches, "; ".join(notes)
    )


def load_templates(folder: Path, errors: list[TemplateFailure] | None = None) -> list[Template]:
    """Every ``*.json`` template in ``folder``, parsed, sorted by file name. A template that cannot be
    parsed is left out and appended to ``errors`` (raised when ``errors`` is None)."""
    templates = []
    for path in sorted(require_path(folder, "GSM-Symbolic templates").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        tid = f"{folder.name}/{path.stem}"
        try:
            templates.append(parse_template(data, tid))
        except TemplateError as exc:
            if errors is None:
                raise
            errors.append(TemplateFailure(tid, -1, f"parse: {exc}"))
    return templates


def check_templates(folder: Path, seed: int = 0, samples: int = 20) -> list[TemplateCheck]:
    """:func:`check_template` for every template in ``folder`` (unparseable ones get a note)."""
    errors: list[TemplateFailure] = []
    checks = [check_template(t, seed, samples) for t in load_templates(folder, errors)]
    checks += [TemplateCheck(e.template_id, None, None, None, None, note=e.reason) for e in errors]
    return sorted(checks, key=lambda c: c.template_id)


def generate_instances(
    templates: Sequence[Template],
    *,
    per_template: int = 50,
    seed: int = 0,
    max_attempts: int = 20_000,
    limit: int | None = None,
) -> tuple[list[tuple[int, Instance]], list[TemplateFailure]]:
    """Instances in instance-major order; each draw is seeded by (seed, template, instance) alone, so a
    ``limit`` gives a prefix of the full set. Templates that cannot be satisfied are reported, not retried."""
    out: list[tuple[int, Instance]] = []
    failures: list[TemplateFailure] = []
    dead: set[str] = set()
    seen: dict[str, set[str]] = {}
    for i in range(per_template):
        for t in templates:
            if limit is not None and len(out) >= limit:
                return out, failures
            if t.id in dead:
                continue
            rng = random.Random(f"gsm-symbolic:{seed}:{t.id}:{i}")
            try:
                inst = instantiate(t, rng, max_attempts)
                # Prefer a question not generated before for this template (a few redraws only).
                for _ in range(20):
                    if inst.question not in seen.setdefault(t.id, set()):
                        break
                    inst = instantiate(t, rng, max_attempts)
            except TemplateError as exc:
                failures.append(TemplateFailure(t.id, i, str(exc)))
                dead.add(t.id)
                continue
            seen.setdefault(t.id, set()).add(inst.question)
            out.append((i, inst))
    return out, failures


