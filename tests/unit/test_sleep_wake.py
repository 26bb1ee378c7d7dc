"""The sleep and wake graphs end to end on a scripted model and an in-memory store."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.errors import (
    EmptyContextError,
    InvalidInputError,
    ModelOutputError,
    NotSleptError,
    UnknownContextError,
    UnreadableFileError,
)
from sleeptime.facade import SleepTime
from sleeptime.prompts.answer import BUDGET_INSTRUCTIONS
from sleeptime.testing import ScriptedChatModel
from tests.scripts import PREDICTIONS, staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


def test_sleep_publishes_learned_context_and_questions(app: SleepTime) -> None:
    result = app.sleep("shop", CONTEXT)
    assert result.published and result.version == 1
    assert "3 x 2 = $6" in result.learned[0]
    assert "STATUS" not in result.learned[0]
    assert result.questions[0]["question"] == "How much does Alice pay for the pens?"
    assert result.usage.calls == 2  # one reflect round (model said DONE) + predict
    assert result.usage.output_tokens > 0
    learned = app.learned("shop")
    assert learned is not None and learned.version == 1 and learned.text == result.learned[0]


def test_reflect_loops_until_max_rounds_when_never_done(memory_store: InMemoryStore) -> None:
    rounds = [f"note after round {i}\nSTATUS: CONTINUE" for i in range(1, 10)]
    model = staged_model(reflect=rounds)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=3)
    result = app.sleep("shop", CONTEXT)
    reflect_calls = model.calls_for("reflect")
    assert len(reflect_calls) == 3
    assert result.learned == ["- note after round 3"]  # published as checked notes, one item a line
    # Each round sees the previous round's notes.
    assert "note after round 2" in reflect_calls[2][1].text


def test_k_samples_are_merged_into_one_block(memory_store: InMemoryStore) -> None:
    # Facts of samples other than the first need a majority (sleeptime.notes.hygiene); see test_sleep_samples.py.
    replies = ["first fact\nSTATUS: DONE", "shared fact\nSTATUS: DONE", "shared fact\nSTATUS: DONE"]
    model = staged_model(reflect=replies)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3)
    result = app.sleep("shop", CONTEXT)
    assert len(model.calls_for("reflect")) == 3
    learned = app.learned("shop")
    assert learned is not None and result.learned == [learned.text]
    assert "shared fact" in learned.text


def test_wake_answers_from_learned_context_with_token_accounting(app: SleepTime, model: ScriptedChatModel) -> None:
    slept = app.sleep("shop", CONTEXT)
    answer = app.ask("How much does Alice pay for the pens?", "shop")
    assert answer.route == "learned" and answer.version == 1
    assert answer.verdict == "accept" and answer.escalations == 0
    assert answer.answer.endswith("The answer is 6.")
    assert answer.wake_usage.calls == 1 and answer.wake_usage.input_tokens > 0
    assert answer.sleep_usage == slept.usage
    prompt = model.calls[-1][1].text
    assert "Your notes" in prompt and "3 x 2 = $6" in prompt
    assert "Questions you expected" in prompt


def test_test_time_baseline_sees_raw_context_only(app: SleepTime, model: ScriptedChatModel) -> None:
    app.sleep("shop", CONTEXT)
    answer = app.ask("How much does Alice pay?", "shop", mode="test-time", budget=4)
    assert answer.route == "test-time" and answer.version is None and answer.budget == 4
    _, human = model.calls[-1]
    assert human.text.endswith(BUDGET_INSTRUCTIONS[4])
    assert CONTEXT in human.text and "Your notes" not in human.text
    assert answer.sleep_usage.calls == 0


@pytest.mark.parametrize(
    ("budget", "phrase"),
    [(0, "one sentence"), (1, "one short sentence"), (2, "two sentences"), (3, "only the reasoning"),
     (4, "step by step")],
)
def test_budget_levels_reach_the_prompt(app: SleepTime, model: ScriptedChatModel, budget: int, phrase: str) -> None:
    app.sleep("shop", CONTEXT)
    app.ask("How much?", "shop", budget=budget)
    # The instruction is the last thing the model reads.
    assert phrase in model.calls[-1][1].text.split("Question: How much?")[1]


def test_verify_escalates_with_more_budget_then_accepts(memory_store: InMemoryStore) -> None:
    verdicts = [json.dumps({"verdict": "reject", "reason": "wrong total"}), json.dumps({"verdict": "accept"})]
    model = staged_model(answer=["The answer is 5.", "3 x 2 = 6. The answer is 6."], verify=verdicts)
    app = SleepTime(
        store=memory_store, sleep_model=model, wake_model=model, verify="model", raw_context_at_wake=False, budget=1
    )
    app.sleep("shop", CONTEXT)
    answer = app.ask("How much does Alice pay for the pens?", "shop")
    assert answer.escalations == 1 and answer.verdict == "accept" and answer.budget == 3
    assert answer.answer.endswith("The answer is 6.")
    answer_calls = model.calls_for("answer")
    assert CONTEXT not in answer_calls[0][1].text  # first try: learned context only
    assert CONTEXT in answer_calls[1][1].text  # escalation: raw context added
    assert answer.wake_usage.calls == 4  # answer, verify, answer, verify


def test_verify_stops_after_max_escalations(memory_store: InMemoryStore) -> None:
    model = staged_model(answer="I don't know.")
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_escalations=2)
    app.sleep("shop", CONTEXT)
    answer = app.ask("How much?", "shop")
    assert answer.verdict == "unverified" and answer.escalations == 2
    assert "no answer given" in answer.reason


def test_malformed_json_is_retried_then_used(memory_store: InMemoryStore) -> None:
    model = staged_model(predict=["Sure! Here are questions: {not json", "```json\n" + PREDICTIONS + "\n```"])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model)
    result = app.sleep("shop", CONTEXT)
    assert result.published and len(result.questions) == 1
    predict_calls = model.calls_for("predict")
    assert len(predict_calls) == 2
    assert "could not be used" in predict_calls[1][-1].text  # the retry shows the model its error


def test_malformed_json_every_time_raises_and_keeps_published_version(memory_store: InMemoryStore) -> None:
    good = SleepTime(store=memory_store, sleep_model=staged_model(), wake_model=staged_model())
    good.sleep("shop", CONTEXT)
    bad_model = staged_model(predict="no json here at all")
    bad = SleepTime(store=memory_store, sleep_model=bad_model, wake_model=bad_model, json_retries=2)
    with pytest.raises(ModelOutputError, match="not valid JSON") as info:
        bad.sleep("shop")
    assert info.value.attempts == 3
    learned = good.learned("shop")
    assert learned is not None and learned.version == 1
    assert len(good.learned_store().questions("shop", 1)) == 1


def test_empty_context_is_rejected_and_stored_data_kept(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    with pytest.raises(EmptyContextError, match="empty"):
        app.ingest("shop", "   \n ")
    with pytest.raises(EmptyContextError):
        app.sleep("shop", "")
    assert app.learned_store().raw_text("shop").startswith("A shop sells pens")
    assert app.learned("shop") is not None


def test_unknown_context_id_is_a_typed_error(app: SleepTime) -> None:
    with pytest.raises(UnknownContextError, match="no context 'nowhere'"):
        app.sleep("nowhere")
    with pytest.raises(UnknownContextError):
        app.ask("How much?", "nowhere")
    with pytest.raises(UnknownContextError):
        app.ask("How much?", "nowhere", mode="test-time")


def test_ask_before_sleep_answers_test_time_and_says_so(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT)
    answer = app.ask("How much?", "shop")
    assert answer.route == "test-time"
    assert answer.version is None
    assert answer.reason.startswith("no published learned context")
    plain = app.ask("How much?", "shop", mode="test-time")
    assert plain.route == "test-time"
    assert not plain.reason.startswith("no published")


def test_ask_before_sleep_raises_for_strict_callers(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT)
    with pytest.raises(NotSleptError, match="run sleep first"):
        app.ask("How much?", "shop", unslept_fallback=False)
    with pytest.raises(UnknownContextError):
        app.ask("How much?", "nowhere")


def test_unreadable_file_changes_nothing(app: SleepTime, tmp_path: Path) -> None:
    app.ingest("shop", CONTEXT)
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(UnreadableFileError, match="not UTF-8"):
        app.ingest("shop", files=[binary])
    with pytest.raises(UnreadableFileError, match="no such file"):
        app.ingest("shop", files=[tmp_path / "missing.md"])
    assert app.learned_store().context("shop").revision == 1
    assert app.learned_store().raw_text("shop").startswith("A shop sells pens")


def test_files_are_ingested(app: SleepTime, tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Shop\nPens cost $2 each.\n", encoding="utf-8")
    record = app.ingest("shop", files=[doc])
    assert record.sources == [str(doc)]
    assert "Pens cost $2" in app.learned_store().raw_text("shop")


@pytest.mark.parametrize("bad", ["", " ", "a.b", "*", "x" * 300, "line\nbreak"])
def test_bad_context_ids_are_rejected(app: SleepTime, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        app.ingest(bad, CONTEXT)


@pytest.mark.parametrize("bad", ["*", "a.b", ""])
def test_bad_tenants_are_rejected(memory_store: InMemoryStore, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        SleepTime(store=memory_store, sleep_model=staged_model(), tenant=bad).ingest("shop", CONTEXT)


def test_bad_question_and_budget_are_rejected(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    with pytest.raises(InvalidInputError, match="question"):
        app.ask("  ", "shop")
    with pytest.raises(InvalidInputError, match="budget"):
        app.ask("How much?", "shop", budget=9)


def test_reingest_during_sleep_does_not_publish_stale_notes(memory_store: InMemoryStore) -> None:
    holder: dict[str, SleepTime] = {}

    def reflect_and_change_context(messages: list[Any]) -> str:
        holder["app"].ingest("shop", "A new price list: pens cost $3 each.")
        return "old notes\nSTATUS: DONE"

    model = staged_model(reflect=reflect_and_change_context)
    app = holder["app"] = SleepTime(store=memory_store, sleep_model=model, wake_model=model)
    app.ingest("shop", CONTEXT)
    result = app.sleep("shop")
    assert not result.published and result.status.startswith("stale")
    assert app.learned("shop") is None


def test_versions_increase_and_old_ones_are_pruned(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT)
    for expected in range(1, 7):
        assert app.sleep("shop").version == expected
    store = app.learned_store()
    # The three newest versions stay readable for readers that resolved an older head.
    assert all(store.version("shop", v) is not None for v in (4, 5, 6))
    assert store.version("shop", 3) is None and store.questions("shop", 3) == []


class SlowPutStore(InMemoryStore):
    """An in-memory store whose writes take time, to widen the window a racing reader could hit.

    Each operation is made atomic with a lock (InMemoryStore's dicts are not safe to search while
    another thread writes); operations still interleave freely, which is what the test is about.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._op_lock = threading.Lock()

    def batch(self, ops: Any) -> Any:
        ops = list(ops)
        if any(type(op).__name__ == "PutOp" for op in ops):
            time.sleep(0.002)
        with self._op_lock:
            return super().batch(ops)


