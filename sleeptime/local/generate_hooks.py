"""Wrappers put on a loaded ``Llama``'s ``generate`` for the length of one call (the caller holds
the model's lock): counting streamed tokens, and the base that reusing a saved prompt state uses."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["TokenCount", "counting", "patched_generate"]


@contextlib.contextmanager
def patched_generate(llama: Any, wrapper: Callable[..., Iterator[int]]) -> Iterator[None]:
    """``llama.generate`` is ``wrapper`` while open; wrappers nest, each putting back what it found."""
    had = "generate" in vars(llama)
    previous = vars(llama).get("generate")
    llama.generate = wrapper
    try:
        yield
    finally:
        if had:
            llama.generate = previous
        else:
            del llama.generate


class TokenCount:
    prompt: int = 0
    completion: int = 0


@contextlib.contextmanager
def counting(llama: Any) -> Iterator[TokenCount]:
    """Count prompt and generated tokens of one streamed completion (llama.cpp reports usage only
    when not streaming)."""
    count = TokenCount()
    original: Callable[..., Iterator[int]] = llama.generate
    vocab = getattr(getattr(llama, "_model", None), "vocab", None)

    def is_end(token: int) -> bool:
        # The end-of-generation token is sampled but not part of the completion, as llama.cpp counts.
        if vocab is not None:
            import llama_cpp

            return bool(llama_cpp.llama_vocab_is_eog(vocab, token))
        return bool(token == llama.token_eos())

    def generate(tokens: list[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        count.prompt = len(tokens)
        for token in original(tokens, *args, **kwargs):
            if not is_end(token):
                count.completion += 1
            yield token

    with patched_generate(llama, generate):
        yield count
