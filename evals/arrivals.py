"""A trace-driven simulator of the real `IdleScheduler` on a `FakeClock`, with costs and gains calibrated from
committed eval records (no model runs; thousands of contexts per second of wall time).

The scheduler is the package's own, with the policy under test; only the app is simulated (`SimApp`): a
sleep run takes the seconds and tokens of a real sleep run drawn from the records and publishes unless the
context changed meanwhile (the store's revision check). Questions are answered by the simulator: from the
published version when there is one, with the test-time tokens and the accuracy the records measured for
that case, and their match reports go to the scheduler (`record_query(matched=...)`).

Calibration (`calibrate`, read from ``evals/results`` at run time; every number is printed in the README):

- sleep runs: the (input, output) sleep tokens of each of the 100 contexts of ``qwen15b-base`` (1.5B
  sleeping, k1-r1); each simulated context draws one of them (context size and sleep cost stay paired);
- sleep seconds: a least-squares fit of the 1.5B's call latency on input and output tokens over the
  test-time records of the same run (this 2-core machine), applied to the sleep run's tokens;
- test-time output tokens per question: test-time only vs with a fresh version, budget 0 (same run);
- matches: a question "matches" when its nearest predicted question scores >= 0.6 (65/100 in the same run;
  those 65 carried the whole gain: 0.23 vs 0.05 right, the other 35 0.11 vs 0.11);
- accuracy by predictability bin: ``pred-qwen15b-base/summary_predictability.csv`` (test-time and sleep
  accuracy per log p(question | context) quintile); each context draws a bin.

Assumptions, not measured: a version built on an older revision gives no gain and no token saving; after a
query shift the questions match with probability `match_after_shift` (0.05) and a version gives no gain
and no saving; sleep runs of a plan with k samples cost the scaling run's measured token ratio.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from sleeptime import SleepTime
from sleeptime.scheduler import FakeClock, IdleScheduler, SleepPolicy

PRICE = 10.0
"""Test-time tokens priced 10x sleep tokens (the paper's t = 10)."""
SAMPLE_COST = {1: 1.0, 2: 288 / 167, 4: 545 / 167}
"""Sleep tokens of k samples relative to one (scaling-sleep15b-wake05b-base)."""


@dataclass(frozen=True)
class Calibration:
    sleeps: tuple[tuple[int, int], ...]
    """(sleep input tokens, sleep output tokens) of each recorded context."""
    latency: tuple[float, float, float]
    """Seconds = a + b x input tokens + c x output tokens (the 1.5B on this machine)."""
    tt_out: float
    notes_out: float
    match_rate: float
    acc_tt: tuple[float, ...]
    acc_gain: tuple[float, ...]
    match_after_shift: float = 0.05
    sources: tuple[str, ...] = ()

    def sleep_seconds(self, tokens_in: int, tokens_out: int) -> float:
        a, b, c = self.latency
        return max(1.0, a + b * tokens_in + c * tokens_out)

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["sleeps"] = {"n": len(self.sleeps), "mean_in": float(np.mean([s[0] for s in self.sleeps])),
                       "mean_out": float(np.mean([s[1] for s in self.sleeps])),
                       "mean_seconds": float(np.mean([self.sleep_seconds(*s) for s in self.sleeps]))}
        return d


def _records(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if "budget" in r and not r.get("error")]


def calibrate(results: Path = Path("evals/results"), match_at: float = 0.6, run_name: str = "qwen15b-base",
              pred_name: str = "pred-qwen15b-base") -> Calibration:
    """The calibration from a committed pareto run (`run_name`) and predictability run (`pred_name`)."""
    run = results / run_name / "records.jsonl"
    rows = _records(run)
    tt = {r["example_id"]: r for r in rows if r["mode"] == "test-time" and r["budget"] == 0}
    sl = {r["example_id"]: r for r in rows if r["mode"] == "sleep" and r["budget"] == 0}
    scores = {r["example_id"]: r["match_score"] for r in rows if r.get("match_score") is not None}
    lat_rows = [r for r in rows if r["mode"] == "test-time"]
    x = np.array([[1.0, r["input_tokens"], r["output_tokens"]] for r in lat_rows])
    y = np.array([r["latency_s"] for r in lat_rows])
    a, b, c = (float(v) for v in np.linalg.lstsq(x, y, rcond=None)[0])
    ids = sorted(e for e in sl if e in tt)
    pred = results / pred_name / "summary_predictability.csv"
    with pred.open() as f:
        bins = list(csv.DictReader(f))
    return Calibration(
        sleeps=tuple((int(sl[e]["sleep_input_tokens"]), int(sl[e]["sleep_output_tokens"])) for e in ids),
        latency=(a, b, c),
        tt_out=float(np.mean([tt[e]["output_tokens"] for e in ids])),
        notes_out=float(np.mean([sl[e]["output_tokens"] for e in ids])),
        match_rate=sum(scores.get(e, 0.0) >= match_at for e in ids) / len(ids),
        acc_tt=tuple(float(b_["accuracy_test_time"]) for b_ in bins),
        acc_gain=tuple(float(b_["gain"]) for b_ in bins),
        sources=(run.as_posix(), pred.as_posix()),
    )


@dataclass(frozen=True)
class Trace:
    name: str
    contexts: int
    duration: float
    events: Sequence[tuple[float, int, int]]
    """(time, kind 0 = change / 1 = question, context index), sorted by time."""
    shift_at: float | None = None
    cold: bool = False
    """Contexts start with no version (else with one of their revision 0, built before the trace)."""
    measure_from: float = 0.0
    """Questions and sleeps before this are warm-up: run through the scheduler, not measured."""


@dataclass
class _Ctx:
    sleep_in: int
    sleep_out: int
    bin: int
    revision: int = 0
    change_times: list[float] = field(default_factory=lambda: [0.0])
    version_rev: int | None = 0  # warm start: a version on revision 0 was built before the day
    version_sleep: int | None = None


@dataclass
class SimSleep:
    """One simulated sleep run."""

    context: int
    started: float
    tokens_out: int
    tokens_in: int
    seconds: float
    published: bool = False
    fresh_queries: int = 0


@dataclass
class _Usage:
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class _Result:
    published: bool
    version: int | None
    usage: _Usage
    status: str


class SimApp:
    """The app the scheduler drives: sleep runs last the calibrated seconds on the fake clock."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def asleep(self, context_id: str, **options: Any) -> _Result:
        w = self.world
        idx = int(context_id)
        ctx = w.ctxs[idx]
        samples = int(options.get("samples") or 1)
        factor = SAMPLE_COST.get(samples, float(samples)) * int(options.get("max_rounds") or 1)
        tokens_in, tokens_out = round(ctx.sleep_in * factor), round(ctx.sleep_out * factor)
        rev = ctx.revision
        record = SimSleep(idx, w.clock.now(), tokens_out, tokens_in, w.cal.sleep_seconds(tokens_in, tokens_out))
        index = len(w.sleeps)
        w.sleeps.append(record)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        w.clock.call_later(record.seconds, lambda: done.set_result(None))
        await done
        record.published = ctx.revision == rev
        if record.published:
            ctx.version_rev, ctx.version_sleep = rev, index  # this run (others may have started since)
        status = "published" if record.published else "stale: the context changed while sleeping"
        return _Result(record.published, rev if record.published else None, _Usage(tokens_in, tokens_out), status)


@dataclass
class Metrics:
    trace: str
    policy: str
    contexts: int
    queries: int
    changes: int
    sleeps: int
    fresh_share: float
    no_version_share: float
    stale_seconds: float
    """Mean seconds behind the current revision, over questions answered from an older version."""
    revisions_behind: float
    """Mean revisions behind, over questions with a version."""
    sleep_tokens: int
    wasted_tokens: int
    tt_tokens: float
    tt_saved: float
    accuracy: float
    accuracy_tt_only: float
    cost: float
    cost_tt_only: float
    decision_p50_us: float
    decision_p99_us: float
    wall_seconds: float
    detected_at: float | None = None
    cost_after_detect: float | None = None
    cost_tt_after_detect: float | None = None
    sleep_tokens_after_detect: int | None = None


class World:
    def __init__(self, trace: Trace, cal: Calibration, seed: int) -> None:
        rng = random.Random(seed)
        self.trace, self.cal, self.rng = trace, cal, rng
        self.clock = FakeClock()
        self.ctxs = [_Ctx(*rng.choice(cal.sleeps), bin=rng.randrange(len(cal.acc_tt))) for _ in range(trace.contexts)]
        if trace.cold:
            for ctx in self.ctxs:
                ctx.version_rev = None
        self.sleeps: list[SimSleep] = []
        self.q: list[tuple[float, bool, bool, int, float, float, float, float]] = []
        # (time, has version, fresh, revisions behind, stale seconds, accuracy, test-time tokens,
        #  accuracy test-time only)

    def question(self, idx: int) -> bool | None:
        now, cal, ctx = self.clock.now(), self.cal, self.ctxs[idx]
        shifted = self.trace.shift_at is not None and now >= self.trace.shift_at
        has = ctx.version_rev is not None
        fresh = has and ctx.version_rev == ctx.revision
        behind = ctx.revision - ctx.version_rev if ctx.version_rev is not None else 0
        stale_s = now - ctx.change_times[ctx.version_rev + 1] if ctx.version_rev is not None and not fresh else 0.0
        helps = fresh and not shifted
        acc = cal.acc_tt[ctx.bin] + (cal.acc_gain[ctx.bin] if helps else 0.0)
        self.q.append((now, has, fresh, behind, stale_s, acc, cal.notes_out if helps else cal.tt_out,
                       cal.acc_tt[ctx.bin]))
        if fresh and ctx.version_sleep is not None:
            self.sleeps[ctx.version_sleep].fresh_queries += 1
        if not has:
            return None
        p = cal.match_after_shift if shifted else cal.match_rate
        return self.rng.random() < p

    def change(self, idx: int) -> None:
        ctx = self.ctxs[idx]
        ctx.revision += 1
        ctx.change_times.append(self.clock.now())


async def _advance_to(clock: FakeClock, t: float) -> None:
    while (nxt := clock.next_due()) is not None and nxt <= t:
        clock.advance(max(0.0, nxt - clock.now()))
        for _ in range(6):  # a finished run -> its task ends -> dispatch -> the next run starts
            await asyncio.sleep(0)
    clock.advance(max(0.0, t - clock.now()))


async def _simulate(trace: Trace, policy: SleepPolicy, cal: Calibration, slots: int,
                    seed: int) -> tuple[Metrics, list[SimSleep]]:
    world = World(trace, cal, seed)
    sched = IdleScheduler(cast(SleepTime, SimApp(world)), clock=world.clock, policy=policy, max_concurrency=slots,
                          keep_timeline=False)
    started = time.perf_counter()
    changes = 0
    async with sched:
        for t, kind, idx in trace.events:
            await _advance_to(world.clock, t)
            if kind == 0:
                changes += t >= trace.measure_from
                world.change(idx)
                sched.notify_change(str(idx), size_tokens=world.ctxs[idx].sleep_in)
            else:
                sched.record_query(str(idx), matched=world.question(idx))
        await _advance_to(world.clock, trace.duration)
        await sched.aclose(wait=False)
    wall = time.perf_counter() - started
    return _metrics(world, policy, sched, changes, wall), world.sleeps


def _metrics(world: World, policy: SleepPolicy, sched: IdleScheduler, changes: int, wall: float) -> Metrics:
    cal, start = world.cal, world.trace.measure_from
    q = [r for r in world.q if r[0] >= start]
    sleeps = [s for s in world.sleeps if s.started >= start]
    n = max(1, len(q))
    with_version = [r for r in q if r[1]]
    stale = [r for r in with_version if not r[2]]
    sleep_tokens = sum(s.tokens_out for s in sleeps)
    wasted = sum(s.tokens_out for s in sleeps if not s.published or s.fresh_queries == 0)
    tt_tokens = sum(r[6] for r in q)
    decisions = np.array(sched.decision_seconds) * 1e6 if sched.decision_seconds else np.zeros(1)
    m = Metrics(
        trace=world.trace.name, policy=policy.name, contexts=world.trace.contexts, queries=len(q), changes=changes,
        sleeps=len(sleeps), fresh_share=sum(r[2] for r in q) / n, no_version_share=1 - len(with_version) / n,
        stale_seconds=float(np.mean([r[4] for r in stale])) if stale else 0.0,
        revisions_behind=float(np.mean([r[3] for r in with_version])) if with_version else 0.0,
        sleep_tokens=sleep_tokens, wasted_tokens=wasted, tt_tokens=tt_tokens,
        tt_saved=cal.tt_out * len(q) - tt_tokens, accuracy=sum(r[5] for r in q) / n,
        accuracy_tt_only=sum(r[7] for r in q) / n,
        cost=sleep_tokens + PRICE * tt_tokens, cost_tt_only=PRICE * cal.tt_out * len(q),
        decision_p50_us=float(np.percentile(decisions, 50)), decision_p99_us=float(np.percentile(decisions, 99)),
        wall_seconds=wall,
    )
    guard = getattr(policy, "guard", None)
    detected = getattr(guard, "tripped_at", None)
    if world.trace.shift_at is not None and detected is not None:
        after = [r for r in q if r[0] >= detected]
        spent = sum(s.tokens_out for s in world.sleeps if s.started >= detected)
        m.detected_at = detected
        m.sleep_tokens_after_detect = spent
        m.cost_after_detect = spent + PRICE * sum(r[6] for r in after)
        m.cost_tt_after_detect = PRICE * cal.tt_out * len(after)
    return m


def simulate(trace: Trace, policy: SleepPolicy, cal: Calibration, *, slots: int = 16, seed: int = 0) -> Metrics:
    """Run `trace` through a real `IdleScheduler` with `policy` on a fake clock; the metrics of the run."""
    return asyncio.run(_simulate(trace, policy, cal, slots, seed))[0]


def simulate_runs(trace: Trace, policy: SleepPolicy, cal: Calibration, *, slots: int = 16,
                  seed: int = 0) -> tuple[Metrics, list[SimSleep]]:
    """`simulate`, with every simulated sleep run."""
    return asyncio.run(_simulate(trace, policy, cal, slots, seed))
