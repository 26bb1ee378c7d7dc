"""The examples and the demo timeline run end to end as their docstrings say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 600) -> str:
    env = {**os.environ, "LANGSMITH_TRACING": "false", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.parametrize("module", ["examples.qa_folder", "examples.chat_agent"])
def test_docstring_says_how_to_run(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    assert f"Run with: python -m {module}" in path.read_text(encoding="utf-8")


def test_qa_folder_scripted() -> None:
    out = run("examples.qa_folder", "--docs", str(ROOT / "examples/docs"), "--scripted")
    assert "ingested 2 file(s)" in out and "published version 1" in out
    assert out.count("[learned version 1") == 2


def test_chat_agent_scripted() -> None:
    out = run("examples.chat_agent", "--scripted", "--idle-after", "0.2")
    assert "agent [notes version None]" in out  # first turn: nothing learned yet
    assert "agent [notes version 1]" in out and "agent [notes version 2]" in out
    assert out.count("sleep_finished published") == 3


def test_demo_timeline_scripted() -> None:
    out = run("sleeptime.cli", "timeline", "--scripted")
    order = ["changed", "scheduled", "sleep_started", "sleep_finished", "answered from version 1",
             "answered from version 2"]
    positions = [out.index(word) for word in order]
    assert positions == sorted(positions), out


def test_qa_folder_on_the_embedded_model() -> None:
    out = run("examples.qa_folder", "--docs", str(ROOT / "examples/docs"),
              "--question", "How much does a notebook cost?")
    assert "published version 1" in out
    assert "[learned version 1" in out
