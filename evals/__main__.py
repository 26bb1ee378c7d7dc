"""``python -m evals <experiment> [options]``, ``python -m evals plot [path]`` and ``python -m evals headline``.

Examples::

    python -m evals pareto --dataset gsm-p2 --limit 100 --model embedded:qwen2.5-coder-0.5b \\
        --budgets 0,1,4 --out evals/results/qwen05b-p2
    python -m evals plot evals/results/qwen05b-p2
    python -m evals plot        # every results folder under evals/results, then the headline block in its README
    python -m evals pair evals/results/decisive-base-2802:k1-r1-q2 evals/results/decisive-base-2802-q4:k1-r1-q4
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from evals.errors import DatasetError
from evals.experiments import EXPERIMENTS
from evals.headline import headline_block, results_readme, update_readme
from evals.options import parse_int_list
from evals.pair import Arm, pair_lines
from evals.payoff import payoff_block, update_payoff
from evals.plots import render_run
from evals.records import RUN_FILE
from evals.render_all import render_all, render_notes
from sleeptime.errors import InvalidInputError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals", description="Sleep-time compute experiments.")
    sub = p.add_subparsers(dest="command", required=True)
    plot = sub.add_parser("plot", help="rewrite summary tables and figures from the records (no model): one run "
                          "dir or notes file, or (no path, --all) every folder under --results and the headline block")
    plot.add_argument("run_dir", nargs="?", help="a run dir, a notes records file or a results folder")
    plot.add_argument("--all", action="store_true", help="every folder under --results (the default with no path)")
    head = sub.add_parser("headline", help="write the headline block into the results README from the records "
                          "(no model)")
    for p_ in (plot, head):
        p_.add_argument("--results", default="evals/results", help="the results folder (nothing else is read)")
        p_.add_argument("--readme", default=None, help="the file holding the headline markers (default: "
                        "README.md in --results, i.e. evals/results/README.md)")
    head.add_argument("--print", action="store_true", help="print the block instead of writing it")
    plot.add_argument("--package-readme", default=None, help="the README holding the 'Does sleeping pay off?' "
                      "markers, rewritten with the results folder (default: README.md two folders above --results, "
                      "i.e. the repository's for evals/results)")
    pay = sub.add_parser("payoff", help="print the README's 'Does sleeping pay off?' block from the decisive run")
    pay.add_argument("--results", default="evals/results")
    pair = sub.add_parser("pair", help="one setting of a run against one of another run, on the examples both "
                          "answered (exact McNemar; no model)")
    pair.add_argument("base", help="RUN_DIR:SETTING, e.g. evals/results/decisive-base-2802:k1-r1 (test-time: no sleep)")
    pair.add_argument("arm", help="RUN_DIR:SETTING set against the base")
    pair.add_argument("--levels", type=parse_int_list, default=[0], help="wake levels, comma-separated (default 0)")
    for name, experiment in EXPERIMENTS.items():
        resumes = " (resumes an existing --out)" if experiment.runner is not None else ""
        experiment.add_arguments(sub.add_parser(name, help=experiment.help + resumes))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        return _plot(args)
    if args.command == "headline":
        return _headline(args.results, args.readme, print_only=args.print)
    if args.command == "payoff":
        print(payoff_block(args.results))
        return 0
    try:
        if args.command == "pair":
            base, arm = Arm.parse(args.base), Arm.parse(args.arm)
            for line in pair_lines(base, arm, args.levels):
                print(line)
            return 0
        where = EXPERIMENTS[args.command].run(args, argv)
    except (DatasetError, InvalidInputError) as e:
        # Bad options or data the user can fix: one line naming it, not a traceback.
        print(f"python -m evals {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(f"done: {where}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    target = Path(args.run_dir) if args.run_dir and not args.all else None
    if target is not None and (target / RUN_FILE).is_file():
        render_run(target)
        print(f"wrote summary and figures in {target}")
        return 0
    if target is not None and target.is_file():
        render_notes(target)
        print(f"wrote note-quality tables and figure beside {target}")
        return 0
    for line in render_all(target or args.results):
        print(line)
    if target is None:
        _headline(args.results, args.readme, print_only=False)
        readme = (Path(args.package_readme) if args.package_readme
                  else Path(args.results).resolve().parents[1] / "README.md")
        if readme.is_file():
            changed = update_payoff(readme, args.results)
            print(f"{'wrote' if changed else 'unchanged (or no markers):'} 'Does sleeping pay off?' block in {readme}")
    return 0


def _headline(results: str, readme_arg: str | None, *, print_only: bool) -> int:
    readme = readme_arg or results_readme(results).as_posix()
    block = headline_block(results)
    if print_only:
        print(block)
    elif not Path(readme).is_file():
        print(f"no {readme} here: headline not written (--readme PATH, or python -m evals headline --print)")
    else:
        changed = update_readme(readme, block)
        print(f"{'wrote' if changed else 'unchanged:'} headline block in {readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
