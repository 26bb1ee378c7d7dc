"""ChromaStore against a real `chroma run` server on 127.0.0.1: conformance suite and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore, IndexConfig

from sleeptime.errors import StoreError
from sleeptime.stores.chroma import ChromaStore
from tests.servers import ChromaServer, free_port
from tests.store_suite import ChromaReliabilitySuite, MakeStore, OpenChroma, StoreSuite


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server"), free_port())
    srv.start()
    yield srv
    srv.stop()


_names = count()


@pytest.fixture
def make_store(server: ChromaServer) -> MakeStore:
    def make(index: IndexConfig | None) -> BaseStore:
        return ChromaStore(url=server.url, collection=f"suite{next(_names)}", index=index)

    return make


class TestStoreConformanceChromaServer(StoreSuite):
    pass


@pytest.fixture
def open_chroma(server: ChromaServer) -> OpenChroma:
    test = next(_names)

    def open_(name: str, index: IndexConfig | None) -> Any:
        return ChromaStore(url=server.url, collection=f"{name[:24]}{test}", index=index)

    return open_


class TestReliabilityChromaServer(ChromaReliabilitySuite):
    pass


def test_unreachable_server_raises_store_error_naming_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=url.replace(".", r"\.")):
        ChromaStore(url=url, retries=1, backoff_s=0.01)


def test_server_restart(tmp_path: Path) -> None:
    srv = ChromaServer(tmp_path / "db", free_port())
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
