"""Calling a model and getting something usable back, or a typed error.

Nodes are synchronous; LangGraph runs them in a worker thread under `ainvoke`/`astream`.

Small local models do not call tools reliably, so nodes ask for plain text or a JSON object in
the reply, parse it robustly here, and retry with the parse error shown to the model. After the
allowed retries the failure is raised as `ModelOutputError`, never swallowed; an exception the model
itself raises becomes `ModelCallError` with the original as its cause.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Protocol, TypeVar, runtime_checkable

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable
from langgraph.errors import GraphBubbleUp
from pydantic import BaseModel, ValidationError

from sleeptime.errors import ModelCallError, ModelOutputError, SleepTimeError
from sleeptime.usage import Phase, UsageRecord, record_usage

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i cannot|i can'?t|i am unable|i'm unable|as an ai)\b", re.IGNORECASE
)


def extract_json_object(text: str) -> Any:
    """The first JSON object in `text`: bare, in a ``` fence, or surrounded by prose."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = json.JSONDecoder().raw_decode(candidate[start:])
                return obj
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
    raise ValueError("no JSON object found in the reply")


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.match(text))


@runtime_checkable
class JsonSchemaModel(Protocol):
    """A model that can be made to reply with JSON matching a schema (e.g. by a grammar)."""

    def bind_json_schema(self, schema: dict[str, Any]) -> Runnable[LanguageModelInput, BaseMessage]: ...


def json_mode(model: BaseChatModel, schema: type[BaseModel]) -> Runnable[Any, BaseMessage]:
    """The model bound to answer in JSON where the backend can enforce it.

    A model with `bind_json_schema` (the embedded llama.cpp model: the schema becomes a grammar,
    so even a 135M model replies in the right shape) is asked for the schema; an OpenAI-compatible
    chat model gets plain JSON mode (not every compatible server accepts a schema); any other
    model is asked as is, the prompt asking for JSON.
    """
    if isinstance(model, JsonSchemaModel):
        return model.bind_json_schema(schema.model_json_schema())
    if _is_openai_chat(model):
        return model.bind(response_format={"type": "json_object"})
    return model


def _is_openai_chat(model: object) -> bool:
    """Whether `model` is a LangChain OpenAI chat model, without importing langchain_openai (slow):
    such a model can only exist once its module is loaded, so an unloaded module means it is not one."""
    module = sys.modules.get("langchain_openai.chat_models.base")
    return module is not None and isinstance(model, module.BaseChatOpenAI)


def _as_ai(message: BaseMessage) -> AIMessage:
    if not isinstance(message, AIMessage):
        raise ModelOutputError("model returned a non-AI message", attempts=1, last_output=str(message))
    return message


def invoke_model(model: Runnable[Any, BaseMessage], messages: Any, *, node: str, **kwargs: Any) -> BaseMessage:
    """`model.invoke(messages)`, with any exception the model raises wrapped in `ModelCallError` (the
    original attached as its cause); the package's own errors and LangGraph's control flow pass through."""
    try:
        return model.invoke(messages, **kwargs)
    except (SleepTimeError, GraphBubbleUp):
        raise
    except Exception as error:
        raise ModelCallError(node, error) from error


def ask_text(
    model: Runnable[Any, BaseMessage],
    messages: list[BaseMessage],
    *,
    phase: Phase,
    node: str,
    retries: int,
) -> tuple[str, list[UsageRecord]]:
    """Plain-text reply; empty replies and refusals are retried, then raised."""
    usage: list[UsageRecord] = []
    text = ""
    for _ in range(retries + 1):
        reply = _as_ai(invoke_model(model, messages, node=node))
        usage.append(record_usage(reply, phase=phase, node=node))
        text = reply.text.strip()
        if text and not is_refusal(text):
            return text, usage
    raise ModelOutputError(f"{node}: empty or refused reply", attempts=retries + 1, last_output=text)



def _parse(text: str, schema: type[T]) -> T:
    return schema.model_validate(extract_json_object(text))


def _feedback(error: Exception, schema: type[BaseModel]) -> HumanMessage:
    # Field names, not the JSON schema itself: small models echo a schema back instead of filling it.
    fields = ", ".join(f'"{name}"' for name in schema.model_fields)
    return HumanMessage(
        f"Your reply could not be used ({str(error).splitlines()[0][:200]}). "
        f"Reply again with only one JSON object with the keys {fields}, filled in."
    )


def ask_json(
    model: BaseChatModel,
    messages: list[BaseMessage],
    schema: type[T],
    *,
    phase: Phase,
    node: str,
    retries: int,
) -> tuple[T, list[UsageRecord]]:
    """A reply parsed into `schema`; malformed replies are retried with the error, then raised."""
    bound = json_mode(model, schema)
    usage: list[UsageRecord] = []
    convo = list(messages)
    text = ""
    for _ in range(retries + 1):
        reply = _as_ai(invoke_model(bound, convo, node=node))
        usage.append(record_usage(reply, phase=phase, node=node))
        text = reply.text
        try:
            return _parse(text, schema), usage
        except (ValueError, ValidationError) as error:
            convo = [*messages, reply, _feedback(error, schema)]
    raise ModelOutputError(
        f"{node}: reply is not valid JSON for {schema.__name__}", attempts=retries + 1, last_output=text
    )
