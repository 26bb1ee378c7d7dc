"""Several processes on one on-disk store (issue 30, item 3): a long-lived reader keeps working, and
sees what another process wrote (keys, versions and vector search), without restarting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sleeptime import SleepTime
from sleeptime.stores import ChromaStore
from sleeptime.testing import HashEmbeddings, scripted_model
from tests.store_suite import index_config

ROOT = Path(__file__).resolve().parents[2]


def _other_process(code: str) -> None:
    """Run `code` in a fresh Python process (with `path` set), as another program would."""
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, cwd=ROOT, timeout=300,
                   env={"PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})


def _app(path: Path) -> SleepTime:
    model = scripted_model()
    return SleepTime(path=path, embeddings=HashEmbeddings(64), sleep_model=model, wake_model=model, max_rounds=1)


def test_a_long_lived_reader_keeps_answering_after_another_process_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _app(store) as reader:
        reader.sleep("shop", "A shop sells pens at $2 each. Alice buys 3 pens.")
        assert reader.ask("How much?", "shop").version == 1
        _other_process(f"""
            from sleeptime import SleepTime
            from sleeptime.testing import HashEmbeddings, scripted_model
            m = scripted_model()
            with SleepTime(path={str(store)!r}, embeddings=HashEmbeddings(64), sleep_model=m, wake_model=m,
                           max_rounds=1) as app:
                for price in (3, 4, 5):  # new revisions and versions; collection deletes old attempts
                    app.sleep("shop", f"A shop sells pens at ${{price}} each. Alice buys 3 pens.")
                app.sleep("bakery", "Bread costs $3.")
        """)
        answers = [reader.ask("How much?", "shop") for _ in range(3)]  # raised StoreError before
        assert [a.version for a in answers] == [4, 4, 4]
        assert reader.learned("shop").version == 4  # type: ignore[union-attr]
        assert [c.context_id for c in reader.contexts()] == ["bakery", "shop"]
        assert reader.ask("How much is bread?", "bakery").version == 1


def test_vector_search_sees_another_processes_puts(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path, index=index_config(["text"]))
    store.put(("docs",), "a", {"text": "red fox"})
    assert [i.key for i in store.search(("docs",), query="blue whale")] == ["a"]
    _other_process(f"""
        from sleeptime.stores import ChromaStore
        from sleeptime.testing import HashEmbeddings
        s = ChromaStore(path={str(tmp_path)!r}, index={{"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]}})
        s.put(("docs",), "b", {{"text": "blue whale"}})
        s.delete(("docs",), "a")
    """)
    hits = store.search(("docs",), query="blue whale")
    assert [i.key for i in hits] == ["b"] and hits[0].score is not None
    assert store.get(("docs",), "a") is None


def test_keys_and_listings_are_current_without_a_reload(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path, index=index_config(["text"]))
    store.put(("n",), "a", {"text": "fox"})
    store.put(("n",), "c", {"text": "cat"})
    _other_process(f"""
        from sleeptime.stores import ChromaStore
        from sleeptime.testing import HashEmbeddings
        s = ChromaStore(path={str(tmp_path)!r}, index={{"dims": 64, "embed": HashEmbeddings(64), "fields": ["text"]}})
        s.put(("n",), "b", {{"text": "whale"}})
        s.delete(("n",), "a")
        s.put(("n",), "c", {{"text": "dog"}})
    """)
    client = store._client
    assert store.get(("n",), "a") is None and store.get(("n",), "c").value == {"text": "dog"}  # type: ignore[union-attr]
    assert sorted(i.key for i in store.search(("n",))) == ["b", "c"]
    assert store._client is client  # no reload was needed for these
    assert [i.key for i in store.search(("n",), query="whale", limit=1)] == ["b"]
    assert store._client is not client  # a vector search reloads first
