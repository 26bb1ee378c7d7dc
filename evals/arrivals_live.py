"""``python -m evals arrivals-live``: one small trace in real time on an embedded model, beside the simulator.

The trace (`LIVE_TRACE`, project-written, no dataset text): three contexts made from the project's own tiny
problems (``evals/tiny.py``), changed by rewriting their first number, and questions at fixed seconds. It runs
through the real `IdleScheduler` on the real clock with a real `SleepTime` (the embedded model sleeping and
answering, one round, one sample, one predicted question, an in-memory store), then through the simulator
twice:

- ``sim-records``: calibrated from committed records of the same model (`--calibrate-from`, default
  ``qwen05b-p2``: its sleep tokens and its latency fit), as the ``arrivals`` tables are;
- ``sim-measured``: with this run's own mean sleep seconds and tokens, which isolates the scheduling
  (timers, idle delay, one slot, stale runs) from the cost model.

Compared: sleep runs started and published, the share of questions answered from a version of the current
revision, questions with no version yet, sleep output tokens, wasted sleep tokens, mean sleep seconds.
Writes ``live.json`` (the measured events, no model text) and ``live.md`` under `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.arrivals import Calibration, Trace, calibrate, simulate_runs
from evals.tiny import tiny_examples
from sleeptime import SleepResult, SleepTime
from sleeptime.errors import NotSleptError
from sleeptime.scheduler import IdleScheduler, policy_from_name

# (seconds, kind 0 = change / 1 = question, context): every context arrives at t = 0; c0 changes once,
# c1 twice in quick succession (a debounced burst), c2 never again; questions spread over six minutes.
LIVE_TRACE: tuple[tuple[float, int, int], ...] = (
    (0, 0, 0), (1, 0, 1), (2, 0, 2),
    (40, 1, 0), (70, 1, 1), (95, 1, 2), (110, 0, 0), (125, 1, 0), (150, 0, 1), (158, 0, 1), (175, 1, 1),
    (200, 1, 0), (225, 1, 2), (250, 1, 1), (280, 1, 0), (310, 1, 2), (335, 1, 1),
)
DURATION = 360.0
TOLERANCES = {"sleeps_started": 1, "sleeps_published": 1, "fresh_share": 0.15, "no_version_share": 0.15,
              "sleep_tokens": 0.35, "wasted_tokens": 0.35, "sleep_seconds": 0.5}
"""Absolute for counts and shares; relative for tokens and seconds. Stated before the run."""


def _text(context: str, revision: int) -> str:
    """The context with its first number raised by `revision` (a change of the kind apps make)."""
    return re.sub(r"\d+", lambda m: str(int(m.group()) + revision), context, count=1)


class RecordingApp(SleepTime):
    """The real app, noting each sleep run's seconds, tokens and the revision it read."""

    runs: list[dict[str, Any]]
    revision: list[int]
    origin: float

    async def asleep(self, context_id: str, text: str | None = None, *, files: Any = (),
                     **options: Any) -> SleepResult:
        i = int(context_id[1:])
        began, rev = time.monotonic(), self.revision[i]
        result = await super().asleep(context_id, text, files=files, **options)
        self.runs.append({"context": i, "started": began - self.origin, "seconds": time.monotonic() - began,
                          "revision": rev, "published": result.published, "version": result.version,
                          "tokens_in": result.usage.input_tokens, "tokens_out": result.usage.output_tokens})
        return result


def _trace(time_scale: float) -> tuple[tuple[float, int, int], ...]:
    return tuple((t * time_scale, k, i) for t, k, i in LIVE_TRACE)


async def _live(model: str, idle_after: float, policy: str, time_scale: float,
                max_tokens_sleep: int | None) -> dict[str, Any]:
    examples = tiny_examples()[:3]
    asked: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = RecordingApp(path=tmp, sleep_model=model, wake_model=model, max_rounds=1, samples=1, n_questions=1,
                           max_tokens_sleep=max_tokens_sleep or 768)  # 768: SleepTimeConfig's default
        app.runs, app.revision, app.origin = [], [0, 0, 0], time.monotonic()
        sched = IdleScheduler(app, idle_after=idle_after, policy=policy_from_name(policy, idle_after=idle_after))
        async with sched:
            tasks: list[asyncio.Task[None]] = []

            async def ask(i: int) -> None:
                at, rev = time.monotonic() - app.origin, app.revision[i]
                try:
                    answer = await sched.aask(examples[i].question, f"c{i}", budget=0)
                except NotSleptError:  # no version yet: the app answers test-time only (as the simulator does)
                    answer = await sched.aask(examples[i].question, f"c{i}", budget=0, mode="test-time")
                asked.append({"context": i, "at": at, "revision": rev, "version": answer.version,
                              "wake_output_tokens": answer.wake_usage.output_tokens,
                              "answered_at": time.monotonic() - app.origin})

            for t, kind, i in _trace(time_scale):
                await asyncio.sleep(max(0.0, app.origin + t - time.monotonic()))
                if kind == 0:
                    app.revision[i] += 1
                    await sched.anotify_change(f"c{i}", text=_text(examples[i].context, app.revision[i]))
                else:
                    tasks.append(asyncio.create_task(ask(i)))
            await asyncio.sleep(max(0.0, app.origin + DURATION * time_scale - time.monotonic()))
            await asyncio.gather(*tasks)
        app.close()
    return {"asked": asked, "runs": app.runs}


