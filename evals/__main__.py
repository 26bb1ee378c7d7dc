"""``python -m evals <experiment> [options]`` and ``python -m evals plot <run dir>``.

Examples::

    python -m evals pareto --dataset gsm-p2 --limit 100 --model embedded:qwen2.5-coder-0.5b \\
        --budgets 0,1,4 --out evals/results/qwen05b-p2
    python -m evals plot evals/results/qwen05b-p2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evals.experiments import EXPERIMENTS
from evals.plots import render_run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals", description="Sleep-time compute experiments.")
    sub = p.add_subparsers(dest="command", required=True)
    plot = sub.add_parser("plot", help="rewrite a run's summary tables and figures from its JSONL (no model)")
    plot.add_argument("run_dir")
    for name, experiment in EXPERIMENTS.items():
        resumes = " (resumes an existing --out)" if experiment.runner is not None else ""
        experiment.add_arguments(sub.add_parser(name, help=experiment.help + resumes))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        render_run(args.run_dir)
        print(f"wrote summary and figures in {args.run_dir}")
        return 0
    where = EXPERIMENTS[args.command].run(args, argv)
    print(f"done: {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
