"""Import-time benchmark: how long a fresh process takes to import `sleeptime`.

Run with: .venv/bin/python benchmarks/bench_import.py [--runs 5]

Each statement runs in a new interpreter (nothing cached in `sys.modules`), `--runs` times after
one unmeasured warm-up (the OS file cache); the time is the whole process, start to exit (a bare
``python -c pass`` is printed first for scale). The median of the runs is printed, so one slow run
on a busy machine does not move it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "import sleeptime": "import sleeptime",
    "from sleeptime import SleepTime": "from sleeptime import SleepTime",
}


def process_seconds(statement: str, runs: int) -> list[float]:
    """Wall seconds of `runs` fresh interpreters running `statement`, after one warm-up."""
    times: list[float] = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        if i:  # the first run only warms the file cache
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for label, statement in {"python -c pass": "pass", **STATEMENTS}.items():
        seconds = process_seconds(statement, args.runs)
        print(f"{label}: median {statistics.median(seconds):.3f} s over {args.runs} fresh processes "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f})")


if __name__ == "__main__":
    main()
