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

from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.large.packing import Piece, pack
from sleeptime.large.wake_budget import context_budget, fits_whole, notes_cost, wake_window
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.state import WakeState
from sleeptime.stores.parts import PartIndex

NOTES_SHARE = 3
"""At most 1/NOTES_SHARE of the retrieved pieces are part notes; the rest is raw text."""


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
