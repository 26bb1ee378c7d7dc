"""Anthropic cache_control on the wake prompt's stable prefix: request construction only (no network).

The payload test needs langchain-anthropic (not in the dev environment; skipped without it):
``pip install --no-deps --target /tmp/anth langchain-anthropic anthropic docstring_parser`` and run with
``PYTHONPATH=$PWD:/tmp/anth``."""

from __future__ import annotations

import pytest

from sleeptime.models import resolve_chat_model
from sleeptime.prompt_caching import mark_stable_prefix
from sleeptime.prompts.answer import build_answer_messages

STATE = {"question": "How much does Alice pay?", "learned": "total = 3 * 2 = 6", "current_budget": 1,
         "related": [{"question": "What does a pen cost?", "answer": "$2"}]}


def _payload(question: str) -> dict[str, object]:
    model = resolve_chat_model("anthropic:claude-sonnet-4-5", api_key="k", max_tokens=64)
    messages = build_answer_messages({**STATE, "question": question})
    return model._get_request_payload(messages)  # type: ignore[attr-defined,no-any-return]


def test_the_stable_prefix_carries_the_breakpoint() -> None:
    pytest.importorskip("langchain_anthropic")
    first, second = _payload("How much does Alice pay?"), _payload("How many pens?")
    (user,) = first["messages"]  # type: ignore[misc]
    prefix, question = user["content"]
    assert prefix["cache_control"] == {"type": "ephemeral"}
    assert "total = 3 * 2 = 6" in prefix["text"] and "What does a pen cost?" in prefix["text"]
    assert question["text"].startswith("\n\nQuestion: How much does Alice pay?")
    assert "cache_control" not in question
    assert second["messages"][0]["content"][0] == prefix, "byte-identical prefix for every question"  # type: ignore[index]
    assert first["system"] == second["system"]


def test_messages_without_a_question_block_are_left_alone() -> None:
    plain = [{"role": "user", "content": "Summarise this."}]
    assert mark_stable_prefix(plain) == plain
    assert mark_stable_prefix([{"role": "user", "content": "Question: only"}])[0]["content"] == "Question: only"
