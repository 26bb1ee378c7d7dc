"""The package README's "Does sleeping pay off?" answer: a short table and one figure from the decisive run.

Issue 28's decisive run (``evals/results/decisive-base-2802``: GSM-Symbolic base level, a seed no other run
used, the 1.5B sleeping and waking, test-time levels 0-4, sleep at levels 0-1 along three axes of sleep compute,
oracle-intermediate) answers the question in six rows, each computed from its records here, losses stated as
plainly as gains; ``python -m evals plot`` rewrites the block between :data:`START` and :data:`END` in the
README (``python -m evals payoff`` prints it). While the run is in progress the block says how many
examples are complete and claims nothing beyond them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.acceptance import acceptance_table, beats_base, by_axis
from evals.headline import update_readme
from evals.plots import load_run
from evals.stats import mcnemar_exact
from evals.tables import PROJECTED, budget_table, equal_accuracy_amortization, equal_accuracy_table, paired_table

START = "<!-- payoff:start -->"
END = "<!-- payoff:end -->"
DECISIVE = "decisive-base-2802"
"""The decisive run's folder under the results folder."""
BASE = "k1-r1"
"""The least sleep compute: one sample, one round; every other setting is set against it."""
QUERIES = 10
WEIGHT = 10.0
"""The paper's comparison: 10 queries per context, a test-time token priced 10 sleep tokens."""
MIN_N = 50
"""Below this many complete examples the block shows counts only: at n = 9 one example moved the equal-accuracy
ratio from 1.17x to 16x, so a ratio or a cost there would read as a result it is not."""

Row = Mapping[str, Any]


def _k(acc: float, n: int) -> str:
    return f"{round(acc * n)}/{n}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _cell(records: Sequence[Row], mode: str, setting: str | None, budget: int) -> dict[str, Row]:
    return {str(r["example_id"]): r for r in records
            if r.get("mode") == mode and r.get("setting") == setting and r.get("budget") == budget}


def versus(a: Mapping[str, Row], b: Mapping[str, Row]) -> tuple[int, int, float]:
    """Examples right only with ``a``, only with ``b``, and the exact McNemar p, over the ids both answered."""
    ids = set(a) & set(b)
    wins = sum(1 for e in ids if a[e].get("correct") and not b[e].get("correct"))
    losses = sum(1 for e in ids if b[e].get("correct") and not a[e].get("correct"))
    return wins, losses, mcnemar_exact(wins, losses)


def payoff_rows(records: Sequence[Row], total: int | None = None, min_n: int = MIN_N) -> list[tuple[str, str]]:
    """(question, answer) rows from the decisive run's complete examples."""
    rows = {(r["mode"], r["setting"], r["budget"]): r for r in budget_table(records)}
    tt = {b: r for (m, _, b), r in rows.items() if m == "test-time"}
    base = rows.get(("sleep", BASE, 0))
    if not tt or base is None:
        return [("Status", "no complete example yet")]
    n = int(base["n"])
    out: list[tuple[str, str]] = []
    t0 = tt.get(0)
    if n < min_n:
        counts = ", ".join(f"level {b} {_k(r['accuracy'], n)}" for b, r in sorted(tt.items()))
        return [("Test-time only, so far", counts),
                ("More sleep compute, level 0, so far", _scaling_text(records, rows, n)),
                ("Status", f"n = {n}{f' of {total}' if total else ''} examples complete: below {min_n}, no ratio, "
                           "cost or claim is shown (the run continues in later sessions)")]
    paired = {(r["mode"], r["setting"], r["budget"]): r for r in paired_table(records)}
    if t0 is not None and (pr := paired.get(("sleep", BASE, 0))):
        top = _top_text(records, rows, tt, n)
        best = max(tt.values(), key=lambda r: (r["accuracy"], -r["budget"]))
        out.append(("Sleep (k = 1, r = 1) vs test-time, level 0",
                    f"{_k(base['accuracy'], n)} vs {_k(t0['accuracy'], n)} ({pr['right_only_sleep']} vs "
                    f"{pr['right_only_test_time']} right only with one, {_p(pr['mcnemar_p'])}); "
                    + (top or f"best test-time: level {best['budget']}, {_k(best['accuracy'], n)} on "
                       f"{best['mean_output_tokens']:.0f} tokens")))
    eq = next((r for r in equal_accuracy_table(records) if (r["mode"], r["setting"], r["budget"]) ==
               ("sleep", BASE, 0)), None)
    if eq is not None:
        out.append(("Test-time tokens at equal accuracy (paper: 5x)", _ratio_text(eq)))
        cost = next((r for r in equal_accuracy_amortization(records, WEIGHT, (QUERIES,))
                     if (r["mode"], r["setting"], r["budget"]) == ("sleep", BASE, 0)), None)
        out.append((f"Cost per query, {QUERIES} queries/context, test-time tokens x{WEIGHT:g} (paper: 2.5x)",
                    _cost_text(cost)))
    out.append(("More sleep compute, level 0 (vs k = 1, r = 1)", _scaling_text(records, rows, n)))
    cut = [r for r in records if r.get("hit_max_tokens")]
    done = "complete" if total is None or n >= total else \
        f"complete (partial: a direction, not a result, until n = {total})"
    out.append(("Status", f"n = {n}{f' of {total}' if total else ''} examples {done}; "
                f"{len(cut)} answers cut at the wake token cap"))
    return out