def _live_metrics(live: dict[str, Any]) -> dict[str, float]:
    asked, runs = live["asked"], live["runs"]
    built = {(r["context"], r["version"]): r["revision"] for r in runs if r["published"]}
    fresh = [a for a in asked if a["version"] is not None and built.get((a["context"], a["version"])) == a["revision"]]
    served = {(a["context"], a["version"]) for a in fresh}
    return {"sleeps_started": len(runs), "sleeps_published": sum(r["published"] for r in runs),
            "fresh_share": len(fresh) / len(asked),
            "no_version_share": sum(a["version"] is None for a in asked) / len(asked),
            "sleep_tokens": float(sum(r["tokens_out"] for r in runs)),
            "wasted_tokens": float(sum(r["tokens_out"] for r in runs
                                       if not r["published"] or (r["context"], r["version"]) not in served)),
            "sleep_seconds": sum(r["seconds"] for r in runs) / max(1, len(runs))}


def _sim(cal: Calibration, policy: str, idle_after: float, time_scale: float) -> dict[str, float]:
    trace = Trace("live", 3, DURATION * time_scale, _trace(time_scale), cold=True)
    m, sleeps = simulate_runs(trace, policy_from_name(policy, idle_after=idle_after), cal, slots=1, seed=0)
    return {"sleeps_started": m.sleeps, "sleeps_published": sum(s.published for s in sleeps),
            "fresh_share": m.fresh_share, "no_version_share": m.no_version_share,
            "sleep_tokens": float(m.sleep_tokens), "wasted_tokens": float(m.wasted_tokens),
            "sleep_seconds": sum(s.seconds for s in sleeps) / max(1, len(sleeps))}


def _agrees(name: str, sim: float, live: float) -> bool:
    tol = TOLERANCES[name]
    if name in ("sleep_tokens", "wasted_tokens", "sleep_seconds"):
        return abs(sim - live) <= tol * max(abs(live), 1.0)
    return abs(sim - live) <= tol


def run(model: str, out: Path, *, idle_after: float, policy: str, calibrate_from: str, results: Path,
        time_scale: float = 1.0, max_tokens_sleep: int | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    live = asyncio.run(_live(model, idle_after, policy, time_scale, max_tokens_sleep))
    measured = _live_metrics(live)
    runs = live["runs"]
    own = Calibration(sleeps=tuple((r["tokens_in"], r["tokens_out"]) for r in runs) or ((0, 0),),
                      latency=(measured["sleep_seconds"], 0.0, 0.0), tt_out=0.0, notes_out=0.0, match_rate=0.65,
                      acc_tt=(0.0,), acc_gain=(0.0,))
    rows = {"live": measured,
            "sim-records": _sim(calibrate(results, run_name=calibrate_from), policy, idle_after, time_scale),
            "sim-measured": _sim(own, policy, idle_after, time_scale)}
    report = {"model": model, "policy": policy, "idle_after": idle_after, "time_scale": time_scale,
              "max_tokens_sleep": max_tokens_sleep, "started": started,
              "calibrate_from": calibrate_from, "tolerances": TOLERANCES, "metrics": rows, **live}
    (out / "live.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# arrivals-live: {policy} (idle_after {idle_after:g} s) on {model}, {DURATION * time_scale:.0f} s "
             "in real time",
             "", f"started {started}; tolerances (absolute for counts and shares, relative for tokens and "
             f"seconds): {TOLERANCES}", "", "| metric | live | sim-records | agrees | sim-measured | agrees |",
             "|---|---|---|---|---|---|"]
    for name in TOLERANCES:
        lv, sr, sm = rows["live"][name], rows["sim-records"][name], rows["sim-measured"][name]
        lines.append(f"| {name} | {lv:.3g} | {sr:.3g} | {'yes' if _agrees(name, sr, lv) else 'NO'} | {sm:.3g} | "
                     f"{'yes' if _agrees(name, sm, lv) else 'NO'} |")
    (out / "live.md").write_text("\n".join(lines) + "\n")
    return report


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", default="embedded:qwen2.5-coder-0.5b")
    ap.add_argument("--policy", default="debounce")
    ap.add_argument("--idle-after", type=float, default=10.0)
    ap.add_argument("--calibrate-from", default="qwen05b-p2", help="committed run (records) of the same model")
    ap.add_argument("--results", type=Path, default=Path("evals/results"))
    ap.add_argument("--out", type=Path, default=Path("evals/results/arrivals/live"))
    ap.add_argument("--time-scale", type=float, default=1.0, help="multiply the trace's seconds (dry runs: 0.05)")
    ap.add_argument("--max-tokens-sleep", type=int, default=None, help="cap each sleep call's output (shorter runs)")


def run_cli(args: argparse.Namespace, argv: Sequence[str]) -> str:
    run(args.model, args.out, idle_after=args.idle_after, policy=args.policy, calibrate_from=args.calibrate_from,
        results=args.results, time_scale=args.time_scale, max_tokens_sleep=args.max_tokens_sleep)
    print((args.out / "live.md").read_text())
    return f"{args.out}/live.md"
