"""``--budget-mode cap``: each budget is a hard cap on the answer's output tokens, then "The answer is" is forced
with at most :data:`FORCE_TOKENS` more tokens; every token of both calls is counted.

The paper's verbosity prompts (levels 0-4) are a budget axis a small model may ignore; a cap it cannot. The answer
is asked at the step-by-step level (:data:`CAP_LEVEL`), so the cap and not the prompt sets how long it runs, with
verification off (an escalation would spend tokens past the cap). If the capped reply states no answer (no
"The answer is" and no "####"), a second call shows the model the question and its cut-off reply and has it finish
the sentence "The answer is" in at most FORCE_TOKENS tokens; the answer graded is the cut-off reply followed by
"The answer is" and that continuation. LangChain chat models cannot continue an assistant turn, so the forcing is
a new turn with a hard token limit, not a prefill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from evals.options import MIN_CAP
from evals.runner import Env
from sleeptime import Answer, Usage
from sleeptime.errors import InvalidInputError
from sleeptime.experimental import record_usage

CAP_LEVEL = 4
FORCE_TOKENS = 8
FORCE_PROMPT = 'Stop now. Finish this sentence with the final number only: "The answer is"'
_STATES_ANSWER = re.compile(r"the\s+(?:final\s+)?answer\s+is\b.*\d|####\s*\S", re.IGNORECASE | re.DOTALL)
#: The answer node doubles the wake token limit at levels >= 3 (room for step-by-step reasoning).
_LEVEL_FACTOR = 2 if CAP_LEVEL >= 3 else 1


@dataclass(frozen=True)
class Capped:
    answer: Answer
    """The answer as graded and counted: the capped reply (+ the forced ending), both calls' wake usage."""
    forced: bool
    capped_output_tokens: int
    """Output tokens of the capped call alone."""


def states_answer(text: str) -> bool:
    """Whether a reply already states a final number ("The answer is ... <digit>" or "#### <x>")."""
    return bool(_STATES_ANSWER.search(text))


def capped_ask(env: Env, app: Any, question: str, context_id: str, *, mode: str, cap: int,
               **overrides: Any) -> Capped:
    """Answer within ``cap`` output tokens, then force "The answer is" if the reply stated none."""
    if cap < MIN_CAP:
        raise InvalidInputError(f"a token cap must be >= {MIN_CAP}, got {cap}")
    ans: Answer = app.ask(question, context_id, mode=mode, budget=CAP_LEVEL, verify="off",
                          max_tokens_wake=cap // _LEVEL_FACTOR, **overrides)
    capped_tokens = ans.wake_usage.output_tokens
    if ans.route == "predicted" or states_answer(ans.answer):
        return Capped(ans, False, capped_tokens)
    model = env.chat_model("wake", temperature=0.0, max_tokens=FORCE_TOKENS)
    reply = model.invoke([HumanMessage(f"Question: {question}"), AIMessage(ans.answer), HumanMessage(FORCE_PROMPT)])
    usage = record_usage(reply, phase="wake", node="force-answer")
    ending = re.sub(r"^\W*the\s+(?:final\s+)?answer\s+is\s*", "", reply.text.strip(), flags=re.IGNORECASE)
    wake = ans.wake_usage
    total = Usage(calls=wake.calls + 1, input_tokens=wake.input_tokens + usage["input_tokens"],
                  output_tokens=wake.output_tokens + usage["output_tokens"],
                  reasoning_tokens=wake.reasoning_tokens + usage["reasoning_tokens"])
    text = f"{ans.answer.rstrip()}\nThe answer is {ending}"
    return Capped(ans.model_copy(update={"answer": text, "wake_usage": total}), True, capped_tokens)
