"""ChromaStore specifics: construction, persistence, TTL, offline embedding, crash durability."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from langgraph.store.base import PutOp

from sleeptime.errors import InvalidInputError, StoreError
from sleeptime.stores.chroma import ChromaStore, PrecomputedOnly
from sleeptime.stores.chroma import layout as chroma_layout
from sleeptime.stores.chroma import search as chroma_search
from sleeptime.testing import HashEmbeddings
from tests.store_suite import index_config


class Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.ns

    def advance_minutes(self, minutes: float) -> None:
        self.ns += int(minutes * 60 * 10**9)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(chroma_layout, "clock", c)
    return c


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"path": "x", "url": "http://127.0.0.1:1"},
        {"path": "x", "collection": "a"},
        {"path": "x", "collection": "bad name"},
    ],
)
def test_constructor_validation(kwargs: dict[str, str], tmp_path: Path) -> None:
    if "path" in kwargs:
        kwargs = {**kwargs, "path": str(tmp_path)}
    with pytest.raises(InvalidInputError):
        ChromaStore(**kwargs)  # type: ignore[arg-type]


def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    # The first client call runs inside the constructor: everything `_call` reads must exist by then
    # (a server-mode store once failed with AttributeError here, before any server answered).
    with pytest.raises(StoreError, match=r"Chroma server at http://127\.0\.0\.1:9"):
        ChromaStore(url="http://127.0.0.1:9", index={"embed": HashEmbeddings(8), "fields": ["question"]})


def test_reopen_keeps_items_vectors_and_timestamps(tmp_path: Path) -> None:
    s = ChromaStore(path=tmp_path, index=index_config(["text"]))
    s.put(("t", "u"), "k", {"text": "hello fox"})
    before = s.get(("t", "u"), "k")
    del s
    again = ChromaStore(path=tmp_path, index=index_config(["text"]))
    after = again.get(("t", "u"), "k")
    assert before is not None and after is not None
    assert (after.value, after.created_at, after.updated_at) == (before.value, before.created_at, before.updated_at)
    hits = again.search(("t",), query="fox")
    assert [h.key for h in hits] == ["k"] and hits[0].score is not None and hits[0].score > 0.5
    assert again.list_namespaces() == [("t", "u")]


def test_client_argument_and_collections_are_separate(tmp_path: Path) -> None:
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path))
    a = ChromaStore(client=client, collection="one")
    b = ChromaStore(client=client, collection="two")
    a.put(("n",), "k", {"v": 1})
    assert b.get(("n",), "k") is None
    assert b.search(()) == [] and b.list_namespaces() == []


def test_chroma_never_embeds(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="must not embed"):
        PrecomputedOnly()(["text"])
    s = ChromaStore(path=tmp_path, index=index_config(["text"]))
    s.put(("n",), "k", {"text": "works offline"})  # sockets are disabled in unit tests
    assert s.search(("n",), query="offline")[0].key == "k"


def test_async_embedding_function(tmp_path: Path) -> None:
    emb = HashEmbeddings(64)

    async def aembed(texts: list[str]) -> list[list[float]]:
        return emb.embed_documents(texts)

    import asyncio

    s = ChromaStore(path=tmp_path, index={"dims": 64, "embed": aembed, "fields": ["text"]})

    async def run() -> list[str]:
        await s.aput(("n",), "k", {"text": "async embedded"})
        return [i.key for i in await s.asearch(("n",), query="embedded")]

    assert asyncio.run(run()) == ["k"]


def test_corrupt_record_raises_store_error(tmp_path: Path) -> None:
    s = ChromaStore(path=tmp_path)
    s.put(("n",), "k", {"v": 1})
    s._items.update(ids=[chroma_layout.item_id(("n",), "k")], metadatas=[{"v": "{not json"}])
    with pytest.raises(StoreError, match="corrupt"):
        s.get(("n",), "k")


def test_namespace_listing_drops_emptied_namespaces(tmp_path: Path) -> None:
    # InMemoryStore keeps listing a namespace after its last item is deleted; ChromaStore does not.
    s = ChromaStore(path=tmp_path)
    s.put(("a", "b"), "k", {"v": 1})
    s.put(("a", "c"), "k", {"v": 1})
    s.delete(("a", "b"), "k")
    assert s.list_namespaces() == [("a", "c")]
    s.put(("a", "b"), "k2", {"v": 1})
    assert s.list_namespaces() == [("a", "b"), ("a", "c")]


def test_ttl_expiry_refresh_and_sweep(tmp_path: Path, clock: Clock) -> None:
    s = ChromaStore(path=tmp_path, index=index_config(["text"]), ttl={"default_ttl": 10})
    s.put(("n",), "default", {"text": "fox"})
    s.put(("n",), "short", {"text": "fox"}, ttl=1)
    s.put(("n",), "forever", {"text": "fox"}, ttl=None)
    clock.advance_minutes(0.5)
    assert s.get(("n",), "short") is not None  # refreshes: expires 1 min from now
    clock.advance_minutes(0.9)
    assert s.get(("n",), "short", refresh_ttl=False) is not None
    clock.advance_minutes(0.2)
    assert s.get(("n",), "short") is None  # expired: invisible everywhere
    assert {i.key for i in s.search(("n",))} == {"default", "forever"}
    assert {i.key for i in s.search(("n",), query="fox")} == {"default", "forever"}
    clock.advance_minutes(10.1)  # the searches above refreshed "default" to 10 min from then
    assert [i.key for i in s.search(("n",), refresh_ttl=False)] == ["forever"]
    assert s.sweep_ttl() == 2
    assert s.sweep_ttl() == 0
    assert s.get(("n",), "forever") is not None
    s.delete(("n",), "forever")
    assert s.list_namespaces() == []


def test_search_refreshes_ttl(tmp_path: Path, clock: Clock) -> None:
    s = ChromaStore(path=tmp_path, ttl={"refresh_on_read": True})
    s.put(("n",), "k", {"v": 1}, ttl=1)
    clock.advance_minutes(0.8)
    assert len(s.search(("n",))) == 1  # refresh
    clock.advance_minutes(0.8)
    assert len(s.search(("n",), refresh_ttl=False)) == 1
    clock.advance_minutes(0.3)
    assert s.search(("n",)) == []


CHILD = textwrap.dedent(
    """
    import sys
    from sleeptime.stores.chroma import ChromaStore
    s = ChromaStore(path=sys.argv[1])
    i = 0
    while True:
        s.put(("dur", f"t{i % 3}"), f"k{i}", {"i": i, "payload": "x" * (i % 50)})
        print(i, flush=True)
        i += 1
    """
)


def test_sigkill_mid_writes_loses_no_acknowledged_put(tmp_path: Path) -> None:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    acked: list[int] = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 40:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    acked.extend(int(line) for line in proc.stdout.read().split())
    proc.stdout.close()
    s = ChromaStore(path=tmp_path)
    for i in acked:
        item = s.get(("dur", f"t{i % 3}"), f"k{i}")
        assert item is not None, i
        assert item.value == {"i": i, "payload": "x" * (i % 50)}
    found = s.search(("dur",), limit=100_000)
    for item in found:  # nothing corrupt, including a put that may have been cut short
        assert item.value == {"i": int(item.key[1:]), "payload": "x" * (int(item.key[1:]) % 50)}
    assert len(found) >= len(acked)
    assert set(s.list_namespaces(prefix=("dur",))) <= {("dur", "t0"), ("dur", "t1"), ("dur", "t2")}
    json.dumps([i.dict() for i in found])  # every record decodes


@pytest.mark.parametrize("brute_max", [0, 2, 512])
def test_scoped_vector_collections_match_inmemory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, brute_max: int
) -> None:
    """Vectors live in one collection per two-label scope: fan-out over scopes for short
    prefixes, exact numpy scoring or a filtered query for deep ones, all ranked like InMemoryStore."""
    from langgraph.store.memory import InMemoryStore

    monkeypatch.setattr(chroma_search, "BRUTE_MAX", brute_max)
    s = ChromaStore(path=tmp_path, index=index_config(["text"]))
    ref = InMemoryStore(index=index_config(["text"]))
    words = ["fox", "dog", "cat", "bird", "fish", "owl"]
    for store in (s, ref):
        for i in range(36):
            ns = ("sleeptime", f"t{i % 3}", "questions", f"c{i % 2}", "v1") if i % 4 else ("sleeptime", f"t{i % 3}")
            store.put(ns, f"k{i}", {"text": f"{words[i % 6]} {words[(i * 5) % 6]} number {i}", "n": i % 5})
        store.put(("solo",), "k", {"text": "fox alone", "n": 1})
    client_side = {c.name for c in s._client.list_collections()}
    assert sum(name.startswith("sleeptime_v64_") for name in client_side) == 4  # t0, t1, t2, solo
    prefixes: list[tuple[str, ...]] = [
        (),
        ("sleeptime",),
        ("sleeptime", "t1"),
        ("sleeptime", "t1", "questions"),
        ("sleeptime", "t1", "questions", "c0", "v1"),
        ("sleeptime", "t9", "questions"),
        ("solo",),
    ]
    for prefix in prefixes:
        for flt in (None, {"n": 2}, {"n": {"$gte": 3}}):
            for limit in (1, 3, 50):
                got = s.search(prefix, query="fox dog", filter=flt, limit=limit)
                want = ref.search(prefix, query="fox dog", filter=flt, limit=limit)
                # equal scores may come in either order: compare scores in order, items as sets of ties
                assert [round(h.score or 0, 4) for h in got] == [round(h.score or 0, 4) for h in want]
                if limit == 50:
                    assert sorted((round(h.score or 0, 4), tuple(h.namespace), h.key) for h in got) == sorted(
                        (round(h.score or 0, 4), tuple(h.namespace), h.key) for h in want
                    )
                assert all(tuple(h.namespace)[: len(prefix)] == prefix for h in got)


OPENER = textwrap.dedent(
    """
    import sys, time
    from sleeptime.stores.chroma import ChromaStore
    root, start, who = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    for i in range(20):
        time.sleep(max(0.0, start + 0.4 * i - time.time()))  # every process opens path i together
        s = ChromaStore(path=f"{root}/db{i}")
        s.put(("race",), who, {"i": i})
    print("done", flush=True)
    """
)


def test_processes_create_one_new_path_together(tmp_path: Path) -> None:
    # Chroma creates its schema on first open; processes doing that at once failed ("table
    # collections already exists", "database is locked"): 3 of 120 opens without the retry.
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    start = f"{time.time() + 10:.3f}"
    procs = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), start, who], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for who in ("a", "b", "c")
    ]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0 and out.strip() == "done", err[-2000:]
    for i in range(20):
        s = ChromaStore(path=tmp_path / f"db{i}")
        assert {item.key for item in s.search(("race",))} == {"a", "b", "c"}


def test_registry_write_over_chromas_max_batch(tmp_path: Path) -> None:
    s = ChromaStore(path=tmp_path)
    n = int(s._client.get_max_batch_size()) + 40  # 5,461 + 40 on embedded Chroma 1.x
    s.batch([PutOp(("many", f"n{i}"), "k", {"i": i}) for i in range(n)])
    assert len(s.list_namespaces(prefix=("many",), limit=n + 1)) == n
