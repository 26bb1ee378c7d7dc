"""The TTL sweep re-checks expiry when it deletes (issue 30, item 5): a write landing between the
sweep's read and its delete survives, with its vectors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sleeptime.stores.chroma import ChromaStore
from sleeptime.stores.chroma import layout as chroma_layout
from tests.store_suite import index_config

T0 = 1_800_000_000 * 10**9


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    now = {"ns": T0}
    monkeypatch.setattr(chroma_layout, "clock", lambda: now["ns"])
    return now


@pytest.mark.parametrize("rewrite_ttl", [None, 5.0])
def test_a_write_in_the_sweep_window_survives(
    tmp_path: Path, clock: dict[str, int], monkeypatch: pytest.MonkeyPatch, rewrite_ttl: float | None
) -> None:
    sweeper = ChromaStore(path=tmp_path, index=index_config(["text"]))
    writer = ChromaStore(client=sweeper._client, index=index_config(["text"]))  # another handle
    sweeper.put(("n",), "k", {"text": "old fox"}, ttl=1)
    sweeper.put(("n",), "gone", {"text": "old fox"}, ttl=1)
    clock["ns"] += 2 * 60 * 10**9  # both expired
    read = sweeper._expired

    def read_then_rewrite() -> dict[str, Mapping[str, Any]]:
        found = read()  # the sweep has decided "k" is expired ...
        writer.put(("n",), "k", {"text": "new fox"}, ttl=rewrite_ttl)  # ... and another handle rewrites it
        return found

    monkeypatch.setattr(sweeper, "_expired", read_then_rewrite)
    assert sweeper.sweep_ttl() == 1  # only "gone"
    item = sweeper.get(("n",), "k", refresh_ttl=False)
    assert item is not None and item.value == {"text": "new fox"}
    assert sweeper.get(("n",), "gone") is None
    hits = sweeper.search(("n",), query="new fox", refresh_ttl=False)
    assert [h.key for h in hits] == ["k"] and hits[0].score is not None  # its vectors are intact
    assert sweeper.collect(grace_s=0)["vectors"] >= 0
    assert [h.key for h in sweeper.search(("n",), query="new fox", refresh_ttl=False)] == ["k"]


def test_sweep_pages_through_many_expired_items(tmp_path: Path, clock: dict[str, int]) -> None:
    store = ChromaStore(path=tmp_path)
    store._max_batch = 7  # force several pages and delete batches
    for i in range(30):
        store.put(("n",), f"k{i}", {"i": i}, ttl=1)
    store.put(("n",), "forever", {"i": -1})
    clock["ns"] += 2 * 60 * 10**9
    assert store.sweep_ttl() == 30
    assert [i.key for i in store.search(("n",), limit=100)] == ["forever"]
    assert store.list_namespaces() == [("n",)]
