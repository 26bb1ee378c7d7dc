"""Scripted models for the graphs: replies chosen by which stage's prompt they receive."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage

from sleeptime.testing import ScriptedChatModel

NOTES = "Pens cost $2 each. Alice buys 3 pens: 3 x 2 = $6.\nSTATUS: DONE"
PREDICTIONS = json.dumps(
    {"questions": [{"question": "How much does Alice pay for the pens?", "answer": "3 x 2 = 6. #### 6"}]}
)
ANSWER = "Alice pays 3 x $2 = $6. The answer is 6."
ACCEPT = json.dumps({"verdict": "accept", "reason": "follows from the notes"})
PROBE = "How much does Alice pay?\nHow many pens does Alice buy?\nWhat does one pen cost?"

StageReply = str | list[str] | Callable[[list[BaseMessage]], str]


def stage_of(messages: list[BaseMessage]) -> str:
    system = messages[0].text if messages else ""
    if "thinking about a situation" in system:
        return "reflect"
    if "predict the questions" in system:
        return "predict"
    if "most likely to ask" in system:
        return "probe"
    if "You check answers" in system:
        return "verify"
    return "answer"


def staged_model(**replies: StageReply) -> ScriptedChatModel:
    """A scripted model answering each stage with its reply (a list is consumed in order, last one repeats)."""
    defaults: dict[str, StageReply] = {
        "reflect": NOTES, "predict": PREDICTIONS, "answer": ANSWER, "verify": ACCEPT, "probe": PROBE,
    }
    table: dict[str, Any] = {**defaults, **replies}
    counters: dict[str, int] = {}

    def reply(messages: list[BaseMessage]) -> str:
        stage = stage_of(messages)
        spec = table[stage]
        if callable(spec):
            return str(spec(messages))
        if isinstance(spec, list):
            i = counters.get(stage, 0)
            counters[stage] = i + 1
            return str(spec[min(i, len(spec) - 1)])
        return str(spec)

    return ScriptedChatModel(default=reply)
