"""A context's chunks from text, files and folders, stored as one raw revision with their sources.

Every chunk keeps its source path, line span and digest (see `sleeptime.sources`): the raw
revision goes to the learned-context store as before, and the chunks with their spans to the
`PartIndex`, which makes them searchable at wake and lets a re-sleep see which parts changed.
Everything is read before anything is stored, so a bad file or an empty context changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sleeptime.errors import EmptyContextError, UnreadableFileError
from sleeptime.partindex import PartIndex
from sleeptime.sources import SkippedFile, SourceChunk, load_folder, split_source
from sleeptime.stores.learned import ContextRecord, LearnedContextStore

log = logging.getLogger("sleeptime.ingest")

TEXT_SOURCE = "<text>"


@dataclass(frozen=True)
class IngestResult(ContextRecord):
    """The stored revision, and the files of a folder that were left out (with why)."""

    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True)
class Loaded:
    chunks: list[SourceChunk]
    sources: list[str]
    skipped: list[SkippedFile]


def load_context(
    *,
    text: str | None = None,
    files: Sequence[str | Path] = (),
    folder: str | Path | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunk_size: int = 1200,
    chunk_overlap: int = 100,
) -> Loaded:
    """Read and split everything given; raises before storing anything when a file is unreadable."""
    from sleeptime.nodes.ingest import load_file  # the one reader of single files (PDF and the rest)

    chunks: list[SourceChunk] = []
    sources: list[str] = []
    skipped: list[SkippedFile] = []
    if text is not None and text.strip():
        chunks.extend(split_source(text, TEXT_SOURCE, chunk_size, chunk_overlap))
        sources.append(TEXT_SOURCE)
    for f in files:
        if Path(f).is_dir():
            raise UnreadableFileError(f"cannot read {str(f)!r} as a file: it is a folder (pass it as folder=)")
        body = load_file(f)
        if body.strip():
            chunks.extend(split_source(body, str(f), chunk_size, chunk_overlap))
            sources.append(str(f))
    if folder is not None:
        contents = load_folder(
            folder, include=include, exclude=exclude, chunk_size=chunk_size, chunk_overlap=chunk_overlap
        )
        chunks.extend(contents.chunks)
        sources.extend(contents.files)
        skipped.extend(contents.skipped)
        for s in contents.skipped:
            log.warning("ingest: skipped %s (%s)", s.path, s.reason)
    return Loaded(chunks, sources, skipped)


def store_context(store: LearnedContextStore, context_id: str, loaded: Loaded) -> IngestResult:
    """Store `loaded` as the context's next raw revision and index its chunks with their spans."""
    if not loaded.chunks:
        where = f"; skipped: {', '.join(f'{s.path} ({s.reason})' for s in loaded.skipped)}" if loaded.skipped else ""
        raise EmptyContextError(f"context {context_id!r} is empty: give non-blank text, files or a folder{where}")
    record = store.put_chunks(context_id, [c.text for c in loaded.chunks], loaded.sources)
    PartIndex(store.store, store.tenant).record_revision(context_id, record.revision, loaded.chunks)
    return IngestResult(**asdict(record), skipped=list(loaded.skipped))
