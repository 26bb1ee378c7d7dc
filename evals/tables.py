"""Tables from a run's records: the budget table every run has, paired counts and the plain-sentence ratios.

Each experiment's own table (pass@k, amortization, predictability) lives with that experiment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evals.grading import summarize

ANSWER_MODES = ("test-time", "sleep", "sleep+verified", "sample", "context-only")


def answer_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("mode") in ANSWER_MODES]


def complete_only(records: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """Records of the examples that have every measured cell (mode, setting, budget, sample) of the run, so
    modes are compared on the same examples; and how many examples were left out (still in progress)."""
    recs = list(records)
    cell_of: dict[str, set[tuple[Any, ...]]] = {}
    for r in answer_records(recs):
        cell = (r.get("mode"), r.get("setting"), r.get("budget"), r.get("sample"), r.get("guess"))
        cell_of.setdefault(str(r.get("example_id")), set()).add(cell)
    every = set().union(*cell_of.values()) if cell_of else set()
    keep = {e for e, cells in cell_of.items() if cells == every}
    return [r for r in recs if str(r.get("example_id")) in keep], len(cell_of) - len(keep)


def mean(values: Iterable[float | int | None]) -> float:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else math.nan


def budget_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, setting, budget): n, accuracy, mean test-time output/input tokens, mean sleep tokens."""
    recs = [r for r in answer_records(records) if r.get("mode") != "sample"]
    rows = summarize(recs, by=("mode", "setting", "budget"))
    for row in rows:
        members = [r for r in recs if (r.get("mode"), r.get("setting"), r.get("budget"))
                   == (row["mode"], row["setting"], row["budget"])]
        row["mean_reasoning_tokens"] = mean(r.get("reasoning_tokens") for r in members)
        row["mean_sleep_output_tokens"] = mean(r.get("sleep_output_tokens") for r in members)
        row["errors"] = sum(1 for r in members if r.get("error"))
    return rows

def projected_amortization(records: Iterable[Mapping[str, Any]], weight: float,
                           queries: Sequence[int] = (1, 2, 5, 10)) -> list[dict[str, Any]]:
    """From single-question records: cost per query if N queries shared each context, each costing what the
    measured question did (a projection, labelled as such, not a Multi-Query measurement)."""
    rows: list[dict[str, Any]] = []
    recs = list(records)
    for row in budget_table(recs):
        if row["mode"] not in ("test-time", "sleep"):
            continue
        test = row["mean_output_tokens"]
        sleep = row["mean_sleep_output_tokens"] if row["mode"] == "sleep" else 0.0
        if math.isnan(test) or (row["mode"] == "sleep" and math.isnan(sleep)):
            continue
        for n in queries:
            rows.append({"mode": row["mode"], "setting": row["setting"], "budget": row["budget"],
                         "queries_per_context": n, "weight": weight,
                         "cost_per_query": sleep / n + weight * test, "accuracy": row["accuracy"]})
    return rows



def paired_counts(records: Iterable[Mapping[str, Any]], mode: str, setting: str, budget: int) -> tuple[int, int]:
    """(examples the sleep mode got right and test-time only wrong, the reverse) at one budget level."""
    cells: dict[str, dict[str, bool]] = {}
    for r in answer_records(records):
        if r.get("budget") != budget:
            continue
        if r.get("mode") == "test-time":
            cells.setdefault(str(r["example_id"]), {})["tt"] = bool(r.get("correct"))
        elif r.get("mode") == mode and str(r.get("setting")) == setting:
            cells.setdefault(str(r["example_id"]), {})["sl"] = bool(r.get("correct"))
    both = [c for c in cells.values() if len(c) == 2]
    return sum(c["sl"] and not c["tt"] for c in both), sum(c["tt"] and not c["sl"] for c in both)


def headline(records: Iterable[Mapping[str, Any]], weight: float = 10.0) -> list[str]:
    """Plain-sentence ratios from the budget table, for each sleep mode ("sleep", "sleep+verified"): accuracy at
    equal budget level (with the paired wins and losses behind the difference), tokens at equal accuracy, and
    projected cost per query at 10 queries per context. Computed, never typed in."""
    records = list(records)
    rows = budget_table(records)
    tt = {r["budget"]: r for r in rows if r["mode"] == "test-time"}
    lines: list[str] = []
    for mode in ("sleep", "sleep+verified"):
        settings = sorted({str(r["setting"]) for r in rows if r["mode"] == mode})
        for s in settings:
            lines += _headline_lines(records, rows, tt, mode, s, weight)
    return lines


def _headline_lines(records: list[Mapping[str, Any]], rows: list[dict[str, Any]], tt: Mapping[Any, dict[str, Any]],
                    mode: str, s: str, weight: float) -> list[str]:
    lines: list[str] = []
    sl = {r["budget"]: r for r in rows if r["mode"] == mode and str(r["setting"]) == s}
    for b in sorted(set(tt) & set(sl)):
        a, c = tt[b], sl[b]
        ratio = a["mean_output_tokens"] / c["mean_output_tokens"] if c["mean_output_tokens"] else math.nan
        wins, losses = paired_counts(records, mode, s, b)
        lines.append(
            f"{mode}, budget {b} ({s}): accuracy test-time {a['accuracy']:.3f} vs {mode} {c['accuracy']:.3f} "
            f"({c['accuracy'] - a['accuracy']:+.3f}; right only with {mode}: {wins}, only test-time: {losses}); "
            f"test-time output tokens {a['mean_output_tokens']:.1f} vs {c['mean_output_tokens']:.1f} "
            f"({ratio:.2f}x); sleep output tokens per context {c['mean_sleep_output_tokens']:.1f}; "
            f"cost/query at 10 queries/context, t={weight:g}: test-time {weight * a['mean_output_tokens']:.0f} vs "
            f"{mode} {c['mean_sleep_output_tokens'] / 10 + weight * c['mean_output_tokens']:.0f}"
        )
    # tokens at equal accuracy: for each sleep point, the cheapest test-time budget at least as accurate
    for b in sorted(sl):
        c = sl[b]
        better = [r for r in tt.values() if r["accuracy"] >= c["accuracy"]]
        if not better:
            lines.append(f"{mode} budget {b} ({s}, accuracy {c['accuracy']:.3f}): no test-time budget "
                         "reaches this accuracy")
            continue
        cheapest = min(better, key=lambda r: r["mean_output_tokens"])
        lines.append(
            f"equal accuracy: {mode} budget {b} ({s}) reaches {c['accuracy']:.3f} with "
            f"{c['mean_output_tokens']:.1f} test-time tokens; test-time only needs budget {cheapest['budget']} "
            f"({cheapest['accuracy']:.3f}) with {cheapest['mean_output_tokens']:.1f} "
            f"({cheapest['mean_output_tokens'] / c['mean_output_tokens']:.2f}x)"
            if c["mean_output_tokens"] else f"{mode} budget {b}: no test-time tokens"
        )
    return lines
