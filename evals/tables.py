"""Tables from a run's records: the budget table every run has, paired counts and the plain-sentence ratios.

Each experiment's own table (pass@k, amortization, predictability) lives with that experiment.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evals.grading import summarize
from evals.stats import (
    bootstrap,
    cluster_bootstrap,
    cluster_signflip_p,
    holm_adjust,
    mcnemar_exact,
    mean_interval,
    percentile_interval,
    ratio_of_means,
)

ANSWER_MODES = ("test-time", "sleep", "sleep+verified", "oracle", "oracle-intermediate", "sample", "context-only")


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
        row["accuracy_lo"], row["accuracy_hi"] = mean_interval([1.0 if r.get("correct") else 0.0 for r in members])
    return rows

#: How a cost per query was obtained: each question of N sharing a context costed as the one measured question of
#: its context (single-question runs), or N questions really asked of one slept context (Multi-Query).
PROJECTED = "projected from single-question records"
MEASURED = "measured (Multi-Query)"


def projected_amortization(records: Iterable[Mapping[str, Any]], weight: float,
                           queries: Sequence[int] = (1, 2, 5, 10)) -> list[dict[str, Any]]:
    """From single-question records: cost per query if N queries shared each context, each costing what the
    measured question did (a projection, labelled as such, not a Multi-Query measurement), each arm at its own
    budget level (same level, not equal accuracy: :func:`equal_accuracy_amortization` compares at equal
    accuracy)."""
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
                         "cost_per_query": sleep / n + weight * test, "accuracy": row["accuracy"],
                         "basis": f"{PROJECTED}, same budget level"})
    return rows


#: Queries per context of the paper's amortization comparison at equal accuracy.
EQUAL_ACCURACY_QUERIES = (1, 5, 10)


def _amortized_ratio(sleep: Sequence[tuple[float, float | None]], sleep_tokens: Sequence[float | None],
                     tt: Mapping[int, Sequence[tuple[float, float | None]]], queries: int, weight: float,
                     ix: Sequence[int]) -> float:
    """On the examples ``ix``: test-time only's cost per query at the sleep point's accuracy (``weight`` x the
    tokens its interpolated curve needs) over sleep's (its sleep tokens per context / ``queries`` + ``weight`` x
    its test-time tokens); NaN when there is no equal-accuracy point."""
    needed, toks = _needed_tokens(sleep, tt, ix)
    sleep_cost = mean(sleep_tokens[i] for i in ix) / queries + weight * toks
    return weight * needed / sleep_cost if sleep_cost and not math.isnan(needed) else math.nan


def equal_accuracy_amortization(records: Iterable[Mapping[str, Any]], weight: float,
                                queries: Sequence[int] = EQUAL_ACCURACY_QUERIES) -> list[dict[str, Any]]:
    """The paper's amortization comparison from single-question records (``basis``: :data:`PROJECTED`): per sleep
    point and N queries per context, cost per query with test-time tokens priced ``weight`` and the sleep tokens
    shared by the N queries (sleep: sleep tokens / N + weight x its test-time tokens), against test-time only at
    the same accuracy (weight x the tokens its curve needs, interpolated as in :func:`equal_accuracy_table`).
    ``cost_ratio`` = test-time only / sleep, with a bootstrap 95% interval that redoes the interpolation on every
    resample of the examples; none (``status`` says why) where there is no equal-accuracy point."""
    cells = answer_cells(records)
    tt_cells = {b: v for (m, _, b), v in cells.items() if m == "test-time"}
    rows: list[dict[str, Any]] = []
    for (mode, setting, b), sl in sorted(cells.items()):
        if mode not in ("sleep", "sleep+verified"):
            continue
        ids = sorted(set(sl).intersection(*tt_cells.values())) if tt_cells else []
        if not ids:
            continue
        sleep = [_point(sl[e]) for e in ids]
        raw = [sl[e].get("sleep_output_tokens") for e in ids]
        sleep_tokens = [None if t is None else float(t) for t in raw]
        tt = {bb: [_point(v[e]) for e in ids] for bb, v in tt_cells.items()}
        whole = list(range(len(ids)))
        acc = mean(p[0] for p in sleep)
        needed, status = interpolated_tokens(
            [(mean(p[1] for p in tt[bb]), mean(p[0] for p in tt[bb])) for bb in tt], acc)
        per_context = mean(sleep_tokens)
        test_tokens = mean(p[1] for p in sleep)
        for n in queries:
            stat = functools.partial(_amortized_ratio, sleep, sleep_tokens, tt, n, weight)
            ratio = stat(whole)
            lo, hi = percentile_interval(bootstrap(len(ids), stat)) if not math.isnan(ratio) else (math.nan,
                                                                                                    math.nan)
            sleep_cost = per_context / n + weight * test_tokens
            rows.append({
                "mode": mode, "setting": setting, "budget": b, "queries_per_context": n, "weight": weight,
                "n": len(ids), "accuracy": acc, "status": status, "test_time_tokens": needed,
                "sleep_test_time_tokens": test_tokens, "sleep_tokens_per_context": per_context,
                "cost_test_time": weight * needed, "cost_sleep": sleep_cost, "cost_ratio": ratio,
                "ratio_lo": lo, "ratio_hi": hi, "basis": PROJECTED,
            })
    return rows


def predicted_path(records: Iterable[Mapping[str, Any]], threshold: float) -> str | None:
    """One line on the predicted-answer path (``--verified``: answers served from a matching predicted question):
    how many answers it served and how close the nearest predicted question came; None where it never ran."""
    scored = [r for r in answer_records(records) if r.get("mode") == "sleep+verified"]
    if not scored:
        return None
    served = sum(1 for r in scored if r.get("path") == "predicted")
    scores = sorted(float(r["match_score"]) for r in scored if r.get("match_score") is not None)
    above = sum(1 for v in scores if v >= threshold)
    median = scores[len(scores) // 2] if scores else math.nan
    return (f"Predicted-answer path (sleep+verified): {served} of {len(scored)} answers served from a predicted "
            f"question; {len(scored) - len(scores)} had no predicted question to match; the nearest one scored at "
            f"least {threshold:g} (match_threshold) in {above} of {len(scores)} (median {median:.3f}), and a "
            "question at the threshold is served only when every fact check and the stored final answer pass too.")


def headline(records: Iterable[Mapping[str, Any]], weight: float = 10.0) -> list[str]:
    """Plain-sentence ratios from the budget table, for each sleep mode ("sleep", "sleep+verified"): accuracy at
    equal budget level (with the paired wins and losses behind the difference and the exact McNemar p), test-time
    tokens at equal budget and at equal accuracy (with bootstrap 95% intervals), and projected cost per query at
    10 queries per context. Computed, never typed in."""
    records = list(records)
    rows = budget_table(records)
    tt = {r["budget"]: r for r in rows if r["mode"] == "test-time"}
    paired = {(r["mode"], r["setting"], r["budget"]): r for r in paired_table(records)}
    equal = {(r["mode"], r["setting"], r["budget"]): r for r in equal_accuracy_table(records)}
    lines: list[str] = []
    for mode in SLEEP_MODES:
        settings = sorted({str(r["setting"]) for r in rows if r["mode"] == mode})
        for s in settings:
            lines += _headline_lines(rows, tt, paired, equal, mode, s, weight)
    return lines


def _ci(lo: float, hi: float) -> str:
    return "" if math.isnan(lo) else f", 95% CI {lo:.2f}-{hi:.2f}"


def _headline_lines(rows: list[dict[str, Any]], tt: Mapping[Any, dict[str, Any]],
                    paired: Mapping[tuple[Any, ...], dict[str, Any]], equal: Mapping[tuple[Any, ...], dict[str, Any]],
                    mode: str, s: str, weight: float) -> list[str]:
    lines: list[str] = []
    sl = {r["budget"]: r for r in rows if r["mode"] == mode and str(r["setting"]) == s}
    for b in sorted(set(tt) & set(sl)):
        a, c = tt[b], sl[b]
        ratio = a["mean_output_tokens"] / c["mean_output_tokens"] if c["mean_output_tokens"] else math.nan
        pr = paired[(mode, s, b)]
        lines.append(
            f"{mode}, budget {b} ({s}): accuracy test-time {a['accuracy']:.3f} vs {mode} {c['accuracy']:.3f} "
            f"({c['accuracy'] - a['accuracy']:+.3f}; right only with {mode}: {pr['right_only_sleep']}, only "
            f"test-time: {pr['right_only_test_time']}; {pr['p_test']} p = {pr['mcnemar_p']:.3f}, Holm-adjusted "
            f"{pr['p_holm']:.3f} over the run's {pr['holm_family']} comparisons); "
            f"test-time output tokens {a['mean_output_tokens']:.1f} vs {c['mean_output_tokens']:.1f} "
            f"({ratio:.2f}x{_ci(pr['token_ratio_lo'], pr['token_ratio_hi'])}); sleep output tokens per context "
            f"{c['mean_sleep_output_tokens']:.1f}; "
            f"cost/query at 10 queries/context, t={weight:g}: test-time {weight * a['mean_output_tokens']:.0f} vs "
            f"{mode} {c['mean_sleep_output_tokens'] / 10 + weight * c['mean_output_tokens']:.0f}"
        )
    # tokens at equal accuracy: interpolated on the test-time curve (equal_accuracy_table)
    for b in sorted(sl):
        c = sl[b]
        eq = equal.get((mode, s, b), {})
        status = eq.get("status", FLOOR if at_the_floor(c["accuracy"]) else BEYOND)
        if status == FLOOR:
            lines.append(f"{mode} budget {b} ({s}): accuracy 0, at the floor: no equal-accuracy comparison")
        elif status == BEYOND:
            lines.append(f"{mode} budget {b} ({s}, accuracy {c['accuracy']:.3f}): no test-time budget "
                         "reaches this accuracy")
        elif status == LOSS:
            lines.append(f"{mode} budget {b} ({s}, accuracy {c['accuracy']:.3f}): a loss, less accurate than "
                         "test-time only at every budget: no equal-accuracy ratio")
        else:
            ci = _ci(eq.get("ratio_lo", math.nan), eq.get("ratio_hi", math.nan))
            share = f"; matched in {eq['matched_share']:.0%} of resamples" if "matched_share" in eq else ""
            lines.append(
                f"equal accuracy: {mode} budget {b} ({s}) reaches {c['accuracy']:.3f} with "
                f"{c['mean_output_tokens']:.1f} test-time tokens; test-time only needs "
                f"{eq['test_time_tokens']:.1f} (interpolated on its curve; cheapest budget as accurate: "
                f"{eq['test_time_budget']}) ({eq['token_ratio']:.2f}x{ci}{share})"
            )
    return lines


#: The modes set against test-time only in the paired tables and the headline.
SLEEP_MODES = ("sleep", "sleep+verified", "oracle", "oracle-intermediate")


def answer_cells(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], dict[str, Mapping[str, Any]]]:
    """(mode, setting, budget) -> example id -> its record, for test-time and the sleep modes (setting "None" where
    a mode has none)."""
    out: dict[tuple[str, str, int], dict[str, Mapping[str, Any]]] = {}
    for r in answer_records(records):
        if r.get("mode") in ("test-time", *SLEEP_MODES) and r.get("budget") is not None:
            cell = (str(r["mode"]), str(r.get("setting")), int(r["budget"]))
            out.setdefault(cell, {})[str(r["example_id"])] = r
    return out


def _grade(r: Mapping[str, Any]) -> float:
    return 1.0 if r.get("correct") else 0.0


@dataclass(frozen=True)
class Paired:
    """One paired comparison of an arm with a baseline on the examples both answered (grades in id order)."""

    ids: list[str]
    base: list[float]
    arm: list[float]
    context_of: Mapping[str, str]

    @property
    def diffs(self) -> list[float]:
        return [c - a for a, c in zip(self.base, self.arm, strict=True)]

    @property
    def wins(self) -> int:
        return sum(1 for a, c in zip(self.base, self.arm, strict=True) if c and not a)

    @property
    def losses(self) -> int:
        return sum(1 for a, c in zip(self.base, self.arm, strict=True) if a and not c)

    @property
    def clustered(self) -> bool:
        """Questions that share a context (Multi-Query ``context_id``) are not independent: tested by context."""
        return bool(self.context_of) and all(e in self.context_of for e in self.ids)

    @property
    def groups(self) -> list[list[int]]:
        return _clusters([self.context_of[e] for e in self.ids])

    def p(self) -> tuple[float, str]:
        """The two-sided p and its test: exact McNemar, or a sign-flip test over contexts when clustered."""
        if self.clustered:
            diffs = self.diffs
            return cluster_signflip_p([sum(diffs[i] for i in g) for g in self.groups]), "cluster sign-flip"
        return mcnemar_exact(self.wins, self.losses), "exact McNemar"


def pair_cells(base: Mapping[str, Mapping[str, Any]], arm: Mapping[str, Mapping[str, Any]],
               context_of: Mapping[str, str]) -> Paired:
    """Two cells (example id -> record) paired on the examples both answered."""
    ids = sorted(set(arm) & set(base))
    return Paired(ids, [_grade(base[e]) for e in ids], [_grade(arm[e]) for e in ids], context_of)


def context_of_records(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Example id -> the context it shares with other questions (Multi-Query records carry ``context_id``)."""
    return {str(r["example_id"]): str(r["context_id"]) for r in records if r.get("context_id") is not None}


