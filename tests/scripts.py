"""Scripted models for the graphs: each node of the sleep, wake and chat graphs has its reply."""

from __future__ import annotations

import json
from collections.abc import Callable

from langchain_core.messages import BaseMessage

from sleeptime.testing import OUTSIDE_GRAPH, ScriptedChatModel

NOTES = "Pens cost $2 each. Alice buys 3 pens: 3 x 2 = $6.\nSTATUS: DONE"
PREDICTIONS = json.dumps(
    {"questions": [{"question": "How much does Alice pay for the pens?", "answer": "3 x 2 = 6. #### 6"}]}
)
ANSWER = "Alice pays 3 x $2 = $6. The answer is 6."
ACCEPT = json.dumps({"verdict": "accept", "reason": "follows from the notes"})
PROBE = "How much does Alice pay?\nHow many pens does Alice buy?\nWhat does one pen cost?"

NodeReply = str | list[str] | Callable[[list[BaseMessage]], str]


def staged_model(*, outside: NodeReply = PROBE, **replies: NodeReply) -> ScriptedChatModel:
    """A scripted model answering each graph node (reflect, predict, answer, verify, match, respond)
    with its reply; a list is consumed in order, the last one repeating. `outside` answers calls
    made outside any graph (the evals' probes and generators)."""
    defaults: dict[str, NodeReply] = {
        "reflect": NOTES, "predict": PREDICTIONS, "answer": ANSWER, "verify": ACCEPT, "match": "yes",
        "respond": ANSWER, OUTSIDE_GRAPH: outside,
    }
    return ScriptedChatModel(by_node={**defaults, **replies})
