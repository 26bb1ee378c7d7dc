"""A context's chunks from text, files and folders, stored as one raw revision with their sources.

Every chunk keeps its source path, line span and digest (see `sleeptime.large.sources`): the raw
revision goes to the context store, and the chunks with their spans to its part index
(`LearnedContextStore.parts`), which makes them searchable at wake and lets a re-sleep see which parts changed.
Everything is read before anything is stored, so a bad file or an empty context changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sleeptime.errors import EmptyContextError, InvalidInputError, UnreadableFileError
from sleeptime.ids import check_path, check_text
from sleeptime.large.sources import SkippedFile, SourceChunk, load_folder, split_source
from sleeptime.stores.learned import ContextRecord, LearnedContextStore

log = logging.getLogger("sleeptime.ingest")

TEXT_SOURCE = "<text>"


_TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".json", ".csv", ".yaml", ".yml", ".toml", ".html", ".log", ""}


def load_file(path: str | Path) -> str:
    """The text of one file: plain text directly, PDFs and the rest through langchain-community loaders."""
    p = Path(path)
    if not p.is_file():
        raise UnreadableFileError(f"cannot read {str(p)!r}: no such file")
    try:
        if p.suffix.lower() in _TEXT_SUFFIXES:
            return p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".pdf":
            from langchain_community.document_loaders import PyPDFLoader

            return "\n".join(d.page_content for d in PyPDFLoader(str(p)).load())
        from langchain_community.document_loaders import UnstructuredFileLoader

        return "\n".join(d.page_content for d in UnstructuredFileLoader(str(p)).load())
    except UnicodeDecodeError as error:
        raise UnreadableFileError(f"cannot read {str(p)!r}: not UTF-8 text ({error.reason})") from error
    except ImportError as error:
        raise UnreadableFileError(
            f"cannot read {str(p)!r}: the loader for {p.suffix!r} files needs a package: {error}"
        ) from error
    except OSError as error:
        raise UnreadableFileError(f"cannot read {str(p)!r}: {error.strerror or error}") from error


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
    _check_inputs(text, files, folder, include, exclude)
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


def _check_inputs(text: object, files: object, folder: object, include: object, exclude: object) -> None:
    """InvalidInputError naming the input, before anything is read: text a str (UTF-8 encodable), paths
    str or os.PathLike, globs strings (a server's JSON input can hold anything)."""
    if text is not None:
        check_text(text, "text")
    if isinstance(files, str | bytes) or not isinstance(files, Sequence):
        raise InvalidInputError(f"files must be a list of paths, got {type(files).__name__}")
    for i, f in enumerate(files):
        check_path(f, f"files[{i}]")
    if folder is not None:
        check_path(folder, "folder")
    for name, globs in (("include", include), ("exclude", exclude)):
        if isinstance(globs, str | bytes) or not isinstance(globs, Sequence):
            raise InvalidInputError(f"{name} must be a list of glob strings, got {type(globs).__name__}")
        for i, g in enumerate(globs):
            check_text(g, f"{name}[{i}]")


def store_context(store: LearnedContextStore, context_id: str, loaded: Loaded) -> IngestResult:
    """Store `loaded` as the context's next raw revision and index its chunks with their spans."""
    if not loaded.chunks:
        where = f"; skipped: {', '.join(f'{s.path} ({s.reason})' for s in loaded.skipped)}" if loaded.skipped else ""
        raise EmptyContextError(f"context {context_id!r} is empty: give non-blank text, files or a folder{where}")
    index = store.parts
    with store.lease(context_id) as lease:  # pieces written before the manifest stay while it is held
        index.index_chunks(context_id, loaded.chunks)  # before the claim: the new revision's readers find them
        record = store.put_chunks(context_id, [c.text for c in loaded.chunks], loaded.sources, lease)
        index.record_manifest(context_id, record.revision, loaded.chunks, own_lease=lease.attempt)
    return IngestResult(**asdict(record), skipped=list(loaded.skipped))
