"""Model-free retrieval recall: which gold files the wake's search finds for a question, in seconds.

`search_context` is the search the wake graph's `gather` runs over a large context (``sleeptime.experimental``);
recall@k is the share of a question's gold files among the files of its top k retrieved chunks (k = 5: about
what a 1,000-token wake budget shows). Arms: ``rag`` (dense search over raw chunks, as plain RAG did),
``rag-hybrid`` (dense + BM25 fused by rank, no sleep output) and ``sleep`` (the same over raw chunks and the
sleep's part descriptions, when the store holds them for the revision).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from evals.stats import mean_interval

KS = (5, 10)
DEPTH = 40


def arms(slept: bool) -> dict[str, tuple[Any, bool]]:
    """Arm name -> (Retrieval, whether sleep output joins the search)."""
    from sleeptime.experimental import DENSE, HYBRID

    out: dict[str, tuple[Any, bool]] = {"rag": (DENSE, False), "rag-hybrid": (HYBRID, False)}
    if slept:
        out["sleep"] = (HYBRID, True)
    return out


def recall_at(sources: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of `gold` among the first `k` sources (0 with no gold)."""
    found = set(sources[:k])
    return len(found & set(gold)) / len(set(gold)) if gold else 0.0


def ranked_sources(app: Any, context_id: str, revision: int, question: str, retrieval: Any,
                   descriptions: bool) -> list[str]:
    from sleeptime.experimental import search_context

    pieces = search_context(app.learned_store().parts, context_id, revision, question, DEPTH, retrieval,
                            descriptions=descriptions)
    return [p.source for p in pieces]


def measure(app: Any, context_id: str, revision: int, items: Sequence[tuple[str, str, Sequence[str]]],
            slept: bool) -> list[dict[str, Any]]:
    """One row per (item id, arm): recall@k for each k, from `items` (id, question, gold files)."""
    rows = []
    for arm, (retrieval, descriptions) in arms(slept).items():
        for item_id, question, gold in items:
            sources = ranked_sources(app, context_id, revision, question, retrieval, descriptions)
            rows.append({"id": item_id, "arm": arm, "gold": list(gold), "top": list(dict.fromkeys(sources))[:10],
                         **{f"recall@{k}": round(recall_at(sources, gold, k), 4) for k in KS}})
    return rows


def table(rows: Sequence[dict[str, Any]], title: str) -> list[str]:
    """A markdown table: mean recall@k per arm with a bootstrap 95% interval, and tasks with all gold found."""
    lines = [f"| {title} | n | " + " | ".join(f"recall@{k} (95% CI)" for k in KS) + " | all gold in top 5 |",
             "|---|---|" + "---|" * len(KS) + "---|"]
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm]
        cells = []
        for k in KS:
            vals = [r[f"recall@{k}"] for r in mine]
            lo, hi = mean_interval(vals)
            cells.append(f"{statistics.fmean(vals):.3f} ({lo:.3f}-{hi:.3f})")
        full = sum(r["recall@5"] == 1.0 for r in mine)
        lines.append(f"| {arm} | {len(mine)} | " + " | ".join(cells) + f" | {full} |")
    return lines
