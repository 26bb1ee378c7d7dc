"""The oracle notes arm: gold intermediate values from the worked solution, answered from like sleep notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.examples import Example
from evals.experiments import run_experiment
from evals.options import RunOptions
from evals.oracle import NoOracleNotesError, oracle_notes, oracle_values
from evals.pareto import budget_keys, budget_task
from evals.runner import Env
from evals.tables import budget_table, headline
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

SOLUTION = ("The city is covered in 42/ 3 = <<42/3=14>>14 intervals.\n"
            "It takes 14 * 10 = <<14*10=140>>140 minutes, or <<140/60>>2.33 hours.\n#### 140")
FOG = Example("fog-0", "A fog bank covers 3 miles every 10 minutes. The city is 42 miles across.",
              "How many minutes until the whole city is covered?", "140", "gsm-base", {"solution": SOLUTION})


def _run_fog(opts: RunOptions, model: Any) -> list[dict[str, object]]:
    """Every record one budget task writes for the fog example, under `opts`, with `model` as both models."""
    out: list[dict[str, object]] = []
    budget_task(Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings()), FOG, set(), out.append)
    return out


def test_oracle_values_from_annotations_then_equations() -> None:
    assert oracle_values(SOLUTION) == [("42/3", "14"), ("14*10", "140"), ("140/60", "2.33")]
    p2_style = "First: 16 - 16*1/2 =  8.\nThen 12 inches/remora * 8 remoras = 96 inches.\n#### 8"
    # no annotations (P2): the equations of its lines, each as written
    assert oracle_values(p2_style) == [("16 - 16*1/2", "8"), ("Then 12 inches/remora * 8 remoras", "96 inches")]
    assert oracle_values("no numbers here\n#### 5") == [] and oracle_values("") == []
    notes = oracle_notes(Example("e", "ctx", "q?", "140", "gsm-base", {"solution": SOLUTION}))
    assert notes.splitlines() == ["Worked values (checked):", "- 42/3 = 14", "- 14*10 = 140", "- 140/60 = 2.33"]
    with pytest.raises(NoOracleNotesError, match="e2: no worked solution"):
        oracle_notes(Example("e2", "ctx", "q?", "1", "tiny", {}))


def test_the_oracle_arm_answers_from_the_gold_values_with_no_sleep(tmp_path: Path) -> None:
    model = staged_model(answer="It takes 140 minutes. The answer is 140.")
    opts = RunOptions(experiment="pareto", out=str(tmp_path), budgets=[0, 1], oracle=True, progress=False)
    out = _run_fog(opts, model)
    oracle = [r for r in out if r["mode"] == "oracle"]
    assert len(oracle) == 2 and all(r["correct"] and r["sleep_output_tokens"] == 0 for r in oracle)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    answer_prompts = [c[-1].text for c in model.calls_for("answer")]
    with_gold = [p for p in answer_prompts if "- 14*10 = 140" in p]
    assert len(with_gold) == 2  # the two oracle answers, and no other answer saw the gold values
    reflects = len(model.calls_for("reflect"))
    assert reflects == 1  # the one sleep run of the sleep mode; the oracle slept on nothing
    rows = {(r["mode"], r["budget"]) for r in budget_table(out)}
    assert ("oracle", 0) in rows and any(line.startswith("oracle, budget 0") for line in headline(out))


def test_examples_without_a_solution_fail_the_oracle_arm_visibly(tmp_path: Path) -> None:
    model = staged_model()
    opts = RunOptions(experiment="pareto", out=str(tmp_path / "r"), dataset="tiny", limit=1, budgets=[0],
                      oracle=True, progress=False)
    records = run_experiment(opts, Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings()))
    oracle = [r for r in records if r["mode"] == "oracle"]
    assert len(oracle) == 1 and oracle[0]["error"] == "NoOracleNotesError" and oracle[0]["output_tokens"] is None


def test_oracle_intermediate_leaves_the_final_answer_out() -> None:
    from evals.oracle import ONE_STEP, intermediate_notes

    ex = Example("e", "ctx", "q?", "140", "gsm-base", {"solution": SOLUTION})
    notes = intermediate_notes(ex)
    # "14*10 = 140" is the answer and "140/60 = 2.33" states it: both left out, "42/3 = 14" kept
    assert notes.splitlines()[1:] == ["- 42/3 = 14"] and "140" not in _numerals(notes)
    one_step = Example("o", "ctx", "q?", "12", "gsm-base", {"solution": "3 * 4 = <<3*4=12>>12\n#### 12"})
    assert intermediate_notes(one_step).splitlines()[1:] == [ONE_STEP]
    with pytest.raises(NoOracleNotesError):
        intermediate_notes(Example("t", "ctx", "q?", "1", "tiny", {}))


def test_oracle_intermediate_holds_the_final_answer_in_no_generated_problem() -> None:
    """Issue 28's check over the instances the runs use (gsm-base seeds 0, 2801, 2802; P1; P2), when the
    shared data is here; the full oracle holds the answer in most of them."""
    from evals.datasets import load_dataset
    from evals.grading import format_number, numbers_in
    from evals.oracle import final_answer, intermediate_notes

    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "gsm-symbolic").is_dir():
        pytest.skip("no ../shared/data here")
    checked = holds_full = 0
    for dataset, seed, limit in [("gsm-base", 0, 60), ("gsm-base", 2801, 60), ("gsm-base", 2802, 60),
                                 ("gsm-p1", 0, 20), ("gsm-p2", 0, 100)]:  # P1 generates slowly
        for ex in load_dataset(dataset, data_dir=data, seed=seed, limit=limit):
            answer = final_answer(ex)
            try:
                notes = intermediate_notes(ex)
            except NoOracleNotesError:  # no annotated value at all: the full oracle has none either
                with pytest.raises(NoOracleNotesError):
                    oracle_notes(ex)
                continue
            assert answer is not None and answer not in numbers_in(notes), ex.id
            assert format_number(answer) not in _numerals(notes), ex.id
            holds_full += answer in numbers_in(oracle_notes(ex))
            checked += 1
    assert checked > 280 and holds_full > 200  # the full oracle: the answer in most problems


def test_the_oracle_intermediate_arm_runs_beside_the_full_one(tmp_path: Path) -> None:
    model = staged_model(answer="The answer is 140.")
    opts = RunOptions(experiment="pareto", out=str(tmp_path), budgets=[0], oracle=True, oracle_intermediate=True,
                      progress=False)
    out = _run_fog(opts, model)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    assert [r["mode"] for r in out if str(r["mode"]).startswith("oracle")] == ["oracle", "oracle-intermediate"]
    prompts = [c[-1].text for c in model.calls_for("answer")]
    assert sum("- 42/3 = 14" in p and "14*10" not in p for p in prompts) == 1  # the intermediate arm's one answer


def _numerals(text: str) -> set[str]:
    """Each run of digits (with its decimals) on its own, thousands separators dropped: "140/60" -> 140, 60."""
    import re

    return {m.rstrip("0").rstrip(".") if "." in m else m for m in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}


def test_named_scaling_settings_and_a_question_work_setting(tmp_path: Path) -> None:
    import argparse

    from evals.options import ScalingOptions, SleepSetting, parse_settings

    assert parse_settings("k1-r1, k4-r1,k1-r2,k1-r1-q2") == [SleepSetting(1, 1), SleepSetting(4, 1),
                                                             SleepSetting(1, 2), SleepSetting(1, 1, 2)]
    assert SleepSetting(1, 1, 2).label == "k1-r1-q2" and SleepSetting(2, 1).label == "k2-r1"
    with pytest.raises(argparse.ArgumentTypeError, match="k<samples>-r<rounds>"):
        parse_settings("k0-r1")
    listed = "1. How many minutes until the city is covered?\n2. How many intervals?"
    model = staged_model(answer="The answer is 140.", predict=[listed, "14 intervals x 10 = 140", "14"])
    opts = ScalingOptions(experiment="scaling", out=str(tmp_path), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k1-r1,k1-r1-q2"))
    out = _run_fog(opts, model)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    runs = {r["setting"]: r for r in out if r["mode"] == "sleep-run"}
    assert runs["k1-r1"]["questions"] == 0 and runs["k1-r1-q2"]["questions"] == 2
    assert len(model.calls_for("predict")) == 3  # only the -q2 sleep: the list and two level-4 answers
    assert "Reason step by step" in model.calls_for("predict")[1][-1].text


def test_sleep_budgets_limit_the_sleep_and_oracle_modes_and_cut_replies_are_counted(tmp_path: Path) -> None:
    from sleeptime.errors import InvalidInputError

    model = staged_model(answer="The answer is 140.")
    opts = RunOptions(experiment="pareto", out=str(tmp_path), budgets=[0, 3], sleep_budgets=[0],
                      oracle_intermediate=True, progress=False, max_tokens_wake=4)
    out = _run_fog(opts, model)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    assert sorted((str(r["mode"]), r["budget"]) for r in out if "budget" in r) == [
        ("oracle-intermediate", 0), ("sleep", 0), ("test-time", 0), ("test-time", 3)]
    answers = [r for r in out if "budget" in r]
    # the scripted reply is longer than 4 tokens: every answer reached the wake cap and says so
    assert all(r["hit_max_tokens"] is (int(str(r["output_tokens"])) >= 4) for r in answers)
    with pytest.raises(InvalidInputError, match="--sleep-budgets"):
        RunOptions(experiment="pareto", out="x", budgets=[0], sleep_budgets=[1]).validate()


def test_a_setting_whose_sleep_publishes_nothing_reads_no_other_settings_notes(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings

    good, wrong = "- 42/3 = 14\n- 14*10 = 140", "- 42/3 = 15\n- 14*10 = 150"  # wrong sums fail checking
    model = staged_model(answer="The answer is 140.", reflect=[good, wrong])
    opts = ScalingOptions(experiment="scaling", out=str(tmp_path), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k1-r1,k2-r1"))
    out = _run_fog(opts, model)
    runs = {r["setting"]: r for r in out if r["mode"] == "sleep-run"}
    assert runs["k1-r1"]["published"] and not runs["k2-r1"]["published"]
    answers = {r["setting"]: r for r in out if r["mode"] == "sleep"}
    assert answers["k1-r1"]["path"] != "test-time" and "sleep_published" not in answers["k1-r1"]
    unslept = answers["k2-r1"]
    assert unslept["path"] == "test-time" and unslept["sleep_published"] is False
    assert unslept["sleep_output_tokens"] == runs["k2-r1"]["sleep_output_tokens"] > 0  # its cost stays on it
    prompts = [c[-1].text for c in model.calls_for("answer")]
    assert sum("42/3 = 14" in p for p in prompts) == 1  # only k1-r1's answer read k1-r1's notes


def test_a_replay_answers_from_another_runs_recorded_notes_with_its_sleep_tokens(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings
    from evals.records import RecordWriter
    from sleeptime.errors import InvalidInputError

    good, wrong = "- 42/3 = 14\n- 14*10 = 140", "- 42/3 = 15\n- 14*10 = 150"  # k2-r1's notes fail checking
    sleeper = staged_model(answer="The answer is 140.", reflect=[good, wrong])
    source = tmp_path / "source"
    opts = ScalingOptions(experiment="scaling", out=str(source), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k1-r1,k2-r1"))
    writer = RecordWriter(source / "records.jsonl", fsync=False)
    recorded = _run_fog(opts, sleeper)
    for record in recorded:
        writer.write(record)
    slept = {r["setting"]: r for r in recorded if r["mode"] == "sleep-run"}

    waker = staged_model(answer="The answer is 140.")
    replay = ScalingOptions(experiment="scaling", out=str(tmp_path / "replay"), budgets=[0], n_questions=0,
                            progress=False, scale_settings=parse_settings("k1-r1,k2-r1,k4-r1"),
                            notes_from=str(source))
    out = _run_fog(replay, waker)
    assert not waker.calls_for("reflect")  # nothing slept: the notes came from the source run
    runs = {r["setting"]: r for r in out if r["mode"] == "sleep-run"}
    assert set(runs) == {"k1-r1", "k2-r1"}  # k4-r1 was never recorded there: skipped until it is
    answers = {r["setting"]: r for r in out if r["mode"] == "sleep"}
    assert answers["k1-r1"]["path"] != "test-time" and answers["k2-r1"]["path"] == "test-time"
    for label in ("k1-r1", "k2-r1"):
        assert answers[label]["sleep_output_tokens"] == slept[label]["sleep_output_tokens"] > 0
    prompts = [c[-1].text for c in waker.calls_for("answer")]
    assert sum("42/3 = 14" in p for p in prompts) == 1  # the replayed k1-r1 notes, read once
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "records.jsonl").write_text("")
    with pytest.raises(InvalidInputError, match=r"no texts\.jsonl there"):  # before any model call
        run_experiment(ScalingOptions(experiment="scaling", out=str(tmp_path / "r2"), budgets=[0],
                                      notes_from=str(tmp_path / "bare")),
                       Env(replay, wake_model=waker, sleep_model=waker, embeddings=HashEmbeddings()))


def test_a_replay_merges_the_recorded_samples_again_by_another_rule(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings
    from evals.records import RecordWriter, write_run_file

    one, other = "- a = 42\n- sold = 14\n- left = a - sold", "- a = 42\n- sold = 10\n- left = a - sold"
    source = tmp_path / "source"
    opts = ScalingOptions(experiment="scaling", out=str(source), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k1-r1,k2-r1"), sample_merge="concat")
    recorded = _run_fog(opts, staged_model(answer="The answer is 140.", reflect=[one, one, other]))
    write_run_file(opts, argv=[])
    writer = RecordWriter(source / "records.jsonl", fsync=False)
    for record in recorded:
        writer.write(record)
    k2 = next(r for r in recorded if r["mode"] == "sleep-run" and r["setting"] == "k2-r1")
    assert isinstance(k2["sample_notes"], list) and len(k2["sample_notes"]) == 2
    assert "- sold = 10" in str(k2["learned"])  # concatenation keeps the minority value as a line

    def replayed(merge: str, folder: str) -> list[str]:
        waker = staged_model(answer="The answer is 140.")
        _run_fog(ScalingOptions(experiment="scaling", out=str(tmp_path / folder), budgets=[0], n_questions=0,
                                progress=False, scale_settings=parse_settings("k2-r1"), sample_merge=merge,
                                notes_from=str(source)), waker)
        assert not waker.calls_for("reflect")
        return [c[-1].text for c in waker.calls_for("answer")]

    same = replayed("concat", "same")
    assert any("sold = 10" in p for p in same)  # the source's own rule: its notes as recorded
    again = replayed("reconcile", "again")
    assert any("the samples disagree" in p for p in again) and not any("sold = 10\n" in p for p in again)


def test_a_replay_by_another_rule_skips_a_sleep_recorded_without_its_samples(tmp_path: Path) -> None:
    from evals.replay import replay_sleep

    source = tmp_path / "source"
    source.mkdir()
    (source / "run.json").write_text('{"options": {"sample_merge": "concat"}}')
    (source / "records.jsonl").write_text(
        '{"key": "e|sleep-run|k2-r1", "mode": "sleep-run", "samples": 2, "published": true}\n')
    (source / "texts.jsonl").write_text('{"key": "e|sleep-run|k2-r1", "learned": ["- a = 1"]}\n')
    assert replay_sleep(str(source), None, "e", "c", "k2-r1", merge="reconcile") is None


def test_a_replay_by_another_rule_skips_an_example_whose_samples_were_not_kept(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings
    from evals.replay import samples_to_remerge

    source = tmp_path / "source"
    source.mkdir()
    (source / "run.json").write_text('{"options": {"sample_merge": "concat"}}')
    (source / "records.jsonl").write_text(
        '{"key": "fog-0|sleep-run|k1-r1", "mode": "sleep-run", "samples": 1, "published": true}\n'
        '{"key": "fog-0|sleep-run|k2-r1", "mode": "sleep-run", "samples": 2, "published": true}\n'
        '{"key": "f|sleep-run|k2-r1", "mode": "sleep-run", "samples": 2, "published": true}\n')
    (source / "texts.jsonl").write_text(
        '{"key": "fog-0|sleep-run|k1-r1", "learned": ["- a = 1"], "sample_notes": ["- a = 1"]}\n'
        '{"key": "fog-0|sleep-run|k2-r1", "learned": ["- a = 1"]}\n'
        '{"key": "f|sleep-run|k2-r1", "learned": ["- a = 1"], "sample_notes": ["- a = 1", "- a = 2"]}\n')
    settings = parse_settings("k1-r1,k2-r1")
    assert not samples_to_remerge(str(source), "fog-0", settings, "reconcile")
    assert samples_to_remerge(str(source), "f", parse_settings("k2-r1"), "reconcile")
    assert samples_to_remerge(str(source), "fog-0", settings, "concat")  # the source's own rule replays as recorded
    waker = staged_model(answer="The answer is 140.")
    out = _run_fog(ScalingOptions(experiment="scaling", out=str(tmp_path / "again"), budgets=[0], n_questions=0,
                                  progress=False, scale_settings=settings, sample_merge="reconcile",
                                  notes_from=str(source)), waker)
    assert out == [] and not waker.calls  # not even test-time: it would repeat the source run's answers


def test_views_sampling_sleeps_once_at_the_largest_k_and_reads_smaller_ks_off_it(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings

    notes = ["- 42/3 = 14", "- 14*10 = 140", "- 140/60 = 2.33", "- 42 - 3 = 39"]
    model = staged_model(answer="The answer is 140.", reflect=notes)
    opts = ScalingOptions(experiment="scaling", out=str(tmp_path), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k4-r1,k2-r1,k1-r1"), sampling="views")
    out = _run_fog(opts, model)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    assert len(model.calls_for("reflect")) == 4  # one sleep of 4 samples, not 4 + 2 + 1
    runs = {r["setting"]: r for r in out if r["mode"] == "sleep-run"}
    assert "first_samples_of" not in runs["k4-r1"]
    assert runs["k2-r1"]["first_samples_of"] == runs["k1-r1"]["first_samples_of"] == "k4-r1"
    assert runs["k2-r1"]["sample_notes"] == runs["k4-r1"]["sample_notes"][:2]
    assert runs["k1-r1"]["sample_notes"] == runs["k4-r1"]["sample_notes"][:1]
    per_sample = runs["k4-r1"]["sample_output_tokens"]
    assert len(per_sample) == 4 and sum(per_sample) == runs["k4-r1"]["sleep_output_tokens"]
    assert runs["k2-r1"]["sleep_output_tokens"] == sum(per_sample[:2]) < runs["k4-r1"]["sleep_output_tokens"]
    # each setting's answer read its own merge: k1 sees only sample 0's line
    answers = [c[-1].text for c in model.calls_for("answer")]
    assert sum(runs["k1-r1"]["sample_notes"][0].splitlines()[-1] in p for p in answers) >= 3

    # without views sampling (samples 1.. drawn at a temperature) every setting sleeps on its own
    again = staged_model(answer="The answer is 140.", reflect=notes)
    plain = ScalingOptions(experiment="scaling", out=str(tmp_path / "plain"), budgets=[0], n_questions=0,
                           progress=False, scale_settings=parse_settings("k4-r1,k2-r1,k1-r1"))
    _run_fog(plain, again)
    assert len(again.calls_for("reflect")) == 7


def test_views_sampling_reads_question_work_settings_off_the_largest_k_too(tmp_path: Path) -> None:
    from evals.options import ScalingOptions, parse_settings

    notes = ["- 42/3 = 14", "- 14*10 = 140", "- 140/60 = 2.33", "- 42 - 3 = 39"]
    lists = [f"1. Question {i} a?\n2. Question {i} b?" for i in range(4)]
    model = staged_model(answer="The answer is 140.", reflect=notes,
                         predict=[x for i in range(4) for x in (lists[i], f"{i}a", f"{i}b")])
    opts = ScalingOptions(experiment="scaling", out=str(tmp_path), budgets=[0], n_questions=0, progress=False,
                          scale_settings=parse_settings("k4-r1-q2,k2-r1-q2,k1-r1-q2,k2-r1,k1-r1"),
                          sampling="views")
    out = _run_fog(opts, model)
    assert {str(r["key"]) for r in out} == set(budget_keys(opts, FOG))
    # one 4-sample sleep with question work (4 lists, 8 answers) and one of 2 samples without: 6 reflect calls
    assert len(model.calls_for("reflect")) == 6 and len(model.calls_for("predict")) == 12
    runs = {r["setting"]: r for r in out if r["mode"] == "sleep-run"}
    assert runs["k2-r1-q2"]["first_samples_of"] == runs["k1-r1-q2"]["first_samples_of"] == "k4-r1-q2"
    assert runs["k1-r1"]["first_samples_of"] == "k2-r1"  # no question work: read off the largest k without it
    assert [q["sample"] for q in runs["k4-r1-q2"]["predicted"]] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [q["question"] for q in runs["k2-r1-q2"]["predicted"]] == [
        q["question"] for q in runs["k4-r1-q2"]["predicted"][:4]]
    assert runs["k2-r1-q2"]["sleep_output_tokens"] == sum(runs["k4-r1-q2"]["sample_output_tokens"][:2])
