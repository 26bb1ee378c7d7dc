"""Retrieve: the latest published learned context, the nearest predicted questions, and which raw
revision the answer reads (`gather` reads its text through the store: a large one is never loaded whole)."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.inputs import check_context_id, check_mode, check_question, wake_budget
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.state import WakeState

logger = logging.getLogger(__name__)

UNSLEPT_NOTE = "no published learned context (not slept yet, or its sleep failed): answered test-time"


def retrieve(state: WakeState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    cfg = config_of(runtime)
    question = check_question(state.get("question"))
    mode = check_mode(state.get("mode", "learned"))
    budget = wake_budget(state.get("budget"), cfg.budget)
    # raw_context starts empty: `gather` fills it from `revision`.
    base: dict[str, Any] = {"current_budget": budget, "escalations": 0, "with_raw_context": False, "raw_context": ""}
    context_id = state.get("context_id")
    if not context_id:
        if mode == "learned":
            check_context_id(None, run="mode 'learned'")
        return {**base, "path": "test-time", "version": None, "learned": "", "related": []}
    context_id = check_context_id(context_id)
    store = store_of(runtime)
    if mode == "test-time":
        revision = store.context(context_id).revision  # raises UnknownContextError for an unknown id
        return {**base, "path": "test-time", "version": None, "revision": revision, "learned": "",
                "related": [], "with_raw_context": True}
    learned = store.latest(context_id)  # one head read: this version, whole
    if learned is None:
        if not cfg.unslept_fallback:
            store.require_latest(context_id)  # raises NotSleptError (or UnknownContextError)
        revision = store.context(context_id).revision  # raises UnknownContextError for an unknown id
        logger.info("context %r has no learned context: answering test-time", context_id)
        return {**base, "path": "test-time", "version": None, "revision": revision, "learned": "",
                "related": [], "with_raw_context": True, "note": UNSLEPT_NOTE}
    logger.debug("answering %r from learned version %d", context_id, learned.version)
    # One search serves the answer step and, with serve_predicted, the match step (which needs the
    # scores, and at least one question even with top_questions=0).
    k = max(cfg.top_questions, 1) if cfg.serve_predicted else cfg.top_questions
    scored = store.scored_questions(context_id, learned, question, k)
    extra: dict[str, Any] = {"related_scores": [s for _, s in scored]} if cfg.serve_predicted else {}
    return {
        **base,
        "path": "learned",
        "version": learned.version,
        # The revision this version was built from, so notes and raw text come from one version.
        "revision": learned.source_revision,
        "learned": learned.text,
        "with_raw_context": cfg.raw_context_at_wake,
        "related": [qa for qa, _ in scored],
        "sleep_usage": learned.sleep_usage,
        **extra,
    }
