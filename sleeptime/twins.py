"""Async twins made from the sync implementation: one body per operation, two front doors.

A twin of a blocking call (a store read or write) runs the sync method in a worker thread, as
`asyncio.to_thread` does, so the event loop is never blocked and both doors behave the same. Calls
that run a graph have real async twins (``ainvoke``) and share their checks through private helpers.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["in_thread"]

P = ParamSpec("P")
R = TypeVar("R")


def in_thread(method: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of `method` (named ``a<name>``): same signature, run in a worker thread.

    Use it in the class body: ``alearned = in_thread(learned)``.
    """

    @functools.wraps(method)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, *args, **kwargs)

    name = getattr(method, "__name__", "call")
    twin.__name__ = f"a{name}"
    twin.__qualname__ = f"{getattr(method, '__qualname__', name).rpartition('.')[0]}.a{name}".lstrip(".")
    twin.__doc__ = f"Async `{name}` (the same call, in a worker thread).\n\n{method.__doc__ or ''}".rstrip()
    return twin
