"""Paired statistics: exact McNemar, bootstrap intervals, and the paired and equal-accuracy tables."""

from __future__ import annotations

import math
from typing import Any

import pytest

from evals.stats import bootstrap, holm_adjust, mcnemar_exact, mean_interval, percentile_interval
from evals.tables import (
    budget_table,
    equal_accuracy_amortization,
    equal_accuracy_table,
    family_p_values,
    headline,
    interpolated_tokens,
    paired_table,
    predicted_path,
)


def test_exact_mcnemar_against_hand_computed_binomial_tails() -> None:
    assert mcnemar_exact(1, 3) == pytest.approx(2 * (1 + 4) / 16)  # 0.625
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(6, 0) == mcnemar_exact(0, 6)  # two-sided: symmetric
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 12) == pytest.approx(2 * (1 + 14 + 91) / 2**14)
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_exact(-1, 2)


def test_percentile_interval_and_deterministic_bootstrap() -> None:
    assert percentile_interval([float(v) for v in range(1, 101)]) == (3.0, 98.0)
    assert all(math.isnan(x) for x in percentile_interval([math.nan]))
    values = [1.0] * 30 + [0.0] * 70
    lo, hi = mean_interval(values)
    assert lo < 0.3 < hi and lo > 0.18 and hi < 0.42  # about +-0.09 at n = 100
    assert mean_interval(values) == (lo, hi)  # a fixed seed: tables regenerate byte for byte
    assert mean_interval([1.0] * 10) == (1.0, 1.0)
    assert bootstrap(0, lambda ix: 1.0) == []


def _rec(eid: str, mode: str, budget: int, correct: bool, out: int | None) -> dict[str, Any]:
    return {"example_id": eid, "mode": mode, "budget": budget, "correct": correct, "output_tokens": out,
            "setting": "k1-r1" if mode != "test-time" else None}


def _records() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    for i in range(40):
        e = f"e{i}"
        # budget 0: test-time right on 0-9, sleep right on 0-19 (10 right only with sleep, none the other way)
        recs.append(_rec(e, "test-time", 0, i < 10, 10))
        recs.append(_rec(e, "sleep", 0, i < 20, 5 if i else None))  # one sleep answer reports no tokens
        # budget 1: test-time right on 0-19 with 40 tokens
        recs.append(_rec(e, "test-time", 1, i < 20, 40))
        recs.append(_rec(e, "sleep", 1, i < 22, 20))
    return recs


def test_paired_table_counts_discordant_pairs_and_token_ratio() -> None:
    rows = {r["budget"]: r for r in paired_table(_records())}
    b0 = rows[0]
    assert b0["n"] == 40 and (b0["right_only_sleep"], b0["right_only_test_time"]) == (10, 0)
    assert b0["mcnemar_p"] == pytest.approx(2 / 2**10)
    assert b0["accuracy_diff"] == pytest.approx(0.25) and b0["diff_lo"] > 0
    assert b0["token_ratio"] == pytest.approx(2.0)  # the example without tokens is left out of both means
    assert b0["token_ratio_lo"] == b0["token_ratio_hi"] == pytest.approx(2.0)
    assert rows[1]["mcnemar_p"] == 0.5 and rows[1]["token_ratio"] == pytest.approx(2.0)


def test_equal_accuracy_matches_the_cheapest_test_time_budget_as_accurate() -> None:
    rows = {r["budget"]: r for r in equal_accuracy_table(_records())}
    # sleep budget 0 reaches 0.5 with 5 tokens; test-time reaches 0.5 only at budget 1 with 40 tokens.
    assert rows[0]["accuracy"] == 0.5 and rows[0]["test_time_budget"] == 1
    assert rows[0]["token_ratio"] == pytest.approx(8.0)
    # Right on the same examples, so every resample matches; only the token means vary (one is missing).
    assert rows[0]["ratio_lo"] <= 8.0 <= rows[0]["ratio_hi"] and rows[0]["matched_share"] == 1.0
    # sleep budget 1 (0.55) is more accurate than any test-time budget: no match.
    assert rows[1]["test_time_budget"] is None and math.isnan(rows[1]["token_ratio"])
    # Right on a superset of test-time's examples: matched only in resamples that miss both extra examples.
    assert 0 < rows[1]["matched_share"] < 0.5
    # ...yet no interval is printed around a ratio the whole sample leaves undefined.
    assert math.isnan(rows[1]["ratio_lo"]) and math.isnan(rows[1]["ratio_hi"])


def test_budget_table_has_accuracy_intervals_and_the_headline_states_them() -> None:
    table = budget_table(_records())
    assert all(r["accuracy_lo"] <= r["accuracy"] <= r["accuracy_hi"] for r in table)
    lines = headline(_records())
    assert "exact McNemar p = 0.002" in lines[0] and "95% CI" in lines[0]
    assert any("test-time only needs 40.0" in s and "matched in" in s for s in lines)


