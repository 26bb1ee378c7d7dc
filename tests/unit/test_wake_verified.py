"""Verified predicted answers through the wake graph: path, reason, zero-token accounting, config."""

from __future__ import annotations

import json

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."
PREDICTED = "How much does Alice pay for the 3 pens?"
PREDICTIONS = json.dumps(
    {
        "questions": [
            {"question": PREDICTED, "answer": "3 x $2 = $6.\n#### 6"},
            {"question": "How much does the notebook cost?", "answer": "The notebook costs $4. The answer is 4."},
        ]
    }
)


def make_app(store: InMemoryStore, **overrides: object) -> tuple[SleepTime, object]:
    model = staged_model(predict=PREDICTIONS, verify=json.dumps({"verdict": "accept", "reason": "ok"}))
    options: dict[str, object] = {"serve_predicted": True, "match_threshold": 0.9, "max_rounds": 1}
    options.update(overrides)
    app = SleepTime(store=store, sleep_model=model, wake_model=model, **options)
    app.sleep("shop", CONTEXT)
    return app, model


def test_serve_predicted_is_off_by_default() -> None:
    cfg = SleepTimeConfig()
    assert cfg.serve_predicted is False
    assert cfg.verify_predicted == "rules"
    assert 0.0 < cfg.match_threshold <= 1.0


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_threshold_is_rejected(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="match_threshold"):
        SleepTimeConfig(match_threshold=bad)


def test_bad_verify_predicted_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="verify_predicted"):
        SleepTimeConfig(verify_predicted="maybe")  # type: ignore[arg-type]


def test_verified_match_is_served_with_zero_wake_tokens(memory_store: InMemoryStore) -> None:
    app, model = make_app(memory_store)
    calls_before = len(model.calls)  # type: ignore[attr-defined]
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "predicted"
    assert answer.answer == "The answer is 6."
    assert answer.verdict == "accept" and answer.escalations == 0
    assert answer.matched_question == PREDICTED
    assert answer.match_score is not None and answer.match_score >= 0.9
    assert PREDICTED in answer.reason and "wording ok" in answer.reason and "similarity ok" in answer.reason
    assert answer.wake_usage.calls == 0 and answer.wake_usage.total_tokens == 0
    assert len(model.calls) == calls_before  # type: ignore[attr-defined]
    assert answer.sleep_usage.calls > 0


def test_paraphrase_with_same_facts_is_served(memory_store: InMemoryStore) -> None:
    # HashEmbeddings score by shared words, so a word-order paraphrase keeps a high score.
    app, _ = make_app(memory_store, match_threshold=0.8)
    answer = app.ask("For the 3 pens, how much does Alice pay?", "shop")
    assert answer.route == "predicted", answer.match_reason
    assert answer.answer == "The answer is 6."


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("How much does Alice pay for the 4 pens?", "numbers failed"),
        ("How much does Bruno pay for the 3 pens?", "entities failed"),
        ("How much does Alice not pay for the 3 pens?", "polarity failed"),
        ("How much does Alice pay for the 3 pens in euros?", "units failed"),
        ("How much does Alice pay for each of the 3 pens?", "target failed"),
    ],
)
def test_changed_question_takes_the_answer_path(memory_store: InMemoryStore, question: str, why: str) -> None:
    app, model = make_app(memory_store, match_threshold=0.5)
    answer = app.ask(question, "shop")
    assert answer.route == "learned"
    assert answer.matched_question is None
    assert answer.match_reason is not None and why in answer.match_reason
    assert answer.wake_usage.calls >= 1  # the answer step ran
    assert model.nodes[-1] == "answer"  # type: ignore[attr-defined]


def test_low_similarity_takes_the_answer_path(memory_store: InMemoryStore) -> None:
    app, _ = make_app(memory_store, match_threshold=1.0)
    answer = app.ask("Alice pays how much for the 3 pens, in total amount paid?", "shop")
    assert answer.route == "learned"
    assert answer.match_reason is not None and "similarity failed" in answer.match_reason