#: The least sleep compute of a scaling run (one sample, one round, no question work): each other setting is set
#: against it.
BASE_SETTING = "k1-r1"
_SETTING = re.compile(r"k(\d+)-r(\d+)(?:-q(\d+))?")
#: The axes of sleep compute: the coordinate of a setting label that grows along each, the others held at the base.
AXES = {"k samples": 0, "rounds": 1, "question work": 2}


def _coordinates(label: str) -> tuple[int, int, int] | None:
    """(samples, rounds, predicted questions worked) of a setting label ``k<k>-r<r>[-q<q>]``; None for others."""
    m = _SETTING.fullmatch(label)
    return None if m is None else (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def base_setting(settings: Iterable[str]) -> str:
    """The least sleep compute a scaling run measured, the base its other settings are set against:
    :data:`BASE_SETTING` where it ran, else the setting at or below every other in each coordinate (``k1-r1-q2``
    for a run of ``k1-r1-q2``, ``k2-r1-q2`` and ``k4-r1-q2``: the k axis with question work), else
    :data:`BASE_SETTING` (no axis)."""
    coords = {s: c for s in set(settings) if (c := _coordinates(s)) is not None}
    if BASE_SETTING in coords:
        return BASE_SETTING
    least = [s for s, c in coords.items() if all(c[i] <= d[i] for d in coords.values() for i in range(3))]
    return least[0] if least else BASE_SETTING


def scaling_axes(settings: Iterable[str], base: str = BASE_SETTING) -> dict[str, list[str]]:
    """Axis name -> the settings along it, growing (the base first): those that differ from the base in that
    coordinate only. Only axes with the base and at least one more setting."""
    origin = _coordinates(base)
    coords = {s: c for s in set(settings) if (c := _coordinates(s)) is not None}
    if origin is None or base not in coords:
        return {}
    out: dict[str, list[str]] = {}
    for axis, i in AXES.items():
        along = [s for s, c in coords.items() if all(c[j] == origin[j] for j in range(3) if j != i)]
        if len(along) > 1:
            out[axis] = sorted(along, key=lambda s: coords[s][i])
    return out


def scaling_pairs(cells: Mapping[tuple[str, str, int], Any], base: str | None = None) -> list[tuple[str, int]]:
    """(setting, budget) of every sleep setting on a scaling axis set against the base (default: the run's,
    :func:`base_setting`) at the same budget."""
    settings = {s for (m, s, _) in cells if m == "sleep"}
    base = base or base_setting(settings)
    along = {s for ss in scaling_axes(settings, base).values() for s in ss if s != base}
    return sorted((s, b) for (m, s, b) in cells if m == "sleep" and s in along and ("sleep", base, b) in cells)


#: What the Holm-Bonferroni adjusted p values (``p_holm``) of a run's summary adjust for.
HOLM_FAMILY = ("Holm-Bonferroni adjusted p values (`p_holm`) treat every paired comparison of this run as one family: "
               "each sleep, sleep+verified and oracle arm against test-time only at its level (`paired`), and in a "
               f"scaling run each sleep setting against the run's least, {BASE_SETTING} where it ran, at its level "
               "(`acceptance`)")


def family_p_values(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], float]:
    """The raw p value of every paired comparison of one run, the family :data:`HOLM_FAMILY` adjusts, keyed
    ``("test-time", mode, setting, budget)`` for an arm against test-time only at its level and
    ``(base, "sleep", setting, budget)`` for a sleep setting on a scaling axis against the run's base
    (:func:`base_setting`)."""
    records = list(records)
    context_of = context_of_records(records)
    cells = answer_cells(records)
    out: dict[tuple[str, ...], float] = {}
    for (mode, setting, b), sl in sorted(cells.items()):
        tt = cells.get(("test-time", "None", b))
        if mode == "test-time" or tt is None:
            continue
        out[("test-time", mode, setting, str(b))] = pair_cells(tt, sl, context_of).p()[0]
    base = base_setting(s for (m, s, _) in cells if m == "sleep")
    for setting, b in scaling_pairs(cells, base):
        pair = pair_cells(cells[("sleep", base, b)], cells[("sleep", setting, b)], context_of)
        out[(base, "sleep", setting, str(b))] = pair.p()[0]
    return out


