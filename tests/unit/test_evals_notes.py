"""`python -m evals notes` on a scripted model: the worked prompt's notes are checked, scored and answered with."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from evals import exp_notes
from evals.options import parse_shard
from tests.scripts import staged_model
from tests.unit.test_evals_datasets import _fake_data_dir

WORKED = "1. Fruit kept = 99 x 1 = 98\n2. Share kept = most of the fruit, about four in five\nSTATUS: DONE"


def _reply(messages: list[BaseMessage]) -> str:
    return WORKED if "numbered list" in messages[-1].text else "She has 7 now. The answer is 7."


def _args(tmp_path: Path, data: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    exp_notes.add_arguments(parser)
    return parser.parse_args([
        "--data-dir", str(data), "--out", str(tmp_path / "out" / "run.jsonl"), "--n-base", "1", "--n-p1", "0",
        "--sleep-model", "scripted:sleepy", "--prompts", "worked", "--arms", "none", "worked", "oracle",
        "--budgets", "0",
    ])


def test_worked_prompt_is_checked_scored_and_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = staged_model(outside=_reply)
    monkeypatch.setattr(exp_notes, "resolve_chat_model", lambda *a, **k: model)
    args = _args(tmp_path, _fake_data_dir(tmp_path / "data"))
    exp_notes.run(args)
    records: list[dict[str, Any]] = [json.loads(line) for line in args.out.read_text().splitlines()]
    notes = [r for r in records if r["kind"] == "notes"]
    assert [r["key"] for r in notes] == ["worked/sleepy"]
    # 99 x 1 is recomputed (the model claimed 98); the prose line is kept and counted unchecked.
    assert notes[0]["unchecked"] == 1 and notes[0]["stated"] == 1
    assert sorted(r["key"] for r in records if r["kind"] == "answer") == [
        "none/-/b0", "oracle/-/b0", "worked/sleepy/b0"]
    texts = [json.loads(line) for line in (args.out.parent / "texts.jsonl").read_text().splitlines()]
    published = next(t["text"] for t in texts if t["kind"] == "notes")
    assert published.splitlines() == ["- fruit_kept = 99 * 1 = 99",
                                      "- Share kept = most of the fruit, about four in five"]
    assert next(t["text"] for t in texts if t["kind"] == "reply").startswith("1. Fruit kept = 99 x 1 = 98")
    calls = len(model.calls)
    exp_notes.run(args)  # everything is on record: nothing is asked again
    assert len(model.calls) == calls
    assert "worked/sleepy" in exp_notes.summarize(args.out)


def test_shards_split_the_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exp_notes, "resolve_chat_model", lambda *a, **k: staged_model(outside=_reply))
    data = _fake_data_dir(tmp_path / "data")
    ids = []
    for shard in ("1/2", "2/2"):
        args = _args(tmp_path, data)
        args.n_base, args.shard = 3, parse_shard(shard)
        exp_notes.run(args)
        ids.append({json.loads(line)["id"] for line in args.out.read_text().splitlines()} - set().union(*ids))
    assert len(ids[0]) == 2 and len(ids[1]) == 1  # every other example, none twice
    exp_notes.add_arguments(parser := argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        parser.parse_args(["--shard", "3/2"])
