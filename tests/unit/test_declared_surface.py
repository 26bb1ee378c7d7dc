"""``evals/`` and ``benchmarks/`` use only the declared surface of ``sleeptime``: the package's ``__all__``, the
documented modules below and ``sleeptime.experimental`` (see its docstring). Every import statement counts:
module level, inside functions, under TYPE_CHECKING."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = ("evals", "benchmarks")
DECLARED = frozenset({
    "sleeptime",
    "sleeptime.errors",
    "sleeptime.experimental",
    "sleeptime.integrations",
    "sleeptime.local.prefix_cache",
    "sleeptime.scheduler",
    "sleeptime.stores",
    "sleeptime.testing",
})


def _exported(module: str) -> frozenset[str] | None:
    """The names a declared module exports: its ``__all__``, or None (any public name) where it has none."""
    names = getattr(importlib.import_module(module), "__all__", None)
    return None if names is None else frozenset(names)


def violations(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: reason`` for each import of ``sleeptime`` outside the declared surface."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sleeptime" and alias.name not in DECLARED:
                    found.append(f"{filename}:{node.lineno}: import {alias.name} (not a declared module)")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "sleeptime":
                continue
            if node.module not in DECLARED:
                found.append(f"{filename}:{node.lineno}: from {node.module} (not a declared module)")
                continue
            exported = _exported(node.module)
            for alias in node.names:
                name = alias.name
                if name.startswith("_") or (exported is not None and name not in exported):
                    found.append(f"{filename}:{node.lineno}: {node.module}.{name} (not in its __all__)")
    return found


def _lab_files() -> list[Path]:
    return sorted(p for pkg in LAB for p in (ROOT / pkg).rglob("*.py"))


def test_the_lab_imports_only_the_declared_surface() -> None:
    files = _lab_files()
    assert len(files) > 20  # the walk found the lab
    found = [v for p in files for v in violations(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert not found, "imports outside the declared surface:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("from sleeptime.notes.quantities import evaluate", "sleeptime.notes.quantities"),
        ("import sleeptime.nodes._runtime", "sleeptime.nodes._runtime"),
        ("def f():\n    from sleeptime.stores.parts import PartIndex", "sleeptime.stores.parts"),
        ("from sleeptime import notes", "sleeptime.notes"),  # a submodule, not in sleeptime.__all__
        ("from sleeptime.stores import INDEXED_FIELDS", "sleeptime.stores.INDEXED_FIELDS"),
        ("from sleeptime.experimental import _private", "sleeptime.experimental._private"),
    ],
)
def test_an_import_outside_the_surface_is_named(source: str, what: str) -> None:
    (found,) = violations(source, "x.py")
    assert found.startswith("x.py:") and what in found


def test_declared_imports_pass() -> None:
    source = ("import sleeptime\nfrom sleeptime import SleepTime, SleepTimeConfig\n"
              "from sleeptime.experimental import WORKED, evaluate\nfrom sleeptime.testing import ScriptedChatModel\n"
              "from langgraph.store.memory import InMemoryStore\nfrom .local import x\n")
    assert violations(source) == []


def test_the_experimental_docstring_lists_the_declared_modules() -> None:
    doc = importlib.import_module("sleeptime.experimental").__doc__ or ""
    missing = [m for m in DECLARED - {"sleeptime", "sleeptime.experimental"} if f"``{m}``" not in doc]
    assert not missing, f"sleeptime.experimental's docstring does not name {missing}"


def test_every_experimental_export_exists() -> None:
    module = importlib.import_module("sleeptime.experimental")
    assert [n for n in module.__all__ if not hasattr(module, n)] == []
