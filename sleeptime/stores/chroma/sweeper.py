"""A background thread that deletes expired store items every few minutes.

The same calls as LangGraph's ``PostgresStore``: ``start_ttl_sweeper`` returns a Future that completes
when the sweeper stops, ``stop_ttl_sweeper`` asks it to stop and waits.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 5.0


class TTLSweeper:
    """Calls ``sweep`` (returns how many items it deleted) every ``interval_minutes`` in a daemon thread.

    A failed sweep is logged with its traceback and retried at the next interval: expired items only
    linger, nothing is lost, and the thread keeps going.
    """

    def __init__(self, sweep: Callable[[], int], name: str = "ttl-sweeper") -> None:
        self._sweep = sweep
        self._name = name
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done: concurrent.futures.Future[None] | None = None
        self.swept = 0
        """Items deleted by this sweeper so far."""
        self.failures = 0
        """Sweeps that raised (each one logged)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval_minutes: float | None = None) -> concurrent.futures.Future[None]:
        """Start sweeping (a no-op returning the same Future if already running)."""
        interval = DEFAULT_INTERVAL_MINUTES if interval_minutes is None else float(interval_minutes)
        if interval <= 0:
            raise ValueError(f"sweep interval must be > 0 minutes, got {interval_minutes}")
        with self._lock:
            if self.running and self._done is not None:
                return self._done
            self._stop.clear()
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._done = done
            self._thread = threading.Thread(target=self._loop, args=(interval * 60.0, done), name=self._name,
                                            daemon=True)
            self._thread.start()
            return done

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to stop; True once it has (or none was running), False if ``timeout`` ran out."""
        with self._lock:
            thread = self._thread
            self._stop.set()
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self, interval_s: float, done: concurrent.futures.Future[None]) -> None:
        try:
            while not self._stop.wait(interval_s):
                try:
                    self.swept += self._sweep()
                except Exception:
                    self.failures += 1
                    log.exception("TTL sweep failed; retrying in %.0f s", interval_s)
        finally:
            done.set_result(None)
