"""The budget experiment's plumbing on a scripted model: probe, both arms, fair budget, records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from langgraph.store.memory import InMemoryStore

from evals.exp_budget import probe_questions, run
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

_UNRELATED = ["zebra quantum", "violin orbit", "copper tundra", "saffron glacier", "marble oath", "lemon radar"]
_calls = {"n": 0}


def _probe(messages: list[BaseMessage]) -> str:
    # tiny-0's context mentions rolls: its probe samples agree; other contexts get a new unrelated pair each call.
    if "rolls" in messages[-1].text:
        return "How many rolls are left?\nHow many rolls are baked?"
    i = _calls["n"] = _calls["n"] + 1
    return f"{_UNRELATED[i % 6]} {i}?\n{_UNRELATED[(i + 3) % 6]} x{i}?"


def _run(tmp_path: Path, model: object, **kw: object) -> dict[str, object]:
    emb = HashEmbeddings(64)
    args: dict[str, object] = dict(
        dataset="tiny", data_dir=None, limit=3, model=model, out=tmp_path, units_per_context=2,
        tokens_per_unit=50, probe_k=2, budget=1, max_rounds=4, max_samples=1, power=2.0, embeddings=emb,
        store_factory=lambda: InMemoryStore(index={"dims": 64, "embed": emb, "fields": ["text", "question"]}),
    )
    return run(**(args | kw))  # type: ignore[arg-type]


def test_budget_experiment_compares_arms_at_a_fixed_budget(tmp_path: Path) -> None:
    model = staged_model(outside=_probe, reflect="notes\nSTATUS: CONTINUE", answer="The answer is 33.")
    summary = _run(tmp_path, model)
    preds = {c["context_id"]: c["predictability"] for c in summary["contexts"]}  # type: ignore[attr-defined]
    assert preds["tiny-0"] > max(preds["tiny-1"], preds["tiny-2"])
    uniform, weighted = summary["arms"]["uniform"], summary["arms"]["weighted"]  # type: ignore[index]
    assert uniform["units"] == [2, 2, 2]
    assert weighted["units"][0] > weighted["units"][1]
    # The probe is paid for out of the same total.
    probe_tokens = weighted["probe_output_tokens"]
    assert probe_tokens > 0
    assert sum(weighted["units"]) == min(max(300 - probe_tokens, 150) // 50, 3 * 4)
    assert uniform["correct"] == 1 and weighted["correct"] == 1  # only tiny-0's gold is 33
    assert weighted["sleep_output_tokens"] >= probe_tokens
    lines = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in lines].count("probe") == 3
    assert all("question" not in r and "answer" not in r for r in lines)  # ids and counts only
    assert len({(r["commit"], r["settings_hash"]) for r in lines}) == 1 and lines[0]["settings_hash"]
    reflect_calls = model.calls_for("reflect")
    assert len(reflect_calls) >= 2 * 3
    assert (tmp_path / "summary.md").read_text().count("| tiny-") == 3
    assert (tmp_path / "budget.png").stat().st_size > 0


def test_budget_experiment_resumes_without_calling_the_model_again(tmp_path: Path) -> None:
    first = _run(tmp_path, staged_model(outside=_probe, answer="The answer is 33."))
    again = staged_model(outside=_probe, answer="The answer is 33.")
    second = _run(tmp_path, again)
    assert again.calls == [] and second["arms"] == first["arms"]
    with pytest.raises(ValueError, match="other settings"):
        _run(tmp_path, again, tokens_per_unit=60)
    third = _run(tmp_path, again, fresh=True)  # --fresh discards the records and runs again
    assert again.calls and third["arms"]["uniform"]["n"] == 3  # type: ignore[index]


def test_probe_questions_reads_json_then_free_text() -> None:
    assert probe_questions('{"questions": [{"question": "How many rolls?", "answer": "3"}]}', 3) == ["How many rolls?"]
    loose = 'Sure.\nThe answer is: {{"question": "How many rolls are left?", "answer": "15"}}'
    assert probe_questions(loose, 3) == ["How many rolls are left?"]
    assert probe_questions("no question here", 3) == ["no question here"]
    assert probe_questions("1. How many rolls are left?\n2) Who baked them?", 3) == [
        "How many rolls are left?", "Who baked them?"]
    assert probe_questions("  ", 3) == []
