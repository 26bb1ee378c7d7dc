"""Publish: make the new learned context and its predicted questions visible, whole, in one flip."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import StaleVersionError
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.state import SleepState
from sleeptime.warmup import warm_published

logger = logging.getLogger(__name__)


def publish(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    store = store_of(runtime)
    warnings = state.get("warnings") or []
    if not any(text.strip() for text in state.get("learned", [])):
        # A version of no notes would replace one with notes, or answer as if learned: keep what is published.
        head = store.head(state["context_id"])
        kept = f"; version {head['version']} stays published" if head else ""
        why = "; ".join(warnings) or "no notes"
        logger.warning("sleep %r published nothing: %s", state["context_id"], why)
        return {"published": False, "status": f"not published: {why}{kept}"}
    try:
        version = store.publish(
            state["context_id"],
            samples=state.get("learned", []),
            questions=state.get("questions", []),
            source_revision=state["revision"],
            sleep_usage=state.get("usage", []),
        )
    except StaleVersionError as error:
        # The context changed while we slept: a newer run will cover it. Say so, publish nothing.
        logger.info("stale skip %r: %s", state["context_id"], error)
        return {"published": False, "status": f"stale: {error}"}
    logger.info("published %r version %d", state["context_id"], version)
    status = f"published version {version}" + (f" ({'; '.join(warnings)})" if warnings else "")
    # Evaluate the wake prompt's shared prefix now, while idle (sleeptime.warmup; never raises).
    warm = warm_published(config_of(runtime), store, state["context_id"], version)
    return {"published": True, "version": version, "status": status, "usage": warm}
