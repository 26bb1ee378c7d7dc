"""Verified predicted answers on real MiniLM embeddings over the tiny perturbation set: 0 wrong served."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from evals.exp_verified import run as run_verified
from evals.perturb import perturbation_set
from evals.tiny import tiny_examples
from sleeptime.config import SleepTimeConfig
from sleeptime.facade import SleepTime
from sleeptime.local.embeddings import MiniLMEmbeddings
from tests.scripts import staged_model


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbeddings:
    return MiniLMEmbeddings()


def test_tiny_perturbations_through_the_wake_graph_serve_nothing_wrong(minilm: MiniLMEmbeddings) -> None:
    served: Counter[str] = Counter()
    wrong: list[str] = []
    seen: Counter[str] = Counter()
    for ex in tiny_examples():
        predictions = json.dumps({"questions": [{"question": ex.question, "answer": f"Worked out.\n#### {ex.answer}"}]})
        model = staged_model(predict=predictions, answer="The answer is 0.")
        store = InMemoryStore(index={"dims": 384, "embed": minilm, "fields": ["text", "question"]})
        app = SleepTime(store=store, sleep_model=model, wake_model=model, serve_predicted=True, max_rounds=1)
        app.sleep("ctx", ex.context)
        for item in perturbation_set([ex]):
            seen[item.kind] += 1
            answer = app.ask(item.question, "ctx")
            if answer.route == "predicted":
                served[item.kind] += 1
                assert answer.wake_usage.calls == 0 and answer.answer == f"The answer is {ex.answer}."
                assert answer.matched_question == ex.question
                if not item.same_answer:
                    wrong.append(f"{item.id} {item.question!r}")
            else:
                assert answer.route == "learned" and answer.match_reason
    assert wrong == []
    assert served["exact"] == seen["exact"] == len(tiny_examples())
    assert seen["paraphrase"] >= 8 and served["paraphrase"] >= seen["paraphrase"] // 2
    assert sum(seen.values()) >= 40


def test_similarity_alone_would_serve_wrong_answers(minilm: MiniLMEmbeddings, tmp_path: Path) -> None:
    summary: dict[str, Any] = run_verified(dataset="tiny", data_dir=None, limit=None, out=tmp_path, threshold=None,
                                           tokens_from=tmp_path / "none.jsonl", budget=1, embeddings=minilm)
    assert summary["verified"]["all"]["wrong_served"] == 0
    assert summary["verified"]["all"]["hits"] >= len(tiny_examples())
    # The failure the checks exist for: a cosine threshold alone serves changed questions.
    fixed = run_verified(dataset="tiny", data_dir=None, limit=None, out=tmp_path,
                         threshold=SleepTimeConfig().match_threshold, tokens_from=tmp_path / "none.jsonl",
                         budget=1, embeddings=minilm)
    assert fixed["verified"]["all"]["wrong_served"] == 0
    assert fixed["similarity_only"]["all"]["wrong_served"] > 0


def _app_with_predictions(minilm: MiniLMEmbeddings, questions: list[str]) -> SleepTime:
    predictions = json.dumps({"questions": [{"question": q, "answer": f"#### {i}"} for i, q in enumerate(questions)]})
    model = staged_model(predict=predictions, answer="The answer is 0.")
    store = InMemoryStore(index={"dims": 384, "embed": minilm, "fields": ["text", "question"]})
    app = SleepTime(store=store, sleep_model=model, wake_model=model, serve_predicted=True, max_rounds=1,
                    n_questions=len(questions))
    app.sleep("ctx", "A context written for this test: people, prices, weeks and fruit.")
    return app


def test_hand_written_different_questions_are_never_served_through_the_wake_graph(minilm: MiniLMEmbeddings) -> None:
    from tests.unit.test_matching import DIFFERENT

    predicted = sorted({p for _, p in DIFFERENT})
    app = _app_with_predictions(minilm, predicted)
    served, above_threshold = [], 0
    for asked, _ in DIFFERENT:
        assert asked not in predicted
        answer = app.ask(asked, "ctx")
        above_threshold += answer.match_score is not None and answer.match_score >= 0.97
        if answer.route == "predicted":
            served.append((asked, answer.matched_question))
    assert served == []
    assert above_threshold >= 20  # similarity alone would serve these (27 of 49 measured)


def test_hand_written_paraphrases_are_mostly_served(minilm: MiniLMEmbeddings) -> None:
    from tests.unit.test_matching import PARAPHRASES

    app = _app_with_predictions(minilm, sorted({p for _, p in PARAPHRASES}))
    hits = 0
    for asked, predicted in PARAPHRASES:
        answer = app.ask(asked, "ctx")
        if answer.route == "predicted":
            assert answer.matched_question == predicted
            hits += 1
    assert hits >= 0.75 * len(PARAPHRASES)  # measured: 20 of 22 (two paraphrases score below 0.97)
