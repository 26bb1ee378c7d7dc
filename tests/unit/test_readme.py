"""The README's Python snippets run as written, with the scripted model where they need a model.

Each block is read from README.md and executed; only the model is swapped: `sleeptime.SleepTime` defaults to the
scripted model and hash embeddings (`sleeptime.testing`), and `sleeptime.models.resolve_chat_model` returns, for
the spec a snippet names, an agent model that calls the tool it is given. What the blocks print is checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

import sleeptime
import sleeptime.models
from sleeptime.facade import SleepTime
from sleeptime.testing import HashEmbeddings, scripted_model

README = Path(__file__).resolve().parents[2] / "README.md"


def block(starting: str) -> str:
    """The README's ```python block whose text contains `starting`."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (found,) = [b for b in blocks if starting in b]
    return str(found)


class ScriptedSleepTime(SleepTime):
    def __init__(self, **options: Any) -> None:
        model = scripted_model()
        super().__init__(**{**options, "sleep_model": model, "wake_model": model, "embeddings": HashEmbeddings(64)})


class ToolCaller(GenericFakeChatModel):
    """An agent model that calls the first tool it is given with the user's question."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        name = tools[0].name
        call = AIMessage(content="", tool_calls=[{"name": name, "args": {"question": "How much does Alice spend?"},
                                                  "id": "call-1"}])
        return self.model_copy(update={"messages": iter([call])})


@pytest.fixture
def scripted_readme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # the snippets' relative .sleeptime/ paths
    monkeypatch.setattr(sleeptime, "SleepTime", ScriptedSleepTime)
    resolve = sleeptime.models.resolve_chat_model

    def agent_model(spec: Any, **kwargs: Any) -> Any:  # a spec the snippet names; the app's own models pass
        return ToolCaller(messages=iter([])) if isinstance(spec, str) else resolve(spec, **kwargs)

    monkeypatch.setattr(sleeptime.models, "resolve_chat_model", agent_model)


def test_use_it_from_an_app_and_managing_contexts(scripted_readme: None, capsys: pytest.CaptureFixture[str]) -> None:
    scope: dict[str, Any] = {}
    exec(block('st = SleepTime(path=".sleeptime/store", sleep_model='), scope)
    printed = capsys.readouterr().out.splitlines()
    answer = scope["answer"]
    assert printed[0] == (f"{answer.answer} learned 1 {answer.wake_usage} {answer.sleep_usage}"), printed
    assert answer.answer.startswith("From my notes: key_number_"), "answered from the learned notes"
    assert answer.sleep_usage.calls >= 2 and answer.wake_usage.calls >= 1
    assert printed[1] == answer.answer, "the streamed tokens make the same answer"
    assert scope["baseline"].route == "test-time"

    st = scope["st"]
    st.sleep("shop")  # the next block's comments show a context with two versions
    exec(block("st.contexts()"), scope)
    assert st.contexts() == [], "the last line deleted the context"
    assert [v.version for v in scope["info"].versions] == [1, 2]
    st.close()


def test_inside_a_langchain_agent(scripted_readme: None, capsys: pytest.CaptureFixture[str]) -> None:
    scope: dict[str, Any] = {}
    exec(block("from langchain.agents import create_agent"), scope)
    out = capsys.readouterr().out
    answer, retrieved = out.split("\n", 1)
    assert answer.startswith("From my notes: key_number_"), "the agent's last message is the tool's answer"
    learned = scope["st"].learned("shop")
    assert retrieved == f"learned 1 {learned.text[:70]}\n", "k=1: one document, the learned context"
    scope["st"].close()
