"""The background TTL sweeper: sweeps on its interval, survives a failing sweep, stops on request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sleeptime.stores.chroma import ChromaStore
from sleeptime.stores.chroma import layout as chroma_layout
from sleeptime.stores.chroma.sweeper import TTLSweeper
from tests.store_suite import index_config

TICK_MIN = 0.0005  # 30 ms


def _wait_for(cond: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_sweeps_repeatedly_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    calls = {"n": 0}

    def sweep() -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("store unreachable")
        return 3

    sweeper = TTLSweeper(sweep)
    with caplog.at_level(logging.ERROR):
        done = sweeper.start(TICK_MIN)
        assert sweeper.start(TICK_MIN) is done  # already running: same future, no second thread
        assert _wait_for(lambda: calls["n"] >= 4)
        assert sweeper.stop(timeout=5) and done.done() and not sweeper.running
    assert sweeper.failures == 1 and sweeper.swept == 3 * (calls["n"] - 1)
    assert "TTL sweep failed" in caplog.text and "store unreachable" in caplog.text
    after = calls["n"]
    time.sleep(TICK_MIN * 60 * 3)
    assert calls["n"] == after  # stopped means no more sweeps


def test_bad_interval_and_stop_without_start() -> None:
    sweeper = TTLSweeper(lambda: 0)
    with pytest.raises(ValueError, match="> 0 minutes"):
        sweeper.start(0)
    assert sweeper.stop() is True


def test_chroma_store_sweeper_deletes_expired_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = {"ns": 1_800_000_000 * 10**9}
    lock = threading.Lock()

    def clock() -> int:
        with lock:
            return now["ns"]

    monkeypatch.setattr(chroma_layout, "clock", clock)
    s = ChromaStore(path=tmp_path, index=index_config(["text"]), ttl={"sweep_interval_minutes": TICK_MIN})
    s.put(("n",), "short", {"text": "fox"}, ttl=1)
    s.put(("n",), "forever", {"text": "fox"})
    done = s.start_ttl_sweeper()  # interval from the TTL config
    try:
        with lock:
            now["ns"] += 2 * 60 * 10**9
        assert _wait_for(lambda: s._sweeper.swept == 1)
        assert [i.key for i in s.search(("n",), refresh_ttl=False)] == ["forever"]
    finally:
        assert s.stop_ttl_sweeper(timeout=10)
    assert done.done()
