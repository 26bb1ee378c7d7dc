"""Scheduler decision time at 10,000 contexts: wall time per event (a change or a question, with the timers
and dispatches it sets off) of the real `IdleScheduler` on a `FakeClock`, sleep runs lasting 60 virtual s.

    PYTHONPATH=$PWD taskset -c 0 python benchmarks/bench_scheduler.py            # this tree
    PYTHONPATH=$PWD taskset -c 0 python benchmarks/bench_scheduler.py --policy value   # a sleep policy by name
    git archive main sleeptime | tar -x -C /tmp/old && \\
        PYTHONPATH=/tmp/old taskset -c 0 python benchmarks/bench_scheduler.py     # another tree, same events

Worst case for dispatch: every context changes within the first hour, so thousands are due at once with
16 slots; questions follow a Zipf(1) popularity. Without --policy it uses only the API both trees have (the
scheduler's default policy). Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any, cast

from sleeptime import SleepTime
from sleeptime.scheduler import FakeClock, IdleScheduler


class _Usage:
    input_tokens, output_tokens, total_tokens = 450, 150, 600


class _Result:
    published, version, status, usage = True, 1, "published", _Usage()


class _App:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def asleep(self, context_id: str, **options: Any) -> _Result:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.clock.call_later(60.0, lambda: done.set_result(None))
        await done
        return _Result()


def events(contexts: int, questions: int, seed: int) -> list[tuple[float, int, int]]:
    rng = random.Random(seed)
    weights = [1 / (r + 1) for r in range(contexts)]
    out = [(rng.uniform(0, 3600), 0, i) for i in range(contexts)]
    out += [(rng.uniform(0, 7200), 1, i) for i in rng.choices(range(contexts), weights, k=questions)]
    return sorted(out)


async def run(contexts: int, questions: int, seed: int, policy: str | None = None) -> list[float]:
    clock = FakeClock()
    per_event: list[float] = []
    options: dict[str, Any] = {}
    if policy is not None:
        from sleeptime.scheduler import policy_from_name

        options["policy"] = policy_from_name(policy)
    async with IdleScheduler(cast(SleepTime, _App(clock)), idle_after=30, clock=clock, max_concurrency=16,
                             **options) as sched:
        for t, kind, idx in events(contexts, questions, seed):
            started = time.perf_counter()
            clock.advance(max(0.0, t - clock.now()))
            for _ in range(6):
                await asyncio.sleep(0)
            if kind == 0:
                sched.notify_change(str(idx))
            else:
                sched.record_query(str(idx))
            per_event.append(time.perf_counter() - started)
        await sched.aclose(wait=False)
    return per_event


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, default=10_000)
    ap.add_argument("--questions", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", default=None, help="a built-in sleep policy (debounce, eager, lazy, value)")
    a = ap.parse_args()
    started = time.perf_counter()
    per_event = sorted(asyncio.run(run(a.contexts, a.questions, a.seed, a.policy)))
    n = len(per_event)
    p50, p99 = per_event[n // 2] * 1e3, per_event[min(n - 1, int(n * 0.99))] * 1e3
    print(f"{a.policy or 'default policy'}: {a.contexts} contexts, {n} events: per-event wall ms p50 {p50:.3f} "
          f"p99 {p99:.3f} "
          f"max {per_event[-1] * 1e3:.1f} mean {statistics.fmean(per_event) * 1e3:.3f}; "
          f"total {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
