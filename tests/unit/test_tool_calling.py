"""Tool calling for the embedded models: prompt, grammar schema, parsing, tool_choice, create_agent.

The llama.cpp model is replaced by a fake that replays JSON replies and records what it was sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from sleeptime.errors import InvalidInputError
from sleeptime.local import chat
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.tool_calling import REPLY, parse_reply


@tool
def price_of(item: str, quantity: int = 1) -> str:
    """The price of `quantity` units of `item`."""
    return f"{quantity} {item} cost ${2 * quantity}"


@tool
def shop_hours() -> str:
    """When the shop is open."""
    return "9 to 5"


class FakeLlama:
    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[dict[str, str]], dict[str, Any]]] = []

    def create_chat_completion(self, messages: list[dict[str, str]], stream: bool = False, **params: Any) -> Any:
        self.calls.append((messages, params))
        content = self.replies.pop(0)
        return {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}


@pytest.fixture
def gguf_file(tmp_path: Path) -> Path:
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF")
    return path


def _model(gguf_file: Path, monkeypatch: pytest.MonkeyPatch, replies: list[str]) -> tuple[EmbeddedChatModel, FakeLlama]:
    llama = FakeLlama(replies)
    monkeypatch.setitem(chat._loaded, (str(gguf_file.resolve()), 4096, 1), chat._Loaded(llama))
    return EmbeddedChatModel(model_name="fake", model_path=str(gguf_file), n_threads=1), llama


def _call(name: str, **arguments: Any) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def test_a_tool_call_reply_becomes_tool_calls(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, llama = _model(gguf_file, monkeypatch, [_call("price_of", item="pen", quantity=3)])
    message = model.bind_tools([price_of, shop_hours]).invoke([HumanMessage("How much are 3 pens?")])
    assert isinstance(message, AIMessage) and message.content == ""
    (call,) = message.tool_calls
    assert call["name"] == "price_of" and call["args"] == {"item": "pen", "quantity": 3} and call["id"]
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 5
    sent, params = llama.calls[0]
    assert sent[0]["role"] == "system" and '"name": "price_of"' in sent[0]["content"] and REPLY in sent[0]["content"]
    schema = params["response_format"]["schema"]
    assert [o["properties"]["name"]["const"] for o in schema["anyOf"]] == ["price_of", "shop_hours", REPLY]
    assert schema["anyOf"][0]["properties"]["arguments"]["properties"]["quantity"]["type"] == "integer"


def test_a_direct_answer_is_plain_content(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = _model(gguf_file, monkeypatch, [_call(REPLY, text="Hello!")])
    message = model.bind_tools([price_of]).invoke("hi")
    assert message.content == "Hello!" and message.tool_calls == []


def test_history_shows_earlier_calls_as_json_and_keeps_the_system_prompt(
    gguf_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, llama = _model(gguf_file, monkeypatch, [_call(REPLY, text="$6")])
    history = [
        SystemMessage("You are a shop assistant."),
        HumanMessage("3 pens?"),
        AIMessage("", tool_calls=[{"name": "price_of", "args": {"item": "pen", "quantity": 3}, "id": "c1"}]),
        ToolMessage("3 pen cost $6", tool_call_id="c1"),
    ]
    model.bind_tools([price_of]).invoke(history)
    sent, _ = llama.calls[0]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[0]["content"].startswith("You are a shop assistant.\n\n# Tools")
    assert json.loads(sent[2]["content"]) == {"name": "price_of", "arguments": {"item": "pen", "quantity": 3}}


@pytest.mark.parametrize(("choice", "names"), [
    ("any", ["price_of", "shop_hours"]),
    ("required", ["price_of", "shop_hours"]),
    ("shop_hours", ["shop_hours"]),
    ({"type": "function", "function": {"name": "price_of"}}, ["price_of"]),
])
def test_tool_choice_limits_the_grammar(
    gguf_file: Path, monkeypatch: pytest.MonkeyPatch, choice: Any, names: list[str]
) -> None:
    model, llama = _model(gguf_file, monkeypatch, [_call(names[0], item="pen")])
    model.bind_tools([price_of, shop_hours], tool_choice=choice, parallel_tool_calls=False).invoke("hi")
    schema = llama.calls[0][1]["response_format"]["schema"]
    options = schema.get("anyOf", [schema])
    assert [o["properties"]["name"]["const"] for o in options] == names
    assert REPLY not in llama.calls[0][0][0]["content"]


def test_tool_choice_none_is_plain_text(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, llama = _model(gguf_file, monkeypatch, ["Just text."])
    assert model.bind_tools([price_of], tool_choice="none").invoke("hi").content == "Just text."
    assert "response_format" not in llama.calls[0][1]


def test_unsupported_uses_are_clear_errors(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = _model(gguf_file, monkeypatch, [])
    with pytest.raises(InvalidInputError, match="at least one tool"):
        model.bind_tools([])
    with pytest.raises(InvalidInputError, match="names no bound tool"):
        model.bind_tools([price_of], tool_choice="nothing")
    with pytest.raises(InvalidInputError, match="unique"):
        model.bind_tools([price_of, price_of])
    with pytest.raises(InvalidInputError, match="cannot describe"):
        model.bind_tools([42])


def test_a_reply_cut_short_is_an_invalid_tool_call() -> None:
    message = parse_reply(AIMessage('{"name": "price_of", "argu'))
    assert message.tool_calls == [] and message.invalid_tool_calls[0]["error"]
    assert message.content == '{"name": "price_of", "argu'


def test_create_agent_runs_the_embedded_model_with_tools(gguf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, llama = _model(gguf_file, monkeypatch, [_call("price_of", item="pen", quantity=3), _call(REPLY, text="$6")])
    agent = create_agent(model, [price_of, shop_hours], system_prompt="You are a shop assistant.")
    out = agent.invoke({"messages": [HumanMessage("How much are 3 pens?")]})
    kinds = [type(m).__name__ for m in out["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert out["messages"][2].text == "3 pen cost $6" and out["messages"][-1].text == "$6"
    assert len(llama.calls) == 2
