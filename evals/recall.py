"""Model-free retrieval recall: which gold files the wake's search finds for a question, in seconds.

`search_context` is the search the wake graph's `gather` runs over a large context (``sleeptime.experimental``);
recall@k is the share of a question's gold files among the files of its top k retrieved chunks (k = 5: about
what a 1,000-token wake budget shows; beside it the recall of what a wake at B = 1,000 would show, estimated
at 3 characters a token, after the sleep arm's map takes its share). Arms: ``rag`` (dense search over raw
chunks, as plain RAG did), ``rag-hybrid`` (dense + BM25 fused by rank, no sleep output) and ``sleep``
(the same over raw chunks and the sleep's part descriptions, when the store holds them for the revision).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from evals.stats import mean_interval

KS = (5, 10)
DEPTH = 40
BUDGET = 1000
NOTES_SHARE = 0.3  # as sleeptime's NOTES_SHARE_OF_BUDGET: the learned context's most


def _approx(text: str) -> int:
    return -(-len(text) // 3)  # 3 characters a token, as the library's estimate when no tokenizer is at hand


def shown_at(sources: Sequence[tuple[str, int]], budget: int, notes: str = "") -> list[str]:
    """The sources of the ranked (source, characters) pieces that fit `budget` tokens after the notes (at most
    `NOTES_SHARE` of it), by the 3-characters-a-token estimate: what a wake at that budget would show."""
    room = budget - min(_approx(notes), int(budget * NOTES_SHARE)) - 16
    shown: list[str] = []
    for source, chars in sources:
        cost = _approx("x" * chars) + 12  # the [path:start-end] header and the blank line
        if cost <= room:
            shown.append(source)
            room -= cost
    return shown


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


def ranked_pieces(app: Any, context_id: str, revision: int, question: str, retrieval: Any,
                  descriptions: bool) -> list[tuple[str, int]]:
    """(source, characters) of the retrieved chunks, best first."""
    from sleeptime.experimental import search_context

    pieces = search_context(app.learned_store().parts, context_id, revision, question, DEPTH, retrieval,
                            descriptions=descriptions)
    return [(p.source, len(p.text)) for p in pieces]


def ranked_sources(app: Any, context_id: str, revision: int, question: str, retrieval: Any,
                   descriptions: bool) -> list[str]:
    return [s for s, _ in ranked_pieces(app, context_id, revision, question, retrieval, descriptions)]


def measure(app: Any, context_id: str, revision: int, items: Sequence[tuple[str, str, Sequence[str]]],
            slept: bool, notes: str = "") -> list[dict[str, Any]]:
    """One row per (item id, arm): recall@k for each k, from `items` (id, question, gold files); `notes`:
    the learned context the sleep arm's wake shows before its evidence."""
    rows = []
    for arm, (retrieval, descriptions) in arms(slept).items():
        for item_id, question, gold in items:
            pieces = ranked_pieces(app, context_id, revision, question, retrieval, descriptions)
            sources = [s for s, _ in pieces]
            shown = shown_at(pieces, BUDGET, notes if descriptions else "")
            rows.append({"id": item_id, "arm": arm, "gold": list(gold), "top": list(dict.fromkeys(sources))[:10],
                         **{f"recall@{k}": round(recall_at(sources, gold, k), 4) for k in KS},
                         f"recall@B{BUDGET}": round(recall_at(shown, gold, len(shown)), 4),
                         f"shown@B{BUDGET}": len(shown)})
    return rows


def table(rows: Sequence[dict[str, Any]], title: str) -> list[str]:
    """A markdown table: mean recall@k per arm with a bootstrap 95% interval, and tasks with all gold found."""
    lines = [f"| {title} | n | " + " | ".join(f"recall@{k} (95% CI)" for k in KS) + " | all gold in top 5 | "
             f"recall of what B = {BUDGET} shows (~) | chunks shown (~) |",
             "|---|---|" + "---|" * len(KS) + "---|---|---|"]
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm]
        cells = []
        for k in KS:
            vals = [r[f"recall@{k}"] for r in mine]
            lo, hi = mean_interval(vals)
            cells.append(f"{statistics.fmean(vals):.3f} ({lo:.3f}-{hi:.3f})")
        full = sum(r["recall@5"] == 1.0 for r in mine)
        at_b = [r.get(f"recall@B{BUDGET}") for r in mine]
        shown = [r.get(f"shown@B{BUDGET}") for r in mine]
        b_cells = (f"{statistics.fmean(float(v) for v in at_b if v is not None):.3f} | "
                   f"{statistics.fmean(float(v) for v in shown if v is not None):.1f}") if None not in at_b else "- | -"
        lines.append(f"| {arm} | {len(mine)} | " + " | ".join(cells) + f" | {full} | {b_cells} |")
    return lines
