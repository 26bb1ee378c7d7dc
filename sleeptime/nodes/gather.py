"""Wake at any size: when the raw context does not fit the wake prompt, answer from what is retrieved.

`gather` runs after `retrieve`. A raw context that fits the budget passes unchanged (the small
path). A larger one is replaced by the nearest raw chunks of the revision being read (the learned
version's source revision, or the current one at test time) and, with a learned context, the
nearest part notes, packed by relevance into the budget under `[path:start-end]` headers; their
citations go out as `sources`. Test-time runs get the same retrieval over raw chunks only, with the
same budget: the fair baseline is plain RAG.

The budget is `wake_context_tokens`, or what the wake window leaves after the answer (at the
largest reply an escalation may ask for) and the fixed prompt text. In sleep mode the learned notes
and expected questions count against it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.nodes._runtime import config_of, store_of, wake_model
from sleeptime.nodes.answer import build_answer_messages
from sleeptime.packing import Piece, pack
from sleeptime.partindex import PartIndex
from sleeptime.state import PredictedQuestion, WakeState
from sleeptime.windows import Window, window_of

NOTES_SHARE = 3
"""At most 1/NOTES_SHARE of the retrieved pieces are part notes; the rest is raw text."""


def wake_window(cfg: SleepTimeConfig) -> Window:
    return window_of(wake_model(cfg), cfg.context_window)


def reply_room(cfg: SleepTimeConfig) -> int:
    """The largest answer an escalation may ask for (see `answer`: levels 3-4 double it)."""
    return cfg.max_tokens_wake * 2


def context_budget(cfg: SleepTimeConfig, window: Window, question: str) -> int:
    """Tokens of context one wake prompt may hold beside the question, its instructions and the answer."""
    bare = build_answer_messages(WakeState(question=question, current_budget=4, usage=[]))
    # 32: the headers of the context blocks ("Situation:", "Your notes ...") around what is packed.
    room = window.room(reply_room(cfg)) - window.prompt_tokens(bare) - 32
    return max(room if cfg.wake_context_tokens is None else min(room, cfg.wake_context_tokens), 1)


def notes_cost(window: Window, learned: str, related: Sequence[PredictedQuestion]) -> int:
    """Tokens the learned notes and expected questions take in a wake prompt."""
    return window.count(learned) + sum(window.count(q["question"] + q["answer"]) + 8 for q in related)


def fits_whole(window: Window, budget: int, raw: str, learned: str, related: Sequence[PredictedQuestion]) -> bool:
    """Whether the raw context goes into the wake prompt whole (else retrieved pieces replace it)."""
    return window.count(raw) + notes_cost(window, learned, related) + 16 <= budget


def _revision(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> int:
    store = store_of(runtime)
    context_id = state["context_id"]
    version = state.get("version")
    if state.get("path") == "learned" and version is not None:
        learned = store.version(context_id, version)
        if learned is not None:
            return learned.source_revision
    return store.context(context_id).revision


def gather(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    raw = state.get("raw_context") or ""
    context_id = state.get("context_id")
    if not raw or not context_id or state.get("path") == "predicted":
        return {}
    cfg = config_of(runtime)
    window = wake_window(cfg)
    budget = context_budget(cfg, window, state["question"])
    learned = state.get("learned") or ""
    related = list(state.get("related") or [])
    if fits_whole(window, budget, raw, learned, related):
        return {}  # fits whole: the small path, unchanged
    # The learned context and expected questions come first; the raw text gets what they leave.
    cost = notes_cost(window, learned, related)
    update: dict[str, Any] = {}
    while related and cost > budget // 2:  # keep room for retrieved text
        dropped = related.pop()
        cost -= window.count(dropped["question"] + dropped["answer"]) + 8
        update["related"] = related
    if window.count(learned) > budget // 2:
        learned = window.fit(learned, budget // 2)
        update["learned"] = learned
        cost = notes_cost(window, learned, related)
    room = max(budget - cost - 16, 1)
    index = PartIndex(store_of(runtime).store, store_of(runtime).tenant)
    revision = _revision(state, runtime)
    pieces: list[Piece] = index.search_chunks(context_id, revision, state["question"], cfg.wake_chunks)
    if state.get("path") == "learned":
        notes = index.search_notes(context_id, revision, state["question"], max(1, cfg.wake_chunks // NOTES_SHARE))
        pieces += [Piece(n.text, f"notes on {n.source}", n.start_line, n.end_line, n.score) for n in notes]
    packed = pack(pieces, room, window.count)
    return {**update, "raw_context": packed.text, "sources": packed.sources,
            "with_raw_context": bool(packed.text) and (state.get("path") == "test-time" or cfg.raw_context_at_wake)}
