"""What every node needs from the LangGraph runtime: the run config, the store, the models."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from sleeptime.config import SleeptimeConfig
from sleeptime.errors import SleeptimeError
from sleeptime.models import resolve_chat_model
from sleeptime.stores.learned import LearnedContextStore


def config_of(runtime: Runtime[Any]) -> SleeptimeConfig:
    """The run's SleeptimeConfig; a dict (as the LangGraph server sends) is validated into one."""
    ctx = runtime.context
    if ctx is None:
        return SleeptimeConfig()
    if isinstance(ctx, SleeptimeConfig):
        return ctx
    if isinstance(ctx, dict):
        known = {f.name for f in fields(SleeptimeConfig)}
        unknown = set(ctx) - known
        if unknown:
            raise SleeptimeError(f"unknown config key(s): {sorted(unknown)}; known: {sorted(known)}")
        return SleeptimeConfig(**ctx)
    # Another dataclass with the same fields (e.g. a server-side copy of the schema).
    return SleeptimeConfig(**asdict(ctx))


def store_of(runtime: Runtime[Any]) -> LearnedContextStore:
    if runtime.store is None:
        raise SleeptimeError(
            "this graph was compiled without a store: compile it with store=ChromaStore(...) "
            "(or any BaseStore), or use sleeptime.SleepTime which does"
        )
    return LearnedContextStore(runtime.store, config_of(runtime).tenant)


def sleep_model(cfg: SleeptimeConfig, *, temperature: float | None = None) -> BaseChatModel:
    return resolve_chat_model(
        cfg.sleep_model,
        base_url=cfg.base_url,
        reasoning_effort=cfg.sleep_reasoning_effort,
        temperature=cfg.temperature if temperature is None else temperature,
        max_tokens=cfg.max_tokens_sleep,
    )


def wake_model(cfg: SleeptimeConfig, *, max_tokens: int | None = None) -> BaseChatModel:
    return resolve_chat_model(
        cfg.wake_model,
        base_url=cfg.base_url,
        reasoning_effort=cfg.reasoning_effort,
        temperature=cfg.temperature,
        max_tokens=max_tokens or cfg.max_tokens_wake,
    )
