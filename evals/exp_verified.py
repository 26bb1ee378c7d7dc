"""Verified predicted answers on the perturbation set: hits, wrong answers served, tokens saved.

Run with: python -m evals verified --data-dir ../shared/data --limit 500 --out evals/results/verified

Each eval question stands in for a predicted question, stored with the worked answer ``#### <gold>``.
:mod:`evals.perturb` writes its variants; each variant is matched against it with the same
:func:`sleeptime.matching.decide` the wake graph's ``match`` node runs, on the similarity score the
store would give (cosine of the embedded MiniLM vectors, which is what ``InMemoryStore`` returns and
``1 - cosine distance`` in the Chroma store). Needs no chat model: it runs on CPU in minutes.

Threshold calibration: items are split in two halves by a hash of their source question. The threshold is
the lowest one (on a 0.005 grid) at which no wrong answer is served on the calibration half; the figures
are reported on the held-out half and on all items. A similarity-only cache (GPTCache's behaviour) at the
same threshold is reported beside it.

Tokens saved = hits x the mean test-time output tokens per answered question at the same budget, read
from the issue-5 runner's records (``--tokens-from``, mode ``sleep`` at ``--budget``); never estimated.
Only ids, kinds, templates, scores and decisions are written: no question text (GSM-Symbolic is
CC BY-NC-ND; the set is regenerated from ``--data-dir`` every run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.datasets import load_dataset
from evals.perturb import KINDS, Perturbed, counts, perturbation_set
from sleeptime import resolve_embeddings
from sleeptime.experimental import PredictedQuestion, compare_facts, decide, extract_facts

GRID = [round(0.5 + 0.005 * i, 3) for i in range(100)]


def half_of(source_id: str) -> str:
    return "calibration" if hashlib.sha256(source_id.encode()).digest()[0] % 2 == 0 else "held-out"


def embed_scores(items: Sequence[Perturbed], embeddings: Any, batch: int = 64) -> list[float]:
    """Cosine similarity of each variant to its predicted question."""
    texts = sorted({t for it in items for t in (it.question, it.predicted)})
    vectors: dict[str, list[float]] = {}
    for i in range(0, len(texts), batch):
        chunk = texts[i : i + batch]
        for text, vec in zip(chunk, embeddings.embed_documents(chunk), strict=True):
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            vectors[text] = [v / norm for v in vec]
    return [sum(a * b for a, b in zip(vectors[it.question], vectors[it.predicted], strict=True)) for it in items]


def rule_problems(items: Sequence[Perturbed]) -> list[list[str]]:
    return [[r.check.value for r in compare_facts(extract_facts(it.question), extract_facts(it.predicted))]
            for it in items]


def calibrate(rows: Sequence[dict[str, Any]]) -> float:
    """The lowest grid threshold at which rules + similarity serve no wrong answer on these rows."""
    for t in GRID:
        if not any(r["rules_ok"] and r["score"] >= t and not r["same_answer"] for r in rows):
            return t
    return 1.0


def tally(rows: Sequence[dict[str, Any]], served_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows), "served": 0, "hits": 0, "wrong_served": 0, "by_kind": {}}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        served = [r for r in mine if r[served_key]]
        out["by_kind"][kind] = {
            "n": len(mine),
            "served": len(served),
            "wrong_served": sum(1 for r in served if not r["same_answer"]),
            "served_rate": round(len(served) / len(mine), 4),
        }
    served_all = [r for r in rows if r[served_key]]
    out["served"] = len(served_all)
    out["hits"] = sum(1 for r in served_all if r["same_answer"])
    out["wrong_served"] = sum(1 for r in served_all if not r["same_answer"])
    para = out["by_kind"].get("paraphrase")
    out["paraphrase_hit_rate"] = para["served_rate"] if para else None
    out["perturbed_n"] = sum(1 for r in rows if r["kind"] != "exact")
    return out


def mean_answer_tokens(path: Path | None, budget: int) -> dict[str, Any] | None:
    """Mean measured output tokens per answered question (mode sleep, else test-time, at `budget`)."""
    candidates = [path] if path else sorted(Path("evals/results").glob("*/records.jsonl"))
    for mode in ("sleep", "test-time"):
        values: list[int] = []
        inputs: list[int] = []
        sources: list[str] = []
        for p in candidates:
            if p is None or not p.exists() or "verified" in p.parts or "budget" in p.parts:
                continue
            for line in p.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if rec.get("mode") == mode and rec.get("budget") == budget and "output_tokens" in rec \
                        and not rec.get("error"):
                    values.append(int(rec["output_tokens"]))
                    inputs.append(int(rec.get("input_tokens", 0)))
                    if str(p) not in sources:
                        sources.append(str(p))
        if values:
            return {"mode": mode, "budget": budget, "n_records": len(values),
                    "mean_output_tokens": round(sum(values) / len(values), 2),
                    "mean_input_tokens": round(sum(inputs) / len(inputs), 2), "sources": sources}
    return None


def run(
    *, dataset: str, data_dir: str | None, limit: int | None, out: Path, threshold: float | None,
    tokens_from: Path | None, budget: int, embeddings: Any = None, write_items: bool = False,
) -> dict[str, Any]:
    started = time.time()
    examples = load_dataset(dataset, data_dir=data_dir, limit=limit)
    items = perturbation_set(examples)
    emb = embeddings if embeddings is not None else resolve_embeddings()
    scores = embed_scores(items, emb)
    problems = rule_problems(items)
    rows: list[dict[str, Any]] = []
    for it, score, probs in zip(items, scores, problems, strict=True):
        rows.append({
            "id": it.id, "source_id": it.source_id, "kind": it.kind, "template": it.template,
            "same_answer": it.same_answer, "score": round(score, 4), "rules_ok": not probs,
            "failed_checks": sorted(set(probs)), "half": half_of(it.source_id),
        })
    calib_rows = [r for r in rows if r["half"] == "calibration"]
    chosen = threshold if threshold is not None else calibrate(calib_rows)
    for it, row in zip(items, rows, strict=True):
        stored = PredictedQuestion(question=it.predicted, answer=f"#### {it.answer}")
        decision = decide(it.question, [(stored, row["score"])], chosen)
        row["served"] = decision.served
        row["served_answer_ok"] = decision.served and decision.answer == it.answer
        row["similarity_only"] = row["score"] >= chosen
    held = [r for r in rows if r["half"] == "held-out"]
    tokens = mean_answer_tokens(tokens_from, budget)
    summary: dict[str, Any] = {
        "dataset": dataset, "limit": limit, "examples": len(examples), "items": len(rows),
        "kinds": counts(items), "threshold": chosen,
        "threshold_source": "given" if threshold is not None else "calibrated on the calibration half",
        "embeddings": type(emb).__name__,
        "verified": {"all": tally(rows, "served"), "held_out": tally(held, "served"),
                     "calibration": tally(calib_rows, "served")},
        "similarity_only": {"all": tally(rows, "similarity_only"), "held_out": tally(held, "similarity_only")},
        "answer_tokens": tokens,
        "seconds": round(time.time() - started, 1),
    }
    hits = summary["verified"]["all"]["hits"]
    if tokens:
        summary["tokens_saved"] = round(hits * tokens["mean_output_tokens"])
        summary["tokens_saved_per_served_answer"] = tokens["mean_output_tokens"]
        summary["input_tokens_saved"] = round(hits * tokens["mean_input_tokens"])
    # Only near-threshold facts about the rule-blind items, to show what the threshold is for.
    rule_passing_negatives = sorted((r["score"] for r in rows if r["rules_ok"] and not r["same_answer"]),
                                    reverse=True)
    summary["rule_passing_negatives"] = {"n": len(rule_passing_negatives),
                                         "top_scores": rule_passing_negatives[:5]}
    by_template: dict[str, dict[str, int]] = {}
    for r in rows:
        t = by_template.setdefault(r["template"], {"n": 0, "served": 0, "wrong_served": 0})
        t["n"] += 1
        t["served"] += int(r["served"])
        t["wrong_served"] += int(r["served"] and not r["same_answer"])
    summary["by_template"] = dict(sorted(by_template.items()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if write_items:  # ids, kinds, scores and decisions only; large (about 280 bytes an item)
        with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return summary


def refresh_tokens(out: Path, tokens_from: Path | None, budget: int) -> dict[str, Any]:
    """Recompute the tokens-saved figures of an existing summary from the latest runner records."""
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    tokens = mean_answer_tokens(tokens_from, budget)
    summary["answer_tokens"] = tokens
    if tokens:
        summary["tokens_saved"] = round(summary["verified"]["all"]["hits"] * tokens["mean_output_tokens"])
        summary["tokens_saved_per_served_answer"] = tokens["mean_output_tokens"]
        summary["input_tokens_saved"] = round(summary["verified"]["all"]["hits"] * tokens["mean_input_tokens"])
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--dataset", default="gsm-p2", choices=["gsm-p2", "gsm-p1", "tiny"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--limit", type=int, default=None, help="eval questions to perturb (first N)")
    ap.add_argument("--out", type=Path, default=Path("evals/results/verified"))
    ap.add_argument("--threshold", type=float, default=None, help="fixed threshold (default: calibrate)")
    ap.add_argument("--tokens-from", type=Path, default=None,
                    help="runner records.jsonl with measured answer tokens (default: evals/results/*/records.jsonl)")
    ap.add_argument("--budget", type=int, default=1, help="test-time budget level the tokens are taken at")
    ap.add_argument("--items", action="store_true", help="also write items.jsonl (per-item ids and decisions)")
    ap.add_argument("--refresh-tokens", action="store_true",
                    help="only recompute tokens saved in an existing --out summary from the runner records")


def run_cli(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """``python -m evals verified ...``: run (or refresh the token figures), print the headline figures."""
    if args.refresh_tokens:
        summary = refresh_tokens(args.out, args.tokens_from, args.budget)
    else:
        summary = run(dataset=args.dataset, data_dir=args.data_dir, limit=args.limit, out=args.out,
                      threshold=args.threshold, tokens_from=args.tokens_from, budget=args.budget,
                      write_items=args.items)
    v = summary["verified"]
    print(json.dumps({
        "items": summary["items"], "threshold": summary["threshold"],
        "hits": v["all"]["hits"], "wrong_served": v["all"]["wrong_served"],
        "held_out_wrong_served": v["held_out"]["wrong_served"],
        "paraphrase_hit_rate": v["all"]["paraphrase_hit_rate"],
        "similarity_only_wrong_served": summary["similarity_only"]["all"]["wrong_served"],
        "tokens_saved": summary.get("tokens_saved"),
    }, indent=2))
    return f"{args.out}/summary.json"
