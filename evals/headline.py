"""The headline of the reference results: the paper's claims beside ours on the same measure, every number of ours
computed from the committed records when the block is generated (``python -m evals headline``, also run by
``python -m evals plot``).

The block sits between :data:`START` and :data:`END` in the results folder's README (``evals/results/README.md``,
:func:`results_readme`; the package README links to it) and is replaced whole, so regenerating it on the same
records changes nothing. A measure without records says "not measured yet"; losses are listed, not left out. Only
the results folder is read. Cells are escaped (:func:`cell`), so a ``|`` in a cell does not split the table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evals.amortization import amortization_table
from evals.notes_tables import BASELINE_ARM, accuracy_table, pool_notes, read_notes_records
from evals.plots import LoadedRun, load_run
from evals.predictability import predictability_table
from evals.records import read_run_file
from evals.render_all import ResultsIndex, index_results, notes_folders
from evals.tables import budget_table, equal_accuracy_amortization, equal_accuracy_table, paired_table
from sleeptime.errors import InvalidInputError

#: The paper's highest verbosity level: a run whose test-time stops below it has not measured the whole curve.
TOP_LEVEL = 4

START = "<!-- headline:start -->"
END = "<!-- headline:end -->"
QUERIES = 10
#: The modes whose accuracy and tokens are set against test-time only as "sleep-time compute".
SLEEP_ARMS = ("sleep", "sleep+verified")
NOT_YET = "not measured yet"
#: A run or summary with fewer graded examples is a smoke run, not evidence: named in the block, left out of it.
MIN_EXAMPLES = 5
#: A run whose every test-time and sleep cell is at most this accurate is at the floor: listed apart.
FLOOR = 0.05
#: Runs on a development split (settings were chosen on them) sit in folders named so; listed apart, not evidence.
DEV_PREFIX = "dev-"

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Evidence:
    """What the results folder holds, loaded once."""

    root: Path
    runs: list[tuple[str, LoadedRun]]
    notes: list[tuple[str, list[dict[str, Any]]]]
    """(file name, or folder for the pooled files of a folder; its accuracy table)."""
    summaries: dict[str, dict[str, Any]]
    """Folder name relative to root -> its summary.json (verified, adversarial, budget runs, swe)."""
    predictability: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    """(run folder, its predictability bins) for predictability runs."""
    left_out: list[tuple[str, int]] = field(default_factory=list)
    """(folder, graded examples) for runs and summaries under :data:`MIN_EXAMPLES` examples."""
    development: list[tuple[str, int]] = field(default_factory=list)
    """(folder, graded examples) for development-split runs (folders named ``dev-...``): designs were chosen on
    them, so they are listed apart, never evidence."""
    floor: list[tuple[str, int]] = field(default_factory=list)
    """(folder, graded examples) for runs at the floor (:func:`at_floor`), listed apart."""
    replays: list[tuple[str, int]] = field(default_factory=list)
    """(folder, graded examples) for merge replays (:func:`is_merge_replay`), listed apart."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(cell left out, the cell it repeats): a sleep-arm cell whose every answer (example, grade, tokens) an
    earlier run already recorded with the same models, counted once."""


def _graded_examples(run: LoadedRun) -> int:
    return len({r.get("example_id") for r in run.records if "correct" in r})


def _summary_examples(summary: Mapping[str, Any]) -> int | None:
    """The most examples an arm of a summary with per-arm counts graded; None for other summaries."""
    arms = summary.get("arms")
    if not isinstance(arms, dict) or not all(isinstance(a, dict) and "n" in a for a in arms.values()):
        return None
    return max((int(a["n"]) for a in arms.values()), default=0)


def load_evidence(root: str | Path) -> Evidence:
    base = Path(root)
    index: ResultsIndex = index_results(base)
    left_out: list[tuple[str, int]] = []
    development: list[tuple[str, int]] = []
    floor: list[tuple[str, int]] = []
    replays: list[tuple[str, int]] = []
    loaded = []
    for d in index.run_dirs:
        name, run = d.relative_to(base).as_posix(), load_run(d)
        if name.startswith(DEV_PREFIX):
            development.append((name, _graded_examples(run)))
        elif (n := _graded_examples(run)) < MIN_EXAMPLES:
            left_out.append((name, n))
        elif at_floor(run):
            floor.append((name, n))
        elif is_merge_replay(run, base):
            replays.append((name, n))
        else:
            loaded.append((name, run))
    predictability = [(name, predictability_table(run.records)) for name, run in loaded
                      if run.experiment == "predictability"]
    # Answers a predictability run copied from another (--from-run) are that run's evidence: count them once.
    runs = [(name, replace(run, records=[r for r in run.records if not r.get("copied_from")]))
            for name, run in loaded]
    runs, duplicates = drop_repeated_cells(runs)
    notes: list[tuple[str, list[dict[str, Any]]]] = []
    pooled = notes_folders(index)
    for f in index.notes_files:
        if f.parent not in pooled:
            notes.append((f.relative_to(base).as_posix(), accuracy_table(read_notes_records(f))))
    for d, files in pooled.items():
        per_file = [read_notes_records(f) for f in files]
        records, conflicts = pool_notes(per_file)
        if conflicts:  # the files answered differently: each stands alone
            notes += [(f.relative_to(base).as_posix(), accuracy_table(recs)) for f, recs in zip(files, per_file,
                                                                                             strict=True)]
        else:
            notes.append((f"{d.relative_to(base).as_posix()} (pooled)", accuracy_table(records)))
    summaries: dict[str, dict[str, Any]] = {}
    for d in index.other_dirs:
        for f in sorted(d.rglob("summary.json")):
            name, summary = f.parent.relative_to(base).as_posix(), json.loads(f.read_text(encoding="utf-8"))
            if (arm_n := _summary_examples(summary)) is not None and arm_n < MIN_EXAMPLES:
                left_out.append((name, arm_n))
            else:
                summaries[name] = summary
    return Evidence(base, runs, notes, summaries, predictability, sorted(left_out), development=development,
                    duplicates=duplicates, floor=floor, replays=replays)


def is_merge_replay(run: LoadedRun, root: Path) -> bool:
    """Whether the run replays the recorded sleeps of a run with the same wake model (``--notes-from``): another
    sample merge over that run's samples, on the examples that recorded them. It measures the merge, not sleep
    against test-time, and its test-time cells repeat the source's: listed apart. A replay with another wake
    model (strong sleep, cheap wake) is evidence of its own."""
    options = run.run.get("options", {})
    source = options.get("notes_from")
    if not source:
        return False
    path = Path(source)
    candidates = [path, root / path.name]
    for folder in candidates:
        if (folder / "run.json").exists():
            return bool(read_run_file(folder).get("options", {}).get("model") == options.get("model"))
    return False


def at_floor(run: LoadedRun) -> bool:
    """Every test-time and sleep cell of the run at or under :data:`FLOOR` accuracy: the models cannot do the
    task, so the run shows neither the effect nor its absence; listed apart, not evidence."""
    rows = [r for r in budget_table(run.records) if r["mode"] in ("test-time", *SLEEP_ARMS)]
    return bool(rows) and all(r["accuracy"] <= FLOOR for r in rows)


def drop_repeated_cells(runs: Sequence[tuple[str, LoadedRun]]) -> tuple[list[tuple[str, LoadedRun]],
                                                                         list[tuple[str, str]]]:
    """Runs without the sleep-arm cells (mode, setting, budget) whose every answer an earlier run (by its first
    command's time) already recorded (same wake and sleep model, mode and budget; the same example ids, grades
    and output tokens, or a subset of them): an identical rerun, e.g. k = 1 of a scaling run and the reference
    run it matches; and the (repeat, original) pairs. Test-time cells stay: each run's baseline for pairing."""
    seen: list[tuple[tuple[Any, ...], frozenset[tuple[str, bool, Any]], str]] = []
    kept: dict[str, LoadedRun] = {}
    repeats: list[tuple[str, str]] = []
    for name, run in sorted(runs, key=lambda nr: (_started(nr[1]), nr[0])):
        cells: dict[tuple[Any, ...], list[Row]] = {}
        for r in run.records:
            if r.get("mode") in SLEEP_ARMS and r.get("budget") is not None:
                cells.setdefault((r["mode"], str(r.get("setting")), r["budget"]), []).append(r)
        drop: set[tuple[Any, ...]] = set()
        for cell_key, members in sorted(cells.items(), key=lambda kv: str(kv[0])):
            what = (cell_key[0], cell_key[2], str(members[0].get("model")), str(members[0].get("sleep_model")))
            answers = frozenset((str(r["example_id"]), bool(r.get("correct")), r.get("output_tokens"))
                                for r in members)
            label = f"{name}, {cell_key[0]} {cell_key[1]} budget {cell_key[2]}"
            original = next((lbl for w, a, lbl in seen if w == what and answers <= a), None)
            if original is not None:
                drop.add(cell_key)
                repeats.append((label, original))
            else:
                seen.append((what, answers, label))
        kept[name] = replace(run, records=[r for r in run.records
                                           if (r.get("mode"), str(r.get("setting")), r.get("budget")) not in drop])
    return [(name, kept[name]) for name, _ in runs], repeats


