"""One context store per (BaseStore, tenant), reached through the runtime; wake state holds references."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.stores.parts import PartIndex
from sleeptime.stores.revisions import RawRevisions
from sleeptime.testing import ScriptedChatModel
from tests.unit.test_anysize import _codebase, scripted, tiny

__all__ = ["scripted", "tiny"]  # fixtures


def _count_builds(monkeypatch: pytest.MonkeyPatch, cls: Any, counts: Counter[tuple[int, str]]) -> None:
    original = cls.__init__

    def counting(self: Any, store: BaseStore, *args: Any, **kwargs: Any) -> None:
        original(self, store, *args, **kwargs)
        counts[(id(store), self.layout.tenant)] += 1

    monkeypatch.setattr(cls, "__init__", counting)


def test_one_folder_sleep_and_ask_build_one_context_store_and_part_index(
    tiny: SleepTime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores: Counter[tuple[int, str]] = Counter()
    indexes: Counter[tuple[int, str]] = Counter()
    _count_builds(monkeypatch, LearnedContextStore, stores)
    _count_builds(monkeypatch, PartIndex, indexes)
    tiny.ingest("code", folder=_codebase(tmp_path))
    assert tiny.sleep("code").published
    answer = tiny.ask("Which function returns value plus 7 for beta?", "code")
    assert answer.sources  # the large path: gather, the parts index and the warm-up all ran
    tiny.ask("Which function returns value plus 7 for beta?", "code", mode="test-time")
    assert stores == {(id(tiny.store), "default"): 1}
    assert indexes == {(id(tiny.store), "default"): 1}
    assert LearnedContextStore.shared(tiny.store, "other") is not LearnedContextStore.shared(tiny.store)
    assert stores[(id(tiny.store), "other")] == 1


def test_shared_stores_follow_the_base_store() -> None:
    a, b = InMemoryStore(), InMemoryStore()
    assert LearnedContextStore.shared(a) is LearnedContextStore.shared(a, "default")
    assert LearnedContextStore.shared(a) is not LearnedContextStore.shared(b)
    assert LearnedContextStore.shared(b).store is b


def test_a_large_wake_never_reads_the_whole_raw_text(
    tiny: SleepTime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny.ingest("code", folder=_codebase(tmp_path))
    tiny.sleep("code")
    n_chunks = tiny.learned_store().context("code").n_chunks
    fetched: list[int] = []
    original = RawRevisions.iter_chunks

    def counting(self: RawRevisions, *args: Any) -> Iterator[str]:
        for chunk in original(self, *args):
            fetched.append(1)
            yield chunk

    monkeypatch.setattr(RawRevisions, "iter_chunks", counting)
    monkeypatch.setattr(RawRevisions, "chunks_of", _refuse)
    answer = tiny.ask("Which function returns value plus 7 for beta?", "code")
    assert answer.sources and 0 < len(fetched) < n_chunks  # read until it could not fit, no further


def _refuse(*_: Any) -> Iterator[str]:
    raise AssertionError("a large wake read every chunk")


def test_a_small_context_answers_from_its_whole_raw_text(tiny: SleepTime, scripted: ScriptedChatModel) -> None:
    tiny.ingest("small", "A shop sells pens at 2 dollars each and has 10 pens.")
    tiny.sleep("small")
    n0 = len(scripted.calls)
    answer = tiny.ask("How much are the pens?", "small")
    assert answer.sources == []
    assert "A shop sells pens at 2 dollars each and has 10 pens." in scripted.calls[n0][1].text
