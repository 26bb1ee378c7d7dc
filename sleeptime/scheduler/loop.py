"""Where a scheduler runs: an asyncio loop (the caller's, or one in a daemon thread), and the hand-off to it.

All scheduling state changes on the loop's thread; calls from other threads are handed to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from sleeptime.scheduler.clock import Clock, LoopClock

__all__ = ["LoopHost", "LoopThread"]

_T = TypeVar("_T")


class LoopThread:
    """Starts a loop in a daemon thread; `run` hands it a coroutine and blocks for the result."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=main, name=name, daemon=True)
        self.thread.start()
        ready.wait()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float | None = None) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


class LoopHost:
    """Start/close on a loop, as ``async with`` (the running loop) or ``with`` (a daemon thread's loop).

    Subclasses implement `_close_here`, which runs on the loop when the host closes.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: LoopThread | None = None  # set when `start` runs the loop in a thread of its own
        self._state_changed: asyncio.Event | None = None

    async def _close_here(self, wait: bool) -> None:
        raise NotImplementedError

    # lifecycle
    @property
    def clock(self) -> Clock:
        if self._clock is None:
            raise RuntimeError("the scheduler has no clock until it starts (or pass clock=...)")
        return self._clock

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def astart(self) -> Self:
        """Schedule on the running loop."""
        if self._loop is not None:
            raise RuntimeError("scheduler already started")
        self._loop = asyncio.get_running_loop()
        self._state_changed = asyncio.Event()
        if self._clock is None:
            self._clock = LoopClock(self._loop)
        return self

    def start(self) -> Self:
        """Schedule on a loop of its own, in a daemon thread (for synchronous apps)."""
        if self._loop is not None:
            raise RuntimeError("scheduler already started")
        thread = LoopThread("sleeptime-scheduler")
        try:
            thread.run(self.astart())
        except BaseException:
            thread.stop()
            raise
        self._thread = thread
        return self

    async def aclose(self, *, wait: bool = True) -> None:
        """Cancel pending timers; let in-flight runs finish (`wait=True`) or cancel them."""
        if self._loop is None:
            return
        await self._on_own_loop(lambda: self._close_here(wait))
        self._loop = None
        if (thread := self._thread) is not None:
            self._thread = None
            await asyncio.to_thread(thread.stop)

    def close(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Sync `aclose`, from any thread but the scheduler loop's own."""
        thread = self._thread
        if self._loop is None:
            return
        if thread is None:
            self._block_on_loop(self._close_here(wait), timeout)
            self._loop = None
            return
        try:
            thread.run(self._close_here(wait), timeout)
        finally:
            self._loop = None
            self._thread = None
            thread.stop(timeout)

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose(wait=exc is None)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(wait=exc is None)

    def _notify_state(self) -> None:
        """Wake every `ajoin`, which then rechecks its condition (on the loop's thread)."""
        if self._state_changed is not None:
            self._state_changed.set()
            self._state_changed = asyncio.Event()

    # thread hand-off: all scheduling state changes on the loop's thread
    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the scheduler is not running: use `async with`/`with IdleScheduler(...)`")
        return self._loop

    @staticmethod
    def _current_loop() -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None

    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        loop = self._require_loop()
        if self._current_loop() is loop:
            return fn()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the caller's thread
                future.set_exception(error)

        loop.call_soon_threadsafe(run)
        return future.result()

    async def _on_own_loop(self, make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """Await `make()` on the scheduler's loop, whichever loop the caller runs on."""
        loop = self._require_loop()
        if self._current_loop() is loop:
            return await make()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))

    async def _aon_loop(self, fn: Callable[[], _T]) -> _T:
        """`_on_loop` for coroutines: never blocks the caller's loop, whichever it is."""

        async def call() -> _T:
            return fn()

        return await self._on_own_loop(call)

    def _block_on_loop(self, coro: Coroutine[Any, Any, _T], timeout: float | None) -> _T:
        try:
            loop = self._require_loop()
            if self._current_loop() is loop:
                raise RuntimeError("a blocking call on the scheduler's own loop would deadlock: await its a-twin")
        except RuntimeError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
