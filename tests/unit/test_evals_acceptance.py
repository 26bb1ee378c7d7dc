"""Issue 28's acceptance check on synthetic scaling records: axes, falls, p values against k1-r1 and the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.acceptance import acceptance_lines, acceptance_table
from evals.plots import render_run
from evals.stats import mcnemar_exact
from evals.tables import holm_family, scaling_axes
from tests.eval_runs import write_run

N = 20
SLEEP_TOKENS = {"k1-r1": 80, "k2-r1": 160, "k4-r1": 320, "k1-r2": 200, "k1-r1-q2": 450}


def _records(right: dict[tuple[str, int], int]) -> list[dict[str, Any]]:
    """N examples: test-time right on the first 3 at budgets 0 and 1; each (setting, budget) right on the first
    ``right[...]`` examples (5 where not given)."""
    recs: list[dict[str, Any]] = []
    for i in range(N):
        e = f"e{i}"
        for b in (0, 1):
            recs.append({"key": f"{e}|test-time|{b}", "example_id": e, "mode": "test-time", "budget": b,
                         "setting": None, "correct": i < 3, "output_tokens": 40, "sleep_output_tokens": 0})
            for s, tokens in SLEEP_TOKENS.items():
                recs.append({"key": f"{e}|sleep|{b}|{s}", "example_id": e, "mode": "sleep", "budget": b,
                             "setting": s, "correct": i < right.get((s, b), 5), "output_tokens": 20,
                             "sleep_output_tokens": tokens})
    return recs


def test_scaling_axes_hold_the_other_coordinates_at_the_base() -> None:
    axes = scaling_axes(["k4-r1", "k1-r2", "k1-r1", "k2-r1", "k2-r2", "k1-r1-q2", "k1-r3"])
    assert axes == {"k samples": ["k1-r1", "k2-r1", "k4-r1"], "rounds": ["k1-r1", "k1-r2", "k1-r3"],
                    "question work": ["k1-r1", "k1-r1-q2"]}  # k2-r2 is on no axis
    assert scaling_axes(["k2-r1", "k4-r1"]) == {}  # no base
    assert scaling_axes(["k1-r1", "None"]) == {}  # nothing beside the base


def test_acceptance_finds_a_fall_and_a_significant_gain() -> None:
    # Level 0: k2 falls below k1 (4 < 5), k4 is right on 16 (11 right only with k4, none only with k1).
    recs = _records({("k2-r1", 0): 4, ("k4-r1", 0): 16, ("k1-r2", 0): 6})
    rows = {(r["axis"], r["budget"], r["setting"]): r for r in acceptance_table(recs)}
    k_axis = [rows[("k samples", 0, s)] for s in ("k1-r1", "k2-r1", "k4-r1")]
    assert [r["right"] for r in k_axis] == [5, 4, 16] and [r["falls"] for r in k_axis] == [False, True, False]
    k4 = k_axis[2]
    assert (k4["right_only_setting"], k4["right_only_base"]) == (11, 0) and k4["n"] == N
    assert k4["p"] == pytest.approx(mcnemar_exact(11, 0)) and k4["diff_vs_base"] == pytest.approx(11 / N)
    assert k4["mean_sleep_output_tokens"] == 320
    # p_holm is the run's family value: 4 settings x 2 levels against k1-r1, and 5 x 2 arms against test-time.
    holm = holm_family(recs)
    assert len(holm) == 18 and k4["p_holm"] == pytest.approx(holm[("k1-r1", "sleep", "k4-r1", "0")])
    assert k4["p"] < k4["p_holm"] < 0.05
    assert rows[("rounds", 0, "k1-r2")]["falls"] is False and rows[("rounds", 1, "k1-r2")]["right"] == 5
    lines = acceptance_lines(acceptance_table(recs))
    assert any(s.startswith("k samples, level 0:") and "Falls: k2-r1 4 -> k4-r1" not in s
               and "Falls: k1-r1 5 -> k2-r1 4" in s for s in lines)
    assert any(s.startswith("rounds, level 1:") and s.endswith("Never falls") for s in lines)
    assert "Accuracy falls as sleep compute grows: k samples, level 0 (criterion 1: not met)" in lines
    assert any(s.startswith("Largest setting beats k1-r1 by >= 5 points with p < 0.05: k4-r1 at level 0 (+55.0 points")
               and "criterion 2: met" in s for s in lines)


def test_a_run_without_k1_r1_is_set_against_its_own_least_setting() -> None:
    from evals.tables import base_setting

    assert base_setting(["k4-r1-q2", "k1-r1-q2", "k2-r1-q2"]) == "k1-r1-q2"
    assert base_setting(["k2-r1", "k1-r2"]) == "k1-r1"  # no least setting: the default base, so no axis
    assert base_setting(["k1-r1", "k1-r1-q2"]) == "k1-r1"
    keep = {"k1-r1-q2": 450, "k2-r1-q2": 900, "k4-r1-q2": 1800}
    recs = [{**r, "sleep_output_tokens": keep[r["setting"]]} if r["setting"] == "k1-r1-q2" else r
            for r in _records({("k1-r1-q2", 0): 5}) if r["setting"] in (None, "k1-r1-q2")]
    for r in [r for r in recs if r["setting"] == "k1-r1-q2"]:  # two more settings along k, right on 7 and 9
        for s, right in (("k2-r1-q2", 7), ("k4-r1-q2", 9)):
            i = int(str(r["example_id"])[1:])
            recs.append({**r, "key": str(r["key"]).replace("k1-r1-q2", s), "setting": s, "correct": i < right,
                         "sleep_output_tokens": keep[s]})
    rows = acceptance_table(recs)
    assert [(r["axis"], r["setting"], r["right"], r["base"]) for r in rows if r["budget"] == 0] == [
        ("k samples", "k1-r1-q2", 5, "k1-r1-q2"), ("k samples", "k2-r1-q2", 7, "k1-r1-q2"),
        ("k samples", "k4-r1-q2", 9, "k1-r1-q2")]
    assert rows[2]["p_holm"] == pytest.approx(holm_family(recs)[("k1-r1-q2", "sleep", "k4-r1-q2", "0")])
    lines = acceptance_lines(rows)
    assert any(s.startswith("k samples, level 0: k1-r1-q2 5/20") and "only with k1-r1-q2" in s for s in lines)


def test_acceptance_says_plainly_when_no_axis_gains() -> None:
    # Every setting right on the same 5 examples but k4 at level 1, one more (+5 points, p = 1.0: not enough).
    lines = acceptance_lines(acceptance_table(_records({("k4-r1", 1): 6})))
    assert "Accuracy falls as sleep compute grows: along no axis (criterion 1: met)" in lines
    assert lines[-1] == ("No axis at its largest setting beats k1-r1 by >= 5 points with p < 0.05 (criterion 2: not "
                         "met; closest: k4-r1 at level 1 (+5.0 points, p = 1.000, Holm 1.000))")
    assert acceptance_lines([]) == ["no scaling axis: the run has no sleep setting beside k1-r1 along samples, "
                                    "rounds or question work"]


def test_a_scaling_runs_summary_prints_the_acceptance_check(tmp_path: Path) -> None:
    run = tmp_path / "scaling"
    write_run(run, "scaling", _records({("k4-r1", 0): 16}))
    tables = render_run(run)
    assert len(tables["acceptance"]) == 2 * (3 + 2 + 2)
    md = (run / "summary.md").read_text()
    assert "## Acceptance (issue 28)" in md and "- question work, level 0: k1-r1 5/20" in md
    assert "criterion 2: met" in md and (run / "summary_acceptance.csv").exists()
