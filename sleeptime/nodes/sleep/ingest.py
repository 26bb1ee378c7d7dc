"""Ingest: text or files -> chunks -> a new raw revision in the store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.inputs import check_context_id
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.state import SleepState
from sleeptime.stores.corpus import IngestResult, load_context, load_file, store_context
from sleeptime.stores.learned import ContextRecord, LearnedContextStore

__all__ = ["ingest", "ingest_context", "load_file"]


def ingest_context(
    store: LearnedContextStore,
    context_id: str,
    *,
    text: str | None = None,
    files: Sequence[str | Path] = (),
    folder: str | Path | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunk_size: int = 1200,
    chunk_overlap: int = 100,
) -> IngestResult:
    """Read everything first, then store: a bad file or empty text changes nothing stored.

    A folder is walked with `sleeptime.large.sources.load_folder` (globs, .gitignore; binary and huge
    files are skipped and listed in the result); every chunk keeps its source path and line span.
    """
    loaded = load_context(
        text=text, files=files, folder=folder, include=include, exclude=exclude,
        chunk_size=chunk_size, chunk_overlap=chunk_overlap,
    )
    return store_context(store, context_id, loaded)


def ingest(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """Store new text/files when given; otherwise sleep again on the stored revision."""
    cfg = config_of(runtime)
    store = store_of(runtime)
    context_id = check_context_id(state.get("context_id"), run="a sleep run")
    skipped: list[str] = []
    if state.get("text") is not None or state.get("files") or state.get("folder"):
        result = ingest_context(
            store, context_id, text=state.get("text"), files=state.get("files") or [],
            folder=state.get("folder"), include=state.get("include") or (), exclude=state.get("exclude") or (),
            chunk_size=cfg.chunk_size, chunk_overlap=cfg.chunk_overlap,
        )
        skipped = [f"{s.path}: {s.reason}" for s in result.skipped]
        record: ContextRecord = result
    else:
        record = store.context(context_id)
    return {
        "skipped": skipped,
        "revision": record.revision,
        "raw_context": store.raw_text(context_id, record.revision),
        "learned": [],
        "samples": [],  # resets the fan-out's reducer for this run
        "warnings": [],
    }
