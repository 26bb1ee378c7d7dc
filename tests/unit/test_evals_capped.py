"""--budget-mode cap, --reasoning-effort pass-through and option validation, on scripted models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.capped import CAP_LEVEL, FORCE_PROMPT, FORCE_TOKENS, capped_ask, states_answer
from evals.experiments import run_experiment
from evals.options import RunOptions
from evals.runner import Env
from sleeptime.errors import InvalidInputError
from sleeptime.facade import Answer
from sleeptime.testing import OUTSIDE_GRAPH, HashEmbeddings
from sleeptime.usage import Usage
from tests.scripts import staged_model


def test_states_answer() -> None:
    assert states_answer("so 4 + 5. The answer is 9.")
    assert states_answer("work\n#### 12")
    assert not states_answer("First, 4 trays of 12 rolls is")
    assert not states_answer("The answer is")  # cut off right after the anchor: no number yet


class _App:
    """Records what capped_ask asked and answers with a fixed reply."""

    def __init__(self, reply: str, route: str = "learned") -> None:
        self.reply, self.route, self.kwargs = reply, route, {}  # type: ignore[var-annotated]

    def ask(self, question: str, context_id: str, **kw: Any) -> Answer:
        self.kwargs = kw
        return Answer(question=question, answer=self.reply, route=self.route, version=1, verdict="", reason="",  # type: ignore[arg-type]
                      escalations=0, budget=kw["budget"], wake_usage=Usage(calls=1, input_tokens=50, output_tokens=32),
                      sleep_usage=Usage())


def _env(tmp_path: Path, model: Any, **kw: Any) -> Env:
    opts = RunOptions(experiment="pareto", out=str(tmp_path / "run"), dataset="tiny", limit=2, progress=False, **kw)
    return Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings())


def test_a_cut_off_reply_gets_the_answer_forced_and_every_token_counted(tmp_path: Path) -> None:
    model = staged_model(outside="The answer is 33.")  # the forcing call is made outside the wake graph
    app = _App("Mira bakes 4 trays of 12, that is 48, minus 15 is")
    got = capped_ask(_env(tmp_path, model), app, "How many rolls are left?", "c1", mode="learned", cap=64)
    assert app.kwargs == {"mode": "learned", "budget": CAP_LEVEL, "verify": "off", "max_tokens_wake": 32}
    assert got.forced and got.capped_output_tokens == 32
    assert got.answer.answer.endswith("minus 15 is\nThe answer is 33.")
    [forced_call] = model.calls_for(OUTSIDE_GRAPH)
    assert forced_call[1].text == app.reply and forced_call[-1].text == FORCE_PROMPT  # it sees its own cut-off reply
    usage = got.answer.wake_usage
    assert usage.calls == 2 and usage.output_tokens > 32 and usage.input_tokens > 50  # both calls counted
    assert FORCE_TOKENS == 8


def test_a_reply_that_states_its_answer_or_a_served_answer_is_not_forced(tmp_path: Path) -> None:
    model = staged_model()
    for app in (_App("48 - 15 = 33. The answer is 33."), _App("#### 33", route="predicted")):
        got = capped_ask(_env(tmp_path, model), app, "q?", "c1", mode="learned", cap=16)
        assert not got.forced and got.answer.wake_usage.calls == 1
    assert model.calls == []
    with pytest.raises(InvalidInputError, match="cap must be >= 2"):
        capped_ask(_env(tmp_path, model), _App("x"), "q?", "c1", mode="learned", cap=1)


def test_a_cap_run_records_caps_forcing_and_counts(tmp_path: Path) -> None:
    model = staged_model(answer="Let me work it out step by step: first", outside="33")
    env = _env(tmp_path, model, budget_mode="cap", budgets=[16, 64])
    records = run_experiment(env.opts, env, argv=["pareto", "--budget-mode", "cap"])
    answers = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert sorted({r["budget"] for r in answers}) == [16, 64] and len(answers) == 2 * 2 * 2
    assert all(r["budget_mode"] == "cap" and r["forced"] and r["wake_calls"] == 2 for r in answers)
    assert all(r["output_tokens"] > r["capped_output_tokens"] for r in answers)
    right = {r["example_id"] for r in answers if r["correct"]}
    assert right == {"tiny-0"}  # the forced "33" is tiny-0's gold only
    assert all(c[-1].text == FORCE_PROMPT for c in model.calls_for(OUTSIDE_GRAPH))


def test_reasoning_effort_reaches_both_models_config(tmp_path: Path) -> None:
    env = _env(tmp_path, staged_model(), reasoning_effort="low", sleep_reasoning_effort="high")
    cfg = env.app().config
    assert (cfg.reasoning_effort, cfg.sleep_reasoning_effort) == ("low", "high")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"budget_mode": "cap", "budgets": [0, 16]}, "caps >= 2"),
        ({"budgets": [16]}, "budget levels are 0-4"),
        ({"budget_mode": "tokens"}, "budget_mode must be"),
        ({"budgets": []}, "no budgets"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    model = staged_model()
    env = _env(tmp_path, model, **options)
    with pytest.raises(InvalidInputError, match=message):
        run_experiment(env.opts, env)
    assert model.calls == [] and not (tmp_path / "run").exists()
