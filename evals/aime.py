"""Stateful AIME with the paper's prompts: the sleep prompt for a partial problem, and ``\\boxed{}`` answers.

Stateful AIME splits each problem into a context (the problem minus its question) and the question; the sleep
model sees only the context. The paper's released code (letta-ai/sleep-time-compute, MIT) gives its AIME
sleep-time agent ``prompts/system/sleep_time_base_aime.txt`` (commit 4367315b9c4335436efa29b1817c10dec4103bae):
the general sleep-time system prompt, whose Letta-specific parts (the ``rethink_memory`` tool, memory blocks,
persona) the package's reflect loop replaces, followed by the AIME paragraph quoted verbatim in
:data:`PAPER_AIME_SLEEP` (its typos included). Here it is added to the reflect step's system prompt through
``SleepTimeConfig.sleep_instructions``, where the paper has it.

The answer instruction is ours: the released AIME runs answer with the GSM conversation prompts
(``convo_verbosity_0``: "The answer is ..."), and no released prompt asks for ``\\boxed{}``; their grader
(``evaluate_stateful_aime.py``) takes the last ``\\boxed{}`` as an integer, else the last 1-3 digit number, which
``evals.grading.extract_aime_answer`` reproduces. So :data:`BOXED_ANSWER` asks for the box the grader reads,
after each budget level's own instruction (``SleepTimeConfig.answer_instructions``).
"""

from __future__ import annotations

from typing import Any

PAPER_AIME_SLEEP = (
    "Specifically:\n"
    "You will be given part of an AIME math problem. You will receive the rest of the problem later.\n"
    "Make as many inferences as possible about the part of the problem you are given so as to help yourself "
    "answer the fully problem more quickly once it is given to you later.\n"
    "You will be able to use all the work you do in the `rethink_memory` block for this part of the problem to "
    "help you once the rest of the problem is given.\n"
    "You will be able to use all the work you do for this part of the problem to help you once the rest of the "
    "problem is given.\n"
    "You should try to predict possible ways the rest of the problem might go and compute results that could be "
    "helpful for reaching the final answer more quickly once the rest of the problem is given."
)
"""The AIME paragraph of the paper's ``sleep_time_base_aime.txt``, verbatim."""

NOTES_ARE_THE_BLOCK = "(Here the `rethink_memory` block is your notes.)"
"""Ours: the quoted paragraph names the paper's memory block, which the package's reflect loop calls notes."""

BOXED_ANSWER = r"Write the final answer, an integer from 0 to 999, as \boxed{N}."
"""Ours (no released prompt asks for a box): the form the AIME grader reads first."""

AIME_DATASETS = frozenset({"aime"})


def prompt_settings(dataset: str) -> dict[str, Any]:
    """The ``SleepTimeConfig`` settings a dataset's runs use on top of the run's options: the paper's AIME
    prompts for AIME, nothing for the others (GSM keeps the package's prompts)."""
    if dataset in AIME_DATASETS:
        return {"sleep_instructions": f"{PAPER_AIME_SLEEP}\n{NOTES_ARE_THE_BLOCK}", "answer_instructions": BOXED_ANSWER}
    return {}
