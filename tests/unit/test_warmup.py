"""Publish-time warm-up hooks and the cache-friendly answer prompt layout (no real model)."""

from __future__ import annotations

from pathlib import Path

from langchain_core.runnables import RunnableBinding
from langgraph.store.memory import InMemoryStore

from sleeptime.config import SleepTimeConfig
from sleeptime.facade import SleepTime
from sleeptime.local.chat import EmbeddedChatModel
from sleeptime.local.prefix_cache import PrefixKey
from sleeptime.prompts.answer import build_answer_messages
from sleeptime.stores.learned import LearnedContextStore
from sleeptime.testing import ScriptedChatModel
from sleeptime.warmup import bind_prefix_state, prompt_variants, warm_published
from tests.scripts import staged_model

QA = [
    {"question": "How much do 3 pens cost?", "answer": "6"},
    {"question": "Alice has how many pens?", "answer": "3"},
    {"question": "What is the pen price?", "answer": "2"},
]


def _state(question: str, related: list[dict[str, str]]) -> dict[str, object]:
    return {"question": question, "learned": "Pens cost $2.", "raw_context": "Alice buys 3 pens.",
            "with_raw_context": True, "related": related, "current_budget": 1}


def _text(state: dict[str, object]) -> str:
    return "\n".join(m.text for m in build_answer_messages(state))  # type: ignore[arg-type]


def test_shared_prompt_part_is_byte_stable_and_the_question_comes_last() -> None:
    # Nearest-first order differs per question; the prompt up to the question must not.
    a = _text(_state("How much do 3 pens cost?", QA))
    b = _text(_state("What does a pen cost?", list(reversed(QA))))
    shared = a[: a.index("Question: ")]
    assert b.startswith(shared)
    assert all(qa["question"] in shared for qa in QA)
    assert shared.index("Alice buys 3 pens.") < shared.index("Pens cost $2.") < shared.index("Expected question")
    assert a[len(shared):].startswith("Question: How much do 3 pens cost?\n\n"), "budget instruction last"


def _published(app: SleepTime) -> LearnedContextStore:
    app.sleep("ctx", "Alice buys 3 pens at $2 each.")
    return app.learned_store()


def test_prompt_variants_match_what_the_answer_step_sends(memory_store: InMemoryStore) -> None:
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    store = _published(app)
    variants = prompt_variants(app.config, store, "ctx", 1)
    assert len(variants) == 2
    first, second = ("\n".join(m.text for m in v) for v in variants)
    head = first[: first.index("Question: ")]
    assert second.startswith(head) and first != second
    app.ask("How much does Alice pay for the pens?", "ctx")
    sent = [c for c in model.calls if "Question: How much does Alice pay" in c[-1].text]
    assert sent
    assert "\n".join(m.text for m in sent[0]).startswith(head)


def test_scripted_models_are_not_warmed_unless_asked(memory_store: InMemoryStore) -> None:
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    store = _published(app)
    calls = len(model.calls)
    assert warm_published(app.config, store, "ctx", 1) == []
    assert len(model.calls) == calls, "auto mode warms embedded models only"


def test_server_warm_up_is_one_call_counted_as_sleep(memory_store: InMemoryStore) -> None:
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    store = _published(app)
    cfg = SleepTimeConfig(sleep_model=model, wake_model=model, warm_prefix="on")
    before = len(model.calls)
    (record,) = warm_published(cfg, store, "ctx", 1)
    assert len(model.calls) == before + 1
    assert record["phase"] == "sleep" and record["node"] == "warm_prefix" and record["input_tokens"] > 0
    assert model.calls[-1][-1].text.startswith(prompt_variants(cfg, store, "ctx", 1)[0][-1].text[:40])


def test_a_failing_warm_up_never_fails(memory_store: InMemoryStore) -> None:
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    store = _published(app)
    broken = ScriptedChatModel(replies=[RuntimeError("server down")])
    cfg = SleepTimeConfig(wake_model=broken, warm_prefix="on")
    assert warm_published(cfg, store, "ctx", 1) == []


def test_only_embedded_learned_answers_get_a_prefix_key(tmp_path: Path) -> None:
    embedded = EmbeddedChatModel(model_path=str(tmp_path / "m.gguf"))  # not loaded until called
    cfg = SleepTimeConfig(tenant="acme")
    learned = {"path": "learned", "context_id": "ctx", "version": 4}
    bound = bind_prefix_state(embedded, cfg, learned)
    assert isinstance(bound, RunnableBinding)
    assert bound.kwargs == {"prefix_key": PrefixKey("acme", "ctx", 4)}
    assert bind_prefix_state(embedded, cfg, {**learned, "path": "test-time"}) is embedded
    assert bind_prefix_state(embedded, cfg, {**learned, "version": None}) is embedded
    off = SleepTimeConfig(warm_prefix="off")
    assert bind_prefix_state(embedded, off, learned) is embedded
    scripted = ScriptedChatModel()
    assert bind_prefix_state(scripted, cfg, learned) is scripted


def test_a_context_larger_than_one_wake_prompt_warms_its_notes_not_its_raw_text(memory_store: InMemoryStore) -> None:
    # Its wakes put retrieved evidence after the notes, different for each question: the notes (as gather
    # fits them) are the shared prefix; the raw context is never sent (it failed so on an 80k-token codebase).
    model = staged_model()
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1)
    store = _published(app)
    small = SleepTimeConfig(sleep_model=model, wake_model=model, warm_prefix="on", context_window=4096)
    assert len(prompt_variants(small, store, "ctx", 1)) == 2
    tiny = SleepTimeConfig(sleep_model=model, wake_model=model, warm_prefix="on", context_window=4096,
                           wake_context_tokens=40)
    variants = prompt_variants(tiny, store, "ctx", 1)
    assert len(variants) == 2
    texts = ["\n".join(m.text for m in v) for v in variants]
    assert "Alice buys 3 pens at $2 each." not in texts[0]
    assert texts[0].index("Your notes") < texts[0].index("Situation:")


def test_one_usage_figure_per_sleep(memory_store: InMemoryStore) -> None:
    model = staged_model(publish="ok")  # the warm-up call is made from the publish node
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1, warm_prefix="on")
    app.ingest("ctx", "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4.")
    result = app.sleep("ctx")
    assert result.warm_usage.calls == 1, "the warm-up is reported apart"
    answer = app.ask("How much does Alice pay?", "ctx")
    assert answer.sleep_usage == result.usage, "the result and the version report the same sleep"
    assert result.usage.calls >= 2