def test_a_sleep_point_at_the_floor_gets_no_equal_accuracy_comparison() -> None:
    # Everything wrong: accuracy 0 is "as accurate" as any test-time budget, so a token ratio would mean nothing.
    recs = [_rec(f"e{i}", mode, b, False, 10 * (b + 1)) for i in range(10) for mode in ("test-time", "sleep")
            for b in (0, 1)]
    rows = equal_accuracy_table(recs)
    assert rows and all(r["test_time_budget"] is None and math.isnan(r["token_ratio"]) for r in rows)
    assert all(r["matched_share"] == 0.0 for r in rows)
    lines = headline(recs)
    assert sum("at the floor: no equal-accuracy comparison" in s for s in lines) == 2
    assert not any("test-time only needs" in s for s in lines)


def test_equal_accuracy_interpolates_on_the_test_time_curve() -> None:
    curve = [(10.0, 0.1), (40.0, 0.3), (100.0, 0.5), (200.0, 0.4)]  # the last is off the frontier
    assert interpolated_tokens(curve, 0.2) == (pytest.approx(25.0), "interpolated")
    assert interpolated_tokens(curve, 0.4) == (pytest.approx(70.0), "interpolated")
    assert interpolated_tokens(curve, 0.5) == (pytest.approx(100.0), "interpolated")
    assert interpolated_tokens(curve, 0.1) == (pytest.approx(10.0), "interpolated")
    assert interpolated_tokens(curve, 0.05)[1] == "loss" and math.isnan(interpolated_tokens(curve, 0.05)[0])
    assert interpolated_tokens(curve, 0.6)[1] == "beyond"
    assert interpolated_tokens(curve, 0.0)[1] == "floor"


def test_a_sleep_point_less_accurate_than_every_test_time_point_is_a_loss_with_no_ratio() -> None:
    # qwen15b-p2 (issue 28): sleep 1/50 vs test-time 3/50 used to read "1.27x, sleep needs fewer".
    recs: list[dict[str, Any]] = []
    for i in range(50):
        recs += [_rec(f"e{i}", "test-time", 0, i < 3, 12), _rec(f"e{i}", "test-time", 1, i < 4, 40),
                 _rec(f"e{i}", "sleep", 0, i == 0, 10)]
    (row,) = equal_accuracy_table(recs)
    assert row["status"] == "loss" and math.isnan(row["token_ratio"]) and math.isnan(row["ratio_lo"])
    assert any("a loss, less accurate than test-time only at every budget" in s for s in headline(recs))
    # Between two budgets: 0.07 lies between 0.06 (12 tokens) and 0.08 (40 tokens): 26 tokens, over 10.
    recs = [r if not (r["mode"] == "sleep" and r["example_id"] in ("e1", "e2", "e3")) else {**r, "correct": True}
            for r in recs]
    recs = [r if not (r["mode"] == "sleep" and r["example_id"] == "e3") else {**r, "correct": False}
            for r in recs]
    (row,) = equal_accuracy_table(recs)  # sleep: 3/50 = 0.06, matched at budget 0 exactly
    assert row["status"] == "interpolated" and row["token_ratio"] == pytest.approx(1.2)


def test_cluster_statistics_treat_a_context_as_one_unit() -> None:
    from evals.stats import cluster_bootstrap, cluster_signflip_p

    # 3 contexts, each summed difference positive: 1 of the 8 sign patterns is as extreme each way.
    assert cluster_signflip_p([2.0, 1.0, 3.0]) == pytest.approx(2 / 8)
    assert cluster_signflip_p([0.0, 0.0]) == 1.0
    assert 0 < cluster_signflip_p([1.0] * 20) < 0.001
    draws = cluster_bootstrap([[0, 1], [2]], lambda ix: float(len(ix)), resamples=50)
    assert set(draws) <= {2.0, 3.0, 4.0}  # whole clusters are drawn


def test_multi_query_p_values_cluster_by_context() -> None:
    # 5 contexts x 5 questions: sleep right on every question of contexts 0-1, test-time on none. Counted as 10
    # independent questions McNemar gives p = 0.002; as 2 contexts that differ, the sign-flip test gives p = 0.5.
    recs: list[dict[str, Any]] = []
    for c in range(5):
        for q in range(5):
            eid = f"c{c}|q{q}"
            for mode in ("test-time", "sleep"):
                recs.append({**_rec(eid, mode, 0, mode == "sleep" and c < 2, 10), "context_id": f"c{c}"})
    (row,) = paired_table(recs)
    assert row["p_test"] == "cluster sign-flip" and row["clusters"] == 5 and row["n"] == 25
    assert row["mcnemar_p"] == pytest.approx(0.5)
    assert mcnemar_exact(10, 0) < 0.01
    (flat,) = paired_table([{k: v for k, v in r.items() if k != "context_id"} for r in recs])
    assert flat["p_test"] == "exact McNemar" and flat["mcnemar_p"] < 0.01


