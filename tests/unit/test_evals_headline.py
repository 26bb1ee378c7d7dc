"""The headline block of evals/results/README.md: computed from synthetic records, idempotent, honest about what is
missing, and a well-formed table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from evals.headline import END, START, cell, headline_block, load_evidence, results_readme, update_readme
from sleeptime.errors import InvalidInputError
from tests.eval_runs import write_run


def _rec(i: int, mode: str, budget: int, correct: bool, tokens: int, sleep: int = 0) -> dict[str, Any]:
    return {"key": f"e{i}|{mode}|{budget}", "example_id": f"e{i}", "mode": mode, "budget": budget,
            "setting": None if mode == "test-time" else "k1-r1", "correct": correct, "output_tokens": tokens,
            "input_tokens": 100, "sleep_output_tokens": sleep}


def _pareto(tt_tokens: tuple[int, int] = (10, 50)) -> list[dict[str, Any]]:
    """20 examples. Test-time only: budget 0 right on 5 with tt_tokens[0] tokens, budget 1 right on 10 with
    tt_tokens[1]. Sleep-time (300 sleep tokens a context): budget 0 right on 10 with 10 tokens, budget 1 on 12."""
    recs: list[dict[str, Any]] = []
    for i in range(20):
        recs += [_rec(i, "test-time", 0, i < 5, tt_tokens[0]), _rec(i, "test-time", 1, i < 10, tt_tokens[1]),
                 _rec(i, "sleep", 0, i < 10, 10, 300), _rec(i, "sleep", 1, i < 12, 20, 300)]
    return recs


def test_the_block_states_the_ratios_computed_from_the_records(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    block = headline_block(tmp_path)
    assert block.startswith(START) and block.endswith(END)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in block.splitlines() if line.startswith("| ")}
    # sleep budget 0 (10/20, 10 tokens) is matched by test-time budget 1 (10/20, 50 tokens): 50 / 10
    assert "run-a, sleep budget 0 (10/20): 5.00x (95% CI" in rows["Test-time tokens at equal accuracy "
                                                               "(test-time only / sleep-time; above 1: sleep-time "
                                                               "needs fewer)"]
    # sleep budget 1 (12/20, 20 tokens) beats test-time's best, budget 1 (10/20, 50 tokens)
    # (the run measured test-time at levels 0 and 1 only, and says so)
    assert ("run-a, sleep budget 1 (12/20): no test-time budget this run measured (levels 0, 1 only) is as accurate; "
            "the most accurate, budget 1 (10/20), used 2.50x its test-time tokens (50.0 vs 20.0)") in block
    gain = next(v for k, v in rows.items() if k.startswith("Accuracy gain"))
    assert "run-a, sleep budget 0: 10/20 vs 5/20 test-time only (+25.0 points, p = 0.062)" in gain
    # cost at 10 queries against test-time only at equal accuracy: sleep budget 0 costs 300/10 + 10 x 10 = 130,
    # test-time reaches its 10/20 with 50 tokens, 10 x 50 = 500: 3.85x; sleep budget 1 (12/20) has no
    # equal-accuracy point, so no ratio, stated as a loss
    assert "run-a sleep k1-r1 budget 0, t = 10, at equal accuracy: test-time only / sleep-time = 3.85x" in block
    assert "(projected, equal accuracy): run-a sleep k1-r1 budget 1: no ratio" in block
    # missing experiments are said to be missing, not filled in
    assert "not measured yet (no Multi-Query amortization run)" in block
    assert "scaling sleep compute (`python -m evals scaling`): not measured yet" in block
    oracle = next(v for k, v in rows.items() if k.startswith("What the oracle"))
    assert oracle.endswith("| not measured yet |")


def test_the_numbers_move_with_the_records(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto(tt_tokens=(10, 80)))
    assert "run-a, sleep budget 0 (10/20): 8.00x" in headline_block(tmp_path)


def test_measured_amortization_and_oracle_and_losses(tmp_path: Path) -> None:
    recs: list[dict[str, Any]] = []
    for c in ("c1", "c2"):
        recs.append({"key": f"{c}|sleep-run|k1-r1", "mode": "sleep-run", "context_id": c, "example_id": c,
                     "sleep_output_tokens": 200})
        for q in range(10):
            for mode, toks in (("test-time", 40), ("sleep", 10)):
                recs.append({"key": f"{c}|q{q}|{mode}|1", "example_id": f"{c}|q{q}", "context_id": c,
                             "query_index": q, "mode": mode, "budget": 1, "correct": True, "output_tokens": toks})
    write_run(tmp_path / "mq", "amortization", recs)
    oracle = [_rec(i, m, 0, ok, 10) for i in range(6) for m, ok in
              (("test-time", i < 3), ("sleep", i < 1), ("oracle", True))]
    write_run(tmp_path / "orc", "pareto", oracle)
    block = headline_block(tmp_path)
    # 200/10 + 10 x 10 = 120 against 10 x 40 = 400
    assert "mq budget 1, t = 10: sleep-time 120 vs test-time only 400 (test-time only / sleep-time = 3.33x)" in block
    assert "not measured yet (no Multi-Query" not in block
    assert "orc budget 0: oracle notes (answer among them) 6/6 vs sleep 1/6, test-time 3/6" in block
    assert "accuracy: orc, sleep budget 0, 1/6 vs 3/6 (p = 0.500)" in block


def test_update_readme_is_idempotent_and_needs_its_markers(tmp_path: Path) -> None:
    write_run(tmp_path / "results" / "run-a", "pareto", _pareto())
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\ntyped-in figures\n{END}\noutro\n")
    block = headline_block(tmp_path / "results")
    assert update_readme(readme, block) is True
    once = readme.read_bytes()
    assert update_readme(readme, headline_block(tmp_path / "results")) is False
    assert readme.read_bytes() == once and b"typed-in" not in once and once.endswith(b"outro\n")
    readme.write_text("no markers\n")
    with pytest.raises(InvalidInputError, match="markers"):
        update_readme(readme, block)


def test_amortization_with_fewer_questions_says_at_how_many(tmp_path: Path) -> None:
    recs: list[dict[str, Any]] = [{"key": "c|sleep-run|k1-r1", "mode": "sleep-run", "context_id": "c",
                                   "example_id": "c", "sleep_output_tokens": 500}]
    for q in range(5):
        for mode, toks in (("test-time", 40), ("sleep", 10)):
            recs.append({"key": f"c|q{q}|{mode}|1", "example_id": f"c|q{q}", "context_id": "c", "query_index": q,
                         "mode": mode, "budget": 1, "correct": True, "output_tokens": toks})
    write_run(tmp_path / "mq", "amortization", recs)
    block = headline_block(tmp_path)
    # 500/5 + 10 x 10 = 200 against 400 at 5 queries; at 1 query 500 + 100 = 600 against 400: a loss
    assert "mq budget 1 at 5 queries/context (the most its contexts have), t = 10: sleep-time 200 vs " in block
    assert "cost per query at 1 queries/context: mq budget 1, 600 vs 400" in block
    assert "not measured yet (no Multi-Query" not in block


def test_predictability_bins_are_stated_and_copied_answers_count_once(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    # The predictability run copies run-a's answers (--from-run) and adds log p(question | context): the 10 least
    # predictable examples are those sleep-time did not help at budget 0.
    copied = [r | {"copied_from": "run-a"} for r in _pareto()]
    logprobs = [{"key": f"e{i}|logprob", "example_id": f"e{i}", "mode": "logprob", "logprob": -float(20 - i),
                 "question_tokens": 10} for i in range(20)]
    write_run(tmp_path / "pred", "predictability", copied + logprobs)
    block = headline_block(tmp_path)
    row = next(line for line in block.splitlines() if line.startswith("| Gain by how predictable"))
    assert "pred: accuracy gain in points by predictability bin (log p per question token), least predictable " \
        "first:" in row
    # bin 1 = e0-e3 (logprob -20..-17): right with both at budgets 0 and 1, so no gain; bin 3 = e8-e11: sleep
    # right on e8-e9 at budget 0 and all four at 1, test-time on e8-e9 at budget 1 only:
    # (2/4 + 4/4) / 2 - (0 + 2/4) / 2 = +50 points
    assert "bin 1 +0.0 (n=4)" in row and "bin 3 +50.0 (n=4)" in row
    # run-a's answers are stated once, under run-a: the copies add no second "pred, sleep budget 0" line
    assert "run-a, sleep budget 0 (10/20)" in block and "pred, sleep budget 0" not in block


def test_without_a_predictability_run_the_row_says_so(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    row = next(line for line in headline_block(tmp_path).splitlines() if line.startswith("| Gain by how predictable"))
    assert row.endswith("| not measured yet |")


def test_a_sleep_point_at_the_floor_is_said_to_be_at_the_floor(tmp_path: Path) -> None:
    # test-time right once at budget 1, so the run is not at the floor as a whole; sleep budget 0 is
    recs = [_rec(i, m, b, m == "test-time" and b == 1 and i == 0, 10) for i in range(5)
            for m in ("test-time", "sleep") for b in (0, 1)]
    write_run(tmp_path / "floor", "pareto", recs)
    block = headline_block(tmp_path)
    assert "floor, sleep budget 0 (0/5): at the floor, no equal-accuracy comparison" in block
    assert "is as accurate" not in block
    # a run whose every cell is at the floor is listed apart, not stated cell by cell
    write_run(tmp_path / "all-wrong", "pareto", [r | {"correct": False} for r in recs])
    block = headline_block(tmp_path)
    assert "Listed apart as at the floor (every test-time and sleep cell at most 5% right" in block
    assert "all-wrong (5)" in block and "all-wrong, sleep" not in block


def test_a_smoke_run_is_named_and_left_out_of_the_cells(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    smoke = [_rec(i, m, 0, True, 10) for i in range(2) for m in ("test-time", "sleep")]
    write_run(tmp_path / "smoke", "pareto", smoke)
    block = headline_block(tmp_path)
    assert "Left out as smoke runs (fewer than 5 graded examples): smoke (2)." in block
    assert "smoke, sleep budget 0" not in block and "run-a, sleep budget 0 (10/20)" in block
    assert "(1 run folders," in block


def _cells(row: str) -> list[str]:
    """A markdown table row split on its unescaped pipes, as GFM splits it."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_a_pipe_inside_a_cell_is_escaped() -> None:
    assert cell("log p(question | context)") == "log p(question \\| context)"
    assert cell(cell("a | b")) == cell("a | b")  # escaping twice changes nothing
    assert cell("one\ntwo") == "one<br>two" and cell("plain") == "plain"


