"""Stopping a sleep promptly: a stop flag per sleep run that its parts check before each model call.

LangGraph runs a superstep's tasks (a sleep's parts, one `Send` each) on a thread pool and, when the run ends
early (Ctrl-C, a failed task), waits for every task it started before raising; parts waiting for their turn
(``part_concurrency``) would then each make their model call. While a sync sleep runs in the main thread, a
Ctrl-C sets the run's flag before raising ``KeyboardInterrupt`` there (only where Python's own SIGINT handler
is installed); a part interrupted in its model call, or an async sleep cancelled, sets it too. A part that sees
the flag raises ``KeyboardInterrupt`` (the interrupt reaching it) instead of calling the model, so whichever
part's exception LangGraph re-raises, the caller sees the interrupt; nothing of the sleep is published, and the
notes of parts that finished are kept for the next sleep.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from types import FrameType

__all__ = ["check_not_stopped", "request_stop", "stoppable"]

_current: ContextVar[threading.Event | None] = ContextVar("sleeptime_stop", default=None)


def request_stop() -> None:
    """Stop the current sleep run: its parts not yet calling a model will not call one."""
    event = _current.get()
    if event is not None:
        event.set()


def check_not_stopped(what: str) -> None:
    """Raise ``KeyboardInterrupt`` when the current sleep run was stopped."""
    event = _current.get()
    if event is not None and event.is_set():
        raise KeyboardInterrupt(f"sleep stopped before {what}")


@contextlib.contextmanager
def stoppable() -> Iterator[threading.Event]:
    """A stop flag for the sleep run started inside (tasks copy the context, so they see it); Ctrl-C in the
    main thread sets it, and so does any exception or cancellation leaving the block."""
    event = threading.Event()
    token = _current.set(event)
    previous = None
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler:

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            event.set()
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as without us

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield event
    except BaseException:
        event.set()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _current.reset(token)