def _started(run: LoadedRun) -> str:
    """When the run's first command ran (ISO time from run.json; "" when it does not say)."""
    invocations = run.run.get("invocations") or [{}]
    return str(invocations[0].get("at", ""))


def _k(acc: float, n: int) -> str:
    return f"{round(acc * n)}/{n}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _x(ratio: float, lo: float, hi: float) -> str:
    if math.isnan(ratio):
        return "n/a"
    return f"{ratio:.2f}x" + ("" if math.isnan(lo) else f" (95% CI {lo:.2f}-{hi:.2f})")


def _served(run: LoadedRun, mode: str) -> bool:
    """sleep+verified is its own arm only where a predicted answer was served; otherwise it is the sleep curve."""
    return mode == "sleep" or any(r.get("mode") == mode and r.get("path") == "predicted" for r in run.records)


def _sleep_rows(run: LoadedRun, rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r["mode"] in SLEEP_ARMS and _served(run, str(r["mode"]))]


def _label(mode: str, setting: Any) -> str:
    return mode + (f" {setting}" if setting not in (None, "None", "k1-r1") else "")


def _none_as_accurate(points: Sequence[Row]) -> str:
    """"No test-time budget is as accurate", limited to the levels a run measured when it stopped short of the
    top one: a run that measures one axis of sleep compute may run test-time at levels 0 and 1 only."""
    levels = sorted({int(p["budget"]) for p in points if p["mode"] == "test-time"})
    if not levels or levels[-1] >= TOP_LEVEL:
        return "no test-time budget is as accurate"
    ran = ", ".join(str(b) for b in levels)
    return f"no test-time budget this run measured (levels {ran} only) is as accurate"


