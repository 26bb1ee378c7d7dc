"""Sleep budget by predictability: uniform vs predictability-weighted reflect work at a fixed total.

Run with: python -m evals sleep-budget --dataset gsm-p1 --data-dir ../shared/data --limit 20 \
    --model embedded:qwen2.5-coder-0.5b --out evals/results/budget/qwen05b-p1

For each context, a probe asks the sleep model ``--probe-k`` times (temperature 0, then
``sample_temperature``) for the questions it expects, questions only, and scores their agreement
(:func:`evals.budgeting.agreement`, MiniLM vectors). The total sleep budget (``--units-per-context`` x
contexts x ``--tokens-per-unit`` output tokens of reflect work) is then split two ways by
:func:`evals.budgeting.allocate`:

* ``uniform``: the same units everywhere;
* ``weighted``: by predictability, from the budget left after the probe's own output tokens (the probe is
  paid for out of the same total, so the comparison is fair to the uniform arm).

Each arm sleeps every context with its plan (rounds, samples; ``max_tokens_sleep = tokens_per_unit``), predicts
``--n-questions`` questions and asks the real one at ``--budget``. A (context, plan) pair that both arms share is
slept once. Records hold ids, plans, grades and token counts only (no model text: GSM-Symbolic is
NoDerivatives). A rerun with the same settings resumes: finished probes and trials are not run again.
Outputs: ``records.jsonl``, ``summary.json``, ``summary.md`` and ``budget.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.store.memory import InMemoryStore
from tqdm import tqdm

from evals.budgeting import Plan, agreement, allocate
from evals.datasets import load_dataset
from evals.examples import Example
from evals.grading import grade_gsm
from evals.plots import pyplot
from evals.provenance import commit, settings_hash
from sleeptime import SleepTime, resolve_chat_model, resolve_embeddings
from sleeptime.experimental import extract_json_object, predict_prompt, record_usage

ARMS = ("uniform", "weighted")


def context_id_of(example_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", example_id)


def probe_questions(text: str, n: int) -> list[str]:
    """The questions of a probe reply: a JSON answer if given, else its lines with a '?', else the reply.

    Small models sometimes answer the questions-only probe in the predict prompt's JSON; accept both.
    """
    try:
        parsed = predict_prompt.Predictions.model_validate(extract_json_object(text))
        return [q.question for q in parsed.questions][:n]
    except Exception:
        pass
    # The question itself: what follows the last quote, brace, colon or list marker before the '?'.
    asked = [re.split(r"[\"{}:]", seg)[-1].strip(" -*'0123456789.)") for seg in re.findall(r"[^\n?]*\?", text)]
    asked = [a for a in asked if len(a) > 5]
    if asked:
        return asked[:n]
    return [text.strip()[:300]] if text.strip() else []


def probe(model_spec: Any, ex: Example, k: int, *, max_tokens: int, sample_temperature: float,
          embeddings: Any, n_questions: int = 3) -> tuple[float, int, list[int]]:
    """(agreement, probe output tokens, questions per sample) of k questions-only samples on the raw context."""
    sets: list[list[list[float]]] = []
    tokens = 0
    sizes: list[int] = []
    for i in range(k):
        temperature = 0.0 if i == 0 else sample_temperature
        model = resolve_chat_model(model_spec, temperature=temperature, max_tokens=max_tokens)
        messages = [SystemMessage(predict_prompt.PROBE_SYSTEM.format(n=n_questions)),
                    HumanMessage(predict_prompt.USER.format(context=ex.context, notes="(none yet)"))]
        reply = model.invoke(messages)
        usage = [record_usage(reply, phase="sleep", node="probe")] if isinstance(reply, AIMessage) else []
        questions = probe_questions(str(reply.text), n_questions)
        tokens += sum(u["output_tokens"] for u in usage)
        sizes.append(len(questions))
        sets.append(embeddings.embed_documents(questions) if questions else [])
    return agreement(sets), tokens, sizes


# ---------------------------------------------------------------------------------------------- records


class _Records:
    """records.jsonl, appended to as work finishes; what is in it already is not done again."""

    def __init__(self, out: Path, settings: Mapping[str, Any], *, fresh: bool) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "records.jsonl"
        settings_path = out / "settings.json"
        if fresh or not self.path.exists():
            self.path.write_text("", encoding="utf-8")
        elif settings_path.exists() and json.loads(settings_path.read_text(encoding="utf-8")) != dict(settings):
            raise ValueError(
                f"{out} holds records made with other settings ({settings_path}); "
                "use another --out, or --fresh to discard them"
            )
        settings_path.write_text(json.dumps(dict(settings), indent=2) + "\n", encoding="utf-8")
        self.provenance = {"commit": commit(), "settings_hash": settings_hash(settings)}
        rows = [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]
        self.rows = {(r["kind"], r["key"]): r for r in rows}

    def find(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.rows.get((kind, key))

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        row = row | self.provenance
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self.rows[(row["kind"], row["key"])] = row
        return row


def trial_key(plan: Plan) -> str:
    return f"{plan.context_id}|r{plan.rounds}|s{plan.samples}"


# ---------------------------------------------------------------------------------------------- the run


def run(
    *, dataset: str, data_dir: str | None, limit: int | None, model: Any, out: Path, units_per_context: int,
    tokens_per_unit: int, probe_k: int, budget: int, max_rounds: int, max_samples: int, power: float,
    embeddings: Any = None, store_factory: Any = None, max_tokens_wake: int = 384, n_questions: int = 1,
    probe_questions_n: int = 3, probe_tokens: int = 96, fresh: bool = False, progress: bool = False,
) -> dict[str, Any]:
    started = time.time()
    examples = load_dataset(dataset, data_dir=data_dir, limit=limit)
    emb = embeddings if embeddings is not None else resolve_embeddings()
    label = model if isinstance(model, str) else type(model).__name__  # an instance's repr holds addresses
    settings = {"dataset": dataset, "model": label, "units_per_context": units_per_context,
                "tokens_per_unit": tokens_per_unit, "probe_k": probe_k, "budget": budget, "max_rounds": max_rounds,
                "max_samples": max_samples, "power": power, "max_tokens_wake": max_tokens_wake,
                "n_questions": n_questions, "probe_questions": probe_questions_n, "probe_tokens": probe_tokens}
    records = _Records(out, settings, fresh=fresh)

    scores: dict[str, float] = {}
    probe_cost = 0
    for ex in tqdm(examples, desc="probe", unit="ctx", disable=not progress):
        cid = context_id_of(ex.id)
        row = records.find("probe", ex.id)
        if row is None:
            score, tokens, sizes = probe(model, ex, probe_k, max_tokens=probe_tokens, sample_temperature=0.7,
                                         embeddings=emb, n_questions=probe_questions_n)
            row = records.add({"kind": "probe", "key": ex.id, "example_id": ex.id, "predictability": round(score, 4),
                               "output_tokens": tokens, "questions_per_sample": sizes})
        scores[cid] = float(row["predictability"])
        probe_cost += int(row["output_tokens"])
    total = units_per_context * len(examples) * tokens_per_unit
    plans: dict[str, list[Plan]] = {
        "uniform": allocate(scores, total, tokens_per_unit, weighting="uniform", max_rounds=max_rounds,
                            max_samples=max_samples),
        "weighted": allocate(scores, max(total - probe_cost, tokens_per_unit * len(examples)), tokens_per_unit,
                             weighting="predictability", max_rounds=max_rounds, max_samples=max_samples,
                             power=power),
    }
    by_id = {context_id_of(ex.id): ex for ex in examples}
    todo = {trial_key(p): p for arm in ARMS for p in plans[arm] if records.find("trial", trial_key(p)) is None}
    for key, plan in tqdm(todo.items(), desc="sleep+ask", unit="trial", disable=not progress):
        ex = by_id[plan.context_id]
        store = store_factory() if store_factory else InMemoryStore(
            index={"dims": len(emb.embed_query("x")), "embed": emb, "fields": ["text", "question"]})
        app = SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=plan.rounds,
                        samples=plan.samples, max_tokens_sleep=tokens_per_unit, max_tokens_wake=max_tokens_wake,
                        n_questions=n_questions)
        t0 = time.time()
        row = {"kind": "trial", "key": key, "example_id": ex.id, "rounds": plan.rounds, "samples": plan.samples}
        try:
            slept = app.sleep(plan.context_id, ex.context)
            answer = app.ask(ex.question, plan.context_id, budget=budget)
            row |= {"correct": grade_gsm(answer.answer, ex.answer), "sleep_output_tokens": slept.usage.output_tokens,
                    "wake_output_tokens": answer.wake_usage.output_tokens}
        except Exception as exc:  # a failed sleep or answer is a wrong answer with uncounted tokens, not a dead run
            row |= {"correct": False, "sleep_output_tokens": None, "wake_output_tokens": None,
                    "error": type(exc).__name__}  # the message quotes model output: not in committed records
            print(f"{key}: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
        records.add(row | {"seconds": round(time.time() - t0, 1)})

    trials = {key: r for (kind, key), r in records.rows.items() if kind == "trial"}
    summary = summarize(plans, trials, probe_cost) | {
        "settings": settings, "limit": limit, "n": len(examples), "total_sleep_budget_tokens": total,
        "seconds_this_run": round(time.time() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    plot_budget(summary, out / "budget.png")
    return summary


def summarize(plans: Mapping[str, Sequence[Plan]], trials: Mapping[str, Mapping[str, Any]],
              probe_cost: int) -> dict[str, Any]:
    """Per arm: accuracy, sleep and test-time tokens (measured), and accuracy in each predictability half."""
    first = next(iter(plans.values()))
    median = statistics.median(p.predictability for p in first) if first else 0.0
    arms: dict[str, dict[str, Any]] = {}
    for arm, arm_plans in plans.items():
        rows = [trials[trial_key(p)] for p in arm_plans]
        n = len(rows)
        correct = sum(bool(r["correct"]) for r in rows)
        sleep_out = sum(r["sleep_output_tokens"] or 0 for r in rows) + (probe_cost if arm == "weighted" else 0)
        wake_out = sum(r["wake_output_tokens"] or 0 for r in rows)
        halves = {}
        for half in ("high", "low"):
            high = half == "high"
            mine = [(p, r) for p, r in zip(arm_plans, rows, strict=True) if (p.predictability > median) == high]
            halves[half] = {"n": len(mine), "correct": sum(bool(r["correct"]) for _, r in mine),
                            "units": sum(p.units for p, _ in mine)}
        arms[arm] = {
            "n": n, "correct": correct, "accuracy": round(correct / n, 4) if n else None,
            "sleep_output_tokens": sleep_out, "probe_output_tokens": probe_cost if arm == "weighted" else 0,
            "test_time_output_tokens": wake_out, "mean_test_time_output_tokens": round(wake_out / n, 2) if n else None,
            "units": [p.units for p in arm_plans], "errors": sum(1 for r in rows if "error" in r),
            "by_predictability": halves,
        }
    contexts = [
        {"context_id": p.context_id, "predictability": round(p.predictability, 4),
         **{f"{arm}_units": plans[arm][i].units for arm in plans},
         **{f"{arm}_correct": bool(trials[trial_key(plans[arm][i])]["correct"]) for arm in plans}}
        for i, p in enumerate(first)
    ]
    return {"predictability_median": round(median, 4), "arms": arms, "contexts": contexts}


def summary_markdown(summary: Mapping[str, Any]) -> str:
    s = summary["settings"]
    lines = [
        f"# Sleep budget by predictability: {s['dataset']}, {s['model']}, n = {summary['n']}",
        "",
        f"Total sleep budget {summary['total_sleep_budget_tokens']} reflect output tokens "
        f"({s['units_per_context']} units of {s['tokens_per_unit']} per context); test-time budget level "
        f"{s['budget']}; the weighted arm pays for its probe from the same total.",
        "",
        "| arm | accuracy | correct, high predictability | correct, low predictability | sleep output tokens "
        "(measured, probe incl.) | probe tokens | mean test-time output tokens | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, a in summary["arms"].items():
        hi, lo = a["by_predictability"]["high"], a["by_predictability"]["low"]
        lines.append(f"| {arm} | {a['correct']}/{a['n']} | {hi['correct']}/{hi['n']} ({hi['units']} units) | "
                     f"{lo['correct']}/{lo['n']} ({lo['units']} units) | {a['sleep_output_tokens']} | "
                     f"{a['probe_output_tokens']} | {a['mean_test_time_output_tokens']} | {a['errors']} |")
    lines += ["", "| context | predictability | uniform units | weighted units | uniform correct | weighted correct |",
              "|---|---|---|---|---|---|"]
    for c in summary["contexts"]:
        lines.append(f"| {c['context_id']} | {c['predictability']} | {c.get('uniform_units')} | "
                     f"{c.get('weighted_units')} | {c.get('uniform_correct')} | {c.get('weighted_correct')} |")
    return "\n".join(lines) + "\n"


def plot_budget(summary: Mapping[str, Any], path: Path) -> None:
    """Left: reflect units per context against predictability, per arm. Right: accuracy per arm."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for arm, marker in zip(ARMS, ("o", "s"), strict=True):
        ctx = summary["contexts"]
        left.scatter([c["predictability"] for c in ctx], [c[f"{arm}_units"] for c in ctx], marker=marker,
                     label=arm, alpha=0.7)
    left.set_xlabel("predictability (agreement of probe questions)")
    left.set_ylabel("reflect units")
    left.legend(loc="upper left")
    arms = summary["arms"]
    right.bar(list(arms), [a["accuracy"] or 0.0 for a in arms.values()])
    right.set_ylabel("accuracy")
    right.set_title(" / ".join(f"{k}: {a['correct']}/{a['n']}" for k, a in arms.items()))
    fig.suptitle(f"{summary['settings']['dataset']}: fixed total sleep budget, uniform vs by predictability")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--dataset", default="tiny", choices=["tiny", "gsm-p2", "gsm-p1"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default="embedded:qwen2.5-coder-0.5b")
    ap.add_argument("--out", type=Path, default=Path("evals/results/budget"))
    ap.add_argument("--units-per-context", type=int, default=2, help="uniform arm's reflect units per context")
    ap.add_argument("--tokens-per-unit", type=int, default=256, help="max output tokens of one reflect round")
    ap.add_argument("--probe-k", type=int, default=2)
    ap.add_argument("--probe-questions", type=int, default=3, help="questions asked of each probe sample")
    ap.add_argument("--probe-tokens", type=int, default=96, help="max output tokens of one probe sample")
    ap.add_argument("--n-questions", type=int, default=1, help="predicted questions (with answers) per sleep")
    ap.add_argument("--budget", type=int, default=1, help="test-time budget level")
    ap.add_argument("--max-tokens-wake", type=int, default=384, help="max output tokens of the answer")
    ap.add_argument("--max-rounds", type=int, default=3)
    ap.add_argument("--max-samples", type=int, default=2)
    ap.add_argument("--power", type=float, default=2.0)
    ap.add_argument("--fresh", action="store_true", help="discard records already in --out")


def run_cli(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """``python -m evals sleep-budget ...``: run, print the summary, name where it was written."""
    summary = run(dataset=args.dataset, data_dir=args.data_dir, limit=args.limit, model=args.model, out=args.out,
                  units_per_context=args.units_per_context, tokens_per_unit=args.tokens_per_unit,
                  probe_k=args.probe_k, budget=args.budget, max_rounds=args.max_rounds,
                  max_samples=args.max_samples, power=args.power, n_questions=args.n_questions,
                  probe_questions_n=args.probe_questions, probe_tokens=args.probe_tokens, fresh=args.fresh,
                  max_tokens_wake=args.max_tokens_wake, progress=True)
    print(summary_markdown(summary))
    return f"{args.out}/summary.md"
