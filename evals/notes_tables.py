"""Tables and a figure from the note-quality records of ``python -m evals notes`` (no model).

The records are ``evals/exp_notes.py``'s JSON lines: ``kind`` "notes" (key ``prompt/sleep model``: gold,
recalled, stated, right, output_tokens, truncated) and ``kind`` "answer" (key ``arm/sleep model or -/bBUDGET``:
correct, output_tokens), each with the example ``id`` and its ``set``. Another process may be appending to the
file, so a torn last line is skipped. Pairing is within one records file: an arm is set against the file's own
``none`` arm (test-time only) on the example ids both answered.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.records import read_jsonl
from evals.stats import bootstrap, mcnemar_exact, mean_interval, percentile_interval, ratio_of_means

NotesRecord = dict[str, Any]
BASELINE_ARM = "none"


def read_notes_records(path: Path) -> list[NotesRecord]:
    """The complete records of a notes JSONL file (the runs' reader: a torn last line skipped, a corrupt one
    elsewhere an error naming the line)."""
    return read_jsonl(path)


def is_notes_records(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether these records are the notes experiment's (every one has an id, a set and a notes/answer kind)."""
    return bool(records) and all(
        r.get("kind") in ("notes", "answer") and "id" in r and "set" in r and "key" in r for r in records
    )


def _split_answer_key(key: str) -> tuple[str, str, int]:
    """"new/qwen2.5-coder-1.5b/b1" -> ("new", "qwen2.5-coder-1.5b", 1); "none/-/b0" -> ("none", "-", 0)."""
    arm, _, rest = key.partition("/")
    sleep_model, _, budget = rest.rpartition("/")
    if not budget.startswith("b") or not budget[1:].isdigit():
        raise ValueError(f"answer key {key!r} does not end in /b<budget>")
    return arm, sleep_model, int(budget[1:])


def quality_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (set, prompt, sleep model): note recall (gold values stated right / gold values) and note
    precision (stated derived values that are right / stated; None when nothing was stated)."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("kind") == "notes":
            prompt, _, sleep_model = str(r["key"]).partition("/")
            groups.setdefault((str(r["set"]), prompt, sleep_model), []).append(r)
    rows: list[dict[str, Any]] = []
    for (set_, prompt, sleep_model), recs in sorted(groups.items()):
        gold = sum(int(r["gold"]) for r in recs)
        stated = sum(int(r["stated"]) for r in recs)
        recalled = sum(int(r["recalled"]) for r in recs)
        right = sum(int(r["right"]) for r in recs)
        rows.append({
            "set": set_, "prompt": prompt, "sleep_model": sleep_model, "n": len(recs),
            "gold": gold, "recalled": recalled, "recall": recalled / gold if gold else None,
            "stated": stated, "right": right, "precision": right / stated if stated else None,
            "mean_output_tokens": sum(float(r["output_tokens"]) for r in recs) / len(recs),
            "truncated": sum(1 for r in recs if r.get("truncated")),
        })
    return rows


def _answers(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str, int], dict[str, Mapping[str, Any]]]:
    """(set, arm, sleep model, budget) -> example id -> its answer record (the first, should one repeat)."""
    cells: dict[tuple[str, str, str, int], dict[str, Mapping[str, Any]]] = {}
    for r in records:
        if r.get("kind") == "answer":
            arm, sleep_model, budget = _split_answer_key(str(r["key"]))
            cells.setdefault((str(r["set"]), arm, sleep_model, budget), {}).setdefault(str(r["id"]), r)
    return cells


def _grade(r: Mapping[str, Any]) -> float:
    return 1.0 if r.get("correct") else 0.0


