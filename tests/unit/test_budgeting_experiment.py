"""The budget experiment's plumbing on a scripted model: probe, both arms, fair budget, records."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.messages import BaseMessage
from langgraph.store.memory import InMemoryStore

from evals.exp_budget import run
from sleeptime.testing import HashEmbeddings
from tests.scripts import stage_of, staged_model

_UNRELATED = ["zebra quantum", "violin orbit", "copper tundra", "saffron glacier", "marble oath", "lemon radar"]
_calls = {"n": 0}


def _predict(messages: list[BaseMessage]) -> str:
    # tiny-0's context mentions rolls: its probe samples agree; other contexts get a new unrelated pair each call.
    text = messages[-1].text
    if "rolls" in text:
        qs = ["How many rolls are left?", "How many rolls are baked?"]
    else:
        i = _calls["n"] = _calls["n"] + 1
        qs = [f"{_UNRELATED[i % 6]} {i}?", f"{_UNRELATED[(i + 3) % 6]} x{i}?"]
    return json.dumps({"questions": [{"question": q, "answer": "#### 1"} for q in qs]})


def test_budget_experiment_compares_arms_at_a_fixed_budget(tmp_path: Path) -> None:
    model = staged_model(predict=_predict, reflect="notes\nSTATUS: CONTINUE", answer="The answer is 33.")
    emb = HashEmbeddings(64)
    summary = run(
        dataset="tiny", data_dir=None, limit=3, model=model, out=tmp_path, units_per_context=2,
        tokens_per_unit=50, probe_k=2, budget=1, max_rounds=4, max_samples=1, power=2.0, embeddings=emb,
        store_factory=lambda: InMemoryStore(index={"dims": 64, "embed": emb, "fields": ["text", "question"]}),
    )
    preds = summary["predictability"]
    assert preds["tiny-0"] > max(preds["tiny-1"], preds["tiny-2"])
    uniform, weighted = summary["arms"]["uniform"], summary["arms"]["weighted"]
    assert uniform["units"] == [2, 2, 2]
    assert weighted["units"][0] > weighted["units"][1]
    # The probe is paid for out of the same total.
    probe_tokens = weighted["probe_output_tokens"]
    assert probe_tokens > 0
    assert sum(weighted["units"]) == min(max(300 - probe_tokens, 150) // 50, 3 * 4)
    assert uniform["correct"] == 1 and weighted["correct"] == 1  # only tiny-0's gold is 33
    lines = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in lines].count("probe") == 3
    assert {r["arm"] for r in lines if r["kind"] == "answer"} == {"uniform", "weighted"}
    assert all("question" not in r for r in lines)  # ids and counts only
    reflect_calls = [c for c in model.calls if stage_of(c) == "reflect"]
    assert len(reflect_calls) >= 2 * 3


def test_probe_questions_reads_json_then_free_text() -> None:
    from evals.exp_budget import probe_questions

    assert probe_questions('{"questions": [{"question": "How many rolls?", "answer": "3"}]}', 3) == ["How many rolls?"]
    loose = 'Sure.\nThe answer is: {{"question": "How many rolls are left?", "answer": "15"}}'
    assert probe_questions(loose, 3) == ["How many rolls are left?"]
    assert probe_questions("no question here", 3) == ["no question here"]
    assert probe_questions("  ", 3) == []