def _top_text(records: Sequence[Row], rows: Mapping[tuple[Any, ...], Row], tt: Mapping[int, Row],
              n: int) -> str | None:
    """The most accurate sleep cell against the cheapest test-time level at least as accurate: the top of the
    frontier, where sleeping on this model stops paying (None when sleep's best is the most accurate point)."""
    sleeps = [(key, r) for key, r in rows.items() if key[0] == "sleep"]
    if not sleeps:
        return None
    (_, setting, b), best = max(sleeps, key=lambda kv: (kv[1]["accuracy"], -kv[1]["mean_output_tokens"]))
    above = [r for r in tt.values() if r["accuracy"] > best["accuracy"]]
    if not above:
        return None
    t = min(above, key=lambda r: r["budget"])
    wins, losses, p = versus(_cell(records, "test-time", None, t["budget"]), _cell(records, "sleep", setting, b))
    return (f"but test-time level {t['budget']} reaches {_k(t['accuracy'], n)} on {t['mean_output_tokens']:.0f} "
            f"tokens, above every sleep setting (the best, {setting} at level {b}: {_k(best['accuracy'], n)} on "
            f"{best['mean_output_tokens']:.0f}; {wins} vs {losses}, {_p(p)})")


FRESH = (("P1", "decisive-p1-2803"), ("P2", "decisive-p2-2803"))
"""The harder levels read again on instances no earlier run used, so no claim rests on one seed."""


def fresh_seeds_text(results: Path) -> str | None:
    """Sleep (k1-r1) against test-time at level 0 on each fresh-seed run with complete examples."""
    parts = []
    for level, folder in FRESH:
        if not (results / folder / "records.jsonl").is_file():
            continue
        loaded = load_run(results / folder)
        sleep, tt = _cell(loaded.records, "sleep", BASE, 0), _cell(loaded.records, "test-time", None, 0)
        if not sleep or not tt:
            continue
        total = int(loaded.run.get("options", {}).get("limit") or 0)
        if len(sleep) < total:  # partial: a count, not a comparison
            parts.append(f"{level} in progress ({len(sleep)} of {total} examples; `{folder}`)")
            continue
        wins, losses, p = versus(sleep, tt)
        right = sum(1 for r in sleep.values() if r.get("correct")), sum(1 for r in tt.values() if r.get("correct"))
        parts.append(f"{level} {right[0]}/{len(sleep)} vs {right[1]}/{len(tt)} ({wins} vs {losses}, {_p(p)}; "
                     f"`{folder}`)")
    return "; ".join(parts) or None


def _ratio_text(eq: Row) -> str:
    status = eq["status"]
    if status == "loss":
        return f"none: a loss (sleep {eq['accuracy']:.2f} is below test-time's cheapest level)"
    if status == "beyond":
        return f"none: no test-time level reaches sleep's {eq['accuracy']:.2f}"
    if status == "floor":
        return "none: sleep is at accuracy 0"
    ci = "" if math.isnan(eq["ratio_lo"]) else f" (95% CI {eq['ratio_lo']:.2f}-{eq['ratio_hi']:.2f})"
    return (f"{eq['token_ratio']:.2f}x{ci}: test-time needs {eq['test_time_tokens']:.0f} tokens "
            f"(interpolated on levels 0-4) for sleep's {eq['accuracy']:.2f} on {eq['sleep_test_time_tokens']:.0f}")


def _cost_text(row: Row | None) -> str:
    """The cost-per-query comparison at equal accuracy (``evals.tables.equal_accuracy_amortization``)."""
    if row is None or row["status"] != "interpolated":
        return "none: no equal-accuracy point (row above)"
    ci = "" if math.isnan(row["ratio_lo"]) else f" (95% CI {row['ratio_lo']:.2f}-{row['ratio_hi']:.2f})"
    return (f"{row['cost_ratio']:.2f}x{ci}: test-time {row['cost_test_time']:.0f} vs sleep {row['cost_sleep']:.0f} "
            f"(sleep {row['sleep_tokens_per_context']:.0f} tokens/context; {PROJECTED})")


