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

from evals.experiments import EXPERIMENTS, run_experiment
from evals.runner import RunOptions, parse_int_list


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals", description="Sleep-time compute experiments.")
    sub = p.add_subparsers(dest="command", required=True)
    plot = sub.add_parser("plot", help="rewrite a run's summary tables and figures from its JSONL (no model)")
    plot.add_argument("run_dir")
    for name in EXPERIMENTS:
        e = sub.add_parser(name, help=f"run the {name} experiment (resumes an existing --out)")
        e.add_argument("--out", required=True, help="run directory (records.jsonl, run.json, summary, figures)")
        e.add_argument("--dataset", default="gsm-p2", choices=["gsm-p1", "gsm-p2", "aime", "tiny"])
        e.add_argument("--data-dir", default=None, help="folder laid out like ../shared/data")
        e.add_argument("--limit", type=int, default=None)
        e.add_argument("--seed", type=int, default=0)
        e.add_argument("--split-rule", default="sentence", choices=["sentence", "paper"])
        e.add_argument("--model", default="embedded:qwen2.5-coder-0.5b", help="test-time (wake) model spec")
        e.add_argument("--sleep-model", default=None, help="sleep model spec (default: --model)")
        e.add_argument("--base-url", default=None, help="OpenAI-compatible server for openai: specs")
        e.add_argument("--budgets", type=parse_int_list, default=[0, 1, 2, 3, 4], help="e.g. 0,1,4")
        e.add_argument("--concurrency", type=int, default=1, help="examples in flight (embedded models "
                       "serialise calls, so >1 only helps with a server)")
        e.add_argument("--max-rounds", type=int, default=1)
        e.add_argument("--samples", type=int, default=1, help="k learned contexts per sleep")
        e.add_argument("--n-questions", type=int, default=1, help="predicted questions per sleep")
        e.add_argument("--verify", default="off", choices=["off", "format", "model"])
        e.add_argument("--max-tokens-sleep", type=int, default=768)
        e.add_argument("--max-tokens-wake", type=int, default=384)
        e.add_argument("--embeddings", default="embedded:minilm")
        e.add_argument("--no-progress", action="store_true")
        e.add_argument("--verified", action="store_true",
                       help="also answer with verified predicted answers served first (mode sleep+verified)")
        if name == "passk":
            e.add_argument("--k", type=int, default=5)
            e.add_argument("--temperature", type=float, default=0.7)
        if name == "scaling":
            e.add_argument("--scale-samples", type=parse_int_list, default=[1, 2, 5])
            e.add_argument("--scale-rounds", type=parse_int_list, default=[1, 3])
        if name in ("amortization", "pareto", "scaling", "passk", "context-only", "predictability"):
            e.add_argument("--weight", type=float, default=10.0, help="price of a test-time token in sleep tokens")
        if name == "amortization":
            e.add_argument("--queries", type=int, default=10, help="questions per context (original + generated)")
            e.add_argument("--mq-model", default=None, help="model that generates the extra questions")
            e.add_argument("--cache-dir", default=None, help="multi-query cache (default .sleeptime/evals-cache)")
        if name == "predictability":
            e.add_argument("--lp-model", default=None, help="local model for log p(q|c) (default: --model)")
            e.add_argument("--lp-n-ctx", type=int, default=1024)
            e.add_argument("--bins", type=int, default=5)
            e.add_argument("--from-run", default=None, help="reuse a pareto run's answers instead of answering")
        if name == "context-only":
            e.add_argument("--guesses", type=int, default=1)
            e.add_argument("--temperature", type=float, default=0.7)
    return p


def options_from(args: argparse.Namespace) -> RunOptions:
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "no_progress")}
    return RunOptions(experiment=args.command, progress=not args.no_progress, **fields)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        from evals.plots import render_run

        render_run(args.run_dir)
        print(f"wrote summary and figures in {args.run_dir}")
        return 0
    opts = options_from(args)
    run_experiment(opts, argv=argv)
    print(f"done: {opts.out}/summary.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
