"""ChromaStore against a real `chroma run` server on 127.0.0.1: conformance suite and restarts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore, IndexConfig

from sleeptime.errors import StoreError
from sleeptime.stores.chroma import ChromaStore
from tests.store_suite import MakeStore, StoreSuite

CHROMA = str(Path(sys.executable).with_name("chroma"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [CHROMA, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("chroma server did not answer its heartbeat within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("chroma-server"), free_port())
    srv.start()
    yield srv
    srv.stop()


_names = count()


@pytest.fixture
def make_store(server: Server) -> MakeStore:
    def make(index: IndexConfig | None) -> BaseStore:
        return ChromaStore(url=server.url, collection=f"suite{next(_names)}", index=index)

    return make


class TestStoreConformanceServer(StoreSuite):
    pass


def test_unreachable_server_raises_store_error_naming_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=url.replace(".", r"\.")):
        ChromaStore(url=url, retries=1, backoff_s=0.01)


def test_server_restart(tmp_path: Path) -> None:
    srv = Server(tmp_path / "db", free_port())
    srv.start()
    try:
        store = ChromaStore(url=srv.url, retries=2, backoff_s=0.05)
        acked = []
        for i in range(20):
            store.put(("r", f"t{i % 2}"), f"k{i}", {"i": i})
            acked.append(i)
        srv.stop()
        with pytest.raises(StoreError, match=srv.url.replace(".", r"\.")) as err:
            store.put(("r", "t0"), "late", {"i": -1})
        assert "attempt" in str(err.value)
        with pytest.raises(StoreError, match="3 attempt"):
            store.get(("r", "t0"), "k0")
        with pytest.raises(StoreError):
            store.search(("r",))
        srv.start()
        assert store.get(("r", "t0"), "k0") is not None
        store.put(("r", "t0"), "after", {"i": 100})
        for i in acked:
            item = store.get(("r", f"t{i % 2}"), f"k{i}")
            assert item is not None and item.value == {"i": i}
        assert store.get(("r", "t0"), "after") is not None
        assert store.list_namespaces() == [("r", "t0"), ("r", "t1")]
        fresh = ChromaStore(url=srv.url)
        assert len(fresh.search(("r",), limit=100)) == len(acked) + 1 + (1 if fresh.get(("r", "t0"), "late") else 0)
    finally:
        srv.stop()