def test_reader_during_publish_sees_old_or_new_never_a_mix() -> None:
    from sleeptime.testing import HashEmbeddings

    store = SlowPutStore(index={"dims": 32, "embed": HashEmbeddings(32), "fields": ["text", "question"]})
    versions = iter(range(1, 1000))

    def numbered(kind: str) -> Any:
        def reply(messages: list[Any]) -> str:
            n = next(versions)
            if kind == "reflect":
                return f"notes generation {n}\nSTATUS: DONE"
            qs = [{"question": f"question {i} of generation {n}?", "answer": f"{n}"} for i in range(4)]
            return json.dumps({"questions": qs})
        return reply

    model = staged_model(reflect=numbered("reflect"), predict=numbered("predict"))
    app = SleepTime(store=store, sleep_model=model, wake_model=model, n_questions=4)
    app.ingest("shop", CONTEXT)
    app.sleep("shop")
    stop = threading.Event()
    seen: list[tuple[int, str, list[str]]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        learned_store = app.learned_store()
        try:
            while not stop.is_set():
                learned = learned_store.require_latest("shop")
                answers = [qa["answer"] for qa in learned_store.questions("shop", learned.version)]
                seen.append((learned.version, learned.text, answers))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(5):
        app.sleep("shop")
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len({v for v, _, _ in seen}) > 1, "readers should have seen more than one version"
    for version, text, answers in seen:
        generation = text.split()[-1]
        # Every question of the version read was written by the same sleep run as its notes.
        assert len(answers) == 4 and len(set(answers)) == 1, (version, answers)
        assert int(answers[0]) == int(generation) + 1


def test_async_twins_match_sync(memory_store: InMemoryStore) -> None:
    import asyncio

    def build() -> SleepTime:
        model = staged_model()
        return SleepTime(store=InMemoryStore(index=memory_store.index_config), sleep_model=model, wake_model=model)

    sync_app, async_app = build(), build()
    sync_app.ingest("shop", CONTEXT)
    s_sleep = sync_app.sleep("shop")
    s_answer = sync_app.ask("How much does Alice pay?", "shop")

    async def run() -> tuple[Any, Any]:
        await async_app.aingest("shop", CONTEXT)
        return await async_app.asleep("shop"), await async_app.aask("How much does Alice pay?", "shop")

    a_sleep, a_answer = asyncio.run(run())
    assert a_sleep == s_sleep
    assert a_answer == s_answer


def test_stream_answer_yields_the_answer_tokens(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    tokens = list(app.stream_answer("How much does Alice pay?", "shop"))
    assert len(tokens) > 3
    assert "".join(tokens).strip().endswith("The answer is 6.")


async def test_astream_answer_yields_the_answer_tokens(app: SleepTime) -> None:
    await app.asleep("shop", CONTEXT)
    tokens = [t async for t in app.astream_answer("How much does Alice pay?", "shop")]
    assert "".join(tokens).strip().endswith("The answer is 6.")


def test_sleep_with_progress_returns_the_same_result(memory_store: InMemoryStore) -> None:
    plain = SleepTime(store=InMemoryStore(index=memory_store.index_config), sleep_model=staged_model(),
                      wake_model=staged_model())
    shown = SleepTime(store=memory_store, sleep_model=staged_model(), wake_model=staged_model())
    assert shown.sleep("shop", CONTEXT, progress=True) == plain.sleep("shop", CONTEXT)