def _past_test_time(points: Sequence[Row], r: Row) -> str:
    """For a sleep point more accurate than every test-time budget: the most accurate of those, and how many
    times the sleep point's test-time tokens it used."""
    tt = [p for p in points if p["mode"] == "test-time"]
    best = max(tt, key=lambda p: (p["accuracy"], -p["mean_output_tokens"]), default=None)
    own = next((p for p in points if (p["mode"], p["setting"], p["budget"]) == (r["mode"], r["setting"],
                                                                               r["budget"])), None)
    if best is None or own is None or not own["mean_output_tokens"]:
        return ""
    return (f"; the most accurate, budget {best['budget']} ({_k(best['accuracy'], best['n'])}), used "
            f"{best['mean_output_tokens'] / own['mean_output_tokens']:.2f}x its test-time tokens "
            f"({best['mean_output_tokens']:.1f} vs {own['mean_output_tokens']:.1f})")


def equal_accuracy(ev: Evidence) -> list[str]:
    out: list[str] = []
    for name, run in ev.runs:
        points = budget_table(run.records)
        for r in _sleep_rows(run, equal_accuracy_table(run.records)):
            head = f"{name}, {_label(r['mode'], r['setting'])} budget {r['budget']} ({_k(r['accuracy'], r['n'])})"
            if r["status"] == "floor":
                out.append(f"{head}: at the floor, no equal-accuracy comparison")
            elif r["status"] == "beyond":
                out.append(f"{head}: {_none_as_accurate(points)}{_past_test_time(points, r)}")
            elif r["status"] == "loss":
                out.append(f"{head}: a loss, less accurate than test-time only at every budget (no ratio)")
            else:
                out.append(f"{head}: {_x(r['token_ratio'], r['ratio_lo'], r['ratio_hi'])}, against the test-time "
                           f"curve interpolated at its accuracy ({r['test_time_tokens']:.1f} tokens)")
    return out or [NOT_YET]


