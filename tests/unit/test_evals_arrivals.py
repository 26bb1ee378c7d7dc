"""The arrivals simulator: the real scheduler on a fake clock, metrics from hand-made traces whose answers are known."""

from __future__ import annotations

from pathlib import Path

from evals.arrivals import Calibration, Trace, calibrate, simulate, simulate_runs
from evals.arrivals_estimate import check
from evals.exp_arrivals import make_trace
from sleeptime.scheduler import Debounce, Lazy, policy_from_name

# every sleep: 100 input + 50 output tokens, 10 s; 12 test-time tokens a question, 9 from a fresh version
CAL = Calibration(sleeps=((100, 50),), latency=(10.0, 0.0, 0.0), tt_out=12.0, notes_out=9.0, match_rate=1.0,
                  acc_tt=(0.1,), acc_gain=(0.2,))


def test_debounce_sleeps_each_change_and_questions_after_it_are_fresh() -> None:
    # c0 changes at 0 (cold: no version before), asked at 5 (no version), 50 and 60 (fresh);
    # c1 changes at 0 and at 100 and is never asked: both its versions are wasted.
    events = [(0.0, 0, 0), (0.0, 0, 1), (5.0, 1, 0), (50.0, 1, 0), (60.0, 1, 0), (100.0, 0, 1)]
    m, runs = simulate_runs(Trace("t", 2, 200.0, events, cold=True), Debounce(idle_after=30), CAL, slots=1)
    assert (m.queries, m.changes, m.sleeps) == (3, 3, 3)
    assert all(r.published for r in runs) and [r.started for r in runs] == [30.0, 40.0, 130.0]
    assert abs(m.fresh_share - 2 / 3) < 1e-9 and abs(m.no_version_share - 1 / 3) < 1e-9
    assert m.sleep_tokens == 150 and m.wasted_tokens == 100  # c1's two versions nobody asked about
    assert m.tt_saved == 2 * 3.0 and m.cost == 150 + 10 * (12 + 9 + 9)
    assert abs(m.accuracy - (0.1 + 0.3 + 0.3) / 3) < 1e-9 and abs(m.accuracy_tt_only - 0.1) < 1e-9


def test_a_run_overtaken_by_a_change_does_not_publish_and_is_wasted() -> None:
    events = [(0.0, 0, 0), (35.0, 0, 0), (100.0, 1, 0)]  # changes again while its first run (30-40 s) is going
    m, runs = simulate_runs(Trace("t", 1, 200.0, events, cold=True), Debounce(idle_after=30), CAL, slots=1)
    assert [r.published for r in runs] == [False, True]
    assert m.fresh_share == 1.0 and m.wasted_tokens == 50


def test_lazy_pays_only_for_asked_revisions_and_the_first_question_is_stale() -> None:
    events = [(0.0, 0, 0), (10.0, 0, 1), (50.0, 1, 0), (70.0, 1, 0)]
    m = simulate(Trace("t", 2, 200.0, events), Lazy(), CAL, slots=1)  # warm: both start with a version
    assert m.sleeps == 1 and m.wasted_tokens == 0
    assert m.fresh_share == 0.5 and m.revisions_behind == 0.5


def test_after_a_shift_the_guard_stops_every_sleep() -> None:
    cal = Calibration(sleeps=((100, 50),), latency=(10.0, 0.0, 0.0), tt_out=12.0, notes_out=9.0, match_rate=0.65,
                      acc_tt=(0.1,), acc_gain=(0.2,), match_after_shift=0.0)
    asked = [(float(t), 1, t % 5) for t in range(0, 4000, 5)]
    events = sorted(asked + [(float(t), 0, t % 5) for t in range(3, 4000, 97)])
    trace = Trace("t", 5, 4000.0, events, shift_at=2000.0)
    m = simulate(trace, Debounce(idle_after=5), cal, slots=2)
    assert m.detected_at is not None and 2000 < m.detected_at < 2500
    assert m.sleep_tokens_after_detect == 0 and m.cost_after_detect == m.cost_tt_after_detect


def test_traces_and_calibration_from_the_committed_records() -> None:
    cal = calibrate(Path("evals/results"))
    assert len(cal.sleeps) == 100 and cal.match_rate == 0.65 and len(cal.acc_tt) == 5
    assert (round(cal.tt_out, 2), round(cal.notes_out, 2)) == (12.48, 9.17)
    trace = make_trace("edit-heavy", seed=1, scale=0.01)
    assert trace.contexts == 10 and trace.measure_from > 0
    assert all(a[0] <= b[0] for a, b in zip(trace.events, trace.events[1:], strict=False))
    m = simulate(trace, policy_from_name("value"), cal)
    assert 0.0 <= m.fresh_share <= 1.0 and m.wasted_tokens <= m.sleep_tokens


def test_fresh_questions_count_for_the_run_that_built_the_version_not_the_last_started() -> None:
    # c0's run (30-40 s) is still going when c1's starts (35-45 s): c0's questions at 50 and 60 must count for
    # c0's run; c1 is never asked, so only its run is wasted (crediting the last started run hid that waste).
    events = [(0.0, 0, 0), (5.0, 0, 1), (50.0, 1, 0), (60.0, 1, 0)]
    m, runs = simulate_runs(Trace("t", 2, 200.0, events, cold=True), Debounce(idle_after=30), CAL, slots=2)
    assert [(r.context, r.started, r.fresh_queries) for r in runs] == [(0, 30.0, 2), (1, 35.0, 0)]
    assert m.wasted_tokens == 50 and m.fresh_share == 1.0


def test_values_estimate_of_questions_before_the_next_change_matches_steady_traffic() -> None:
    # 100 contexts asked 20 times and changed twice a day: the old estimator (fixed 6 h priors, the change
    # decided on counted as evidence) said 5.4 questions where 9.4 came
    r = check("poisson", seed=0, scale=0.1)
    assert r.judged > 150 and r.censored < 5
    assert abs(r.estimated - r.measured) < 0.15 * r.measured
