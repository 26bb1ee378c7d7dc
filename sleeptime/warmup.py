"""Answer faster because we slept: prepare the wake prompt's shared prefix at publish.

A version's wake prompts all begin with the same text (system message, raw context, notes, the
expected questions); only the question and its instruction differ. At publish:

- an embedded (llama.cpp) wake model evaluates that prefix once and saves its KV state
  (:mod:`sleeptime.local.prefix_cache`); at wake the answer step loads it and prefills only the rest;
- an OpenAI-compatible server can get a one-token warm-up call, so its own prefix cache (vLLM's
  automatic prefix caching, llama.cpp server's ``cache_prompt``) holds the prefix. Off by default
  (it costs a call per publish); the cached tokens it earns show up as ``cache_read_tokens``.

Set ``SleepTimeConfig(warm_prefix=...)``: ``"auto"`` (default: embedded models only), ``"on"``
(servers too) or ``"off"`` (neither). Warm-up is an optimisation: a failure is logged and
never fails the publish; a wake without a usable state prefills cold. The wake side,
:func:`bind_prefix_state`, tells the answer step's model which version's state to load.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from sleeptime.config import SleepTimeConfig
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.prefix_cache import PrefixKey
from sleeptime.models import wake_model
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.usage import UsageRecord, record_usage
from sleeptime.wake_budget import context_budget, fits_whole, notes_within, wake_window

__all__ = ["awarm_published", "bind_prefix_state", "prompt_variants", "warm_published"]

log = logging.getLogger(__name__)

_PROBES = ("What is asked first?", "Which value comes next?")
"""Two questions that differ from their first word: the prompts' common prefix ends at the question."""


def prompt_variants(
    cfg: SleepTimeConfig, store: LearnedContextStore, context_id: str, version: int
) -> list[list[BaseMessage]]:
    """The version's wake prompt, as the answer step builds it, for two different questions. When the
    raw context does not fit one wake prompt, each wake retrieves its own evidence after the notes:
    the two prompts then share the notes as `gather` fits them (none: nothing to warm)."""
    learned = store.version(context_id, version)
    if learned is None:
        return []
    questions = store.questions(context_id, learned)
    shown = max(cfg.top_questions, 1) if cfg.serve_predicted else cfg.top_questions
    state: dict[str, Any] = {
        "learned": learned.text,
        "raw_context": store.source_text(learned),  # what retrieve reads: the version's own revision
        "with_raw_context": cfg.raw_context_at_wake,
        # All of them when the wake shows all (then the block is the same for every question).
        "related": questions if len(questions) <= shown else [],
        "current_budget": cfg.budget,
    }
    window = wake_window(cfg)
    budget = context_budget(cfg, window, _PROBES[0])
    if cfg.raw_context_at_wake and not fits_whole(window, budget, state["raw_context"], learned.text, state["related"]):
        # Retrieved evidence differs per question and follows the notes (a large context's map): the
        # notes as `gather` fits them are the prefix; two different evidence blocks end it.
        notes, related = notes_within(window, budget, learned.text, state["related"])
        if not notes and not related:
            return []
        log.info("%s v%s: the raw context does not fit one wake prompt; warming its notes", context_id, version)
        return [build_answer_messages({**state, "learned": notes, "related": related, "raw_context": f"[{tag}]",
                                       "sources": [tag], "question": q}, cfg.answer_instructions)
                for tag, q in zip("ab", _PROBES, strict=True)]
    return [build_answer_messages({**state, "question": q}, cfg.answer_instructions)
            for q in _PROBES]


def warm_published(
    cfg: SleepTimeConfig, store: LearnedContextStore, context_id: str, version: int
) -> list[UsageRecord]:
    """Prepare the wake prompt prefix of a just-published version; returns the sleep usage it cost."""
    if cfg.warm_prefix == "off":
        return []
    try:
        model = wake_model(cfg, max_tokens=1)
        if not isinstance(model, EmbeddedChatModel) and cfg.warm_prefix != "on":
            return []
        variants = prompt_variants(cfg, store, context_id, version)
        if not variants:
            return []
        if isinstance(model, EmbeddedChatModel):
            entry = model.precompute_prefix(PrefixKey(cfg.tenant, context_id, version), variants)
            n = len(entry.tokens) if entry is not None else 0
            return [UsageRecord(phase="sleep", node="warm_prefix", input_tokens=n, output_tokens=0,
                                reasoning_tokens=0)]
        reply = model.invoke(variants[0], max_tokens=1)
        if isinstance(reply, AIMessage):
            return [record_usage(reply, phase="sleep", node="warm_prefix")]
        return []
    except Exception:  # an optimisation: the version is published either way
        log.warning("could not warm the prompt prefix of %s v%s; wakes prefill cold", context_id, version,
                    exc_info=True)
        return []


async def awarm_published(
    cfg: SleepTimeConfig, store: LearnedContextStore, context_id: str, version: int
) -> list[UsageRecord]:
    """Async twin of :func:`warm_published` (runs in a worker thread)."""
    return await asyncio.to_thread(warm_published, cfg, store, context_id, version)


def bind_prefix_state(model: BaseChatModel, cfg: SleepTimeConfig, state: Any) -> Runnable[Any, BaseMessage]:
    """The wake model, told which version's saved prompt state to use (embedded models only)."""
    version = state.get("version")
    context_id = state.get("context_id")
    if (
        isinstance(model, EmbeddedChatModel)
        and cfg.warm_prefix != "off"
        and state.get("path") == "learned"
        and context_id
        and isinstance(version, int)
    ):
        return model.bind(prefix_key=PrefixKey(cfg.tenant, context_id, version))
    return model