def holm_family(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], float]:
    """Holm-Bonferroni adjusted p of every comparison in :func:`family_p_values`, under the same keys."""
    raw = family_p_values(records)
    return dict(zip(raw, holm_adjust(list(raw.values())), strict=True))


def paired_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each sleep mode against test-time only at the same budget, on the examples both answered: accuracies and
    their difference with bootstrap 95% intervals, the discordant pairs with the exact McNemar p and its
    Holm-Bonferroni adjusted value over the run's family of comparisons (``p_holm``, ``holm_family``: how many;
    :data:`HOLM_FAMILY`), and the test-time token ratio (test-time only / sleep, mean over the examples where
    both report tokens) with its interval. Questions that share a context (records with ``context_id``,
    Multi-Query) are not independent: the intervals then resample whole contexts and the p value is a sign-flip
    test over contexts (``p_test``)."""
    records = list(records)
    context_of = context_of_records(records)
    cells = answer_cells(records)
    holm = holm_family(records)
    rows: list[dict[str, Any]] = []
    for (mode, setting, b), sl in sorted(cells.items()):
        tt = cells.get(("test-time", "None", b))
        if mode == "test-time" or tt is None:
            continue
        pair = pair_cells(tt, sl, context_of)
        ids, x, y, diffs = pair.ids, pair.base, pair.arm, pair.diffs
        tok = [e for e in ids if tt[e].get("output_tokens") is not None and sl[e].get("output_tokens") is not None]
        num = [float(tt[e]["output_tokens"]) for e in tok]
        den = [float(sl[e]["output_tokens"]) for e in tok]
        ratio_stat = functools.partial(ratio_of_means, num, den)
        p, p_test = pair.p()
        if pair.clustered:
            groups = pair.groups
            tok_groups = _clusters([context_of[e] for e in tok])
            ratio_lo, ratio_hi = percentile_interval(cluster_bootstrap(tok_groups, ratio_stat))
            diff_lo, diff_hi = percentile_interval(cluster_bootstrap(groups, functools.partial(_mean_at, diffs)))
        else:
            ratio_lo, ratio_hi = percentile_interval(bootstrap(len(tok), ratio_stat))
            diff_lo, diff_hi = mean_interval(diffs)
        rows.append({
            "mode": mode, "setting": setting, "budget": b, "n": len(ids),
            "clusters": len(pair.groups) if pair.clustered else len(ids),
            "accuracy_test_time": mean(x), "accuracy_sleep": mean(y), "accuracy_diff": mean(diffs),
            "diff_lo": diff_lo, "diff_hi": diff_hi, "right_only_sleep": pair.wins,
            "right_only_test_time": pair.losses, "mcnemar_p": p, "p_test": p_test,
            "p_holm": holm[("test-time", mode, setting, str(b))], "holm_family": len(holm),
            "token_ratio": ratio_of_means(num, den, range(len(tok))) if tok else math.nan,
            "token_ratio_lo": ratio_lo, "token_ratio_hi": ratio_hi,
        })
    return rows


def _mean_at(values: Sequence[float], ix: Sequence[int]) -> float:
    return mean(values[i] for i in ix)


def _clusters(labels: Sequence[str]) -> list[list[int]]:
    """Indices grouped by label, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return list(groups.values())