def _notes_rows(ev: Evidence, *, oracle: bool) -> list[tuple[str, Row]]:
    """(file, row) for every notes arm paired with its file's none arm; oracle arms or the others."""
    return [(name, r) for name, rows in ev.notes for r in rows
            if r["n_paired"] and (r["arm"] == "oracle") == oracle]


def _notes_vs_none(name: str, r: Row) -> str:
    model = "" if r["sleep_model"] == "-" else f" ({r['sleep_model']} sleep)"
    return (f"{name} {r['set']}, {r['arm']} notes{model} budget {r['budget']}: "
            f"{_k(r['accuracy_arm'], r['n_paired'])} vs {_k(r['accuracy_none'], r['n_paired'])} test-time only "
            f"({(r['accuracy_arm'] - r['accuracy_none']) * 100:+.1f} points, {_p(r['mcnemar_p'])})")


def accuracy_gain(ev: Evidence) -> list[str]:
    out: list[str] = []
    for name, run in ev.runs:
        paired = _sleep_rows(run, paired_table(run.records))
        lowest = min((r["budget"] for r in paired), default=None)
        for r in (r for r in paired if r["budget"] == lowest):
            out.append(f"{name}, {_label(r['mode'], r['setting'])} budget {lowest}: "
                       f"{_k(r['accuracy_sleep'], r['n'])} vs {_k(r['accuracy_test_time'], r['n'])} test-time only "
                       f"({r['accuracy_diff'] * 100:+.1f} points, {_p(r['mcnemar_p'])})")
    for name, rows in ev.notes:
        slept = [r for r in rows if r["arm"] not in (BASELINE_ARM, "oracle")]
        lowest = min((r["budget"] for r in slept), default=None)
        for r in (r for r in slept if r["budget"] == lowest):
            out.append(_notes_vs_none(name, r) if r["n_paired"] else
                       f"{name} {r['set']}, {r['arm']} notes ({r['sleep_model']} sleep) budget {r['budget']}: "
                       f"{r['correct']}/{r['n']} (no test-time only arm in this file to pair with)")
    return (out or [NOT_YET]) + scaling_gain(ev)


def scaling_gain(ev: Evidence) -> list[str]:
    """More sleep-time compute: the most against the least sleep tokens per context, at each budget."""
    out: list[str] = []
    for name, run in ev.runs:
        if run.experiment != "scaling":
            continue
        rows = [r for r in budget_table(run.records) if r["mode"] == "sleep"]
        for b in sorted({r["budget"] for r in rows}):
            at = sorted((r for r in rows if r["budget"] == b), key=lambda r: r["mean_sleep_output_tokens"])
            if len(at) > 1:
                lo, hi = at[0], at[-1]
                out.append(f"{name}, more sleep compute at budget {b}: {hi['setting']} "
                           f"({hi['mean_sleep_output_tokens']:.0f} sleep tokens) {_k(hi['accuracy'], hi['n'])} vs "
                           f"{lo['setting']} ({lo['mean_sleep_output_tokens']:.0f}) {_k(lo['accuracy'], lo['n'])} "
                           f"({(hi['accuracy'] - lo['accuracy']) * 100:+.1f} points)")
    return out or [f"scaling sleep compute (`python -m evals scaling`): {NOT_YET}"]


def _costs(rows: Iterable[Row], n: int) -> dict[tuple[str, int], tuple[float, float]]:
    """(setting, budget) -> (test-time only cost, sleep cost) per query at n queries per context."""
    by = {(str(r["mode"]), str(r.get("setting")), int(r["budget"])): float(r["cost_per_query"])
          for r in rows if int(r["queries_per_context"]) == n}
    tt = {b: c for (m, _, b), c in by.items() if m == "test-time"}
    return {(s, b): (tt[b], c) for (m, s, b), c in sorted(by.items()) if m == "sleep" and b in tt}


