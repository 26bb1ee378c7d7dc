"""Answer (test time): the paper's five verbosity levels, with and without a learned context.

Layout, for prefix caching: everything a version's questions share comes first and is byte-stable
(system message, raw context, notes, then the expected questions in a fixed order, see
:func:`stable_order`); the question and the budget instruction come last. Evidence retrieved per
question from a large context (the state has `sources`) follows the notes, so the notes (a large
context's map) stay the shared prefix. The instruction stays
after the question: small local models follow the last thing they read, and copied the format of
the predicted-question block otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

_QA = TypeVar("_QA", bound=Mapping[str, object])

BUDGET_INSTRUCTIONS: dict[int, str] = {
    0: 'Answer in one sentence, "The answer is ...", with no reasoning.',
    1: "Answer with one short sentence of explanation, then the answer.",
    2: "Answer in two sentences: the key step, then the answer.",
    3: "Give only the reasoning that is necessary, then end with the final answer alone on the last line.",
    4: "Reason step by step, re-check every number you take from the notes, "
    "then end with the final answer alone on the last line.",
}

SYSTEM_LEARNED = """You answer questions about a situation you have already studied.
Check your notes first and do not recompute what is already there."""

SYSTEM_BASELINE = """You answer questions about a situation."""

NOTES_BLOCK = """Your notes from studying it:
{notes}"""

RELATED_BLOCK = """Questions you expected, with the answers you worked out:
{related}"""

RELATED_ITEM = """- Expected question: {question}
  Worked answer: {answer}"""

CONTEXT_BLOCK = """Situation:
{context}"""

QUESTION_BLOCK = """Question: {question}

{instruction}"""

ANSWER_STOPS = ("\nQuestion:", "\n- Expected question:")
"""Stop sequences for the answer: the prompt's own block markers at a line's start. An answer has no line that
starts with them; a reply that writes one has run on past its answer into the prompt's format."""


def instruction(budget: int, extra: str | None = None) -> str:
    """The budget level's instruction, then a task's own (``SleepTimeConfig.answer_instructions``), if any."""
    text = BUDGET_INSTRUCTIONS[max(0, min(4, budget))]
    return f"{text} {extra.strip()}" if extra and extra.strip() else text


def stable_order(related: Iterable[_QA]) -> list[_QA]:
    """The expected questions in a fixed order (by text), not nearest first: when a version's
    predicted questions are all shown (``top_questions >= n_questions``, the default) the block is
    then byte-identical for every question, and its saved prompt state covers it."""
    return sorted(related, key=lambda qa: (str(qa["question"]), str(qa["answer"])))


def build_answer_messages(state: Mapping[str, Any], instructions: str | None = None) -> list[BaseMessage]:
    """The answer prompt for a wake state (question, learned, related, raw_context, ...);
    ``instructions`` (``SleepTimeConfig.answer_instructions``) follow the budget's own."""
    learned = state.get("learned", "")
    blocks: list[str] = []
    if learned:
        blocks.append(NOTES_BLOCK.format(notes=learned))
    related = state.get("related") or []
    if related:
        items = "\n".join(RELATED_ITEM.format(question=qa["question"], answer=qa["answer"])
                          for qa in stable_order(related))
        blocks.append(RELATED_BLOCK.format(related=items))
    if state.get("with_raw_context") and state.get("raw_context"):
        # A whole raw context is the same for every question: it leads. Retrieved evidence (`sources`)
        # differs per question: it follows the notes (or a large context's map), which stay the prefix.
        where = len(blocks) if state.get("sources") else 0
        blocks.insert(where, CONTEXT_BLOCK.format(context=state["raw_context"]))
    blocks.append(QUESTION_BLOCK.format(question=state["question"],
                                        instruction=instruction(state.get("current_budget", 1), instructions)))
    system = SYSTEM_LEARNED if learned else SYSTEM_BASELINE
    return [SystemMessage(system), HumanMessage("\n\n".join(blocks))]
