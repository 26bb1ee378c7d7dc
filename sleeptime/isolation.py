"""Run the app's own graphs as top-level runs, whatever graph or agent calls them.

A compiled graph invoked inside another LangGraph run reads that run's config from a context
variable and takes its store, checkpointer and runtime from it, so `SleepTime.ask` called from an
agent's tool would use the agent's store (or none). Each helper here runs the call in a copy of
the current `contextvars` context with LangChain's inherited run config cleared, so the graph
sees only the config it is given and uses the store it was compiled with.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from langchain_core.runnables.config import var_child_runnable_config

T = TypeVar("T")


def _fresh_context() -> contextvars.Context:
    ctx = contextvars.copy_context()
    ctx.run(var_child_runnable_config.set, None)
    return ctx


def run(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    return _fresh_context().run(fn, *args, **kwargs)


async def arun(coro: Coroutine[Any, Any, T]) -> T:
    # A task runs in the context it is given; awaiting it forwards cancellation to it.
    return await asyncio.create_task(coro, context=_fresh_context())


def iterate(make: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Iterate the generator `make()` returns with every step run in one fresh context."""
    ctx = _fresh_context()
    it = ctx.run(make)
    try:
        while True:
            try:
                item = ctx.run(next, it)
            except StopIteration:
                return
            yield item
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            ctx.run(close)


async def aiterate(make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
    """The async twin of `iterate`: each step is a task in the same fresh context."""
    ctx = _fresh_context()
    it = ctx.run(make)

    async def step() -> tuple[bool, T | None]:
        try:
            return False, await it.__anext__()
        except StopAsyncIteration:  # a task may not end with it: report the end as a value
            return True, None

    try:
        while True:
            done, item = await asyncio.create_task(step(), context=ctx)
            if done:
                return
            yield item  # type: ignore[misc]
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await asyncio.create_task(aclose(), context=ctx)
