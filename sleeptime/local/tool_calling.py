"""Tool calling for the embedded llama.cpp models, behind `EmbeddedChatModel.bind_tools`.

The small embedded models have no tool-calling API, so the bound model (1) describes the tools in
the system prompt the way Qwen2.5 was trained on (``<tools>`` JSON signatures), (2) constrains
decoding with a llama.cpp grammar to one JSON object, either ``{"name": <tool>, "arguments":
{...}}`` matching that tool's parameter schema or ``{"name": "reply_to_user", "arguments":
{"text": ...}}``, and (3) turns that object into an ``AIMessage`` with ``tool_calls`` (or plain
content). Earlier tool calls in the conversation are written back as the same JSON, so the model
sees its own calls. One call per turn; streaming yields the message whole at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, convert_to_messages
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool

from sleeptime.errors import InvalidInputError

__all__ = ["REPLY", "bind_embedded_tools", "reply_schema"]

REPLY = "reply_to_user"
"""The pseudo-function the model 'calls' to answer without a tool."""

_IGNORED = frozenset({"parallel_tool_calls", "strict"})
"""Accepted for compatibility: there is one call per turn, and the grammar makes every call strict."""

_PROMPT = """# Tools

You may call one of these functions to help answer the user:
<tools>
{tools}
</tools>

Reply with exactly one JSON object.
{how}"""
_HOW_AUTO = (
    'To call a function: {"name": <function-name>, "arguments": <args-json-object>}.\n'
    f'To answer the user directly: {{"name": "{REPLY}", "arguments": {{"text": <your answer>}}}}. '
    "Answer directly once a function's result that answers the question is in the conversation."
)
_HOW_REQUIRED = 'Call a function: {"name": <function-name>, "arguments": <args-json-object>}.'


def _specs(tools: Sequence[Any]) -> list[dict[str, Any]]:
    if not tools:
        raise InvalidInputError("bind_tools needs at least one tool")
    specs: list[dict[str, Any]] = []
    for tool in tools:
        try:
            specs.append(convert_to_openai_tool(tool)["function"])
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInputError(f"cannot describe {tool!r} as a tool for an embedded model: {exc}") from exc
    names = [s["name"] for s in specs]
    if REPLY in names or len(set(names)) != len(names):
        raise InvalidInputError(f"tool names must be unique and not {REPLY!r}, got {names}")
    return specs


def _chosen(specs: list[dict[str, Any]], tool_choice: Any) -> tuple[list[dict[str, Any]], bool]:
    """The tools the model may call and whether it may answer directly instead."""
    if tool_choice in (None, "auto"):
        return specs, True
    if tool_choice in ("any", "required", True):
        return specs, False
    if tool_choice in ("none", False):
        return [], True
    name = tool_choice.get("function", {}).get("name") if isinstance(tool_choice, dict) else tool_choice
    chosen = [s for s in specs if s["name"] == name]
    if not chosen:
        raise InvalidInputError(
            f"tool_choice {tool_choice!r} names no bound tool; tools: {[s['name'] for s in specs]}"
        )
    return chosen, False


def _call_schema(spec: dict[str, Any]) -> dict[str, Any]:
    params = spec.get("parameters") or {"type": "object", "properties": {}}
    return {
        "type": "object",
        "properties": {"name": {"const": spec["name"]}, "arguments": params},
        "required": ["name", "arguments"],
    }


def reply_schema(specs: list[dict[str, Any]], may_reply: bool) -> dict[str, Any]:
    """The JSON schema the grammar enforces: one of the tools' calls, or (if allowed) a reply."""
    options = [_call_schema(s) for s in specs]
    if may_reply:
        options.append(_call_schema({
            "name": REPLY,
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        }))
    return options[0] if len(options) == 1 else {"anyOf": options}


def _messages(value: LanguageModelInput) -> list[BaseMessage]:
    """What a chat model accepts (a string, a prompt value, message-likes) as messages."""
    if isinstance(value, str):
        return [HumanMessage(value)]
    if isinstance(value, PromptValue):
        return value.to_messages()
    return convert_to_messages(value)


def _as_text(message: AIMessage) -> AIMessage:
    """An earlier tool-calling turn, written as the JSON the model produces."""
    calls = "\n".join(json.dumps({"name": c["name"], "arguments": c["args"]}) for c in message.tool_calls)
    return AIMessage(content=calls or message.text, id=message.id)


def _prepare(messages: list[BaseMessage], system: str) -> list[BaseMessage]:
    out = [_as_text(m) if isinstance(m, AIMessage) and m.tool_calls else m for m in messages]
    if out and isinstance(out[0], SystemMessage):
        return [SystemMessage(f"{out[0].text}\n\n{system}"), *out[1:]]
    return [SystemMessage(system), *out]


def parse_reply(message: BaseMessage) -> AIMessage:
    """The model's JSON as an AIMessage: a tool call, a plain answer, or an invalid call (cut short)."""
    raw = message.text
    meta = {"usage_metadata": getattr(message, "usage_metadata", None),
            "response_metadata": dict(message.response_metadata)}
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    try:
        data = json.loads(raw)
        name, args = data["name"], data["arguments"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        # Only a reply cut short by max_tokens can fail: the grammar allows nothing else.
        return AIMessage(content=raw, invalid_tool_calls=[
            invalid_tool_call(name=None, args=raw, id=call_id, error=f"unparsable tool call ({exc})")], **meta)
    if name == REPLY:
        return AIMessage(content=str(args.get("text", "")), **meta)
    return AIMessage(content="", tool_calls=[tool_call(name=name, args=args, id=call_id)], **meta)


def bind_embedded_tools(
    model: BaseChatModel, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
) -> Runnable[LanguageModelInput, AIMessage]:
    """`model` answering with one tool call or a reply per turn (see the module docstring)."""
    specs = _specs(tools)
    chosen, may_reply = _chosen(specs, tool_choice)
    options = {k: v for k, v in kwargs.items() if k not in _IGNORED}
    if not chosen:  # tool_choice="none": plain text, earlier calls still shown as JSON

        def plain(value: LanguageModelInput) -> list[BaseMessage]:
            return [_as_text(m) if isinstance(m, AIMessage) else m for m in _messages(value)]

        return RunnableLambda(plain, name="embedded_tool_history") | model.bind(**options)
    system = _PROMPT.format(
        tools="\n".join(json.dumps({"type": "function", "function": s}) for s in chosen),
        how=_HOW_AUTO if may_reply else _HOW_REQUIRED,
    )
    llm = model.bind(response_format={"type": "json_object", "schema": reply_schema(chosen, may_reply)}, **options)

    def prepare(value: LanguageModelInput) -> list[BaseMessage]:
        return _prepare(_messages(value), system)

    prompt = RunnableLambda(prepare, name="embedded_tool_prompt")
    return prompt | llm | RunnableLambda(parse_reply, name="embedded_tool_calls")
