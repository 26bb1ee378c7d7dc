"""The wake side of saved prompt states: tell the answer step's model which version's state to load.

The publish side (evaluating and saving the prefix) is :mod:`sleeptime.warmup`; this module stays
apart from it because the answer node imports it and ``warmup`` builds prompts with that node.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from sleeptime.config import SleepTimeConfig
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.prefix_cache import PrefixKey

__all__ = ["bind_prefix_state"]


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
