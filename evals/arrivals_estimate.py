"""How well `Value` predicts questions before the next change: at each change in a window of an arrivals trace, its
estimate (what it sees then) beside the questions actually asked before the next change. No scheduler, no model.

    PYTHONPATH=$PWD taskset -c 1 python -m evals.arrivals_estimate --trace poisson
    PYTHONPATH=$PWD taskset -c 1 python -m evals.arrivals_estimate --trace zipf-bursty --scale 0.3

The trace is the arrivals one (`evals.exp_arrivals.make_trace`, same seed) run for `--days` days so that nearly
every judged revision ends (few censored); changes between 0.5 and 1.5 days are judged, as the measured day of
``python -m evals arrivals`` sees them (after half a day of warm-up).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals import exp_arrivals
from sleeptime.scheduler import ContextHistory, Value

DAY = 86400.0


@dataclass(frozen=True)
class EstimateCheck:
    trace: str
    judged: int
    censored: int
    estimated: float
    """Mean estimate of questions before the next change, over the judged changes."""
    measured: float
    """Mean questions actually asked before the next change."""


def _estimate(policy: Any, history: ContextHistory, now: float) -> float:
    if hasattr(policy, "expected"):
        return float(policy.expected(history, now)[0])
    # an older Value (no `expected`): its own estimator, with its priors
    return float(history.expected_queries(now, policy.prior_change_gap, policy.prior_window))  # type: ignore[attr-defined]


def check(trace_name: str, *, seed: int = 0, scale: float = 1.0, days: float = 6.5,
          judge: tuple[float, float] = (0.5 * DAY, 1.5 * DAY)) -> EstimateCheck:
    warmup = exp_arrivals.WARMUP
    exp_arrivals.WARMUP = days * DAY - exp_arrivals.DAY  # make_trace runs WARMUP + one day
    try:
        trace = exp_arrivals.make_trace(trace_name, seed, scale)
    finally:
        exp_arrivals.WARMUP = warmup
    policy: Any = Value(guard=None)
    histories: dict[int, ContextHistory] = defaultdict(ContextHistory)
    open_: dict[int, list[float]] = {}
    done: list[list[float]] = []
    for t, kind, idx in trace.events:
        history = histories[idx]
        if kind == 0:
            if idx in open_:
                done.append(open_.pop(idx))
            history.on_change(t)
            policy.on_change(history, t)
            if judge[0] <= t < judge[1]:
                open_[idx] = [_estimate(policy, history, t), 0.0]
        else:
            if idx in open_:
                open_[idx][1] += 1
            history.on_query(t)
            policy.on_query(history, t)
    est = np.array([r[0] for r in done]) if done else np.zeros(1)
    real = np.array([r[1] for r in done]) if done else np.zeros(1)
    return EstimateCheck(trace_name, len(done), len(open_), float(est.mean()), float(real.mean()))


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.arrivals_estimate", description=__doc__.split("\n")[0])
    ap.add_argument("--trace", default="poisson", help=f"one of {', '.join(exp_arrivals.TRACES)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--days", type=float, default=6.5)
    a = ap.parse_args()
    r = check(a.trace, seed=a.seed, scale=a.scale, days=a.days)
    print(f"{r.trace} (seed {a.seed}, scale {a.scale:g}): {r.judged} changes judged, {r.censored} censored; questions "
          f"before the next change: estimated {r.estimated:.2f}, measured {r.measured:.2f}")


if __name__ == "__main__":
    main()