def _scaling_text(records: Sequence[Row], rows: Mapping[tuple[Any, ...], Row], n: int) -> str:
    base = _cell(records, "sleep", BASE, 0)
    parts: list[str] = []
    for (mode, setting, b), r in sorted(rows.items(), key=lambda kv: (kv[1]["mean_sleep_output_tokens"], kv[0][1])):
        if mode != "sleep" or b != 0:
            continue
        text = f"{setting} {_k(r['accuracy'], n)} ({r['mean_sleep_output_tokens']:.0f} sleep tokens)"
        if setting != BASE:
            wins, losses, p = versus(_cell(records, "sleep", setting, 0), base)
            text += f" {wins} vs {losses}, {_p(p)}"
        parts.append(text)
    return "; ".join(parts) + _verdict(records)


def _verdict(records: Sequence[Row]) -> str:
    """Issue 28's two criteria in one sentence, from the acceptance table: where accuracy falls as sleep compute
    grows, and which axis at its largest setting beats the base by 5 points with p < 0.05."""
    rows = acceptance_table(records)
    if not rows:
        return ""
    groups = by_axis(rows)
    fell: dict[str, list[int]] = {}
    for (axis, b), at in sorted(groups.items()):
        if any(r["falls"] for r in at):
            fell.setdefault(axis, []).append(b)
    falls = [f"{axis} (level{'s' if len(bs) > 1 else ''} {', '.join(map(str, bs))})" for axis, bs in fell.items()]
    wins = [at[-1] for at in groups.values() if beats_base(at[-1])]
    text = (f". Accuracy falls as sleep compute grows along {', '.join(falls)} (issue 28's first criterion: not met)"
            if falls else ". Accuracy falls along no axis")
    if wins:
        best = max(wins, key=lambda r: r["diff_vs_base"])
        text += (f"; {best['setting']} beats {best['base']} by {best['diff_vs_base'] * 100:+.1f} points at level "
                 f"{best['budget']}, {_p(best['p'])} (Holm {best['p_holm']:.3f})")
    else:
        text += f"; no axis at its largest setting beats {rows[0]['base']} by 5 points with p < 0.05"
    return text


def payoff_block(results: str | Path, readme_dir: str | Path = ".", min_n: int = MIN_N) -> str:
    """The block for the package README: the table and the decisive run's figure (a path relative to it)."""
    run_dir = Path(results) / DECISIVE
    lines = [START]
    if not (run_dir / "records.jsonl").is_file():
        lines += ["", f"Not measured yet: the decisive run ({run_dir.as_posix()}) has no records.", "", END]
        return "\n".join(lines)
    loaded = load_run(run_dir)
    total = loaded.run.get("options", {}).get("limit")
    rows = payoff_rows(loaded.records, int(total) if total else None, min_n)
    if (fresh := fresh_seeds_text(Path(results))) and len(rows) > 1:
        rows.insert(len(rows) - 1, ("Harder (P1, P2), fresh seeds, level 0", fresh))
    shown = _relative(Path(results) / DECISIVE / "accuracy_vs_tokens.png", readme_dir)
    every = _relative(Path(results) / "README.md", readme_dir)
    lines += ["", f"Decisive run `{run_dir.as_posix()}` (GSM-Symbolic base, a fresh seed; the 1.5B sleeps and "
              "wakes; every figure computed from its records by `python -m evals plot`; every other run, the "
              f"codebase and docs results and the paper's claims beside ours: [{every}]({every})):", "",
              "| question | measured |", "|---|---|"]
    lines += [f"| {q} | {a.replace('|', '/')} |" for q, a in rows]
    lines += ["", f"![accuracy against test-time tokens with 95% intervals, {DECISIVE}]({shown})", "", END]
    return "\n".join(lines)


def _relative(path: Path, readme_dir: str | Path) -> str:
    """`path` as the README links it: relative to the README's folder where it lies under it."""
    try:
        return path.resolve().relative_to(Path(readme_dir).resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def update_payoff(readme: str | Path, results: str | Path, min_n: int = MIN_N) -> bool:
    """Rewrite the block in ``readme`` (the package README); False when it was already current or has no
    markers."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    return update_readme(path, payoff_block(results, path.parent, min_n), start_marker=START, end_marker=END)