def _point(r: Mapping[str, Any]) -> tuple[float, float | None]:
    """(grade, test-time output tokens or None)."""
    t = r.get("output_tokens")
    return _grade(r), None if t is None else float(t)


def at_the_floor(accuracy: float) -> bool:
    """Accuracy 0: any budget is "as accurate", so no equal-accuracy comparison is made there."""
    return not accuracy > 0


def _as_accurate(candidate: float, target: float) -> bool:
    """Whether a test-time point matches a sleep point's accuracy (never at the floor, see at_the_floor)."""
    return not at_the_floor(target) and candidate >= target


#: What an equal-accuracy comparison found: a ratio on the test-time curve, or why there is none.
INTERPOLATED, LOSS, BEYOND, FLOOR = "interpolated", "loss", "beyond", "floor"


def interpolated_tokens(curve: Sequence[tuple[float, float]], accuracy: float) -> tuple[float, str]:
    """Test-time tokens needed to reach ``accuracy`` on the test-time curve ``curve`` ((mean tokens, accuracy) per
    budget), and how: ``interpolated`` (linearly between the two frontier points around it, or at one; the
    frontier is the curve's points each more accurate than every cheaper one), ``loss`` (less accurate than the
    cheapest test-time point, so less accurate than test-time only at its cheapest: no ratio), ``beyond`` (more
    accurate than every test-time point: no ratio) or ``floor`` (accuracy 0: no comparison)."""
    if at_the_floor(accuracy):
        return math.nan, FLOOR
    frontier: list[tuple[float, float]] = []
    for tokens, acc in sorted(p for p in curve if not math.isnan(p[0]) and not math.isnan(p[1])):
        if not frontier or acc > frontier[-1][1]:
            frontier.append((tokens, acc))
    if not frontier or accuracy > frontier[-1][1]:
        return math.nan, BEYOND
    if accuracy < frontier[0][1]:
        return math.nan, LOSS
    if accuracy == frontier[0][1]:
        return frontier[0][0], INTERPOLATED
    for (t0, a0), (t1, a1) in itertools.pairwise(frontier):
        if a0 < accuracy <= a1:
            return t0 + (accuracy - a0) * (t1 - t0) / (a1 - a0), INTERPOLATED
    return math.nan, BEYOND  # not reached: the frontier's last point is at least as accurate