def test_holm_adjustment_against_hand_computed_values() -> None:
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept at 0.06 (step-down).
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm_adjust([0.02]) == [0.02]  # a family of one is not adjusted
    assert holm_adjust([]) == []
    # Ties: both smallest get m x p and m - 1 x p, the larger wins for the second.
    assert holm_adjust([0.01, 0.01, 0.2]) == pytest.approx([0.03, 0.03, 0.2])
    adjusted = holm_adjust([0.01, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_paired_table_reports_holm_adjusted_p_over_the_runs_comparisons() -> None:
    rows = {r["budget"]: r for r in paired_table(_records())}
    # The family: sleep at budgets 0 and 1 against test-time only (raw p 2/1024 and 0.5).
    assert set(family_p_values(_records())) == {("test-time", "sleep", "k1-r1", "0"),
                                                ("test-time", "sleep", "k1-r1", "1")}
    assert rows[0]["holm_family"] == rows[1]["holm_family"] == 2
    assert rows[0]["p_holm"] == pytest.approx(2 * 2 / 2**10) and rows[1]["p_holm"] == pytest.approx(0.5)
    assert rows[0]["mcnemar_p"] == pytest.approx(2 / 2**10)  # the raw p is still there, beside it
    # A third comparison (an oracle arm) joins the family and raises the smallest adjusted p.
    recs = _records() + [{**r, "mode": "oracle", "setting": None} for r in _records() if r["mode"] == "sleep"]
    rows = {(r["mode"], r["budget"]): r for r in paired_table(recs)}
    assert rows[("sleep", 0)]["holm_family"] == 4
    assert rows[("sleep", 0)]["p_holm"] == pytest.approx(4 * 2 / 2**10)
    assert "Holm-adjusted 0.008 over the run's 4 comparisons" in headline(recs)[0]


def test_amortization_at_equal_accuracy_prices_the_interpolated_test_time_point() -> None:
    recs = [{**r, "sleep_output_tokens": 100} if r["mode"] == "sleep" else r for r in _records()]
    rows = {(r["budget"], r["queries_per_context"]): r for r in equal_accuracy_amortization(recs, 10.0)}
    assert {q for _, q in rows} == {1, 5, 10}
    # Sleep budget 0 reaches 0.5 on 5 test-time tokens; test-time only reaches 0.5 at budget 1 with 40 tokens.
    # Cost per query: test-time 10 x 40 = 400; sleep 100 / N + 10 x 5 = 150, 70, 60 at N = 1, 5, 10.
    for n, sleep_cost in ((1, 150.0), (5, 70.0), (10, 60.0)):
        row = rows[(0, n)]
        assert row["status"] == "interpolated" and row["cost_test_time"] == pytest.approx(400.0)
        assert row["cost_sleep"] == pytest.approx(sleep_cost)
        assert row["cost_ratio"] == pytest.approx(400.0 / sleep_cost)
        assert row["ratio_lo"] <= row["cost_ratio"] <= row["ratio_hi"]
        assert row["basis"] == "projected from single-question records"
    # Sleep budget 1 (0.55) is more accurate than every test-time point: no cost ratio and no interval.
    assert rows[(1, 10)]["status"] == "beyond" and math.isnan(rows[(1, 10)]["cost_ratio"])
    assert math.isnan(rows[(1, 10)]["ratio_lo"])


def test_amortization_at_equal_accuracy_interpolates_between_test_time_levels() -> None:
    # Test-time: 10/40 right on 10 tokens (budget 0), 20/40 on 40 (budget 1); sleep: 15/40 on 5 tokens, 100 sleep
    # tokens per context. 0.375 lies halfway: test-time needs 25 tokens, cost 250 against 100/10 + 50 = 60.
    recs: list[dict[str, Any]] = []
    for i in range(40):
        recs += [_rec(f"e{i}", "test-time", 0, i < 10, 10), _rec(f"e{i}", "test-time", 1, i < 20, 40),
                 {**_rec(f"e{i}", "sleep", 0, i < 15, 5), "sleep_output_tokens": 100}]
    rows = {r["queries_per_context"]: r for r in equal_accuracy_amortization(recs, 10.0)}
    assert rows[10]["test_time_tokens"] == pytest.approx(25.0) and rows[10]["cost_ratio"] == pytest.approx(250 / 60)
    assert rows[1]["cost_ratio"] == pytest.approx(250 / 150)
    # The interval redoes the interpolation on every resample: the ratio moves with the resampled accuracies.
    assert rows[10]["ratio_lo"] < rows[10]["cost_ratio"] < rows[10]["ratio_hi"]


def test_the_predicted_answer_path_line_counts_served_answers_and_near_misses() -> None:
    recs = [{"example_id": f"e{i}", "mode": "sleep+verified", "budget": 0, "correct": False,
             "path": "predicted" if i == 0 else "learned", "match_score": [0.99, 0.98, 0.5, 0.6][i]}
            for i in range(4)] + [{"example_id": "e4", "mode": "sleep+verified", "budget": 0, "path": "learned"}]
    line = predicted_path(recs, 0.97)
    assert line is not None and line.startswith("Predicted-answer path (sleep+verified): 1 of 5 answers served")
    assert "1 had no predicted question to match" in line and "in 2 of 4 (median 0.980)" in line
    assert predicted_path(_records(), 0.97) is None  # the path never ran: no line
