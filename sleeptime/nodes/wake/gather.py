"""Wake at any size: read the raw context the answer needs through the store, whole when it fits.

`gather` runs after `retrieve`, which names the raw revision being read (the learned version's
source revision, or the current one at test time). Its chunks are read a batch at a time while
their tokens are counted: a raw context that fits the budget goes into the state whole (the small
path). A larger one is never loaded whole: reading stops once it cannot fit, and the nearest raw
chunks of that revision and, with a learned context, the nearest part notes are packed by relevance
into the budget under `[path:start-end]` headers; their citations go out as `sources`. Test-time
runs get the same retrieval over raw chunks only, with the same budget: the fair baseline is plain RAG.

The budget is `wake_context_tokens`, or what the wake window leaves after the answer (at the
largest reply an escalation may ask for) and the fixed prompt text. In sleep mode the learned notes
and expected questions count against it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.large.packing import Piece, pack
from sleeptime.large.windows import Window
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.notes.strategies import Experiment
from sleeptime.state import WakeState
from sleeptime.stores import hybrid
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.wake_budget import context_budget, notes_cost, notes_within, wake_window

NOTES_SHARE = 3
"""At most 1/NOTES_SHARE of the retrieved pieces are part notes; the rest is raw text."""

def _chunks(store: LearnedContextStore, state: WakeState) -> Iterator[str]:
    """The chunks of the revision `retrieve` named: as the learned version recorded its source (the
    notes and the raw text come from one version), else that revision's claim."""
    context_id, version = state["context_id"], state.get("version")
    if state.get("path") == "learned" and version is not None:
        learned = store.version(context_id, version)
        if learned is not None:
            return store.source_chunks(learned)
    return store.revision_chunks(context_id, state["revision"])


def read_within(chunks: Iterable[str], window: Window, limit: int) -> str | None:
    """The text of `chunks` joined by newlines when it holds at most `limit` tokens, else None,
    having stopped reading once the chunks read so far cannot fit (a chunk's own token count may
    differ from its count inside the joined text by a token or two at each joint: hence the slack)."""
    read: list[str] = []
    tokens = 0
    for chunk in chunks:
        read.append(chunk)
        tokens += window.count(chunk)
        if tokens - 2 * len(read) - 16 > limit:
            return None
    text = "\n".join(read)
    return text if window.count(text) <= limit else None


def gather(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    context_id = state.get("context_id")
    if not context_id or state.get("revision") is None or state.get("path") == "predicted":
        return {}
    cfg = config_of(runtime)
    store = store_of(runtime)
    window = wake_window(cfg)
    budget = context_budget(cfg, window, state["question"])
    learned = state.get("learned") or ""
    related = list(state.get("related") or [])
    experiment = cfg.experiment or Experiment()
    style = experiment.parts
    if learned and style.describe and not style.show_map and state.get("path") == "learned":
        learned = ""  # the map stays in the version; this wake gives its room to evidence
    # As `fits_whole`: the raw text, the notes, the questions and 16 tokens of headers.
    raw = read_within(_chunks(store, state), window, budget - notes_cost(window, learned, related) - 16)
    if raw is not None:
        return {"raw_context": raw} if raw else {}  # fits whole: the small path, unchanged
    # The learned context and expected questions come first; the raw text gets what they leave.
    update: dict[str, Any] = {}
    fitted, kept = notes_within(window, budget, learned, related)  # the evidence keeps the rest: its floor
    if kept != related:
        update["related"] = related = kept
    if fitted != (state.get("learned") or ""):
        update["learned"] = learned = fitted
    room = max(budget - notes_cost(window, learned, related) - 16, 1)
    index = store.parts
    revision = state["revision"]
    retrieval = experiment.retrieval
    learned_path = state.get("path") == "learned"
    pieces: list[Piece] = hybrid.search(index, context_id, revision, state["question"], cfg.wake_chunks, retrieval,
                                        descriptions=learned_path)
    if learned_path and not style.describe:  # descriptions lead, not shown
        notes = index.search_notes(context_id, revision, state["question"], max(1, cfg.wake_chunks // NOTES_SHARE))
        pieces += [Piece(n.text, f"notes on {n.source}", n.start_line, n.end_line, n.score) for n in notes]
    packed = pack(pieces, room, window.count)
    return {**update, "raw_context": packed.text, "sources": packed.sources,
            "with_raw_context": bool(packed.text) and (state.get("path") == "test-time" or cfg.raw_context_at_wake)}
