"""The README agent example on the embedded model, and the tool-call grammar in llama.cpp itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.store.memory import InMemoryStore

pytest.importorskip("llama_cpp")

from sleeptime.facade import SleepTime
from sleeptime.integrations import create_answer_tool
from sleeptime.local.tool_calling import REPLY, reply_schema
from sleeptime.models import resolve_chat_model
from sleeptime.testing import ScriptedChatModel

ROOT = Path(__file__).resolve().parents[2]


def test_the_reply_schema_compiles_to_a_llama_cpp_grammar() -> None:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    specs = [{"name": "price_of", "parameters": {"type": "object", "properties": {"item": {"type": "string"}},
                                                 "required": ["item"]}}]
    gbnf = json_schema_to_gbnf(json.dumps(reply_schema(specs, True)))
    assert "price_of" in gbnf and REPLY in gbnf


def test_embedded_model_calls_the_answer_tool() -> None:
    scripted = ScriptedChatModel(default="unused")  # only the tool's schema matters here
    app = SleepTime(store=InMemoryStore(), sleep_model=scripted, wake_model=scripted)
    tool = create_answer_tool(app, "shop")
    model = resolve_chat_model("embedded:qwen2.5-coder-0.5b", max_tokens=96).bind_tools([tool], tool_choice="any")
    reply = model.invoke([SystemMessage("Use the tool to answer questions about the shop."),
                          HumanMessage("How much does Alice spend in total?")])
    (call,) = reply.tool_calls
    assert call["name"] == tool.name and "Alice" in call["args"]["question"]


def test_readme_agent_example_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "LANGSMITH_TRACING": "false", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.agent", "--store", str(tmp_path / "store")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "agent: " in proc.stdout and "'context_id': 'shop'" in proc.stdout
    assert "retrieved learned (version 1)" in proc.stdout
