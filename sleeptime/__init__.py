"""sleeptime: sleep-time compute for LangGraph.

Think about a context while idle (reflect, predict likely questions), publish a learned context,
then answer real questions with fewer test-time tokens. See README.md for the quickstart.
"""

from __future__ import annotations

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import (
    EmptyContextError,
    InvalidInputError,
    ModelOutputError,
    ModelSetupError,
    NotSleptError,
    SleepTimeError,
    StaleVersionError,
    StoreError,
    UnknownContextError,
    UnreadableFileError,
)
from sleeptime.facade import Answer, SleepResult, SleepTime
from sleeptime.graphs.sleep import build_sleep_graph
from sleeptime.graphs.wake import build_wake_graph
from sleeptime.models import resolve_chat_model, resolve_embeddings
from sleeptime.stores import LearnedContext, LearnedContextStore, open_store
from sleeptime.stores.chroma import ChromaStore
from sleeptime.usage import Usage

__all__ = [
    "Answer",
    "ChromaStore",
    "EmptyContextError",
    "InvalidInputError",
    "LearnedContext",
    "LearnedContextStore",
    "ModelOutputError",
    "ModelSetupError",
    "NotSleptError",
    "SleepResult",
    "SleepTime",
    "SleepTimeConfig",
    "SleepTimeError",
    "StaleVersionError",
    "StoreError",
    "UnknownContextError",
    "UnreadableFileError",
    "Usage",
    "build_sleep_graph",
    "build_wake_graph",
    "open_store",
    "resolve_chat_model",
    "resolve_embeddings",
]

__version__ = "0.1.0"