def test_every_row_of_the_table_has_three_cells(tmp_path: Path) -> None:
    write_run(tmp_path / "run|a", "pareto", _pareto())  # a folder name with a pipe lands in the "ours" cells
    rows = [line for line in headline_block(tmp_path).splitlines() if line.startswith("|")]
    assert len(rows) > 3 and all(len(_cells(r)) == 3 for r in rows), [r for r in rows if len(_cells(r)) != 3]
    pred = next(r for r in rows if r.startswith("| Gain by how predictable"))
    assert "log p(question \\| context)" in _cells(pred)[1]
    assert "run\\|a, sleep budget 0 (10/20)" in headline_block(tmp_path)


def test_the_block_is_written_into_the_results_readme_by_default(tmp_path: Path) -> None:
    assert results_readme(tmp_path / "results") == tmp_path / "results" / "README.md"
    assert results_readme("evals/results").as_posix() == "evals/results/README.md"


def test_an_identical_rerun_is_counted_once(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    write_run(tmp_path / "run-b", "pareto", _pareto())  # the same answers again (greedy decoding reruns)
    # run-c answered differently at budget 1 (one more right): that cell is new evidence, budget 0 is not
    changed = [r | {"correct": True} if r["mode"] == "sleep" and r["budget"] == 1 and r["example_id"] == "e15" else r
               for r in _pareto()]
    write_run(tmp_path / "run-c", "pareto", changed)
    ev = load_evidence(tmp_path)
    assert ev.duplicates == [("run-b, sleep k1-r1 budget 0", "run-a, sleep k1-r1 budget 0"),
                             ("run-b, sleep k1-r1 budget 1", "run-a, sleep k1-r1 budget 1"),
                             ("run-c, sleep k1-r1 budget 0", "run-a, sleep k1-r1 budget 0")]
    block = headline_block(tmp_path)
    assert "run-b, sleep budget 0" not in block and "run-c, sleep budget 0" not in block
    assert "Counted once (the same answers as an earlier run's): run-b, sleep k1-r1 budget 0" in block


def test_development_split_runs_are_listed_apart(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    write_run(tmp_path / "dev-x", "pareto", _pareto(tt_tokens=(11, 51)))
    ev = load_evidence(tmp_path)
    assert [name for name, _ in ev.runs] == ["run-a"] and ev.development == [("dev-x", 20)]
    block = headline_block(tmp_path)
    assert "Listed apart as development splits (designs were chosen on them, so not evidence): dev-x (20)" in block
    assert "dev-x, sleep" not in block


def test_a_merge_replay_is_listed_apart_and_a_cheap_wake_replay_is_evidence(tmp_path: Path) -> None:
    write_run(tmp_path / "run-a", "pareto", _pareto())
    changed = [r | {"correct": True} if r["mode"] == "sleep" and r["example_id"] == "e15" else r for r in _pareto()]
    write_run(tmp_path / "run-a-medoid", "pareto", changed, notes_from="evals/results/run-a", sample_merge="medoid")
    write_run(tmp_path / "run-a-wake05b", "pareto", changed, notes_from="evals/results/run-a", model="small")
    ev = load_evidence(tmp_path)
    assert ev.replays == [("run-a-medoid", 20)]
    assert [name for name, _ in ev.runs] == ["run-a", "run-a-wake05b"]
    block = headline_block(tmp_path)
    assert "Listed apart as merge replays" in block and "run-a-medoid (20)" in block
    assert "run-a-medoid, sleep" not in block and "run-a-wake05b, sleep" in block


def test_a_sleep_point_past_the_whole_test_time_curve_is_said_plainly(tmp_path: Path) -> None:
    # test-time at every level 0-4, right on 2, 3, 4, 5, 6 of 20; sleep budget 0 right on 10
    recs = [_rec(i, "test-time", b, i < 2 + b, 10 * (b + 1)) for i in range(20) for b in range(5)]
    recs += [_rec(i, "sleep", 0, i < 10, 10, 300) for i in range(20)]
    write_run(tmp_path / "full", "pareto", recs)
    block = headline_block(tmp_path)
    assert "full, sleep budget 0 (10/20): no test-time budget is as accurate; the most accurate, budget 4" in block
