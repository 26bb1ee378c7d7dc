"""Questions over a docs folder (click 8.3.0's documentation): plain RAG, hybrid RAG and sleep, same budget.

    python -m evals docs --retrieval                     # model-free: recall@k of gold files per arm, seconds
    python -m evals docs --model scripted --limit 4      # the pipeline, instantly
    taskset -c 1 python -m evals docs --budgets 1000 --arms rag,rag-hybrid,sleep --parts describe

The folder (`<data>`, default ../shared/data/docs-click/click-8.3.0/docs: 32 `.md`/`.rst` files, 172k
characters, BSD-3-Clause) is ingested and, for the sleep arm, slept on once; each question of the development
set (`evals/data/docs_click_dev.jsonl`, 54 questions written before any arm ran: short answers, gold files,
some needing two files, a few the docs do not answer) is asked in each arm. Scores: answer match (an accepted
answer appears in the reply as a whole token, case-insensitive; two-file questions need every listed answer;
an unanswered question needs the reply to say the docs do not say), and gold-file recall among the cited
sources (the files of the pieces the wake prompt showed). Records go to `<out>/records.jsonl` (ids, scores,
tokens), the replies to `<out>/texts.jsonl` (git-ignored); a rerun skips what is recorded.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals import exp_swe
from evals.stats import mean_interval

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "docs-click" / "click-8.3.0" / "docs"
if not DEFAULT_DATA.is_dir():
    DEFAULT_DATA = Path("/work/shared/data/docs-click/click-8.3.0/docs")
QUESTIONS = ROOT / "evals" / "data" / "docs_click_dev.jsonl"
DEFAULT_OUT = ROOT / "evals" / "results" / "docs"
CONTEXT_ID = "docs-click-8_3_0"
INCLUDE = ["*.md", "*.rst"]
INSTRUCTIONS = ("Reply with the short answer (a name, a value or an option) and the file it comes from. "
                "If the documents do not say, reply that they do not say.")


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _found(reply: str, answer: str) -> bool:
    text = reply.lower().replace("`", "").replace("*", "")
    return re.search(r"(?<![\w])" + re.escape(answer.lower()) + r"(?![\w])", text) is not None


def matches(reply: str, question: dict[str, Any]) -> bool:
    """Whether `reply` gives an accepted answer (all of them for a question that needs every one)."""
    hits = [_found(reply, a) for a in question["answers"]]
    return all(hits) if question.get("require_all") else any(hits)


def source_recall(sources: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the gold files among the files of the cited sources (None with no gold)."""
    if not gold:
        return None
    files = {s.split(":")[0].removeprefix("notes on ") for s in sources}
    return len(files & set(gold)) / len(set(gold))


def _store_app(args: argparse.Namespace, budget: int | None, arm: str) -> Any:
    return exp_swe._app(args.model, Path(args.store), budget, arm, args.parts, INSTRUCTIONS)


