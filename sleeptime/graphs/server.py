"""The graphs as a LangGraph server (``langgraph dev``, LangGraph Platform) loads them: see langgraph.json.

The server drops every context key its schema does not list before the graph sees it, so a typo
(``context={"budgett": 2}``) would run silently on the default budget. It hands the run's context
to a graph factory unfiltered, though; these factories check it with `SleepTimeConfig.from_mapping`,
the one validation every path uses, so a bad key or value fails the run with `InvalidInputError`
(listing the known keys) instead. Schema reads and other non-run calls get the graph unchecked.

The sleep graph served here reads files and folders named in a run's input only under
``SLEEPTIME_SERVER_FILE_ROOTS`` (off by default), and tenants are the callers' (`sleeptime.graphs.auth`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.graphs import chat, sleep, wake
from sleeptime.graphs.auth import tenant_of

__all__ = ["chat_graph", "check_server_context", "sleep_graph", "wake_graph"]


def check_server_context(runtime: ServerRuntime[SleepTimeConfig]) -> None:
    """Validate a server run's context (a JSON object) as in-process runs are validated; with
    sleeptime's auth (`sleeptime.graphs.auth`), a context naming another tenant than the caller's fails."""
    execution = runtime.execution_runtime
    if execution is not None and execution.context is not None:
        cfg = SleepTimeConfig.from_mapping(execution.context)
        tenant = tenant_of(runtime.user) if runtime.user is not None else None
        named = execution.context.get("tenant") if isinstance(execution.context, Mapping) else cfg.tenant
        if tenant is not None and named is not None and named != tenant:
            raise InvalidInputError(f"this caller may use tenant {tenant!r} only, not {named!r}")


def sleep_graph(runtime: ServerRuntime[SleepTimeConfig]) -> CompiledStateGraph[Any, Any, Any, Any]:
    check_server_context(runtime)
    return sleep.server_graph


def wake_graph(runtime: ServerRuntime[SleepTimeConfig]) -> CompiledStateGraph[Any, Any, Any, Any]:
    check_server_context(runtime)
    return wake.graph


def chat_graph(runtime: ServerRuntime[SleepTimeConfig]) -> CompiledStateGraph[Any, Any, Any, Any]:
    check_server_context(runtime)
    return chat.graph
