"""Batches of any size (issue 30, item 6): more keys than SQLite's 32,766 variables in one batch, and a
folder past the documented limits refused with a typed error before anything is read or stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.base import GetOp, PutOp

from sleeptime.errors import InvalidInputError
from sleeptime.large import sources
from sleeptime.stores import ChromaStore
from tests.reliability.test_typed_failures import _app


def test_a_batch_of_more_gets_than_sqlite_variables(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path)
    store.batch([PutOp(("n",), f"k{i}", {"i": i}, index=False) for i in range(0, 40_000, 1000)])
    got = store.batch([GetOp(("n",), f"k{i}") for i in range(40_000)])  # failed past 32,766 keys
    assert sum(r is not None for r in got) == 40


def test_listings_page_past_any_fixed_limit(tmp_path: Path) -> None:
    from sleeptime.stores import batching

    store = ChromaStore(path=tmp_path)
    store.batch([PutOp(("n",), f"k{i:03d}", {"i": i}, index=False) for i in range(250)])
    assert len(list(batching.search_all(store, ("n",), page=40))) == 250


@pytest.mark.parametrize(("limit", "value", "says"), [
    ("MAX_FOLDER_FILES", 5, "more than 5 files to ingest"),
    ("MAX_FOLDER_BYTES", 100, "more than 100 bytes of text"),
])
def test_a_folder_past_the_limits_is_refused_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int, says: str
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(8):
        (folder / f"f{i}.md").write_text(f"File {i}: pens cost ${i} each.")
    monkeypatch.setattr(sources, limit, value)
    app = _app()
    with pytest.raises(InvalidInputError, match=f"{says}.*sleeptime.large.sources.{limit}"):
        app.ingest("docs", folder=folder)
    assert app.contexts() == []  # nothing stored
    monkeypatch.undo()
    assert app.ingest("docs", folder=folder).n_chunks == 8


@pytest.mark.parametrize("expire", [False, True])
def test_paging_at_an_offset_matches_the_exact_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expire: bool
) -> None:
    import time

    from sleeptime.stores.chroma import layout as chroma_layout

    now = {"ns": time.time_ns()}
    monkeypatch.setattr(chroma_layout, "clock", lambda: now["ns"])
    store = ChromaStore(path=tmp_path)
    for i in range(30):
        store.put(("n",), f"k{i:02d}", {"i": i}, index=False, ttl=1 if (expire and i == 3) else None)
    now["ns"] += 2 * 60 * 10**9  # k03 expired (unswept) when `expire`
    keys = [f"k{i:02d}" for i in range(30) if not (expire and i == 3)]
    for offset in (1, 10, 25):
        page = store.search(("n",), limit=5, offset=offset, refresh_ttl=False)
        assert [i.key for i in page] == keys[offset : offset + 5]
