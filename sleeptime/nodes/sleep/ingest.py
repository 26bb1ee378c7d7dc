"""Ingest: text or files -> chunks -> a new raw revision in the store."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.ids import check_path
from sleeptime.inputs import check_context_id
from sleeptime.nodes._runtime import config_of, store_of
from sleeptime.state import SleepState
from sleeptime.stores.corpus import IngestResult, load_context, load_file, store_context
from sleeptime.stores.learned import ContextRecord, LearnedContextStore

__all__ = ["check_server_paths", "ingest", "ingest_context", "ingest_on_server", "load_file"]


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


FILE_ROOTS_ENV = "SLEEPTIME_SERVER_FILE_ROOTS"


def check_server_paths(state: SleepState, tenant: str, env: Mapping[str, str] | None = None) -> None:
    """On a server, a run's input may name files or a folder only under the roots the server allows:
    ``SLEEPTIME_SERVER_FILE_ROOTS`` (folders joined with ``os.pathsep``; ``{tenant}`` in a root is the
    run's tenant). Unset: file and folder ingestion from run input is off. Paths are resolved (links
    followed) before the check; a folder's walk never follows links."""
    named = [(f"files[{i}]", f) for i, f in enumerate(state.get("files") or [])]
    if state.get("folder"):
        named.append(("folder", state["folder"]))
    if not named:
        return
    env = os.environ if env is None else env
    roots = [r.replace("{tenant}", tenant) for r in env.get(FILE_ROOTS_ENV, "").split(os.pathsep) if r.strip()]
    if not roots:
        raise InvalidInputError(
            "reading files or folders named in a run's input is off on this server (they would be read from the "
            f"server's own disk); send text, or start the server with {FILE_ROOTS_ENV} set to the folders runs may read"
        )
    allowed = [os.path.realpath(r) for r in roots]
    for what, path in named:
        real = os.path.realpath(os.fspath(check_path(path, what)))
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in allowed):
            raise InvalidInputError(
                f"{what} {str(path)!r} is outside the folders this server allows ({FILE_ROOTS_ENV})"
            )


def ingest_on_server(state: SleepState, runtime: Runtime[SleepTimeConfig]) -> dict[str, Any]:
    """`ingest` as a server runs it: files and folders only under the allowed roots."""
    check_server_paths(state, config_of(runtime).tenant)
    return ingest(state, runtime)


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