def _needed_tokens(sleep: Sequence[tuple[float, float | None]],
                   tt: Mapping[int, Sequence[tuple[float, float | None]]], ix: Sequence[int]) -> tuple[float, float]:
    """On the examples ``ix``: (the test-time tokens the test-time curve needs to reach the sleep point's accuracy,
    interpolated, see interpolated_tokens, NaN when there is no such point (loss, beyond, floor); the sleep point's
    own test-time tokens)."""
    acc = mean(sleep[i][0] for i in ix)
    toks = mean(sleep[i][1] for i in ix)
    curve = [(mean(points[i][1] for i in ix), mean(points[i][0] for i in ix)) for points in tt.values()]
    return interpolated_tokens(curve, acc)[0], toks


def _equal_accuracy_ratio(sleep: Sequence[tuple[float, float | None]],
                          tt: Mapping[int, Sequence[tuple[float, float | None]]], ix: Sequence[int]) -> float:
    """On the examples ``ix``: the test-time tokens the test-time curve needs to reach the sleep point's accuracy
    (interpolated, see interpolated_tokens) over the sleep point's test-time tokens; NaN when there is no ratio
    (loss, beyond, floor)."""
    needed, toks = _needed_tokens(sleep, tt, ix)
    return needed / toks if toks and not math.isnan(needed) else math.nan


