"""Folders and code as contexts: walk a folder, skip what cannot be read, split by language.

A folder is walked recursively; `.gitignore` files (at any depth) are honoured, include/exclude
globs (gitignore syntax, relative to the folder) narrow the set, and binary or oversized files are
skipped with a reason instead of failing the whole ingest; hidden files and folders are left out.
Each chunk keeps its source path and 1-based line span, so an answer can cite where its text came
from, and a content hash, so a re-ingest knows which parts changed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec
from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

from sleeptime.errors import InvalidInputError, UnreadableFileError

DEFAULT_MAX_BYTES = 1_000_000
"""Files larger than this are skipped: generated or vendored code, data dumps, logs."""

MAX_FOLDER_FILES = 200_000
"""Most entries (files, links, special files) one folder ingest takes after include/exclude; past it the
ingest is refused (`InvalidInputError`) before any file is read. With `MAX_FOLDER_BYTES` it bounds the
memory of one ingest, which holds every chunk before it stores the revision."""

MAX_FOLDER_BYTES = 256 * 2**20
"""Most bytes of text one folder ingest reads (256 MiB); past it the ingest is refused (`InvalidInputError`)."""

# Suffix -> splitter language: code splits at class/function boundaries before blank lines.
_LANGUAGES: dict[str, Language] = {
    ".py": Language.PYTHON, ".js": Language.JS, ".jsx": Language.JS, ".mjs": Language.JS,
    ".ts": Language.TS, ".tsx": Language.TS, ".go": Language.GO, ".rs": Language.RUST,
    ".java": Language.JAVA, ".kt": Language.KOTLIN, ".c": Language.C, ".h": Language.C,
    ".cc": Language.CPP, ".cpp": Language.CPP, ".hpp": Language.CPP, ".cs": Language.CSHARP,
    ".rb": Language.RUBY, ".php": Language.PHP, ".swift": Language.SWIFT, ".scala": Language.SCALA,
    ".md": Language.MARKDOWN, ".rst": Language.RST, ".html": Language.HTML, ".tex": Language.LATEX,
}
_ALWAYS_SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class SourceChunk:
    """One chunk of one file, with where it came from."""

    text: str
    source: str
    """Path relative to the ingested folder (posix separators), or the label given for plain text."""
    start_line: int
    end_line: int
    digest: str
    """sha256 of source and text: equal digests mean an unchanged part."""

    @property
    def span(self) -> str:
        return f"{self.source}:{self.start_line}-{self.end_line}"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class FolderContents:
    chunks: list[SourceChunk]
    files: list[str]
    skipped: list[SkippedFile]


def split_source(text: str, source: str, chunk_size: int = 1200, chunk_overlap: int = 100) -> list[SourceChunk]:
    """Split one file's text with a splitter for its language, keeping each chunk's line span."""
    if chunk_size < 1:
        raise InvalidInputError(f"chunk_size must be >= 1, got {chunk_size!r}")
    overlap = max(0, min(chunk_overlap, chunk_size // 2))
    language = _LANGUAGES.get(Path(source).suffix.lower())
    if language is not None:
        splitter = RecursiveCharacterTextSplitter.from_language(
            language, chunk_size=chunk_size, chunk_overlap=overlap, add_start_index=True
        )
    else:
        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap, add_start_index=True)
    chunks: list[SourceChunk] = []
    for doc in splitter.create_documents([text]):
        body = doc.page_content
        if not body.strip():
            continue
        start = int(doc.metadata.get("start_index", -1))
        if start < 0:  # the splitter could not place it (stripped whitespace): search from the end of the last
            start = max(0, text.find(body))
        first = text.count("\n", 0, start) + 1
        chunks.append(
            SourceChunk(
                text=body,
                source=source,
                start_line=first,
                end_line=first + body.count("\n"),
                digest=hashlib.sha256(f"{source}\0{body}".encode()).hexdigest(),
            )
        )
    return chunks


def _spec(lines: Sequence[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _gitignore(folder: Path) -> list[str]:
    path = folder / ".gitignore"
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
    except OSError:
        return []


def _not_regular(entry: os.DirEntry[str]) -> str | None:
    """Why a walked entry that is neither a folder nor a regular file is left out (None: it is a file)."""
    if entry.is_symlink():
        return "symbolic link (not followed: it may point outside the folder)"
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return "not a regular file: " + next((name for test, name in kinds if test(mode)), "special file")


def _walk(root: Path) -> Iterator[tuple[Path, str, str | None]]:
    """Entries under root not ignored by any .gitignore on their way down, as (path, relative posix
    path, None) for regular files and (path, relative path, reason) for links and special files."""
    # Each level's patterns are relative to the folder that holds the .gitignore.
    stack: list[tuple[Path, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(root, [])]
    while stack:
        folder, inherited = stack.pop()
        rules = inherited
        own = _gitignore(folder)
        if own:
            rules = [*inherited, (folder.relative_to(root).as_posix(), _spec(own))]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            rel = Path(entry.path).relative_to(root).as_posix()
            is_dir = entry.is_dir(follow_symlinks=False)
            # Hidden entries (.git, .gitignore, .env, editor state) are tooling, not content.
            if entry.name.startswith(".") or (is_dir and entry.name in _ALWAYS_SKIPPED_DIRS):
                continue
            if _ignored(rel, is_dir, rules):
                continue
            if is_dir:
                stack.append((Path(entry.path), rules))
            else:
                yield Path(entry.path), rel, _not_regular(entry)


def _ignored(rel: str, is_dir: bool, rules: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    for base, spec in rules:
        inner = rel if base in ("", ".") else rel[len(base) + 1 :]
        if spec.match_file(inner + ("/" if is_dir else "")):
            return True
    return False


def _read_text(path: Path, max_bytes: int) -> str | SkippedFile:
    rel = path.as_posix()  # the caller relabels it relative to the folder
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return SkippedFile(rel, f"larger than {max_bytes} bytes ({size})")
        data = path.read_bytes()
    except OSError as error:
        return SkippedFile(rel, f"unreadable: {error.strerror or error}")
    if b"\0" in data[:8192]:
        return SkippedFile(rel, "binary")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return SkippedFile(rel, "binary or not UTF-8")


def load_folder(
    folder: str | Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_size: int = 1200,
    chunk_overlap: int = 100,
    max_files: int | None = None,
    max_total_bytes: int | None = None,
) -> FolderContents:
    """Every readable text file under `folder`, split; skipped files listed with the reason. More
    than `max_files` entries or `max_total_bytes` of text (None: `MAX_FOLDER_FILES`, `MAX_FOLDER_BYTES`)
    is refused with InvalidInputError.

    `include` / `exclude` are gitignore-style globs relative to the folder (`*.py`, `docs/**`);
    with no `include`, every file not excluded is taken.
    """
    root = Path(folder)
    if not root.is_dir():
        raise UnreadableFileError(f"cannot read {str(root)!r}: not a folder")
    if max_bytes < 1:
        raise InvalidInputError(f"max_bytes must be >= 1, got {max_bytes!r}")
    max_files = MAX_FOLDER_FILES if max_files is None else max_files
    max_total_bytes = MAX_FOLDER_BYTES if max_total_bytes is None else max_total_bytes
    wanted = _spec(include) if include else None
    unwanted = _spec(exclude)
    chunks: list[SourceChunk] = []
    files: list[str] = []
    skipped: list[SkippedFile] = []
    entries: list[tuple[Path, str, str | None]] = []
    for entry in _walk(root):
        rel = entry[1]
        if (wanted is not None and not wanted.match_file(rel)) or unwanted.match_file(rel):
            continue
        entries.append(entry)
        if len(entries) > max_files:
            raise InvalidInputError(
                f"folder {str(root)!r} has more than {max_files:,} files to ingest (the limit: "
                "sleeptime.large.sources.MAX_FOLDER_FILES); narrow it with include/exclude, or ingest parts of it "
                "as separate contexts"
            )
    total = 0
    for path, rel, left_out in sorted(entries, key=lambda pr: pr[1]):
        if left_out is not None:
            skipped.append(SkippedFile(rel, left_out))
            continue
        text = _read_text(path, max_bytes)
        if isinstance(text, SkippedFile):
            skipped.append(SkippedFile(rel, text.reason))
            continue
        if not text.strip():
            skipped.append(SkippedFile(rel, "empty"))
            continue
        total += len(text.encode("utf-8"))
        if total > max_total_bytes:
            raise InvalidInputError(
                f"folder {str(root)!r} holds more than {max_total_bytes:,} bytes of text (the limit: "
                "sleeptime.large.sources.MAX_FOLDER_BYTES); narrow it with include/exclude, or ingest parts of it "
                "as separate contexts"
            )
        files.append(rel)
        chunks.extend(split_source(text, rel, chunk_size, chunk_overlap))
    return FolderContents(chunks=chunks, files=files, skipped=skipped)
