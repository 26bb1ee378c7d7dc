"""Several processes on one on-disk Chroma path: noticing another process's writes, and reopening.

Embedded Chroma loads a collection's vector index into the process once and keeps it; another
process's writes reach SQLite but not that in-memory copy, so a long-lived reader either misses new
vectors or fails outright (``Error finding id``, when the other process deleted what its copy still
lists). Two remedies, used together by `ChromaStore`:

* `WriteMarks`: every write call of a process bumps a counter in its own file under
  ``<path>/.sleeptime-writers/<pid>``; before each operation a store reads the other processes'
  files (one directory scan, a few tiny reads) and reopens when any changed, so what it reads next
  includes every write another process finished before.
* `is_stale_view`: the errors an out-of-date copy raises; the store reopens and retries once.

Reopening (`forget_system`, then a new client) makes Chroma load the collections from disk again.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import chromadb.errors

MARKS_DIR = ".sleeptime-writers"
_STALE_MARKS = ("error finding id", "error executing plan", "error loading hnsw", "no such segment")


def is_stale_view(exc: BaseException) -> bool:
    """Whether `exc` is what embedded Chroma raises when its in-memory index is behind the files."""
    text = str(exc).lower()
    return isinstance(exc, chromadb.errors.ChromaError | RuntimeError) and any(m in text for m in _STALE_MARKS)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` reports a full disk (SQLite's code 13, or ENOSPC)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return "database or disk is full" in text or "(code: 13)" in text or "no space left on device" in text


def forget_system(path: str) -> None:
    """Make the next client for `path` load it from disk: drop the system Chroma shares per path.

    Clients opened before keep the system they hold (another handle of this process reopens on its
    own when it notices); the dropped system is stopped when this was its only client."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(path, None)
    if system is not None and SharedSystemClient._identifier_to_refcount.get(path, 0) <= 1:
        with contextlib.suppress(Exception):
            system.stop()
        SharedSystemClient._identifier_to_refcount.pop(path, None)


class WriteMarks:
    """Per-process write counters in files beside an on-disk store (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.dir = Path(path) / MARKS_DIR
        self._count = 0
        self._seen: dict[str, str] = {}
        self._prune()
        self.changed()  # what is there now is what this process opened

    def wrote(self) -> None:
        """Record that this process wrote (called after every write call that reached Chroma)."""
        self._count += 1
        try:
            self.dir.mkdir(exist_ok=True)
            (self.dir / str(os.getpid())).write_text(str(self._count))
        except OSError:  # a read-only or full disk: the write itself reported what matters
            pass

    def changed(self) -> bool:
        """Whether another process wrote since the last call (or since this object was made)."""
        me = str(os.getpid())
        now: dict[str, str] = {}
        try:
            with os.scandir(self.dir) as entries:
                for entry in entries:
                    if entry.name != me and entry.name.isdigit():
                        with contextlib.suppress(OSError):
                            now[entry.name] = Path(entry.path).read_text()
        except OSError:
            return False
        # A file that went (its process ended and was pruned) counts too: its last write may be unseen.
        changed = now != self._seen
        self._seen = now
        return changed

    def _prune(self) -> None:
        """Remove the files of processes that no longer run (pids on this machine)."""
        with contextlib.suppress(OSError), os.scandir(self.dir) as entries:
            for entry in entries:
                if entry.name.isdigit() and not _alive(int(entry.name)):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
