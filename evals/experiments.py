"""The experiment registry: ``python -m evals <name>`` looks the name up here.

Runner experiments (one run directory each, resumable, tables and figures from the records):

* ``pareto``: test-time only vs sleep-time at each budget level (accuracy vs mean test-time output tokens).
* ``passk``: k samples of test-time only at temperature > 0 (pass@k, unbiased estimator, and majority vote)
  against sleep-time at the same test-time tokens.
* ``scaling``: sleep-time compute scaled by k parallel learned contexts and rethink rounds.
* ``amortization``: cost per query vs queries per context on Multi-Query GSM-Symbolic, test-time tokens
  weighted ``t`` (default 10) against sleep-time tokens.
* ``predictability``: log p(question | context) under a local model, quantile bins, sleep-time gain per bin.
* ``context-only``: the model guesses the question from the context alone and answers it while idle; that
  answer is graded against the real question's gold.

Beyond the paper, with their own outputs: ``verified`` (verified predicted answers on the perturbation set),
``adversarial`` (the same matching on a swap set built by another method), ``notes`` (note recall and
precision against the gold intermediate values), ``swe`` (SWE-Features on a codebase: F1 over the files a
change touches, plain RAG vs sleep-time) and ``sleep-budget`` (a fixed sleep
budget split uniformly or by predictability).

Token counts are the models' own usage reports. "Test-time tokens" are the wake phase's output tokens, as
the paper counted them; input tokens are kept beside them in every record and table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals import (
    adversarial,
    amortization,
    arrivals_live,
    context_only,
    exp_arrivals,
    exp_budget,
    exp_docs,
    exp_notes,
    exp_swe,
    exp_verified,
    passk,
    predictability,
)
from evals.options import RunOptions, options_from
from evals.pareto import PARETO, SCALING
from evals.plots import render_run
from evals.records import RECORDS_FILE, Record, write_run_file
from evals.replay import recorded_sleeps
from evals.runner import Env, RunnerSpec, run_items


@dataclass(frozen=True)
class Experiment:
    """One ``python -m evals`` command: its arguments, and what runs them (returns where the results are)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Sequence[str]], str]
    runner: RunnerSpec | None = None
    """Set for experiments the runner drives into a run directory."""


def _runner_experiment(name: str, help: str, spec: RunnerSpec) -> Experiment:
    def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
        opts = options_from(spec.options, name, args)
        run_experiment(opts, argv=argv)
        return f"{opts.out}/summary.md"

    return Experiment(name, help, spec.options.add_arguments, run, spec)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _runner_experiment("pareto", "test-time only vs sleep-time at each budget level", PARETO),
        _runner_experiment("passk", "pass@k of test-time only samples vs sleep-time", passk.SPEC),
        _runner_experiment("scaling", "sleep-time compute scaled by samples and rethink rounds", SCALING),
        _runner_experiment("amortization", "cost per query vs queries per context (Multi-Query)",
                           amortization.SPEC),
        _runner_experiment("predictability", "sleep-time gain by log p(question | context)", predictability.SPEC),
        _runner_experiment("context-only", "guess the question from the context alone", context_only.SPEC),
        Experiment("verified", "verified predicted answers on the perturbation set (no chat model)",
                   exp_verified.add_arguments, exp_verified.run_cli),
        Experiment("sleep-budget", "a fixed sleep budget split uniformly vs by predictability",
                   exp_budget.add_arguments, exp_budget.run_cli),
        Experiment("adversarial", "verified matching on swapped questions (names, numbers, nouns, sides)",
                   adversarial.add_arguments, adversarial.run_cli),
        Experiment("notes", "note recall and precision of the learned context, and answers from it (oracle arm)",
                   exp_notes.add_arguments, exp_notes.run_cli),
        Experiment("arrivals", "sleep policies x arrival traces on the real scheduler, simulated app (no model)",
                   exp_arrivals.add_arguments, exp_arrivals.run_cli),
        Experiment("arrivals-live", "a small trace in real time on an embedded model, beside the simulator",
                   arrivals_live.add_arguments, arrivals_live.run_cli),
        Experiment("docs", "questions over click's docs folder: rag, rag-hybrid and sleep (answer match, gold-file "
                   "recall)", exp_docs.add_arguments, exp_docs.run_cli),
        Experiment("swe", "SWE-Features on click snapshots: which files a change touches, RAG vs sleep-time (F1)",
                   exp_swe.add_arguments, exp_swe.run_cli),
    )
}


def run_experiment(opts: RunOptions, env: Env | None = None, argv: Sequence[str] | None = None) -> list[Record]:
    """Run (or resume) one runner experiment into ``opts.out``; then write its summary and plots."""
    experiment = EXPERIMENTS.get(opts.experiment)
    if experiment is None or experiment.runner is None:
        runners = [n for n, e in EXPERIMENTS.items() if e.runner is not None]
        raise ValueError(f"unknown experiment {opts.experiment!r}; choose one of {', '.join(runners)}")
    spec = experiment.runner
    if not isinstance(opts, spec.options):
        raise TypeError(f"{opts.experiment} takes {spec.options.__name__}, got {type(opts).__name__}")
    opts.validate()
    if notes_from := getattr(opts, "notes_from", None):  # before any model runs: a wrong folder would fail each sleep
        recorded_sleeps(str(notes_from))
    env = env or Env(opts)
    write_run_file(opts, argv)
    index, count = opts.shard
    items = spec.items(opts, env)[index - 1 :: count]  # shards append to one records file, each item one writer
    records = run_items(items, item_id=spec.item_id, expected_keys=lambda it: spec.keys(opts, it),
                        task=lambda it, done, emit: spec.task(env, it, done, emit),
                        records_path=Path(opts.out) / RECORDS_FILE, concurrency=opts.concurrency,
                        progress=opts.progress, desc=spec.desc)
    render_run(opts.out)
    return records