def accuracy_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (set, arm, sleep model, budget): accuracy with its bootstrap 95% interval and mean output
    tokens; and against the file's ``none`` arm at the same set and budget, on the ids both answered: both
    accuracies, the discordant pairs, the exact McNemar p and the output-token ratio (none / arm) with its
    bootstrap interval. The pairing columns are None where the file has no ``none`` arm there."""
    cells = _answers(records)
    rows: list[dict[str, Any]] = []
    for (set_, arm, sleep_model, budget), recs in sorted(cells.items()):
        grades = [_grade(recs[e]) for e in sorted(recs)]
        lo, hi = mean_interval(grades)
        row: dict[str, Any] = {
            "set": set_, "arm": arm, "sleep_model": sleep_model, "budget": budget, "n": len(grades),
            "correct": int(sum(grades)), "accuracy": sum(grades) / len(grades), "accuracy_lo": lo,
            "accuracy_hi": hi,
            "mean_output_tokens": sum(float(r.get("output_tokens") or 0) for r in recs.values()) / len(recs),
        }
        base = cells.get((set_, BASELINE_ARM, "-", budget))
        row |= _paired(recs, base) if base is not None and arm != BASELINE_ARM else dict.fromkeys(_PAIRED)
        rows.append(row)
    return rows


_PAIRED = ("n_paired", "accuracy_none", "accuracy_arm", "right_only_arm", "right_only_none", "mcnemar_p",
           "token_ratio", "token_ratio_lo", "token_ratio_hi")


def _paired(arm: Mapping[str, Mapping[str, Any]], none: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    ids = sorted(set(arm) & set(none))
    x = [_grade(none[e]) for e in ids]
    y = [_grade(arm[e]) for e in ids]
    wins = sum(1 for a, c in zip(x, y, strict=True) if c and not a)
    losses = sum(1 for a, c in zip(x, y, strict=True) if a and not c)
    num = [float(none[e].get("output_tokens") or 0) for e in ids]
    den = [float(arm[e].get("output_tokens") or 0) for e in ids]
    lo, hi = percentile_interval(bootstrap(len(ids), functools.partial(ratio_of_means, num, den)))
    return {
        "n_paired": len(ids), "accuracy_none": sum(x) / len(ids) if ids else math.nan,
        "accuracy_arm": sum(y) / len(ids) if ids else math.nan, "right_only_arm": wins,
        "right_only_none": losses, "mcnemar_p": mcnemar_exact(wins, losses),
        "token_ratio": ratio_of_means(num, den, range(len(ids))) if ids else math.nan,
        "token_ratio_lo": lo, "token_ratio_hi": hi,
    }


def head_to_head_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every two slept arms of one sleep model, set and budget against each other (old vs new, worked vs old,
    ...) on the ids both answered: each one's right answers, the discordant pairs and the exact McNemar p.
    The arms of one sleep model slept on the same examples, so which prompt is better is a paired question."""
    cells = _answers(records)
    rows: list[dict[str, Any]] = []
    for (set_, arm, sleep_model, budget), recs in sorted(cells.items()):
        if sleep_model == "-":
            continue
        for (set_b, other, model_b, budget_b), others in sorted(cells.items()):
            if (set_b, model_b, budget_b) != (set_, sleep_model, budget) or other <= arm:
                continue
            paired = _paired(recs, others)  # "none" there is the other arm
            rows.append({
                "set": set_, "sleep_model": sleep_model, "budget": budget, "arm": arm, "other": other,
                "n_paired": paired["n_paired"],
                "correct_arm": round(paired["accuracy_arm"] * paired["n_paired"]) if paired["n_paired"] else 0,
                "correct_other": round(paired["accuracy_none"] * paired["n_paired"]) if paired["n_paired"] else 0,
                "right_only_arm": paired["right_only_arm"], "right_only_other": paired["right_only_none"],
                "mcnemar_p": paired["mcnemar_p"],
            })
    return rows


def pool_notes(files: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[list[NotesRecord], int]:
    """The records of several notes files of one folder as one set, so an arm measured in one file (notes slept
    on a bigger model) pairs with the test-time only and oracle arms measured in another, by example id.

    The first record of each (id, kind, key) is kept, in the order given. Returns the pooled records and the
    number of conflicts: an (id, key) answered in two files with a different grade, which means the files ran
    the wake model differently, so pooling them would pair unlike answers (the caller must not pool then).
    The records do not name the wake model: pooling assumes the files' wake settings are the same."""
    seen: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    conflicts = 0
    for records in files:
        for r in records:
            key = (str(r.get("id")), str(r.get("kind")), str(r.get("key")))
            first = seen.setdefault(key, r)
            if first is not r and r.get("kind") == "answer" and bool(first.get("correct")) != bool(r.get("correct")):
                conflicts += 1
    return [dict(r) for r in seen.values()], conflicts
