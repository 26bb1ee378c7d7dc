"""Collection does not trust clocks (issue 30, item 4): writers whose clocks are an hour off, a
collection in the middle of their write, and 0 lost or dangling versions.

Each writer's clock is skewed by patching what stamps its writes: attempt ids (`versions.time`) and
the Chroma item times (`chroma.layout.clock`). The collector runs at the worst moment: after the
writer wrote its data, before it claims.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sleeptime.errors import StoreError
from sleeptime.large.sources import split_source
from sleeptime.stores import ChromaStore
from sleeptime.stores import versions as versions_module
from sleeptime.stores.chroma import layout as chroma_layout
from sleeptime.stores.corpus import Loaded, store_context
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.stores.versions import Lease
from tests.store_suite import index_config

HOUR_NS = 3600 * 10**9


def _skew(monkeypatch: pytest.MonkeyPatch, offset_ns: int) -> None:
    real = time.time_ns
    monkeypatch.setattr(versions_module.time, "time_ns", lambda: real() + offset_ns)
    monkeypatch.setattr(chroma_layout, "clock", lambda: real() + offset_ns)


def _questions(tag: str, n: int = 3) -> list[Any]:
    return [{"question": f"q{i} {tag}", "answer": f"a {tag}"} for i in range(n)]


def _whole(lc: LearnedContextStore, version: int, tag: str) -> None:
    learned = lc.version("c", version)
    assert learned is not None and learned.samples == [tag]
    assert [q["answer"] for q in lc.questions("c", learned)] == [f"a {tag}"] * 3
    assert lc.source_text(learned) == "base text"


@pytest.fixture
def handles(tmp_path: Path) -> tuple[LearnedContextStore, LearnedContextStore]:
    writer = ChromaStore(path=tmp_path, index=index_config(["question", "text"]))
    collector = ChromaStore(client=writer._client, index=index_config(["question", "text"]))
    lc = LearnedContextStore(writer, "t")
    lc.put_chunks("c", ["base text"], ["<text>"])
    lc.publish("c", samples=["v1"], questions=_questions("v1"), source_revision=1)
    return lc, LearnedContextStore(collector, "t")


@pytest.mark.parametrize("skew", [-HOUR_NS, HOUR_NS])
def test_a_publish_in_flight_survives_collection_whatever_the_clocks(
    handles: tuple[LearnedContextStore, LearnedContextStore], monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    writer, collector = handles
    _skew(monkeypatch, skew)  # the writer's attempt id and item times are an hour off
    seal = Lease.seal

    def collect_then_seal(lease: Lease) -> None:
        _skew(monkeypatch, 0)  # the collector's clock is right; the writer's data is stamped an hour off
        collector.collect("c")  # default grace: the old age rule deleted a -1 h attempt here
        seal(lease)

    monkeypatch.setattr(Lease, "seal", collect_then_seal)
    assert writer.publish("c", samples=["v2"], questions=_questions("v2"), source_revision=1) == 2
    monkeypatch.setattr(Lease, "seal", seal)
    _whole(collector, 2, "v2")
    _whole(collector, 1, "v1")
    latest = collector.latest("c")
    assert latest is not None and latest.version == 2


def test_a_forced_collection_makes_the_writer_fail_typed_never_dangle(
    handles: tuple[LearnedContextStore, LearnedContextStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, collector = handles
    seal = Lease.seal

    def forced_collect_then_seal(lease: Lease) -> None:
        collector.collect("c", grace_s=0)  # presumes every unclaimed writer dead, this one included
        seal(lease)

    monkeypatch.setattr(Lease, "seal", forced_collect_then_seal)
    with pytest.raises(StoreError, match="was collected before it could claim"):
        writer.publish("c", samples=["v2"], questions=_questions("v2"), source_revision=1)
    monkeypatch.setattr(Lease, "seal", seal)
    latest = collector.latest("c")
    assert latest is not None and latest.version == 1  # the previous version, whole
    _whole(collector, 1, "v1")
    assert collector.head("c")["version"] == 1  # type: ignore[index]
    assert writer.publish("c", samples=["v2"], questions=_questions("v2"), source_revision=1) == 2  # a retry works
    _whole(collector, 2, "v2")


def test_a_sealed_writer_wins_against_a_forced_collection(
    handles: tuple[LearnedContextStore, LearnedContextStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, collector = handles
    _skew(monkeypatch, -HOUR_NS)
    claim = versions_module.claim
    calls = {"n": 0}

    def collect_before_the_version_claim(store: Any, ns: tuple[str, ...], key: str, value: dict[str, Any]) -> Any:
        if ns[2] == "versions":  # sealed already: the collector's insert loses
            calls["n"] += 1
            collector.collect("c", grace_s=0)
        return claim(store, ns, key, value)

    monkeypatch.setattr(versions_module, "claim", collect_before_the_version_claim)
    assert writer.publish("c", samples=["v2"], questions=_questions("v2"), source_revision=1) == 2
    assert calls["n"] == 1
    _whole(collector, 2, "v2")


@pytest.mark.parametrize("skew", [-HOUR_NS, HOUR_NS])
def test_pieces_of_an_ingest_in_flight_survive(
    handles: tuple[LearnedContextStore, LearnedContextStore], monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    writer, collector = handles
    _skew(monkeypatch, skew)
    put_chunks = LearnedContextStore.put_chunks

    def collect_then_put(self: LearnedContextStore, *args: Any, **kwargs: Any) -> Any:
        collector.collect("c")  # the new pieces are listed by no manifest yet
        return put_chunks(self, *args, **kwargs)

    monkeypatch.setattr(LearnedContextStore, "put_chunks", collect_then_put)
    text = "\n".join(f"line {i}: pens cost {i} dollars" for i in range(200))
    chunks = split_source(text, "<text>", 300, 0)
    record = store_context(writer, "c", Loaded(chunks, ["<text>"], []))
    assert record.revision == 2 and len(chunks) > 3
    assert [c.text for c in collector.parts.manifest("c", 2) or []] == [c.text for c in chunks]  # every piece there


def test_many_skewed_writers_leave_no_dangling_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishes from writers an hour ahead and an hour behind, interleaved with collections."""
    base = ChromaStore(path=tmp_path, index=index_config(["question"]))
    lc = LearnedContextStore(base, "t")
    lc.put_chunks("c", ["base text"], ["<text>"])
    published: dict[int, str] = {}
    for i in range(12):
        _skew(monkeypatch, (-1) ** i * HOUR_NS)
        tag = f"w{i}"
        published[lc.publish("c", samples=[tag], questions=_questions(tag), source_revision=1)] = tag
        _skew(monkeypatch, 0)
        lc.collect("c")
    assert sorted(published) == list(range(1, 13))
    for version in lc.versions("c"):
        _whole(lc, version, published[version])
    assert lc.versions("c") == [10, 11, 12]  # KEEP_VERSIONS kept, none dangling