def equal_accuracy_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each sleep point: the test-time tokens test-time only needs for the same accuracy, interpolated on its
    curve over the measured budgets, and the ratio (those tokens / the sleep point's), with a bootstrap 95%
    interval that redoes the interpolation on each resample of the examples; ``status`` says when there is no
    ratio (``loss``: less accurate than every test-time point reached on the frontier; ``beyond``: more accurate
    than every one; ``floor``); ``matched_share`` is the share of resamples with a ratio. ``test_time_budget`` is
    the cheapest budget at least as accurate (None when none is)."""
    cells = answer_cells(records)
    tt_cells = {b: v for (m, _, b), v in cells.items() if m == "test-time"}
    rows: list[dict[str, Any]] = []
    for (mode, setting, b), sl in sorted(cells.items()):
        if mode == "test-time":
            continue
        ids = sorted(set(sl).intersection(*tt_cells.values())) if tt_cells else []
        if not ids:
            continue
        sleep = [_point(sl[e]) for e in ids]
        tt = {bb: [_point(v[e]) for e in ids] for bb, v in tt_cells.items()}
        whole = list(range(len(ids)))
        acc = mean(p[0] for p in sleep)
        curve = [(mean(p[1] for p in tt[bb]), mean(p[0] for p in tt[bb])) for bb in tt]
        needed, status = interpolated_tokens(curve, acc)
        better = [bb for bb, pts in tt.items() if _as_accurate(mean(p[0] for p in pts), acc)]
        match = min(better, key=lambda bb: mean(p[1] for p in tt[bb])) if better else None
        boot = bootstrap(len(ids), functools.partial(_equal_accuracy_ratio, sleep, tt))
        ratio = _equal_accuracy_ratio(sleep, tt, whole)
        # No interval around a ratio the data leave undefined: the few resamples that do match would print a
        # range for a comparison that did not happen.
        lo, hi = percentile_interval(boot) if not math.isnan(ratio) else (math.nan, math.nan)
        rows.append({
            "mode": mode, "setting": setting, "budget": b, "n": len(ids), "accuracy": acc,
            "status": status, "test_time_tokens": needed, "sleep_test_time_tokens": mean(p[1] for p in sleep),
            "test_time_budget": match, "token_ratio": ratio,
            "ratio_lo": lo, "ratio_hi": hi,
            "matched_share": sum(1 for v in boot if not math.isnan(v)) / len(boot) if boot else math.nan,
        })
    return rows
