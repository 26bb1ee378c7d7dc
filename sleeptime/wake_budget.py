"""How much of the wake window a large context's evidence may take, beside the question and the answer.

Shared by the wake graph's `gather` (which packs retrieved pieces into the budget) and by the warm-up at
publish (which must know whether the raw context goes whole into every wake prompt).
"""

from __future__ import annotations

from collections.abc import Sequence

from sleeptime.config import SleepTimeConfig
from sleeptime.large.windows import Window, window_of
from sleeptime.models import wake_model
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.state import PredictedQuestion

__all__ = ["NOTES_SHARE_OF_BUDGET", "context_budget", "fits_whole", "notes_cost", "notes_within", "reply_room",
           "wake_window"]

NOTES_SHARE_OF_BUDGET = 0.3
"""The learned context (notes, or a large context's map: ranked, so its first lines are kept) and expected
questions take at most this share of a retrieved wake's budget: the evidence's floor is the other 70%."""


def wake_window(cfg: SleepTimeConfig) -> Window:
    """The wake model's window (its own n_ctx for embedded models, else ``context_window``)."""
    return window_of(wake_model(cfg), cfg.context_window)


def reply_room(cfg: SleepTimeConfig) -> int:
    """The largest answer an escalation may ask for (see `answer`: levels 3-4 double it)."""
    return cfg.max_tokens_wake * 2


def context_budget(cfg: SleepTimeConfig, window: Window, question: str) -> int:
    """Tokens of context one wake prompt may hold beside the question, its instructions and the answer."""
    bare = build_answer_messages({"question": question, "current_budget": 4})
    # 32: the headers of the context blocks ("Situation:", "Your notes ...") around what is packed.
    room = window.room(reply_room(cfg)) - window.prompt_tokens(bare) - 32
    return max(room if cfg.wake_context_tokens is None else min(room, cfg.wake_context_tokens), 1)


def notes_cost(window: Window, learned: str, related: Sequence[PredictedQuestion]) -> int:
    """Tokens the learned notes and expected questions take in a wake prompt."""
    return window.count(learned) + sum(window.count(q["question"] + q["answer"]) + 8 for q in related)


def fits_whole(window: Window, budget: int, raw: str, learned: str, related: Sequence[PredictedQuestion]) -> bool:
    """Whether the raw context goes into the wake prompt whole (else retrieved pieces replace it)."""
    return window.count(raw) + notes_cost(window, learned, related) + 16 <= budget


def _fit_lines(text: str, limit: int, window: Window) -> str:
    """The first whole lines of `text` within `limit` tokens (cut inside the first line if it alone is over)."""
    kept: list[str] = []
    for line in text.splitlines():
        if window.count("\n".join([*kept, line])) > limit:
            break
        kept.append(line)
    return "\n".join(kept) if kept else window.fit(text, limit)


def notes_within(window: Window, budget: int, learned: str,
                 related: Sequence[PredictedQuestion]) -> tuple[str, list[PredictedQuestion]]:
    """The notes and expected questions a retrieved wake shows: within `NOTES_SHARE_OF_BUDGET` of `budget`,
    the last questions dropped first, then the notes cut at whole lines. The same for every question of a
    version (given the budget), so they are the prompt prefix that warm-up saves."""
    cap = int(budget * NOTES_SHARE_OF_BUDGET)
    kept = list(related)
    cost = notes_cost(window, learned, kept)
    while kept and cost > cap:
        dropped = kept.pop()
        cost -= window.count(dropped["question"] + dropped["answer"]) + 8
    if window.count(learned) > cap:
        learned = _fit_lines(learned, cap, window)
    return learned, kept
