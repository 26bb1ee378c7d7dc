"""Unit fixtures: an in-memory store with offline hash embeddings and a scripted model."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from sleeptime.testing import HashEmbeddings, ScriptedChatModel
from tests.scripts import staged_model


@pytest.fixture
def memory_store() -> InMemoryStore:
    return InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})


@pytest.fixture
def model() -> ScriptedChatModel:
    return staged_model()


@pytest.fixture
def app(memory_store: InMemoryStore, model: ScriptedChatModel) -> SleepTime:
    return SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=2)
