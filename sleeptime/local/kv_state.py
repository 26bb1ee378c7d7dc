"""Saving and restoring a prompt prefix's llama.cpp state (the KV of one sequence, not the logits).

``Llama.save_state()`` copies the logits of every prompt token (n_tokens x vocabulary floats: ~290 MB
for a 470-token prompt on a 152k-vocabulary model); the sequence-state API copies only the KV cells
(~12 KB a token on Qwen2.5-0.5B). Restoring puts those cells back and tells ``Llama`` which tokens
they hold; ``Llama.generate`` then keeps the longest common prefix with the new prompt and
evaluates only the rest (its own prefix-match logic, so a state that covers more than the prompt
shares is trimmed, never misused).

Every function here expects the caller to hold the model's lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sleeptime.local.generate_hooks import patched_generate
from sleeptime.local.prefix_cache import PrefixState

log = logging.getLogger(__name__)

MIN_GAIN = 16
"""Restore a state only when it saves at least this many tokens of prefill over what the context
already holds (a restore costs a copy of the state; a few tokens of prefill cost less)."""


class _CapturedError(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt tokens captured")
        self.tokens = tokens


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def prompt_tokens(llama: Any, complete: Callable[[], Any]) -> list[int]:
    """The tokens ``complete()`` (a ``create_chat_completion`` call) would evaluate, without evaluating.

    The chat template and tokenizer are llama-cpp-python's own, so the tokens are exactly those a
    real call sends.
    """

    def capture(tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        raise _CapturedError(list(tokens))
        yield  # a generator, as Llama.generate is

    with patched_generate(llama, capture):
        try:
            complete()
        except _CapturedError as captured:
            return captured.tokens
    raise RuntimeError("the completion did not reach Llama.generate")


def precompute(llama: Any, completions: list[Callable[[], Any]]) -> PrefixState | None:
    """The saved state of the longest token prefix the completions' prompts share, less one token
    (generate always evaluates at least one); None when that is under ``MIN_GAIN`` tokens."""
    token_lists = [prompt_tokens(llama, complete) for complete in completions]
    shared = min(common_prefix(token_lists[0], t) for t in token_lists[1:])
    prefix = token_lists[0][: min(shared, len(token_lists[0]) - 1)]
    if len(prefix) < MIN_GAIN:
        return None
    return evaluate_and_save(llama, prefix)


def _ctx(llama: Any) -> Any:
    return llama._ctx.ctx


def evaluate_and_save(llama: Any, tokens: Sequence[int]) -> PrefixState:
    """Evaluate ``tokens`` from an empty context and return the resulting sequence state."""
    import llama_cpp

    llama.reset()
    llama._ctx.kv_cache_clear()
    llama.eval(list(tokens))
    size = llama_cpp.llama_state_seq_get_size(_ctx(llama), 0)
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(_ctx(llama), buf, size, 0)
    if written == 0:
        raise RuntimeError("llama.cpp could not copy the sequence state")
    return PrefixState(tokens=tuple(tokens), state=bytes(memoryview(buf)[:written]))


def restore(llama: Any, entry: PrefixState) -> bool:
    """Load ``entry`` as the whole context; False (and an empty context) when llama.cpp refuses it."""
    import llama_cpp

    if not entry.tokens or len(entry.tokens) >= llama.n_ctx():
        return False
    llama.reset()
    llama._ctx.kv_cache_clear()
    buf = (ctypes.c_uint8 * len(entry.state)).from_buffer_copy(entry.state)
    if llama_cpp.llama_state_seq_set_data(_ctx(llama), buf, len(entry.state), 0) == 0:
        log.warning("llama.cpp refused a saved prompt state; prefilling cold")
        llama._ctx.kv_cache_clear()
        llama.reset()
        return False
    n = len(entry.tokens)
    llama.input_ids[:n] = entry.tokens
    llama.n_tokens = n
    llama._requires_eval = True  # the logits are not restored: generate re-evaluates >= 1 token
    return True


@dataclass
class Reuse:
    """What one call reused: tokens not evaluated again, and whether a saved state was loaded."""

    cached_tokens: int = 0
    restored: bool = False
    prompt_tokens: int = 0


def _held(llama: Any, tokens: Sequence[int]) -> int:
    """Prompt tokens the context already holds (as ``Llama.generate`` will count them)."""
    if llama.n_tokens <= 0:
        return 0
    return common_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)


@contextlib.contextmanager
def reusing_prefix(llama: Any, lookup: Callable[[], PrefixState | None]) -> Iterator[Reuse]:
    """While open, every generate call first loads the saved state when it covers more of the prompt
    than the context holds; ``lookup`` is asked only then (it may read a file)."""
    reuse = Reuse()
    original: Callable[..., Iterator[int]] = llama.generate

    def generate(tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        tokens = list(tokens)
        held = _held(llama, tokens)
        if len(tokens) - held > MIN_GAIN:
            entry = lookup()
            if entry is not None and common_prefix(entry.tokens, tokens) >= held + MIN_GAIN:
                reuse.restored = restore(llama, entry)
        shared = _held(llama, tokens)
        # Llama.generate re-evaluates the last prompt token when the whole prompt is cached.
        reuse.cached_tokens = shared if shared < len(tokens) else max(shared - 1, 0)
        reuse.prompt_tokens = len(tokens)
        yield from original(tokens, *args, **kwargs)

    with patched_generate(llama, generate):
        yield reuse