def retrieval(args: argparse.Namespace) -> Path:
    """Model-free recall@k of gold files per arm (answered questions only)."""
    from evals import recall

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = _store_app(args, None, "sleep")
    learned = exp_swe.slept_on(app, CONTEXT_ID, Path(args.data), INCLUDE)
    if learned is None and not exp_swe._in_store(app, CONTEXT_ID, Path(args.data), INCLUDE)[0]:
        app.ingest(CONTEXT_ID, folder=args.data, include=INCLUDE)
    store = app.learned_store()
    revision = learned.source_revision if learned is not None else store.context(CONTEXT_ID).revision
    slept = bool(store.parts.part_notes(CONTEXT_ID, [p[0] for p in store.parts.part_spans(CONTEXT_ID, revision)]))
    items = [(q["id"], q["question"], q["gold_files"]) for q in load_questions()[: args.limit or None]
             if q["gold_files"]]
    rows = recall.measure(app, CONTEXT_ID, revision, items, slept, learned.text if learned is not None else "")
    (out / "retrieval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = recall.table(rows, f"arm ({len(items)} answered questions)")
    (out / "retrieval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return out / "retrieval.md"


def run(args: argparse.Namespace) -> Path:
    if args.retrieval_only:
        return retrieval(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summarize_only:
        _ask_all(args, out)
    return summarize(out)


def _ask_all(args: argparse.Namespace, out: Path) -> None:
    questions = load_questions()[: args.limit or None]
    done = {(r["id"], r["arm"]) for r in exp_swe._jsonl(out / "records.jsonl")}
    arms = args.arms.split(",")
    app = _store_app(args, None, "sleep")
    folder = Path(args.data)
    if "sleep" in arms:
        slept = {r["snapshot"]: r for r in exp_swe._jsonl(out / "sleeps.jsonl")}
        exp_swe._ensure_slept(app, "docs-click-8.3.0", CONTEXT_ID, folder, INCLUDE, out, slept, args.model,
                              out / "texts.jsonl")
    elif not exp_swe._in_store(app, CONTEXT_ID, folder, INCLUDE)[0]:
        app.ingest(CONTEXT_ID, folder=folder, include=INCLUDE)
    budgets = [int(b) for b in args.budgets.split(",")]
    for q in questions:
        for mode in arms:
            for budget in budgets:
                arm = f"{mode}@{budget}"
                if (q["id"], arm) in done:
                    continue
                asker = _store_app(args, budget, mode)
                start = time.perf_counter()
                answer = asker.ask(q["question"], CONTEXT_ID, mode="learned" if mode == "sleep" else "test-time")
                seconds = time.perf_counter() - start
                ok = matches(answer.answer, q)
                rec = source_recall(answer.sources, q["gold_files"])
                exp_swe._append(out / "records.jsonl", {
                    "id": q["id"], "kind": q["kind"], "arm": arm, "mode": mode, "budget": budget, "match": ok,
                    "source_recall": rec, "wake_in": int(answer.wake_usage.input_tokens),
                    "wake_out": int(answer.wake_usage.output_tokens), "seconds": round(seconds, 2),
                    "n_sources": len(answer.sources), "model": args.model, "parts": args.parts})
                exp_swe._append(out / "texts.jsonl", {"id": q["id"], "arm": arm, "answer": answer.answer,
                                                       "sources": answer.sources})
                print(f"{q['id']} {arm}: {'ok' if ok else 'miss'} recall {rec}", flush=True)


def _paired(records: list[dict[str, Any]], arm: str, base: str) -> tuple[int, float, float, float] | None:
    a = {r["id"]: float(r["match"]) for r in records if r["arm"] == arm}
    b = {r["id"]: float(r["match"]) for r in records if r["arm"] == base}
    ids = sorted(a.keys() & b.keys())
    if not ids:
        return None
    diffs = [a[i] - b[i] for i in ids]
    lo, hi = mean_interval(diffs)
    return len(ids), statistics.fmean(diffs), lo, hi


def summarize(out: Path) -> Path:
    records = exp_swe._jsonl(out / "records.jsonl")
    lines = ["| arm | questions | answer match (95% CI) | gold-file recall of cited sources | wake tokens/query | "
             "s/query |", "|---|---|---|---|---|---|"]
    arms = list(dict.fromkeys(r["arm"] for r in records))
    for arm in arms:
        rows = [r for r in records if r["arm"] == arm]
        vals = [float(r["match"]) for r in rows]
        lo, hi = mean_interval(vals)
        recs = [r["source_recall"] for r in rows if r["source_recall"] is not None]
        lines.append(f"| {arm} | {len(rows)} | {statistics.fmean(vals):.3f} ({lo:.3f}-{hi:.3f}) | "
                     f"{statistics.fmean(recs) if recs else 0:.3f} | "
                     f"{statistics.fmean(r['wake_in'] + r['wake_out'] for r in rows):.0f} | "
                     f"{statistics.fmean(r['seconds'] for r in rows):.1f} |")
    pairs = [(a, b) for a in arms if a.startswith("sleep@") for b in arms
             if b.startswith("rag") and b.split("@")[1] == a.split("@")[1]]
    if pairs:
        lines += ["", "| pair | questions | match difference (paired 95% CI) |", "|---|---|---|"]
        for a, b in pairs:
            p = _paired(records, a, b)
            if p is not None:
                lines.append(f"| {a} - {b} | {p[0]} | {p[1]:+.3f} ({p[2]:+.3f} to {p[3]:+.3f}) |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return out / "summary.md"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the docs folder (default: %(default)s)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--store", default=str(ROOT / ".sleeptime" / "docs"), help="store folder (git-ignored default)")
    p.add_argument("--model", default="embedded:qwen2.5-coder-0.5b", help="model spec, or 'scripted'")
    p.add_argument("--limit", type=int, default=0, help="first N questions (0: all)")
    p.add_argument("--arms", default="rag,rag-hybrid,sleep", help="arms, comma-separated (default: %(default)s)")
    p.add_argument("--parts", default="describe", choices=["notes", "describe", "outline"],
                   help="what sleep writes per part")
    p.add_argument("--budgets", default="1000", help="wake context token budgets, comma-separated")
    p.add_argument("--retrieval", dest="retrieval_only", action="store_true",
                   help="only measure retrieval recall@k of gold files per arm (ingests, no chat model)")
    p.add_argument("--summarize", dest="summarize_only", action="store_true", help="only summarize the records")


def run_cli(args: argparse.Namespace, argv: Sequence[str] = ()) -> str:
    return str(run(args))
