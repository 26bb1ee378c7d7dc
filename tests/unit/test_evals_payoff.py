"""The README's 'Does sleeping pay off?' block, computed from the decisive run's records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.payoff import DECISIVE, END, START, payoff_block, update_payoff
from tests.eval_runs import write_run


def _rec(i: int, mode: str, budget: int, correct: bool, tokens: int, setting: str | None = None,
         sleep: int = 0, **kw: Any) -> dict[str, Any]:
    return {"key": f"e{i}|{mode}|{budget}|{setting}", "example_id": f"e{i}", "mode": mode, "budget": budget,
            "setting": setting, "correct": correct, "output_tokens": tokens, "input_tokens": 100,
            "sleep_output_tokens": sleep, **kw}


def _decisive() -> list[dict[str, Any]]:
    """20 examples. Test-time: level 0 right on 2 (10 tokens), level 2 on 6 (60), level 4 on 10 (210, one cut).
    Sleep k1-r1 level 0: right on 8 with 12 tokens and 200 sleep tokens; k2-r1 on 10 (400 sleep tokens)."""
    recs: list[dict[str, Any]] = []
    for i in range(20):
        recs += [_rec(i, "test-time", 0, i < 2, 10), _rec(i, "test-time", 2, i < 6, 60),
                 _rec(i, "test-time", 4, i < 10, 210, hit_max_tokens=i == 0),
                 _rec(i, "sleep", 0, i < 8, 12, "k1-r1", 200), _rec(i, "sleep", 0, i < 10, 12, "k2-r1", 400),
                 _rec(i, "oracle-intermediate", 0, i < 15, 9)]
    return recs


def test_the_block_answers_from_the_records(tmp_path: Path) -> None:
    write_run(tmp_path / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4], limit=200)
    block = payoff_block(tmp_path, tmp_path, min_n=20)
    assert block.startswith(START) and block.endswith(END)
    assert ("| Sleep (k = 1, r = 1) vs test-time, level 0 | 8/20 vs 2/20 (6 vs 0 right only with one, p = 0.031); "
            "best test-time: level 4, 10/20 on 210 tokens |") in block
    # sleep's 0.40 lies between level 2 (0.30, 60 tokens) and level 4 (0.50, 210): 135 tokens, over 12
    assert "11.25x" in block and "test-time needs 135 tokens" in block
    # cost per query at 10 queries: test-time 10 x 135 = 1350; sleep 200/10 + 10 x 12 = 140, with its interval
    assert "9.64x (95% CI " in block and "): test-time 1350 vs sleep 140 (sleep 200 tokens/context; projected from " \
        "single-question records)" in block
    assert "k2-r1 10/20 (400 sleep tokens) 2 vs 0, p = 0.500" in block
    # the criteria, stated: k2-r1 does not fall, and its +10 points (2 vs 0) are no test
    assert ("p = 0.500. Accuracy falls along no axis; no axis at its largest setting beats k1-r1 by 5 points with "
            "p < 0.05 |") in block
    # sleep's best, k2-r1's 10/20 on 12 tokens, equals test-time level 4's 10/20: nothing above it
    assert "Where test-time wins" not in block
    assert "n = 20 of 200 examples complete" in block and "1 answers cut at the wake token cap" in block
    assert f"]({DECISIVE}/accuracy_vs_tokens.png)" in block


def test_a_sleep_point_below_every_test_time_level_is_a_loss_with_no_cost_ratio(tmp_path: Path) -> None:
    recs = [r | {"correct": False} if r["mode"] == "sleep" and r["setting"] == "k1-r1" and r["example_id"] != "e0"
            else r for r in _decisive()]  # sleep 1/20 against test-time 2/20 at its cheapest level
    write_run(tmp_path / DECISIVE, "scaling", recs, budgets=[0, 2, 4])
    block = payoff_block(tmp_path, min_n=20)
    assert "none: a loss (sleep 0.05 is below test-time's cheapest level)" in block
    assert "none: no equal-accuracy point" in block


def test_the_readme_block_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Does sleeping pay off?\n\n{START}\nold\n{END}\n\nmore\n", encoding="utf-8")
    results = tmp_path / "evals" / "results"
    assert update_payoff(readme, results)  # no run yet: says so
    assert "Not measured yet" in readme.read_text(encoding="utf-8")
    write_run(results / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4])
    assert update_payoff(readme, results, min_n=20) and not update_payoff(readme, results, min_n=20)
    text = readme.read_text(encoding="utf-8")
    assert text.endswith(f"{END}\n\nmore\n") and "8/20 vs 2/20" in text
    assert f"](evals/results/{DECISIVE}/accuracy_vs_tokens.png)" in text


def test_the_top_of_the_frontier_that_sleep_does_not_reach_is_stated(tmp_path: Path) -> None:
    recs = [r | {"correct": int(r["example_id"][1:]) < 14} if r["mode"] == "test-time" and r["budget"] == 4 else r
            for r in _decisive()]  # test-time level 4: 14/20, above every sleep cell (best: k2-r1, 10/20)
    write_run(tmp_path / DECISIVE, "scaling", recs, budgets=[0, 2, 4])
    block = payoff_block(tmp_path, min_n=20)
    assert ("(6 vs 0 right only with one, p = 0.031); but test-time level 4 reaches 14/20 on 210 tokens, above every "
            "sleep setting (the best, k2-r1 at level 0: 10/20 on 12; 4 vs 0, p = 0.125) |") in block


def test_the_fresh_seed_runs_join_the_block_when_complete(tmp_path: Path) -> None:
    write_run(tmp_path / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4])
    assert "fresh seeds" not in payoff_block(tmp_path, min_n=20)
    p1 = [r for r in _decisive() if r["mode"] in ("test-time", "sleep")]
    write_run(tmp_path / "decisive-p1-2803", "scaling", p1, budgets=[0, 2, 4], limit=20)
    write_run(tmp_path / "decisive-p2-2803", "scaling", p1[:14], budgets=[0, 2, 4], limit=50)
    block = payoff_block(tmp_path, min_n=20)
    assert ("| Harder (P1, P2), fresh seeds, level 0 | P1 8/20 vs 2/20 (6 vs 0, p = 0.031; `decisive-p1-2803`); "
            "P2 in progress (2 of 50 examples; `decisive-p2-2803`) |") in block


def test_below_the_least_n_the_block_shows_counts_and_no_ratio(tmp_path: Path) -> None:
    write_run(tmp_path / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4], limit=200)
    block = payoff_block(tmp_path, tmp_path, min_n=21)
    assert "n = 20 of 200 examples complete: below 21, no ratio, cost or claim is shown" in block
    assert "level 0 2/20, level 2 6/20, level 4 10/20" in block and "k2-r1 10/20" in block
    assert "x:" not in block and "equal accuracy" not in block and "Cost per query" not in block


def test_a_run_through_its_limit_is_not_called_partial(tmp_path: Path) -> None:
    write_run(tmp_path / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4], limit=20)
    block = payoff_block(tmp_path, tmp_path, min_n=20)
    assert "n = 20 of 20 examples complete; 1 answers cut" in block and "partial" not in block
    more = tmp_path / "more"
    write_run(more / DECISIVE, "scaling", _decisive(), budgets=[0, 2, 4], limit=200)
    assert "complete (partial: a direction, not a result, until n = 200)" in payoff_block(more, more, min_n=20)


def test_the_block_says_where_accuracy_falls_and_which_axis_adds(tmp_path: Path) -> None:
    # k2-r1 right on 7 (falls below k1-r1's 8); k1-r1-q2 right on 16 (8 vs 0 right only with it, p = 0.008)
    recs = [r | {"correct": int(r["example_id"][1:]) < 7} if r["setting"] == "k2-r1" else r for r in _decisive()]
    recs += [_rec(i, "sleep", 0, i < 16, 12, "k1-r1-q2", 900) for i in range(20)]
    write_run(tmp_path / DECISIVE, "scaling", recs, budgets=[0, 2, 4])
    block = payoff_block(tmp_path, min_n=20)
    assert ("Accuracy falls as sleep compute grows along k samples (level 0) (issue 28's first criterion: not met); "
            "k1-r1-q2 beats k1-r1 by +40.0 points at level 0, p = 0.008 (Holm ") in block
