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

__all__ = ["context_budget", "fits_whole", "notes_cost", "reply_room", "wake_window"]


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