def test_off_by_default_never_serves(memory_store: InMemoryStore) -> None:
    app, _ = make_app(memory_store, serve_predicted=False)
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "learned"
    assert answer.match_reason is None and answer.wake_usage.calls >= 1


def test_test_time_mode_never_serves(memory_store: InMemoryStore) -> None:
    app, _ = make_app(memory_store)
    answer = app.ask(PREDICTED, "shop", mode="test-time")
    assert answer.route == "test-time"


def test_model_check_confirms_at_a_small_token_cost(memory_store: InMemoryStore) -> None:
    model = staged_model(predict=PREDICTIONS, match="yes", answer="6")
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True,
                    match_threshold=0.9, verify_predicted="model", max_rounds=1)
    app.sleep("shop", CONTEXT)
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "predicted" and answer.answer == "The answer is 6."
    assert answer.wake_usage.calls == 1  # only the yes/no check
    assert "model ok: yes" in answer.reason


def test_model_check_can_veto(memory_store: InMemoryStore) -> None:
    model = staged_model(
        predict=PREDICTIONS,
        match="no",
        answer="Alice pays $6. The answer is 6.",
    )
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True,
                    match_threshold=0.9, verify_predicted="model", max_rounds=1)
    app.sleep("shop", CONTEXT)
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "learned"
    assert answer.match_reason is not None and "model failed" in answer.match_reason
    assert answer.wake_usage.calls == 2  # the check, then the answer


async def test_async_path_matches(memory_store: InMemoryStore) -> None:
    app, _ = make_app(memory_store)
    answer = await app.aask(PREDICTED, "shop")
    assert answer.route == "predicted" and answer.wake_usage.calls == 0


def test_model_check_with_no_usable_reply_falls_back_to_the_answer_path(memory_store: InMemoryStore) -> None:
    model = staged_model(
        predict=PREDICTIONS,
        match="",
        answer="Alice pays $6. The answer is 6.",
    )
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True,
                    match_threshold=0.9, verify_predicted="model", max_rounds=1, json_retries=0)
    app.sleep("shop", CONTEXT)
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "learned" and answer.answer.endswith("The answer is 6.")
    assert answer.match_reason is not None and "no usable reply" in answer.match_reason


def test_swapped_comparison_sides_take_the_answer_path(memory_store: InMemoryStore) -> None:
    # The held-out pair of issue 11: same words, the two sides of the comparison swapped.
    asked = "How much more does Ben earn than Anna each week?"
    predicted = "How much more does Anna earn than Ben each week?"
    predictions = json.dumps({"questions": [{"question": predicted, "answer": "#### 40"}]})
    model = staged_model(predict=predictions, verify=json.dumps({"verdict": "accept", "reason": "ok"}))
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True,
                    match_threshold=0.5, max_rounds=1)
    app.sleep("pay", "Anna earns $20 an hour and Ben earns $15 an hour; each works 8 hours a week.")
    assert app.ask(predicted, "pay").route == "predicted"
    answer = app.ask(asked, "pay")
    assert answer.route == "learned" and answer.matched_question is None
    assert answer.match_reason is not None and "sides failed: ['than anna'] vs ['than ben']" in answer.match_reason


def test_a_step_by_step_stored_answer_serves_its_stated_value(memory_store: InMemoryStore) -> None:
    # Level-4 question work writes sentences, not "#### n": the value the sentence states is served, not its
    # first number (20 here), which the answer grader would have read from the whole sentence.
    worked = ("Each pen costs $2 and she buys 3, so 3 x 2 = 6 for 20 minutes of shopping.\n"
              "Therefore, the amount Alice pays for the 3 pens is \\(\\boxed{6}\\).")
    predictions = json.dumps({"questions": [{"question": PREDICTED, "answer": worked}]})
    model = staged_model(predict=predictions, verify=json.dumps({"verdict": "accept", "reason": "ok"}))
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, serve_predicted=True,
                    match_threshold=0.9, max_rounds=1, n_questions=1)
    app.sleep("shop", CONTEXT)
    answer = app.ask(PREDICTED, "shop")
    assert answer.route == "predicted" and answer.answer == "The answer is 6."
