"""A bounded cache of precomputed prompt states (llama.cpp sequence KV state), in memory and on disk.

One entry per (tenant, context, version, model file, n_ctx): the tokens of the wake prompt's shared
prefix and the sequence state llama.cpp produced for them (KV only, no logits). Entries are evicted
least-recently-used past a byte limit in each tier, and dropped when their context publishes a new
version. Any file that cannot be read back whole and for this exact key (missing, truncated,
damaged, from another model) reads as a miss: the caller then prefills cold.

A file is ``MAGIC | header length (u32) | JSON header | state bytes``; the header names the key and
holds the tokens and a CRC32 of the state. Files are written to a temporary name and renamed, so a
reader never sees half a file, even from another process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeptime.errors import InvalidInputError

__all__ = [
    "PrefixCache",
    "PrefixKey",
    "PrefixState",
    "configure_prefix_cache",
    "default_prefix_cache",
]

log = logging.getLogger(__name__)

MAGIC = b"SLEEPTIME-KV1\n"
_HEADER_LEN = struct.Struct("<I")
_SUFFIX = ".kv"


def _h(*parts: object) -> str:
    # A JSON list of the parts: quoting and commas make the encoding unambiguous whatever the parts
    # contain, so no two part tuples hash the same text (a joining separator could appear in an id).
    text = json.dumps([str(p) for p in parts], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class PrefixKey:
    """Which published version's prompt prefix this is."""

    tenant: str
    context_id: str
    version: int


@dataclass(frozen=True)
class PrefixState:
    """The tokens of a prompt prefix and llama.cpp's sequence state after evaluating them."""

    tokens: tuple[int, ...]
    state: bytes

    @property
    def nbytes(self) -> int:
        return len(self.state) + 4 * len(self.tokens)


def _model_id(model_path: str) -> str:
    # Path, size and modification time: a replaced model file gets new states.
    p = Path(model_path).resolve()
    try:
        st = p.stat()
    except OSError:
        return _h(p, "missing")
    return _h(p, st.st_size, st.st_mtime_ns)


