"""The llama.cpp models this process has loaded: one ``llama_cpp.Llama`` per (file, n_ctx, n_threads),
shared by every `EmbeddedChatModel` that asks for it, each with the lock that serialises its calls
(a llama.cpp context is not thread-safe)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleeptime.errors import ModelSetupError

__all__ = ["LLAMA_CPP_MISSING", "clear_loaded_models", "load_llama", "usable_cpus"]

LLAMA_CPP_MISSING = (
    "embedded chat models need llama-cpp-python, which is not installed; build it with portable flags "
    "(the native build crashes on some Xeons): CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS=\"-DGGML_NATIVE=OFF "
    "-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF\" "
    "pip install 'llama-cpp-python==0.3.36'"
)


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    owner: int | None = None
    """Thread id of the call in progress."""

    @contextlib.contextmanager
    def use(self) -> Iterator[Any]:
        """Exclusive use of the llama.cpp context (calls from other threads wait)."""
        if self.owner == threading.get_ident():
            raise RuntimeError(
                "EmbeddedChatModel was called while a stream from the same model is still open in this "
                "thread; finish or close the stream first"
            )
        with self.lock:
            self.owner = threading.get_ident()
            try:
                yield self.llama
            finally:
                self.owner = None


_loaded: dict[tuple[str, int, int], _Loaded] = {}
_loaded_guard = threading.Lock()


def usable_cpus() -> int:
    # os.cpu_count() counts every CPU on the machine, so a process pinned with taskset would
    # oversubscribe its cores; the affinity mask is what it may actually use.
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_llama(path: str, n_ctx: int, n_threads: int) -> _Loaded:
    key = (str(Path(path).resolve()), n_ctx, n_threads)
    with _loaded_guard:
        if key in _loaded:
            return _loaded[key]
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelSetupError(LLAMA_CPP_MISSING) from exc
        if not Path(key[0]).is_file():
            raise ModelSetupError(f"GGUF file not found: {key[0]}")
        try:
            llama = Llama(
                model_path=key[0], n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
            )
        except ValueError as exc:
            raise ModelSetupError(f"llama.cpp could not load {key[0]}: {exc}") from exc
        _loaded[key] = loaded = _Loaded(llama)
        return loaded


def clear_loaded_models() -> None:
    """Forget every loaded llama.cpp model (they are freed once no model object uses them)."""
    with _loaded_guard:
        _loaded.clear()
