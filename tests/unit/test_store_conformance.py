"""The store conformance suite against InMemoryStore and an embedded ChromaStore."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from sleeptime.stores.chroma import ChromaStore
from tests.store_suite import MakeStore, StoreSuite


@pytest.fixture(params=["inmemory", "chroma-embedded"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    counter = iter(range(1000))

    def make(index: IndexConfig | None) -> BaseStore:
        if request.param == "inmemory":
            return InMemoryStore(index=index)
        return ChromaStore(path=tmp_path / f"db{next(counter)}", index=index)

    return make


class TestStoreConformance(StoreSuite):
    pass