def _equal_accuracy_costs(name: str, records: Sequence[Any], weight: float) -> tuple[list[str], list[str]]:
    """Projected cost per query at QUERIES queries per context against test-time only at the same accuracy
    (interpolated), with the ratio's bootstrap interval; a sleep point with no equal-accuracy point is a loss."""
    text: list[str] = []
    lost: list[str] = []
    for r in equal_accuracy_amortization(records, weight, (QUERIES,)):
        label = f"{name} {r['mode']} {r['setting'] or ''} budget {r['budget']}".replace("  ", " ")
        if math.isnan(float(r["cost_ratio"])):
            lost.append(f"cost per query at {QUERIES} queries/context (projected, equal accuracy): {label}: "
                        f"no ratio ({r['status']})")
            continue
        text.append(f"{label}, t = {weight:g}, at equal accuracy: test-time only / sleep-time = "
                    f"{r['cost_ratio']:.2f}x (95% CI {r['ratio_lo']:.2f}-{r['ratio_hi']:.2f})")
        if r["cost_ratio"] < 1:
            lost.append(f"cost per query at {QUERIES} queries/context (projected, equal accuracy): {label}, "
                        f"{r['cost_ratio']:.2f}x")
    return text, lost


def cost_rows(ev: Evidence) -> tuple[list[str], list[str]]:
    """Cost per query at QUERIES queries per context, t = the run's weight: measured on Multi-Query amortization
    runs (at fewer queries where the contexts have fewer questions, said so); else projected from single-question
    runs (labelled). Also returns the losses: where sleep-time costs more, at that N and at 1 query per context."""
    measured: list[str] = []
    projected: list[str] = []
    losses: list[str] = []
    for name, run in ev.runs:
        weight = float(run.run.get("options", {}).get("weight", 10.0))
        if run.experiment != "amortization":  # single-question records: the paper's comparison, at equal accuracy
            text, lost = _equal_accuracy_costs(name, run.records, weight)
            projected += text
            losses += lost
            continue
        rows = amortization_table(run.records, weight)
        n = min(QUERIES, max((int(r["queries_per_context"]) for r in rows), default=QUERIES))
        at = "" if n == QUERIES else f" at {n} queries/context (the most its contexts have)"
        for (_, b), (tt, sl) in _costs(rows, n).items():
            measured.append(f"{name} budget {b}{at}, t = {weight:g}: sleep-time {sl:.0f} vs test-time only {tt:.0f} "
                            f"(test-time only / sleep-time = {tt / sl:.2f}x)")
        for q in sorted({1, n}):
            losses += [f"cost per query at {q} queries/context: {name} budget {b}, "
                       f"{sl:.0f} vs {tt:.0f}" for (_, b), (tt, sl) in _costs(rows, q).items() if sl > tt]
    if measured:
        return measured, losses
    return [f"{NOT_YET} (no Multi-Query amortization run)"] + [f"projected from single-question records: {p}"
                                                             for p in projected], losses