class PrefixCache:
    """In-memory LRU over an on-disk LRU, each bounded in bytes; thread-safe.

    ``directory=None`` keeps states in memory only.
    """

    def __init__(
        self,
        directory: str | Path | None,
        *,
        max_memory_bytes: int = 256 * 2**20,
        max_disk_bytes: int = 2 * 2**30,
    ) -> None:
        if max_memory_bytes < 0 or max_disk_bytes < 0:
            raise InvalidInputError("prefix cache limits must be >= 0 bytes")
        self.directory = Path(directory) if directory is not None else None
        self.max_memory_bytes = max_memory_bytes
        self.max_disk_bytes = max_disk_bytes
        self._memory: OrderedDict[str, PrefixState] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.Lock()

    # -- naming -------------------------------------------------------------------------------
    @staticmethod
    def _context_tag(key: PrefixKey) -> str:
        return _h(key.tenant, key.context_id)

    def name(self, key: PrefixKey, model_path: str, n_ctx: int) -> str:
        """The entry's name (also its file name, without suffix); a key part per component."""
        return f"{self._context_tag(key)}-v{key.version}-{_h(_model_id(model_path), n_ctx)}"

    def _header(self, key: PrefixKey, model_path: str, n_ctx: int) -> dict[str, Any]:
        return {
            "tenant": key.tenant,
            "context_id": key.context_id,
            "version": key.version,
            "model": _model_id(model_path),
            "n_ctx": n_ctx,
        }

    def _path(self, name: str) -> Path | None:
        return self.directory / (name + _SUFFIX) if self.directory is not None else None

    # -- memory tier ----------------------------------------------------------------------------
    def _remember(self, name: str, entry: PrefixState) -> None:
        old = self._memory.pop(name, None)
        if old is not None:
            self._memory_bytes -= old.nbytes
        if entry.nbytes > self.max_memory_bytes:
            return
        self._memory[name] = entry
        self._memory_bytes += entry.nbytes
        while self._memory_bytes > self.max_memory_bytes:
            _, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= evicted.nbytes

    @property
    def memory_bytes(self) -> int:
        """Bytes held in memory now (states and tokens)."""
        return self._memory_bytes

    def disk_bytes(self) -> int:
        """Bytes of state files on disk now."""
        if self.directory is None or not self.directory.is_dir():
            return 0
        total = 0
        for f in self.directory.glob("*" + _SUFFIX):
            try:
                total += f.stat().st_size
            except OSError:
                continue
        return total

    # -- public API -----------------------------------------------------------------------------
    def put(self, key: PrefixKey, model_path: str, n_ctx: int, entry: PrefixState) -> None:
        """Store a state (replacing this key's previous one), then evict past the limits."""
        name = self.name(key, model_path, n_ctx)
        with self._lock:
            self._remember(name, entry)
        path = self._path(name)
        if path is None:
            return
        header = {**self._header(key, model_path, n_ctx), "tokens": list(entry.tokens),
                  "crc32": zlib.crc32(entry.state), "size": len(entry.state)}
        blob = json.dumps(header).encode()
        head = MAGIC + _HEADER_LEN.pack(len(blob)) + blob
        if len(head) + len(entry.state) > self.max_disk_bytes:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with tmp.open("wb") as f:
                f.write(head)
                f.write(entry.state)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self._evict_disk(keep=path)

    def get(self, key: PrefixKey, model_path: str, n_ctx: int) -> PrefixState | None:
        """The state for this key, or None (never raises for a bad or missing file)."""
        name = self.name(key, model_path, n_ctx)
        with self._lock:
            entry = self._memory.get(name)
            if entry is not None:
                self._memory.move_to_end(name)
                return entry
        path = self._path(name)
        if path is None:
            return None
        entry = self._read(path, self._header(key, model_path, n_ctx))
        if entry is None:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: the disk tier evicts by modification time
        with self._lock:
            self._remember(name, entry)
        return entry

    def forget_memory(self) -> None:
        """Empty the memory tier (files stay); the next get reads from disk."""
        with self._lock:
            self._memory.clear()
            self._memory_bytes = 0

    def drop_other_versions(self, tenant: str, context_id: str, keep_version: int) -> int:
        """Remove every state of this context except ``keep_version``'s; returns how many went."""
        tag = self._context_tag(PrefixKey(tenant, context_id, keep_version))
        keep = f"{tag}-v{keep_version}-"
        dropped = 0
        with self._lock:
            for name in [n for n in self._memory if n.startswith(tag + "-") and not n.startswith(keep)]:
                self._memory_bytes -= self._memory.pop(name).nbytes
                dropped += 1
        if self.directory is not None and self.directory.is_dir():
            for f in self.directory.glob(f"{tag}-v*{_SUFFIX}"):
                if not f.name.startswith(keep):
                    f.unlink(missing_ok=True)
                    dropped += 1
        return dropped

    # -- disk tier ------------------------------------------------------------------------------
    @staticmethod
    def _read(path: Path, expected: dict[str, Any]) -> PrefixState | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            if not data.startswith(MAGIC):
                raise ValueError("not a sleeptime state file")
            start = len(MAGIC) + _HEADER_LEN.size
            (n,) = _HEADER_LEN.unpack_from(data, len(MAGIC))
            header = json.loads(data[start : start + n])
            state = data[start + n :]
            if any(header.get(k) != v for k, v in expected.items()):
                raise ValueError("state file is for another key")
            if len(state) != header["size"] or zlib.crc32(state) != header["crc32"]:
                raise ValueError("state file is truncated or damaged")
            tokens = tuple(int(t) for t in header["tokens"])
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            log.warning("ignoring prompt state %s: %s", path, exc)
            return None
        return PrefixState(tokens=tokens, state=state)

    def _evict_disk(self, keep: Path) -> None:
        """Remove the least recently used files until the folder is within its limit (``keep`` last)."""
        if self.directory is None:
            return
        files: list[tuple[int, int, Path]] = []
        for f in self.directory.glob("*" + _SUFFIX):
            try:
                st = f.stat()
            except OSError:
                continue
            files.append((st.st_mtime_ns, st.st_size, f))
        total = sum(size for _, size, _ in files)
        for _, size, f in sorted(files, key=lambda t: (t[2] == keep, t[0])):
            if total <= self.max_disk_bytes:
                break
            f.unlink(missing_ok=True)
            total -= size


_default: PrefixCache | None = None
_default_guard = threading.Lock()


def default_cache_dir() -> Path:
    """``~/.cache/sleeptime/prompt-states``."""
    return Path.home() / ".cache" / "sleeptime" / "prompt-states"


def default_prefix_cache() -> PrefixCache:
    """The process-wide cache embedded models use (created on first use)."""
    global _default
    with _default_guard:
        if _default is None:
            _default = PrefixCache(default_cache_dir())
        return _default


def configure_prefix_cache(
    directory: str | Path | None, *, max_memory_bytes: int = 256 * 2**20, max_disk_bytes: int = 2 * 2**30
) -> PrefixCache:
    """Replace the process-wide cache (``directory=None``: memory only). Returns the new cache."""
    global _default
    cache = PrefixCache(directory, max_memory_bytes=max_memory_bytes, max_disk_bytes=max_disk_bytes)
    with _default_guard:
        _default = cache
    return cache
