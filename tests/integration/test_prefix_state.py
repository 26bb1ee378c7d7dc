"""Saved prompt states on a real embedded model (SmolLM2-135M, greedy): the same answer as a cold
prefill, whatever happened to the saved file; one context's state never answers another's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.store.memory import InMemoryStore

pytest.importorskip("llama_cpp")

from sleeptime.facade import SleepTime
from sleeptime.local import prefix_cache
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.prefix_cache import PrefixCache, PrefixKey, PrefixState
from sleeptime.models import resolve_chat_model
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

CONTEXTS = {
    "farm": "A farm has 12 cows and 7 goats. Each cow gives 9 litres of milk a day. "
    "The goats are kept in a red barn beside the orchard, which has 40 apple trees.",
    "shop": "A bike shop sells 5 helmets at $30 each and 8 locks at $12 each. "
    "The shop is open from 9 to 17 and its owner is called Mira.",
}
QUESTION = {"farm": "How many goats does the farm have?", "shop": "Who owns the shop?"}


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedChatModel:
    model = resolve_chat_model(
        "embedded:smollm2-135m", max_tokens=16, cache_dir=tmp_path_factory.mktemp("models")
    )
    assert isinstance(model, EmbeddedChatModel)
    return model


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PrefixCache]:
    previous = prefix_cache._default
    yield prefix_cache.configure_prefix_cache(tmp_path / "states")
    prefix_cache._default = previous


def _prompt(context: str, question: str) -> list[BaseMessage]:
    state = {"question": question, "learned": f"Notes: {context}", "raw_context": context,
             "with_raw_context": True, "related": [], "current_budget": 0}
    return build_answer_messages(state)  # type: ignore[arg-type]


def _precompute(model: EmbeddedChatModel, name: str, version: int = 1, text: str | None = None) -> PrefixState:
    context = text or CONTEXTS[name]
    entry = model.precompute_prefix(PrefixKey("t", name, version),
                                    [_prompt(context, "What is first?"), _prompt(context, "Which is next?")])
    assert entry is not None
    return entry


def _ask(model: EmbeddedChatModel, name: str, *, key: PrefixKey | None, text: str | None = None) -> AIMessage:
    model._loaded().llama.reset()  # an empty context: only a saved state can spare the prefill
    messages = _prompt(text or CONTEXTS[name], QUESTION[name])
    reply = model.invoke(messages, prefix_key=key) if key else model.invoke(messages)
    assert isinstance(reply, AIMessage)
    return reply


def _cached(reply: AIMessage) -> int:
    details = (reply.usage_metadata or {}).get("input_token_details") or {}
    return int(details.get("cache_read", 0))


def test_a_saved_state_spares_the_prefill_and_gives_the_cold_answer(
    smol: EmbeddedChatModel, cache: PrefixCache
) -> None:
    entry = _precompute(smol, "farm")
    cold = _ask(smol, "farm", key=None)
    warm = _ask(smol, "farm", key=PrefixKey("t", "farm", 1))
    assert warm.content == cold.content and cold.content
    assert _cached(cold) == 0
    assert _cached(warm) == len(entry.tokens)
    assert warm.usage_metadata and cold.usage_metadata
    assert warm.usage_metadata["input_tokens"] == cold.usage_metadata["input_tokens"]
    cache.forget_memory()
    from_disk = _ask(smol, "farm", key=PrefixKey("t", "farm", 1))
    assert from_disk.content == cold.content and _cached(from_disk) == len(entry.tokens)


@pytest.mark.parametrize("damage", ["missing", "truncated", "foreign", "refused"])
def test_a_bad_state_falls_back_to_a_cold_prefill_with_the_same_answer(
    smol: EmbeddedChatModel, cache: PrefixCache, damage: str
) -> None:
    key = PrefixKey("t", "farm", 1)
    entry = _precompute(smol, "farm")
    cold = _ask(smol, "farm", key=None)
    assert cache.directory is not None
    (path,) = cache.directory.glob("*.kv")
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-1000])
    elif damage == "foreign":  # the shop's state under the farm's name
        _precompute(smol, "shop")
        shop = next(p for p in cache.directory.glob("*.kv") if p != path)
        path.write_bytes(shop.read_bytes())
    else:  # a well-formed file whose state llama.cpp cannot load
        cache.put(key, smol.model_path, smol.n_ctx, PrefixState(entry.tokens, b"\x07" * 4096))
    cache.forget_memory()
    reply = _ask(smol, "farm", key=key)
    assert reply.content == cold.content
    assert _cached(reply) == 0


def test_a_new_version_replaces_the_old_state(smol: EmbeddedChatModel, cache: PrefixCache) -> None:
    changed = CONTEXTS["farm"].replace("7 goats", "23 goats")
    _precompute(smol, "farm", version=1)
    new = _precompute(smol, "farm", version=2, text=changed)
    assert cache.directory is not None
    assert len(list(cache.directory.glob("*.kv"))) == 1, "version 1's state was dropped"
    assert cache.get(PrefixKey("t", "farm", 1), smol.model_path, smol.n_ctx) is None
    cold = _ask(smol, "farm", key=None, text=changed)
    warm = _ask(smol, "farm", key=PrefixKey("t", "farm", 2), text=changed)
    assert warm.content == cold.content and _cached(warm) == len(new.tokens)
    # Asking with the old key (a wake that read version 1 just before the flip) prefills cold.
    stale = _ask(smol, "farm", key=PrefixKey("t", "farm", 1), text=changed)
    assert stale.content == cold.content and _cached(stale) == 0


def test_concurrent_wakes_on_two_contexts_get_their_own_answers(
    smol: EmbeddedChatModel, cache: PrefixCache
) -> None:
    for name in CONTEXTS:
        _precompute(smol, name)
    cold = {name: _ask(smol, name, key=None).content for name in CONTEXTS}
    assert cold["farm"] != cold["shop"]
    got: dict[str, list[object]] = {name: [] for name in CONTEXTS}
    errors: list[BaseException] = []

    def wake(name: str) -> None:
        try:
            for _ in range(3):
                # No reset here: the two threads interleave on one loaded model.
                reply = smol.invoke(_prompt(CONTEXTS[name], QUESTION[name]), prefix_key=PrefixKey("t", name, 1))
                got[name].append(reply.content)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=wake, args=(name,)) for name in CONTEXTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got == {name: [cold[name]] * 3 for name in CONTEXTS}


def test_publish_saves_the_state_that_the_next_wake_loads(smol: EmbeddedChatModel, cache: PrefixCache) -> None:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    app = SleepTime(store=store, sleep_model=staged_model(), wake_model=smol, max_rounds=1, verify="off",
                    budget=0)
    slept = app.sleep("farm", CONTEXTS["farm"])
    assert slept.usage.input_tokens > 0
    assert cache.directory is not None and len(list(cache.directory.glob("*.kv"))) == 1
    smol._loaded().llama.reset()
    cache.forget_memory()
    answer = app.ask(QUESTION["farm"], "farm")
    assert answer.wake_usage.cache_read_tokens > 50
    app.sleep("farm", CONTEXTS["farm"] + " The farmer is called Ola.")
    assert len(list(cache.directory.glob("*.kv"))) == 1, "the old version's state is gone"
