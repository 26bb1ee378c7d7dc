"""Experiments on the scripted model: runner resume, grading, aggregation, pass@k, amortization, bins, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import build_parser
from evals.amortization import amortization_keys, amortization_table, amortized_cost
from evals.datasets import load_dataset
from evals.experiments import EXPERIMENTS, run_experiment
from evals.options import AmortizationOptions, PassKOptions, RunOptions, options_from
from evals.passk import majority_vote, pass_at_k, passk_table
from evals.predictability import predictability_table, predictability_task, quantile_bins
from evals.records import RECORDS_FILE, RecordWriter, read_records
from evals.runner import Env, grade, load_examples
from evals.tables import budget_table, complete_only, headline, mean, projected_amortization
from evals.tiny import tiny_multi_query
from sleeptime.testing import OUTSIDE_GRAPH, HashEmbeddings, ScriptedChatModel
from tests.scripts import staged_model


def _env(tmp_path: Path, experiment: str, model: ScriptedChatModel, **kw: Any) -> Env:
    spec = EXPERIMENTS[experiment].runner
    assert spec is not None
    opts = spec.options(experiment=experiment, out=str(tmp_path / experiment), dataset="tiny", limit=2,
                      budgets=[0, 4], progress=False, **kw)
    return Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings())


def _answers(model: ScriptedChatModel) -> int:
    return len(model.calls_for("answer"))


# ------------------------------------------------------------------------------------------- JSONL


def test_read_records_ignores_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}\n{"key": "b"}\n{"key": "c", "ans', encoding="utf-8")
    assert [r["key"] for r in read_records(path)] == ["a", "b"]


def test_read_records_rejects_corruption_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="corrupt"):
        read_records(path)


def test_writer_cuts_a_torn_tail_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}\n{"key": "b", "x', encoding="utf-8")
    RecordWriter(path, fsync=False).write({"key": "c"})
    assert path.read_text(encoding="utf-8") == '{"key": "a"}\n{"key": "c"}\n'


def test_writer_keeps_a_complete_record_missing_only_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}', encoding="utf-8")
    RecordWriter(path, fsync=False).write({"key": "b"})
    assert [r["key"] for r in read_records(path)] == ["a", "b"]


def test_grade_uses_the_sources_grader() -> None:
    assert grade("so 3 + 4 = 7. #### 7", "7", "gsm-p2") == (True, "7")
    assert grade("The answer is $1,200.", "1200", "tiny") == (True, "1200")
    assert grade(r"thus \boxed{073}", "073", "aime") == (True, "73")
    assert grade("no idea", "5", "gsm-p1") == (False, None)


# ------------------------------------------------------------------------------------------- runner


def test_pareto_writes_one_record_per_mode_and_budget_with_usage(tmp_path: Path) -> None:
    model = staged_model(answer="Mira has 48 - 15 = 33 rolls. The answer is 33.")
    env = _env(tmp_path, "pareto", model)
    records = run_experiment(env.opts, env, argv=["pareto"])
    answers = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert len(answers) == 2 * 2 * 2  # 2 examples x 2 modes x 2 budgets
    assert sum(1 for r in records if r["mode"] == "sleep-run") == 2
    first = [r for r in answers if r["example_id"] == "tiny-0"]
    assert all(r["correct"] for r in first)  # tiny-0's answer is 33
    assert all(r["output_tokens"] == 12 for r in answers)  # the scripted model's own usage report
    sleep = [r for r in answers if r["mode"] == "sleep"]
    assert all(r["sleep_output_tokens"] > 0 and r["path"] == "learned" for r in sleep)
    assert all(r["sleep_output_tokens"] == 0 for r in answers if r["mode"] == "test-time")
    assert all("question" not in r and "gold" not in r for r in records)  # no problem text in results
    out = Path(env.opts.out)
    assert (out / "summary.md").exists() and (out / "summary.csv").exists()
    assert (out / "accuracy_vs_tokens.png").stat().st_size > 0
    run = json.loads((out / "run.json").read_text())
    assert run["invocations"][0]["command"] == "python -m evals pareto"


def test_rerun_resumes_and_redoes_only_missing_records(tmp_path: Path) -> None:
    model = staged_model()
    env = _env(tmp_path, "pareto", model)
    run_experiment(env.opts, env)
    calls = len(model.calls)
    path = Path(env.opts.out) / RECORDS_FILE
    run_experiment(env.opts, env)
    assert len(model.calls) == calls  # nothing redone
    # A kill mid-write: the last record is torn.
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    torn_key = json.loads(lines[-1])["key"]
    path.write_text("".join(lines[:-1]) + lines[-1][:20], encoding="utf-8")
    run_experiment(env.opts, env)
    after = read_records(path)
    assert len(after) == len(lines)
    assert sorted(r["key"] for r in after).count(torn_key) == 1
    assert _answers(model) > 0 and len(model.calls) > calls
    run = json.loads((Path(env.opts.out) / "run.json").read_text())
    assert len(run["invocations"]) == 3


def test_shards_share_one_run_directory_and_together_make_the_whole_run(tmp_path: Path) -> None:
    whole_env = _env(tmp_path / "whole", "pareto", staged_model())
    whole = {r["key"]: r["settings_hash"] for r in run_experiment(whole_env.opts, whole_env)}
    first = _env(tmp_path, "pareto", staged_model(), shard=(1, 2))
    second = _env(tmp_path, "pareto", staged_model(), shard=(2, 2))
    after_first = run_experiment(first.opts, first)
    assert {r["example_id"] for r in after_first} == {"tiny-0"}  # every 2nd example from the 1st
    sharded = {r["key"]: r["settings_hash"] for r in run_experiment(second.opts, second)}
    assert sharded == whole  # the same keys, and the shard is not a setting that changes a measurement
    assert _answers(first.sleep_model) > 0 and _answers(second.sleep_model) > 0


def test_a_failing_call_is_recorded_wrong_without_tokens(tmp_path: Path) -> None:
    def answer(_: Any) -> str:
        raise RuntimeError("model fell over")

    env = _env(tmp_path, "pareto", staged_model(answer=answer))
    records = run_experiment(env.opts, env)
    failed = [r for r in records if r["mode"] == "test-time"]
    # the model's exception arrives wrapped in the package's typed error (its message names the cause)
    assert failed and all(r["error"] == "ModelCallError" and r["output_tokens"] is None for r in failed)
    assert all(not r["correct"] and "model fell over" in r["error_detail"] for r in failed)
    # A failure's message can quote the model's output (a copy of the problem): never in the committed file.
    assert "model fell over" not in (Path(env.opts.out) / "records.jsonl").read_text()


def test_scaling_sleeps_once_per_setting(tmp_path: Path) -> None:
    model = staged_model()
    env = _env(tmp_path, "scaling", model, scale_samples=[1, 2], scale_rounds=[1])
    records = run_experiment(env.opts, env)
    runs = [r for r in records if r["mode"] == "sleep-run"]
    assert sorted(r["setting"] for r in runs) == ["k1-r1", "k1-r1", "k2-r1", "k2-r1"]
    k2 = next(r for r in runs if r["setting"] == "k2-r1")
    # The k samples are merged into one published block (issue 12), made from two reflect calls.
    assert len(k2["learned"]) == 1
    assert model.nodes.count("reflect") == 1 + 1 + 2 + 2  # two k1 runs, two k2 runs (one call a sample)
    table = budget_table(records)
    assert {(r["mode"], r["setting"]) for r in table} == {("test-time", None), ("sleep", "k1-r1"), ("sleep", "k2-r1")}


def test_passk_samples_at_temperature_and_aggregates(tmp_path: Path) -> None:
    replies = iter(["The answer is 33.", "The answer is 30.", "The answer is 33."] * 20)
    model = staged_model(answer=lambda _: next(replies))
    env = _env(tmp_path, "passk", model, k=3)
    records = run_experiment(env.opts, env)
    samples = [r for r in records if r["mode"] == "sample"]
    assert len(samples) == 2 * 2 * 3
    rows = {(r["mode"], r["budget"]): r for r in passk_table(records)}
    assert rows[("pass@3", 0)]["n"] == 2
    assert rows[("pass@3", 0)]["mean_output_tokens"] == pytest.approx(3 * rows[("pass@1", 0)]["mean_output_tokens"])


def test_context_only_guesses_without_the_question(tmp_path: Path) -> None:
    # The guesses are the only calls made outside a graph node.
    model_guess = staged_model(answer="The answer is 33. #### 33", outside="Question: how many left?\n#### 33")
    env = _env(tmp_path, "context-only", model_guess)
    records = run_experiment(env.opts, env)
    guesses = [r for r in records if r["mode"] == "context-only"]
    assert len(guesses) == 2
    assert [r["correct"] for r in sorted(guesses, key=lambda r: r["example_id"])] == [True, False]
    assert all(r["output_tokens"] == 0 and r["sleep_output_tokens"] > 0 for r in guesses)
    prompts = model_guess.calls_for(OUTSIDE_GRAPH)
    assert prompts and all("Guess the single question" in c[0].text for c in prompts)
    questions = {e.question for e in load_examples(env.opts)}
    assert all(q not in c[1].text for c in prompts for q in questions)
    rows = budget_table(records)
    assert any(r["mode"] == "context-only" for r in rows)


def test_amortization_on_tiny_multi_query(tmp_path: Path) -> None:
    model = staged_model()
    env = _env(tmp_path, "amortization", model, queries=3)
    env.opts.budgets = [1]
    records = run_experiment(env.opts, env)
    assert sum(1 for r in records if r["mode"] == "sleep-run") == 2  # one sleep per context
    assert sum(1 for r in records if r["mode"] in ("test-time", "sleep")) == 2 * 3 * 2
    rows = amortization_table(records, weight=10)
    sleep_rows = {r["queries_per_context"]: r for r in rows if r["mode"] == "sleep"}
    assert sorted(sleep_rows) == [1, 2, 3]
    assert sleep_rows[1]["cost_per_query"] > sleep_rows[3]["cost_per_query"]
    assert (Path(env.opts.out) / "cost_per_query.png").exists()


def test_predictability_task_with_a_fake_scorer(tmp_path: Path) -> None:
    env = _env(tmp_path, "predictability", staged_model())
    example = load_examples(env.opts)[0]
    out: list[dict[str, Any]] = []
    predictability_task(env, example, set(), out.append, scorer=lambda c, q: (-12.5, 5))
    lp = [r for r in out if r["mode"] == "logprob"]
    assert lp[0]["logprob"] == -12.5 and lp[0]["logprob_per_token"] == -2.5
    assert {r["mode"] for r in out} >= {"test-time", "sleep"}


# ------------------------------------------------------------------------------------------- aggregation


def _rec(eid: str, mode: str, budget: int | None, correct: bool, out: int | None, **kw: Any) -> dict[str, Any]:
    return {"example_id": eid, "mode": mode, "budget": budget, "correct": correct, "output_tokens": out,
            "input_tokens": 100, "setting": "k1-r1" if mode == "sleep" else None, **kw}


def test_budget_table_and_headline() -> None:
    records = [
        _rec("a", "test-time", 0, False, 10), _rec("b", "test-time", 0, True, 20),
        _rec("a", "test-time", 4, True, 200), _rec("b", "test-time", 4, True, 100),
        _rec("a", "sleep", 0, True, 10, sleep_output_tokens=300), _rec("b", "sleep", 0, True, 30,
                                                                       sleep_output_tokens=500),
        _rec("c", "sleep", 0, False, None, error="boom", sleep_output_tokens=None),
    ]
    rows = {(r["mode"], r["budget"]): r for r in budget_table(records)}
    assert rows[("test-time", 0)]["accuracy"] == 0.5 and rows[("test-time", 0)]["mean_output_tokens"] == 15
    s = rows[("sleep", 0)]
    assert s["n"] == 3 and s["accuracy"] == pytest.approx(2 / 3) and s["mean_output_tokens"] == 20
    assert s["mean_sleep_output_tokens"] == 400 and s["errors"] == 1
    lines = headline(records, weight=10)
    # a is right only with sleep, b with both, c has no test-time answer: 1 win, 0 losses.
    assert any("sleep, budget 0 (k1-r1)" in line
               and "(+0.167; right only with sleep: 1, only test-time: 0; exact McNemar p = 1.000, Holm-adjusted "
                   "1.000 over the run's 1 comparisons)" in line
               for line in lines)
    # equal accuracy: test-time reaches 1.0 on a and b (the examples both have) only at budget 4, 150 tokens
    assert any("needs 150.0" in line and "budget as accurate: 4" in line and "(7.50x, 95% CI" in line for line in lines)
    assert not any("sleep+verified" in line for line in lines)
    verified = [{**r, "mode": "sleep+verified", "setting": "k1-r1", "output_tokens": 0 if r["example_id"] == "a" else
                 r["output_tokens"]} for r in records if r["mode"] == "sleep"]
    both = headline(records + verified, weight=10)
    assert any(line.startswith("equal accuracy: sleep+verified budget 0") and "(10.00x" in line for line in both)


def test_pass_at_k_and_majority() -> None:
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)
    assert pass_at_k(3, 1, 3) == 1.0
    with pytest.raises(ValueError, match="k=3 > n=2"):
        pass_at_k(2, 1, 3)
    assert majority_vote(["3", "4", "4", None]) == "4"
    assert majority_vote(["3", "4"]) == "3"  # tie: first seen
    assert majority_vote([None]) is None


def test_passk_table_from_records() -> None:
    recs = [
        _rec("a", "sample", 1, False, 10, sample=0, extracted="5"),
        _rec("a", "sample", 1, True, 20, sample=1, extracted="6"),
        _rec("a", "sample", 1, False, 30, sample=2, extracted="5"),
        _rec("b", "sample", 1, True, 10, sample=0, extracted="7"),
        _rec("b", "sample", 1, True, 10, sample=1, extracted="7.0"),
        _rec("b", "sample", 1, False, 10, sample=2, extracted="8"),
    ]
    rows = {r["mode"]: r for r in passk_table(recs)}
    assert rows["pass@1"]["accuracy"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert rows["pass@3"]["accuracy"] == 1.0
    assert rows["majority@3"]["accuracy"] == 0.5  # a votes 5 (wrong), b votes 7 (right)
    assert rows["majority@1"]["accuracy"] == 0.5
    assert rows["pass@2"]["mean_output_tokens"] == pytest.approx((30 + 20) / 2)


def test_amortized_cost_arithmetic() -> None:
    assert amortized_cost(1000, [10, 30], 10) == pytest.approx(500 + 200)
    assert amortized_cost(0, [50], 10) == 500
    with pytest.raises(ValueError, match="no queries"):
        amortized_cost(1, [], 10)
    recs = [
        {"mode": "sleep-run", "context_id": "c", "sleep_output_tokens": 400},
        *[{"mode": "sleep", "context_id": "c", "budget": 1, "query_index": i, "output_tokens": 5,
           "correct": True} for i in range(4)],
        *[{"mode": "test-time", "context_id": "c", "budget": 1, "query_index": i, "output_tokens": 50,
           "correct": i < 2} for i in range(4)],
    ]
    rows = {(r["mode"], r["queries_per_context"]): r for r in amortization_table(recs, 10)}
    assert rows[("sleep", 1)]["cost_per_query"] == 450
    assert rows[("sleep", 4)]["cost_per_query"] == 150
    assert rows[("test-time", 4)]["cost_per_query"] == 500 and rows[("test-time", 4)]["accuracy"] == 0.5
    proj = projected_amortization(
        [_rec("a", "sleep", 1, True, 5, sleep_output_tokens=400), _rec("a", "test-time", 1, True, 50)], 10, (1, 10))
    got = {(r["mode"], r["queries_per_context"]): r["cost_per_query"] for r in proj}
    assert got == {("sleep", 1): 450, ("sleep", 10): 90, ("test-time", 1): 500, ("test-time", 10): 500}


def test_quantile_bins_and_predictability_table() -> None:
    assert quantile_bins([5.0, 1.0, 3.0, 2.0, 4.0], 5) == [4, 0, 2, 1, 3]
    assert quantile_bins([1.0, 2.0, 3.0, 4.0], 2) == [0, 0, 1, 1]
    recs: list[dict[str, Any]] = []
    for i in range(10):
        eid = f"e{i}"
        # the total grows with length (i + 1 tokens); per token e0..e9 run 0, -0.1, ..., -0.9
        recs.append({"example_id": eid, "mode": "logprob", "logprob": -i * (i + 1) / 10, "question_tokens": i + 1})
        recs.append(_rec(eid, "test-time", 1, False, 10))
        recs.append(_rec(eid, "sleep", 1, i < 4, 5))  # the most predictable (least negative) gain
    rows = predictability_table(recs, 5)
    assert [r["n"] for r in rows] == [2] * 5
    assert [r["gain"] for r in rows] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert rows[0]["logprob_per_token_max"] <= rows[-1]["logprob_per_token_min"]
    # a record without its token count is left out rather than binned by its total
    assert predictability_table([*recs, {"example_id": "e0", "mode": "logprob", "logprob": -1.0}], 5) == rows
    # every example of a bin gained alike, so each resample does too: the intervals are points
    assert [(r["gain_lo"], r["gain_hi"]) for r in rows] == [(r["gain"], r["gain"]) for r in rows]
    mixed = [dict(r, correct=r["example_id"] == "e0") if r["mode"] == "sleep" else r for r in recs]
    top = predictability_table(mixed, 5)[-1]  # e0 gained, e1 did not
    assert top["gain"] == 0.5 and top["gain_lo"] == 0.0 and top["gain_hi"] == 1.0
    assert predictability_table([], 5) == []


def test_math_nan_for_empty_tables() -> None:
    assert budget_table([]) == []
    assert math.isnan(mean([None]))


def test_cli_parses_options() -> None:
    args = build_parser().parse_args(["pareto", "--out", "x", "--dataset", "tiny", "--budgets", "0,1,4",
                                      "--limit", "3", "--model", "embedded:smollm2-135m", "--concurrency", "2"])
    opts = options_from(RunOptions, "pareto", args)
    assert opts.budgets == [0, 1, 4] and opts.limit == 3 and opts.concurrency == 2
    assert opts.sleep_spec == "embedded:smollm2-135m"
    args = build_parser().parse_args(["passk", "--out", "x", "--k", "3", "--sleep-model", "openai:m"])
    passk = options_from(PassKOptions, "passk", args)
    assert passk.k == 3 and passk.sleep_spec == "openai:m" and passk.budgets == [0, 1, 2, 3, 4]
    with pytest.raises(SystemExit):  # pass@k's own option is not the pareto experiment's
        build_parser().parse_args(["pareto", "--out", "x", "--k", "3"])


def test_unknown_experiment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment(RunOptions(experiment="nope", out=str(tmp_path), dataset="tiny", progress=False),
                          Env(RunOptions(experiment="nope", out=str(tmp_path))))


def test_examples_in_multi_query_keys_start_with_the_context(tmp_path: Path) -> None:
    opts = AmortizationOptions(experiment="amortization", out=str(tmp_path), budgets=[1], queries=2)
    keys = amortization_keys(opts, tiny_multi_query()[0])
    assert keys[:2] == ["tiny-mq-0|multi-query", "tiny-mq-0|sleep-run|k1-r1"]
    assert all(k.startswith("tiny-mq-0|") for k in keys) and len(keys) == 2 + 2 * 2


def test_complete_only_compares_modes_on_the_same_examples() -> None:
    recs = [_rec("a", "test-time", 0, True, 5), _rec("a", "sleep", 0, True, 5),
            _rec("b", "test-time", 0, False, 5)]  # b's sleep answer not measured yet
    kept, dropped = complete_only(recs)
    assert {r["example_id"] for r in kept} == {"a"} and dropped == 1


def test_verified_mode_serves_a_matching_predicted_answer_with_no_test_time_tokens(tmp_path: Path) -> None:
    first = load_dataset("tiny", limit=1)[0]
    predicted = json.dumps({"questions": [{"question": first.question, "answer": f"worked out. #### {first.answer}"}]})
    model = staged_model(predict=predicted, answer="The answer is 0.")
    env = _env(tmp_path, "pareto", model, verified=True)
    records = run_experiment(env.opts, env, argv=["pareto", "--verified"])
    verified = [r for r in records if r["mode"] == "sleep+verified"]
    assert len(verified) == 2 * 2  # 2 examples x 2 budgets
    served = [r for r in verified if r["example_id"] == first.id]
    assert all(r["path"] == "predicted" and r["correct"] and r["output_tokens"] == 0 for r in served)
    # The plain sleep mode on the same learned context still generates (and here answers wrong).
    plain = [r for r in records if r["mode"] == "sleep" and r["example_id"] == first.id]
    assert all(r["path"] == "learned" and not r["correct"] for r in plain)
    rows = {(r["mode"], r["budget"]) for r in budget_table(records)}
    assert ("sleep+verified", 0) in rows
    # Where nothing was served the verified call is the sleep call: recorded for both, generated once.
    missed = [r for r in records if r["mode"] == "sleep" and r["example_id"] != first.id]
    assert missed and all(r["same_call_as"] == r["key"].replace("|sleep|", "|sleep+verified|") for r in missed)
    assert not any("same_call_as" in r for r in plain)
    assert all(r["match_score"] >= 0.97 for r in served) and all("match_score" not in r for r in missed + plain)
    committed = [json.loads(x) for x in (Path(env.opts.out) / "records.jsonl").read_text().splitlines()]
    assert not any("match_reason" in r for r in committed)  # it quotes the question: texts file only
    assert any(r.get("match_reason") for r in records if r["mode"] == "sleep+verified")


def test_model_text_is_kept_out_of_the_committed_records_file(tmp_path: Path) -> None:
    model = staged_model(answer="Mira has 48 - 15 = 33 rolls. The answer is 33.")
    env = _env(tmp_path, "pareto", model)
    records = run_experiment(env.opts, env, argv=["pareto"])
    out = Path(env.opts.out)
    committed = (out / "records.jsonl").read_text(encoding="utf-8")
    assert "48 - 15" not in committed and "STATUS" not in committed
    rows = [json.loads(line) for line in committed.splitlines()]
    assert not any({"answer", "learned", "predicted"} & set(row) for row in rows)
    assert "48 - 15" in (out / "texts.jsonl").read_text(encoding="utf-8")
    # Readers see whole records again.
    assert all(r["answer"].startswith("Mira has") for r in records if r["mode"] in ("test-time", "sleep"))
    assert all(r["learned"] for r in records if r["mode"] == "sleep-run")


def test_every_experiment_is_one_registry_entry_with_its_own_arguments() -> None:
    assert set(EXPERIMENTS) == {"pareto", "passk", "scaling", "amortization", "predictability", "context-only",
                                "verified", "sleep-budget", "adversarial", "notes", "swe", "arrivals", "arrivals-live",
                                "docs"}
    parser = build_parser()
    args = parser.parse_args(["scaling", "--out", "x", "--scale-samples", "1,2"])
    assert args.scale_samples == [1, 2]
    args = parser.parse_args(["sleep-budget", "--dataset", "tiny", "--probe-k", "3", "--out", "o"])
    assert args.probe_k == 3 and args.command == "sleep-budget"
    args = parser.parse_args(["arrivals", "--traces", "poisson", "--scale", "0.1"])
    assert args.scale == 0.1 and args.delays == "0,10,30,120,600,1800"
    for wrong in (["verified", "--probe-k", "3"], ["sleep-budget", "--scale-samples", "1"],
                  ["arrivals", "--probe-k", "3"]):
        with pytest.raises(SystemExit):
            parser.parse_args(wrong)


def test_the_verified_experiment_runs_through_the_registry(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from evals import exp_verified
    from evals.__main__ import main

    seen: dict[str, Any] = {}

    def fake_run(**kw: Any) -> dict[str, Any]:
        seen.update(kw)
        tally = {"hits": 4, "wrong_served": 0, "paraphrase_hit_rate": 0.5}
        return {"items": 9, "threshold": 0.97, "verified": {"all": tally, "held_out": tally},
                "similarity_only": {"all": {"wrong_served": 2}}}

    monkeypatch.setattr(exp_verified, "run", fake_run)
    assert main(["verified", "--dataset", "tiny", "--limit", "3", "--out", "v"]) == 0
    assert seen["dataset"] == "tiny" and seen["limit"] == 3 and str(seen["out"]) == "v"
    out = capsys.readouterr().out
    assert '"hits": 4' in out and "done: v/summary.json" in out


def test_a_task_refuses_another_experiments_options(tmp_path: Path) -> None:
    env = _env(tmp_path, "pareto", staged_model())
    with pytest.raises(TypeError, match="PassKOptions"):
        EXPERIMENTS["passk"].runner.task(env, load_examples(env.opts)[0], set(), lambda r: None)  # type: ignore[union-attr]


def test_every_record_carries_the_commit_and_a_settings_hash(tmp_path: Path) -> None:
    from evals.provenance import commit, settings_hash

    env = _env(tmp_path, "pareto", staged_model())
    records = run_experiment(env.opts, env, argv=["pareto"])
    assert {r["commit"] for r in records} == {commit()} and commit() is not None  # the tests run in a checkout
    hashes = {r["settings_hash"] for r in records}
    assert len(hashes) == 1 and len(next(iter(hashes))) == 12
    run = json.loads((Path(env.opts.out) / "run.json").read_text())
    assert run["invocations"][0]["settings_hash"] in hashes
    # Where and how fast a run goes is not a setting; what it measures is.
    base = {"model": "m", "budgets": [0, 1], "out": "a", "concurrency": 1}
    assert settings_hash(base) == settings_hash({**base, "out": "b", "concurrency": 8, "progress": False})
    assert settings_hash(base) == settings_hash({**base, "budgets": [0, 2]})  # each record states its budget
    assert settings_hash(base) != settings_hash({**base, "model": "n"})
    # A setting added later keeps older runs' hash at its default, and changes it otherwise.
    assert settings_hash(base) == settings_hash({**base, "sample_merge": "majority"})
    assert settings_hash(base) != settings_hash({**base, "sample_merge": "concat"})
    # A resume with another token cap into the same run is flagged in the summary.
    env.opts.max_tokens_wake = 100
    run_experiment(env.opts, env, argv=["pareto"])
    assert "**Mixed settings:**" not in (Path(env.opts.out) / "summary.md").read_text()  # nothing new written
    env.opts.budgets = [0, 4, 1]
    run_experiment(env.opts, env, argv=["pareto"])
    assert "**Mixed settings:**" in (Path(env.opts.out) / "summary.md").read_text()


def test_cli_reports_a_fixable_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import dataclasses

    import evals.__main__ as cli
    from evals.errors import DatasetError

    def fail(args: Any, argv: Any) -> str:
        raise DatasetError("--dataset gsm-p2 has no template instance variables")

    monkeypatch.setitem(cli.EXPERIMENTS, "pareto", dataclasses.replace(EXPERIMENTS["pareto"], run=fail))
    assert cli.main(["pareto", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "DatasetError: --dataset gsm-p2 has no template instance variables" in err and "Traceback" not in err


def test_shards_starting_together_each_append_their_command_to_run_json(tmp_path: Path) -> None:
    """Two shards of one run write run.json at the same moment: neither reads the other's half-written file, and
    neither invocation is lost."""
    import multiprocessing

    from evals.records import RUN_FILE

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_run_file_many, args=(str(tmp_path), i)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0] * 4
    data = json.loads((tmp_path / RUN_FILE).read_text(encoding="utf-8"))
    assert len(data["invocations"]) == 4 * 25
    assert not list(tmp_path.glob(f".{RUN_FILE}.*"))  # no partial file left behind


def _write_run_file_many(out: str, shard: int) -> None:
    from evals.options import RunOptions
    from evals.records import write_run_file

    for _ in range(25):
        write_run_file(RunOptions(experiment="pareto", out=out), argv=["--shard", f"{shard + 1}/4"])
