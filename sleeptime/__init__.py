"""sleeptime: sleep-time compute for LangGraph.

Think about a context while idle (reflect, predict likely questions), publish a learned context,
then answer real questions with fewer test-time tokens. See README.md for the quickstart.

`import sleeptime` loads only the errors: every other public name is imported on first use
(PEP 562 ``__getattr__``), so a CLI's ``--help`` or a module that only catches our errors does not
pay for LangGraph, LangChain's model clients and Chroma.
"""

from __future__ import annotations

import importlib
import typing

from sleeptime.errors import (
    ClosedError,
    ContextWindowError,
    EmptyContextError,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    ModelSetupError,
    NotSleptError,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SleepTimeError,
    StaleVersionError,
    StoreError,
    UnknownContextError,
    UnreadableFileError,
)

if typing.TYPE_CHECKING:  # what type checkers and IDEs see; at run time `__getattr__` imports these
    from sleeptime.config import SleepTimeConfig
    from sleeptime.facade import SleepTime
    from sleeptime.graphs.sleep import build_sleep_graph
    from sleeptime.graphs.wake import build_wake_graph
    from sleeptime.models import resolve_chat_model, resolve_embeddings
    from sleeptime.results import Answer, SleepResult
    from sleeptime.stores import LearnedContext, LearnedContextStore, open_store
    from sleeptime.stores.chroma import ChromaStore
    from sleeptime.usage import Usage

#: Each lazily imported public name and the module that defines it.
_LAZY: dict[str, str] = {
    "Answer": "sleeptime.results",
    "ChromaStore": "sleeptime.stores.chroma",
    "LearnedContext": "sleeptime.stores",
    "LearnedContextStore": "sleeptime.stores",
    "SleepResult": "sleeptime.results",
    "SleepTime": "sleeptime.facade",
    "SleepTimeConfig": "sleeptime.config",
    "Usage": "sleeptime.usage",
    "build_sleep_graph": "sleeptime.graphs.sleep",
    "build_wake_graph": "sleeptime.graphs.wake",
    "open_store": "sleeptime.stores",
    "resolve_chat_model": "sleeptime.models",
    "resolve_embeddings": "sleeptime.models",
}

__all__ = [
    "Answer",
    "ChromaStore",
    "ClosedError",
    "ContextWindowError",
    "EmptyContextError",
    "InvalidInputError",
    "LearnedContext",
    "LearnedContextStore",
    "ModelCallError",
    "ModelOutputError",
    "ModelSetupError",
    "NotSleptError",
    "ServerError",
    "ServerTimeoutError",
    "ServerUnavailableError",
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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
