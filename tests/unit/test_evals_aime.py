"""Stateful AIME runs with the paper's sleep prompt for a partial problem and ``\\boxed{}`` answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.aime import BOXED_ANSWER, PAPER_AIME_SLEEP, prompt_settings
from evals.experiments import run_experiment
from evals.options import RunOptions
from evals.runner import Env
from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.testing import HashEmbeddings, ScriptedChatModel
from tests.scripts import staged_model

# Our own problem (AIME files are read at run time only): context = the problem minus its question.
_PROBLEM = "Let $a$ and $b$ be positive integers with $a+b=20$ and $ab=96$. Find $a^2+b^2$."


def _aime_dir(root: Path) -> Path:
    folder = root / "aime-2024"
    folder.mkdir(parents=True)
    (folder / "aime24_test.jsonl").write_text(json.dumps({"id": 1, "problem": _PROBLEM, "answer": "208"}) + "\n")
    return root


def _run(tmp_path: Path, dataset: str, answer: str) -> tuple[list[dict[str, object]], ScriptedChatModel]:
    model = staged_model(answer=answer)
    opts = RunOptions(experiment="pareto", out=str(tmp_path / dataset), dataset=dataset, limit=1,
                      data_dir=str(_aime_dir(tmp_path)) if dataset == "aime" else None, budgets=[0, 1],
                      progress=False)
    records = run_experiment(opts, Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings()))
    return records, model


def test_an_aime_run_sleeps_with_the_papers_prompt_and_asks_for_a_box(tmp_path: Path) -> None:
    records, model = _run(tmp_path, "aime", r"a^2+b^2 = 400 - 192 = 208, so \boxed{208}.")
    reflect = model.calls_for("reflect")
    assert reflect and all(PAPER_AIME_SLEEP in c[0].text for c in reflect)
    assert all("Find $a^2+b^2$" not in c[-1].text for c in reflect)  # the sleep model never sees the question
    answers = model.calls_for("answer")
    assert len(answers) == 4 and all(c[-1].text.rstrip().endswith(BOXED_ANSWER) for c in answers)
    graded = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert len(graded) == 4 and all(r["correct"] and r["extracted"] == "208" for r in graded)


def test_a_wrong_box_grades_wrong_even_when_the_right_number_appears(tmp_path: Path) -> None:
    records, _ = _run(tmp_path, "aime", r"a^2+b^2 = 208? No: \boxed{400}")
    graded = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert graded and not any(r["correct"] for r in graded)


def test_other_datasets_keep_the_packages_prompts(tmp_path: Path) -> None:
    assert prompt_settings("gsm-p2") == {} and prompt_settings("tiny") == {}
    _, model = _run(tmp_path, "tiny", "The answer is 33.")
    assert not any(PAPER_AIME_SLEEP in c[0].text for c in model.calls_for("reflect"))
    assert not any(BOXED_ANSWER in c[-1].text for c in model.calls_for("answer"))


def test_instructions_must_be_text() -> None:
    with pytest.raises(InvalidInputError, match="answer_instructions"):
        SleepTimeConfig(answer_instructions=3)  # type: ignore[arg-type]
    assert SleepTimeConfig(sleep_instructions="x").sleep_instructions == "x"