def losses(ev: Evidence, cost_losses: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name, run in ev.runs:
        for r in _sleep_rows(run, paired_table(run.records)):
            what = f"{name}, {_label(r['mode'], r['setting'])} budget {r['budget']}"
            if r["right_only_test_time"] > r["right_only_sleep"]:
                out.append(f"accuracy: {what}, {_k(r['accuracy_sleep'], r['n'])} vs "
                           f"{_k(r['accuracy_test_time'], r['n'])} ({_p(r['mcnemar_p'])})")
            if not math.isnan(r["token_ratio"]) and r["token_ratio"] < 1:
                out.append(f"test-time tokens: {what}, {1 / r['token_ratio']:.2f}x more than test-time only")
    for name, r in _notes_rows(ev, oracle=False):
        if r["right_only_none"] > r["right_only_arm"]:
            out.append(f"accuracy: {_notes_vs_none(name, r)}")
    return out + list(cost_losses) or ["no arm or budget in the records where sleep-time compute does worse"]


def oracle(ev: Evidence) -> list[str]:
    out: list[str] = []
    for name, run in ev.runs:
        rows = {(r["mode"], r["budget"]): r for r in budget_table(run.records)}
        for (mode, b), r in sorted(rows.items()):
            if mode in ("oracle", "oracle-intermediate"):
                base = [f"{m} {_k(rows[(m, b)]['accuracy'], rows[(m, b)]['n'])}" for m in ("sleep", "test-time")
                        if (m, b) in rows]
                what = "oracle notes (answer among them)" if mode == "oracle" else "oracle-intermediate (no answer)"
                out.append(f"{name} budget {b}: {what} {_k(r['accuracy'], r['n'])} vs {', '.join(base)}")
    for name, nr in _notes_rows(ev, oracle=True):
        notes = dict(ev.notes)[name]
        slept = [r for r in notes if r["arm"] not in (BASELINE_ARM, "oracle") and (r["set"], r["budget"])
                 == (nr["set"], nr["budget"])]
        best = max(slept, key=lambda r: (r["accuracy"], r["arm"], r["sleep_model"]), default=None)
        out.append(_notes_vs_none(name, nr) + ("" if best is None else
                   f"; best slept notes: {best['arm']} ({best['sleep_model']}) {best['correct']}/{best['n']}"))
    return out or [NOT_YET]


def predictability_gain(ev: Evidence) -> list[str]:
    """Per run, the sleep-time gain in each bin of log p(question | context), least predictable first."""
    out = []
    for name, bins in ev.predictability:
        if bins:
            cells = ", ".join(f"bin {b['bin']} {b['gain'] * 100:+.1f} (n={b['n']})" for b in bins)
            out.append(f"{name}: accuracy gain in points by predictability bin (log p per question token), least "
                       f"predictable first: {cells}")
    return out or [NOT_YET]


def beyond_the_paper(ev: Evidence) -> list[tuple[str, list[str]]]:
    """Rows from the summary.json of the experiments beyond the paper, where present."""
    rows: list[tuple[str, list[str]]] = []
    serving: list[str] = []
    for name, s in ev.summaries.items():
        v = s.get("verified", {}).get("all")
        if isinstance(v, dict) and "wrong_served" in v:
            serving.append(f"{name}: {v['wrong_served']} wrong of {v['served']} served over {v['n']} "
                           "perturbed questions")
        a = s.get("all")
        if isinstance(a, dict) and "wrong_served" in a and "rules_pass" in a:
            serving.append(f"{name}: {a['wrong_served']} wrong served over {a['n']} swapped questions")
    if serving:
        rows.append(("Verified answers from predicted questions (not in the paper)", serving))
    budget = [f"{name}: " + ", ".join(f"{arm} {a['correct']}/{a['n']}" for arm, a in sorted(s["arms"].items()))
              for name, s in ev.summaries.items()
              if isinstance(s.get("arms"), dict) and all("correct" in a for a in s["arms"].values())]
    if budget:
        rows.append(("Sleep budget split by predictability (not in the paper)", budget))
    swe = [f"{name}: " + ", ".join(f"{arm} F1 {a['f1']:.2f} (n={a['n']})" for arm, a in sorted(s["arms"].items()))
           for name, s in ev.summaries.items()
           if isinstance(s.get("arms"), dict) and all("f1" in a for a in s["arms"].values())]
    if swe:
        rows.append(("SWE-Features, files a change touches (F1)", swe))
    return rows


PAPER = {
    "eq": "about 5x fewer test-time tokens at equal accuracy (GSM, AIME), mostly at low budgets",
    "gain": "up to +13% (Stateful GSM-Symbolic) and +18% (Stateful AIME) accuracy from more sleep-time compute",
    "cost": f"up to 2.5x lower average cost per query at {QUERIES} queries per context, test-time tokens priced 10x",
    "loss": "at the highest GSM budget test-time only slightly wins; with few queries per context it costs more",
    "oracle": "(no oracle arm in the paper)",
    "pred": "the gain grows with predictability (5 quantile bins of log p(question | context))",
}


def headline_block(root: str | Path) -> str:
    """The markdown block (markers included) computed from the records under ``root``."""
    ev = load_evidence(root)
    cost, cost_losses = cost_rows(ev)
    rows = [
        ("Test-time tokens at equal accuracy (test-time only / sleep-time; above 1: sleep-time needs fewer)",
         PAPER["eq"], equal_accuracy(ev)),
        ("Accuracy gain at the lowest budget (exact McNemar p)", PAPER["gain"], accuracy_gain(ev)),
        (f"Cost per query at {QUERIES} queries per context (sleep-time vs test-time only)", PAPER["cost"], cost),
        ("Where sleep-time compute loses", PAPER["loss"], losses(ev, cost_losses)),
        ("What the oracle arm (gold intermediate values as notes; the last is often the answer itself) says is "
         "left to gain", PAPER["oracle"],
         oracle(ev)),
        ("Gain by how predictable the question is", PAPER["pred"], predictability_gain(ev)),
    ]
    rows += [(measure, "-", ours) for measure, ours in beyond_the_paper(ev)]
    lines = [START, "",
             f"Generated by `python -m evals headline` from the committed records under `{ev.root.as_posix()}` "
             f"({len(ev.runs)} run folders, {len(ev.notes)} note-quality record sets); do not edit by hand. Paper: "
             "Lin et al. 2025 on far larger models; ours: the runs named in each cell (folder, mode, budget). "
             "Intervals: bootstrap 95%; p: exact McNemar, paired by example (Multi-Query runs, whose questions share a "
             "context: a sign-flip test over contexts, intervals resampling contexts). Note-quality files of one "
             "folder are pooled by example id (their wake settings assumed the same) unless they grade an answer "
             "differently."
             + _left_out_sentence(ev),
             "",
             "| measure | paper | ours |", "|---|---|---|"]
    for m, p, o in rows:  # one row per claim: the measure and the paper's claim on its first row only
        items = list(o) or [NOT_YET]
        lines.append(f"| {cell(m)} | {cell(p)} | {cell(items[0])} |")
        lines += [f"| | | {cell(x)} |" for x in items[1:]]
    return "\n".join([*lines, "", END])


def _left_out_sentence(ev: Evidence) -> str:
    text = ""
    if ev.left_out:
        named = ", ".join(f"{name} ({n})" for name, n in ev.left_out)
        text += f" Left out as smoke runs (fewer than {MIN_EXAMPLES} graded examples): {named}."
    if ev.floor:
        named = ", ".join(f"{name} ({n})" for name, n in ev.floor)
        text += (f" Listed apart as at the floor (every test-time and sleep cell at most {FLOOR:.0%} right: they show "
                 f"neither the effect nor its absence): {named}.")
    if ev.replays:
        named = ", ".join(f"{name} ({n})" for name, n in ev.replays)
        text += (" Listed apart as merge replays (another merge of a run's recorded samples, same wake model: they "
                 f"measure the merge, in the folder's README): {named}.")
    if ev.development:
        named = ", ".join(f"{name} ({n})" for name, n in ev.development)
        text += f" Listed apart as development splits (designs were chosen on them, so not evidence): {named}."
    if ev.duplicates:
        named = "; ".join(f"{dup} (= {orig})" for dup, orig in ev.duplicates)
        text += f" Counted once (the same answers as an earlier run's): {named}."
    return text


def cell(text: str) -> str:
    """``text`` as one markdown table cell: every ``|`` escaped (also inside code spans, as GFM reads it) and line
    breaks as ``<br>``, so the row keeps its three columns."""
    return text.replace("\\|", "|").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def results_readme(root: str | Path) -> Path:
    """Where the block is written by default: the README of the results folder ``root``."""
    return Path(root) / "README.md"


def update_readme(readme: str | Path, block: str, *, start_marker: str = START, end_marker: str = END) -> bool:
    """Replace the block between the markers in ``readme``; True when the file changed."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise InvalidInputError(f"{path} has no {start_marker} ... {end_marker} markers to write the block between")
    new = text[:start] + block + text[end + len(end_marker):]
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
