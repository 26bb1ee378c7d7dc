"""The public surface is small and explicit; the graphs keep the shape Studio draws."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sleeptime
from sleeptime.graphs import chat, sleep, wake
from sleeptime.graphs.chat import build_chat_graph
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.graphs.wake import build_wake_graph


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in dir(sleeptime) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(sleeptime, n)).__name__ == "module"}
    assert set(sleeptime.__all__) == public - modules - {"annotations"}
    for name in sleeptime.__all__:
        assert getattr(sleeptime, name).__doc__, f"{name} has no docstring"
    assert set(sleeptime._LAZY) <= set(sleeptime.__all__)  # every lazy name is public and resolves (above)
    with pytest.raises(AttributeError, match="no attribute 'SleeptimeConfig'"):
        sleeptime.SleeptimeConfig  # noqa: B018 - old names stay gone through the lazy lookup too


def test_import_sleeptime_loads_no_heavy_dependency() -> None:
    """`import sleeptime` stays fast: the frameworks load on first use of a name that needs them."""
    heavy = ["chromadb", "langchain_openai", "langgraph", "langchain_core", "openai", "llama_cpp", "sleeptime.facade"]
    probe = f"import sys, sleeptime; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(sleeptime.__file__).parent.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    probe = ("import sys; from sleeptime import SleepTime; "
             "print([m for m in ('chromadb', 'langchain_openai') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(sleeptime.__file__).parent.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr  # the facade opens Chroma only to build a store


def test_package_never_imports_private_framework_internals() -> None:
    root = Path(sleeptime.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] in {"langgraph", "langchain_core", "chromadb"} and any(p.startswith("_") for p in parts):
                    offenders.append(f"{path.name}: {node.module}")
    assert offenders == []


def _edges(builder: object) -> set[tuple[str, str]]:
    graph = builder.compile().get_graph()  # type: ignore[attr-defined]
    return {(e.source, e.target) for e in graph.edges}


def test_sleep_graph_topology() -> None:
    assert _edges(build_sleep_graph()) == {
        ("__start__", "ingest"),
        ("ingest", "plan"),
        ("plan", "reflect"),  # the Send fan-out, one reflect task a sample
        ("plan", "reflect_part"),  # a context too large for one prompt: one Send per changed part
        ("plan", "reduce"),
        ("reflect_part", "reduce"),
        ("reduce", "publish"),
        ("reflect", "merge"),
        ("merge", "predict"),
        ("predict", "publish"),
        ("publish", "__end__"),
    }


def test_wake_graph_topology() -> None:
    assert _edges(build_wake_graph()) == {
        ("__start__", "retrieve"),
        ("retrieve", "gather"),
        ("gather", "match"),
        ("match", "answer"),
        ("match", "__end__"),
        ("answer", "verify"),
        ("verify", "answer"),
        ("verify", "__end__"),
    }


def test_chat_graph_topology() -> None:
    assert _edges(build_chat_graph()) == {("__start__", "respond"), ("respond", "__end__")}


def test_server_graphs_are_the_package_graphs_with_their_context_schema() -> None:
    # langgraph.json names the factories in sleeptime.graphs.server; they serve these graphs.
    config = json.loads((Path(sleeptime.__file__).parent.parent / "langgraph.json").read_text(encoding="utf-8"))
    names = ("sleep", "wake", "chat")
    assert config["graphs"] == {name: f"./sleeptime/graphs/server.py:{name}_graph" for name in names}
    for graph in (sleep.graph, wake.graph, chat.graph):
        assert graph.context_schema is sleeptime.SleepTimeConfig
        assert "budget" in graph.get_context_jsonschema()["properties"]
