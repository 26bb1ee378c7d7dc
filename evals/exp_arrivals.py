"""``python -m evals arrivals``: sleep policies x arrival traces on the real scheduler (simulated app, no model).

Traces (one simulated day each; `--scale` multiplies the contexts of every trace):

- ``poisson``: 1,000 contexts, questions Poisson 20/day each, changes Poisson 2/day each;
- ``bursty``: 1,000 contexts, sessions Poisson 2/day each of geometric(mean 10) questions 30 s apart
  (exponential gaps), changes 2/day;
- ``diurnal``: as poisson, both rates x (1 - 0.8 cos(2 pi t / day)) (night at t = 0);
- ``zipf-bursty``: 10,000 contexts, 20,000 sessions/day spread by Zipf(1) popularity, sessions as in bursty,
  changes Poisson 1/day each;
- ``edit-heavy``: 1,000 contexts, edit sessions 8/day of geometric(mean 4) edits 20 s apart, questions
  Poisson 4/day: they change faster than they are asked;
- ``shift``: zipf-bursty, and from the middle of the measured day on the questions are unrelated to any
  prediction.

Every trace starts with half a day of warm-up (not measured), every context with a version of its current
revision (built before); the metrics are over the following day. `--scale 1` (the default) is 10,000 contexts
for the Zipf traces.
Outputs under ``--out``: ``summary.md`` / ``summary.csv`` (one row per policy x trace), ``idle_delay.csv``
(debounce's idle delay swept on two traces), ``calibration.json``, ``arrivals.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from evals.arrivals import PRICE, Calibration, Metrics, Trace, calibrate, simulate
from sleeptime.scheduler import Debounce, policy_from_name

DAY = 86400.0
WARMUP = DAY / 2
"""Every trace runs half a day before the measured day, so policies have seen some history."""
TRACES = ("poisson", "bursty", "diurnal", "zipf-bursty", "edit-heavy", "shift")
POLICY_NAMES = ("debounce", "eager", "lazy", "value")


def _poisson(rng: np.random.Generator, rate_per_day: float, duration: float) -> np.ndarray:
    return np.sort(rng.uniform(0, duration, rng.poisson(rate_per_day * duration / DAY)))


def _sessions(rng: np.random.Generator, rate_per_day: float, mean_len: float, gap: float,
              duration: float) -> np.ndarray:
    starts = _poisson(rng, rate_per_day, duration)
    out: list[np.ndarray] = []
    for s in starts:
        n = rng.geometric(1 / mean_len)
        out.append(s + np.concatenate([[0.0], np.cumsum(rng.exponential(gap, n - 1))]))
    times = np.concatenate(out) if out else np.zeros(0)
    return np.sort(times[times < duration])


def _diurnal(rng: np.random.Generator, rate_per_day: float, duration: float) -> np.ndarray:
    peak = 1.8
    cand = _poisson(rng, rate_per_day * peak, duration)
    keep = rng.uniform(0, peak, len(cand)) < 1 - 0.8 * np.cos(2 * math.pi * cand / DAY)
    return cand[keep]


def make_trace(name: str, seed: int = 0, scale: float = 1.0) -> Trace:
    rng = np.random.default_rng(seed)
    n = int((10_000 if name in ("zipf-bursty", "shift") else 1_000) * scale)
    span = WARMUP + DAY
    events: list[tuple[float, int, int]] = []
    harmonic = sum(1 / (r + 1) for r in range(n))
    for i in range(n):
        if name == "poisson":
            q, c = _poisson(rng, 20, span), _poisson(rng, 2, span)
        elif name == "bursty":
            q, c = _sessions(rng, 2, 10, 30, span), _poisson(rng, 2, span)
        elif name == "diurnal":
            q, c = _diurnal(rng, 20, span), _diurnal(rng, 2, span)
        elif name in ("zipf-bursty", "shift"):
            q, c = _sessions(rng, 2 * n / harmonic / (i + 1), 10, 30, span), _poisson(rng, 1, span)
        elif name == "edit-heavy":
            q, c = _poisson(rng, 4, span), _sessions(rng, 8, 4, 20, span)
        else:
            raise ValueError(f"unknown trace {name!r}; choose one of {', '.join(TRACES)}")
        events.extend((float(t), 0, i) for t in c)
        events.extend((float(t), 1, i) for t in q)
    events.sort()
    return Trace(name, n, span, events, shift_at=WARMUP + DAY / 2 if name == "shift" else None, measure_from=WARMUP)


def run(traces: Sequence[str], policies: Sequence[str], out: Path, *, seed: int = 0, scale: float = 1.0,
        slots: int = 16, delays: Sequence[float] = (0, 10, 30, 120, 600, 1800),
        results: Path = Path("evals/results")) -> list[Metrics]:
    cal = calibrate(results)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Metrics] = []
    for name in traces:
        made = time.perf_counter()
        trace = make_trace(name, seed, scale)
        print(f"{name}: {trace.contexts} contexts, {len(trace.events)} events (made in "
              f"{time.perf_counter() - made:.1f}s)", flush=True)
        for policy in policies:
            m = simulate(trace, policy_from_name(policy), cal, slots=slots, seed=seed)
            rows.append(m)
            print(f"  {policy:<9} fresh {m.fresh_share:.3f} wasted {m.wasted_tokens:>9} cost {m.cost:>11.0f} "
                  f"(tt-only {m.cost_tt_only:.0f}) p99 {m.decision_p99_us:.0f}us wall {m.wall_seconds:.1f}s",
                  flush=True)
    sweep: list[tuple[str, float, Metrics]] = []
    for name in ("edit-heavy", "bursty"):
        if name not in traces or not delays:
            continue
        trace = make_trace(name, seed, scale)
        for d in delays:
            sweep.append((name, d, simulate(trace, Debounce(idle_after=d), cal, slots=slots, seed=seed)))
    _write(out, rows, sweep, cal, seed=seed, scale=scale, slots=slots)
    return rows


_COLUMNS = ("trace", "policy", "contexts", "queries", "changes", "sleeps", "fresh_share", "no_version_share",
            "stale_seconds", "revisions_behind", "sleep_tokens", "wasted_tokens", "tt_saved", "accuracy",
            "accuracy_tt_only", "cost", "cost_tt_only", "decision_p50_us", "decision_p99_us", "wall_seconds")


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return "" if v is None else str(v)


def _write(out: Path, rows: list[Metrics], sweep: list[tuple[str, float, Metrics]], cal: Calibration, *,
           seed: int, scale: float, slots: int) -> None:
    names = [f.name for f in fields(Metrics)]
    with (out / "summary.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for m in rows:
            w.writerow([_fmt(getattr(m, n)) for n in names])
    with (out / "idle_delay.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trace", "idle_after", "fresh_share", "sleeps", "sleep_tokens", "wasted_tokens", "cost"])
        for name, d, m in sweep:
            w.writerow([name, d, _fmt(m.fresh_share), m.sleeps, m.sleep_tokens, m.wasted_tokens, _fmt(m.cost)])
    meta = {"seed": seed, "scale": scale, "slots": slots, "price": PRICE, "machine": platform.platform(),
            "calibration": cal.describe()}
    (out / "calibration.json").write_text(json.dumps(meta, indent=1) + "\n")
    lines = ["# arrivals: sleep policies x arrival traces (simulated app, real IdleScheduler on a FakeClock)", "",
             f"seed {seed}, scale {scale}, {slots} sleep slots, test-time tokens priced {PRICE:g}x; "
             "calibration in calibration.json. Tokens are output tokens (as the cost tables count them).", "",
             "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(_fmt(getattr(m, c)) for c in _COLUMNS) + " |" for m in rows]
    shifted = [m for m in rows if m.detected_at is not None]
    if shifted:
        lines += ["", f"## After the shift is detected (shift at t = {WARMUP + DAY / 2:.0f} s, measured day from "
                  f"t = {WARMUP:.0f} s)", "",
                  "| policy | detected at (s) | sleep tokens after | cost after | test-time only after |",
                  "|---|---|---|---|---|"]
        lines += [f"| {m.policy} | {m.detected_at:.0f} | {m.sleep_tokens_after_detect} | {m.cost_after_detect:.0f} "
                  f"| {m.cost_tt_after_detect:.0f} |" for m in shifted]
    if sweep:
        lines += ["", "## Debounce: the value of the idle delay", "",
                  "| trace | idle_after (s) | fresh share | sleeps | sleep tokens | wasted | cost |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {n} | {d:g} | {m.fresh_share:.3f} | {m.sleeps} | {m.sleep_tokens} | {m.wasted_tokens} | "
                  f"{m.cost:.0f} |" for n, d, m in sweep]
    lines += ["", "![arrivals](arrivals.png)", ""]
    (out / "summary.md").write_text("\n".join(lines))
    _plot(out, rows, sweep)


def _plot(out: Path, rows: list[Metrics], sweep: list[tuple[str, float, Metrics]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = list(dict.fromkeys(m.trace for m in rows))
    policies = list(dict.fromkeys(m.policy for m in rows))
    by = {(m.trace, m.policy): m for m in rows}
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    width = 0.8 / max(1, len(policies))
    panels = (("fresh_share", "share of questions from a fresh version"),
              ("wasted_tokens", "wasted sleep tokens (x1000)"),
              ("cost", "total cost / test-time-only cost"))
    for ax, (key, title) in zip(axes[:3], panels, strict=True):
        for j, p in enumerate(policies):
            vals = []
            for t in traces:
                m = by.get((t, p))
                v = float("nan") if m is None else float(getattr(m, key))
                if m is not None and key == "wasted_tokens":
                    v /= 1000
                if m is not None and key == "cost":
                    v /= m.cost_tt_only
                vals.append(v)
            ax.bar(np.arange(len(traces)) + j * width, vals, width, label=p)
        ax.set_xticks(np.arange(len(traces)) + width * (len(policies) - 1) / 2, traces, rotation=20)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8, loc="lower left")
    ax = axes[3]
    for name in dict.fromkeys(n for n, _, _ in sweep):
        pts = [(m.wasted_tokens / 1000, m.fresh_share, d) for n, d, m in sweep if n == name]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"debounce on {name}")
        for x, y, d in pts:
            ax.annotate(f"{d:g}s", (x, y), fontsize=7)
    ax.set_xlabel("wasted sleep tokens (x1000)")
    ax.set_ylabel("fresh share")
    ax.set_title("value of the idle delay (labels: idle_after)", fontsize=10)
    if sweep:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "arrivals.png", dpi=110)
    plt.close(fig)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--traces", default=",".join(TRACES), help=f"comma-separated, of {', '.join(TRACES)}")
    ap.add_argument("--policies", default=",".join(POLICY_NAMES))
    ap.add_argument("--out", type=Path, default=Path("evals/results/arrivals"))
    ap.add_argument("--results", type=Path, default=Path("evals/results"), help="where the calibration records are")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every trace's contexts (0.1 for a quick run)")
    ap.add_argument("--slots", type=int, default=16, help="sleep runs in flight at once (max_concurrency)")
    ap.add_argument("--delays", default="0,10,30,120,600,1800", help="debounce idle delays to sweep ('' for none)")


def run_cli(args: argparse.Namespace, argv: Sequence[str]) -> str:
    delays = [float(d) for d in args.delays.split(",") if d.strip()]
    run([t for t in args.traces.split(",") if t], [p for p in args.policies.split(",") if p], args.out,
        seed=args.seed, scale=args.scale, slots=args.slots, delays=delays, results=args.results)
    print((args.out / "summary.md").read_text())
    return f"{args.out}/summary.md"


__all__ = ["TRACES", "add_arguments", "make_trace", "run", "run_cli"]
