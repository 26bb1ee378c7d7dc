"""Sleep budget by predictability: uniform vs predictability-weighted reflect work at a fixed total.

Run with: python -m evals.exp_budget --dataset gsm-p2 --data-dir ../shared/data --limit 6 \
    --model embedded:qwen2.5-coder-0.5b --out evals/results/budget

For each context, a probe asks the sleep model for predicted questions ``--probe-k`` times (temperature 0,
then ``sample_temperature``) and scores their agreement (:func:`sleeptime.budgeting.agreement`, MiniLM
vectors). The total sleep budget (``--units-per-context`` x contexts x ``--tokens-per-unit`` output tokens
of reflect work) is then split two ways by :func:`sleeptime.budgeting.allocate`:

* ``uniform``: the same units everywhere;
* ``weighted``: by predictability, from the budget left after the probe's own output tokens (the probe is
  paid for out of the same total, so the comparison is fair to the uniform arm).

Each arm sleeps every context with its plan (rounds, samples; ``max_tokens_sleep = tokens_per_unit``) and
asks the question at ``--budget``. A context that gets the same plan in both arms is slept once and shared.
Reported per arm: accuracy, measured sleep output tokens (reflect + predict, plus the probe for the weighted
arm) and test-time output tokens. Records hold ids, plans, grades and token counts only.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from evals.datasets import Example, load_dataset
from evals.grading import grade_gsm
from sleeptime.budgeting import Plan, agreement, allocate
from sleeptime.prompts import predict as predict_prompt
from sleeptime.structured import extract_json_object
from sleeptime.usage import record_usage


def context_id_of(example_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", example_id)


def probe_questions(text: str, n: int) -> list[str]:
    """The predicted questions of a probe reply: the JSON answer, else its lines with a '?', else the reply.

    Small models (SmolLM2-135M) rarely give valid JSON; their free text still says what they expect asked.
    """
    try:
        parsed = predict_prompt.Predictions.model_validate(extract_json_object(text))
        return [q.question for q in parsed.questions][:n]
    except Exception:
        pass
    # The question itself: what follows the last quote, brace or colon before the '?'.
    asked = [re.split(r"[\"{}:]", seg)[-1].strip(" -*'") for seg in re.findall(r"[^\n?]*\?", text)]
    asked = [a for a in asked if len(a) > 5]
    if asked:
        return asked[:n]
    return [text.strip()[:300]] if text.strip() else []


def probe(model_spec: Any, ex: Example, k: int, *, max_tokens: int, sample_temperature: float,
          embeddings: Any, n_questions: int = 3) -> tuple[float, int, list[int]]:
    """(agreement, probe output tokens, questions per sample) of k predict samples on the raw context."""
    from sleeptime.models import resolve_chat_model

    sets: list[list[list[float]]] = []
    tokens = 0
    sizes: list[int] = []
    for i in range(k):
        temperature = 0.0 if i == 0 else sample_temperature
        model = resolve_chat_model(model_spec, temperature=temperature, max_tokens=max_tokens)
        messages = [SystemMessage(predict_prompt.SYSTEM.format(n=n_questions)),
                    HumanMessage(predict_prompt.USER.format(context=ex.context, notes="(none yet)"))]
        reply = model.invoke(messages)
        usage = [record_usage(reply, phase="sleep", node="probe")] if isinstance(reply, AIMessage) else []
        questions = probe_questions(str(reply.text), n_questions)
        tokens += sum(u["output_tokens"] for u in usage)
        sizes.append(len(questions))
        sets.append(embeddings.embed_documents(questions) if questions else [])
    return agreement(sets), tokens, sizes


def run(
    *, dataset: str, data_dir: str | None, limit: int | None, model: Any, out: Path, units_per_context: int,
    tokens_per_unit: int, probe_k: int, budget: int, max_rounds: int, max_samples: int, power: float,
    embeddings: Any = None, store_factory: Any = None, max_tokens_wake: int = 384,
) -> dict[str, Any]:
    from langgraph.store.memory import InMemoryStore

    from sleeptime.facade import SleepTime
    from sleeptime.models import resolve_embeddings

    started = time.time()
    examples = load_dataset(dataset, data_dir=data_dir, limit=limit)
    emb = embeddings if embeddings is not None else resolve_embeddings()
    out.mkdir(parents=True, exist_ok=True)
    records_path = out / "records.jsonl"
    records_path.write_text("", encoding="utf-8")

    def write(rec: dict[str, Any]) -> None:
        with records_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")

    scores: dict[str, float] = {}
    probe_tokens = 0
    for ex in examples:
        cid = context_id_of(ex.id)
        score, tokens, sizes = probe(model, ex, probe_k, max_tokens=tokens_per_unit, sample_temperature=0.7,
                                     embeddings=emb)
        scores[cid] = score
        probe_tokens += tokens
        write({"kind": "probe", "example_id": ex.id, "predictability": round(score, 4), "output_tokens": tokens,
               "questions_per_sample": sizes})
    total = units_per_context * len(examples) * tokens_per_unit
    plans: dict[str, list[Plan]] = {
        "uniform": allocate(scores, total, tokens_per_unit, weighting="uniform", max_rounds=max_rounds,
                            max_samples=max_samples),
        "weighted": allocate(scores, max(total - probe_tokens, tokens_per_unit * len(examples)), tokens_per_unit,
                             weighting="predictability", max_rounds=max_rounds, max_samples=max_samples,
                             power=power),
    }
    cache: dict[tuple[str, int, int], dict[str, Any]] = {}
    arms: dict[str, dict[str, Any]] = {}
    for arm, arm_plans in plans.items():
        correct = 0
        sleep_out = 0
        wake_out = 0
        for ex, plan in zip(examples, arm_plans, strict=True):
            key = (plan.context_id, plan.rounds, plan.samples)
            if key not in cache:
                store = store_factory() if store_factory else InMemoryStore(
                    index={"dims": len(emb.embed_query("x")), "embed": emb, "fields": ["text", "question"]})
                app = SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=plan.rounds,
                                samples=plan.samples, max_tokens_sleep=tokens_per_unit,
                                max_tokens_wake=max_tokens_wake)
                t0 = time.time()
                try:
                    slept = app.sleep(plan.context_id, ex.context)
                    answer = app.ask(ex.question, plan.context_id, budget=budget)
                    cache[key] = {
                        "correct": grade_gsm(answer.answer, ex.answer),
                        "sleep_output_tokens": slept.usage.output_tokens,
                        "wake_output_tokens": answer.wake_usage.output_tokens,
                        "seconds": round(time.time() - t0, 1),
                    }
                except Exception as exc:  # a failed sleep or answer is a wrong answer with uncounted tokens
                    cache[key] = {"correct": False, "sleep_output_tokens": 0, "wake_output_tokens": 0,
                                  "seconds": round(time.time() - t0, 1), "error": type(exc).__name__}
            res = cache[key]
            correct += int(res["correct"])
            sleep_out += res["sleep_output_tokens"]
            wake_out += res["wake_output_tokens"]
            write({"kind": "answer", "arm": arm, "example_id": ex.id, "predictability": round(plan.predictability, 4),
                   "units": plan.units, "rounds": plan.rounds, "samples": plan.samples, **res})
        n = len(examples)
        arms[arm] = {
            "n": n, "correct": correct, "accuracy": round(correct / n, 4) if n else None,
            "sleep_output_tokens": sleep_out + (probe_tokens if arm == "weighted" else 0),
            "probe_output_tokens": probe_tokens if arm == "weighted" else 0,
            "test_time_output_tokens": wake_out,
            "mean_test_time_output_tokens": round(wake_out / n, 2) if n else None,
            "units": [p.units for p in arm_plans],
            "errors": sum(1 for p in arm_plans if "error" in cache[(p.context_id, p.rounds, p.samples)]),
        }
    summary = {
        "dataset": dataset, "limit": limit, "n": len(examples), "model": str(model),
        "budget_level": budget, "total_sleep_budget_tokens": total, "tokens_per_unit": tokens_per_unit,
        "units_per_context": units_per_context, "probe_k": probe_k, "power": power,
        "max_rounds": max_rounds, "max_samples": max_samples,
        "predictability": {k: round(v, 4) for k, v in scores.items()},
        "arms": arms, "seconds": round(time.time() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="tiny", choices=["tiny", "gsm-p2", "gsm-p1"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default="embedded:smollm2-135m")
    ap.add_argument("--out", type=Path, default=Path("evals/results/budget"))
    ap.add_argument("--units-per-context", type=int, default=2, help="uniform arm's reflect units per context")
    ap.add_argument("--tokens-per-unit", type=int, default=256, help="max output tokens of one reflect round")
    ap.add_argument("--probe-k", type=int, default=2)
    ap.add_argument("--budget", type=int, default=1, help="test-time budget level")
    ap.add_argument("--max-rounds", type=int, default=3)
    ap.add_argument("--max-samples", type=int, default=2)
    ap.add_argument("--power", type=float, default=2.0)
    args = ap.parse_args(argv)
    summary = run(dataset=args.dataset, data_dir=args.data_dir, limit=args.limit, model=args.model, out=args.out,
                  units_per_context=args.units_per_context, tokens_per_unit=args.tokens_per_unit,
                  probe_k=args.probe_k, budget=args.budget, max_rounds=args.max_rounds,
                  max_samples=args.max_samples, power=args.power)
    print(json.dumps({"n": summary["n"], "predictability": summary["predictability"], "arms": summary["arms"]},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
