"""Issue 11's store defects against an embedded (on-disk) ChromaStore; the server runs the same suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import IndexConfig

from sleeptime.stores import ChromaStore
from tests.store_suite import ChromaReliabilitySuite, OpenChroma


@pytest.fixture
def open_chroma(tmp_path: Path) -> OpenChroma:
    def open_(name: str, index: IndexConfig | None) -> Any:
        return ChromaStore(path=tmp_path / name, index=index)

    return open_


class TestEmbeddedReliability(ChromaReliabilitySuite):
    pass
