"""Summary tables (Markdown and CSV) and PNG figures, regenerated from a run's JSONL without any model.

``python -m evals plot <run dir>`` calls :func:`render_run`.
"""

from __future__ import annotations

import csv
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.acceptance import acceptance_lines, acceptance_table
from evals.amortization import amortization_table, multiquery_table
from evals.passk import passk_table
from evals.predictability import predictability_table
from evals.records import RECORDS_FILE, read_records, read_run_file
from evals.tables import (
    HOLM_FAMILY,
    PROJECTED,
    budget_table,
    complete_only,
    equal_accuracy_amortization,
    equal_accuracy_table,
    headline,
    paired_table,
    predicted_path,
    projected_amortization,
)
from sleeptime import SleepTimeConfig

TableRow = Mapping[str, Any]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: Sequence[TableRow]) -> str:
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0].keys())
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_csv(path: Path, rows: Sequence[TableRow]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c) for c in cols})


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend. Lazy: matplotlib is the optional "evals" extra, needed only to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


LINE_MODES = ("test-time", "sleep", "sleep+verified", "oracle", "oracle-intermediate")


def _series_label(row: TableRow) -> str:
    mode = str(row.get("mode"))
    setting = row.get("setting")
    if mode == "sleep":
        return f"sleep-time compute ({setting})" if setting else "sleep-time compute"
    if mode == "sleep+verified":
        return f"sleep-time + verified answers ({setting})" if setting else "sleep-time + verified answers"
    if mode == "test-time":
        return "test-time compute only"
    if mode == "oracle":
        return "oracle notes (gold values, final answer among them)"
    if mode == "oracle-intermediate":
        return "oracle-intermediate (gold values, final answer left out)"
    return mode


def plot_budget_lines(rows: Sequence[TableRow], path: Path, title: str,
                      points: Sequence[TableRow] = (), ylabel: str = "accuracy") -> None:
    """Accuracy (or another score in [0, 1], as ``ylabel`` says) vs avg test-time tokens per question,
    one line per mode, budget levels annotated."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    series: dict[str, list[TableRow]] = {}
    for r in rows:
        if r.get("budget") is None or math.isnan(float(r.get("mean_output_tokens", math.nan))):
            continue
        series.setdefault(_series_label(r), []).append(r)
    for label, pts in series.items():
        pts = sorted(pts, key=lambda r: float(r["mean_output_tokens"]))
        xs = [float(r["mean_output_tokens"]) for r in pts]
        ys = [float(r["accuracy"]) for r in pts]
        style = "--" if label.startswith(("pass@", "majority@")) else "-"
        ax.errorbar(xs, ys, yerr=_yerr(pts, ys), fmt=style, marker="o", capsize=3, label=label)
        for r, x, y in zip(pts, xs, ys, strict=True):
            ax.annotate(str(r["budget"]), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    for p in points:
        ax.scatter([float(p["mean_output_tokens"])], [float(p["accuracy"])], marker="x", s=60, label=str(p["mode"]))
    _finish(plt, fig, ax, path, title, "avg. test-time tokens / question", ylabel)


def _finish(plt: Any, fig: Any, ax: Any, path: Path, title: str, xlabel: str, ylabel: str,
            legend_size: int = 7, legend_loc: str = "lower right") -> None:
    """Labels, title, grid and legend (when anything is labelled) of a one-panel line figure; save and close."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 72), fontsize=9)  # a run's title names two models: one line was cut off
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a fixed place: "best" is a search that warns when slow (a loaded machine)
        ax.legend(fontsize=legend_size, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _yerr(rows: Sequence[TableRow], ys: Sequence[float], field: str = "accuracy") -> list[list[float]] | None:
    """Bootstrap 95% interval of each point's ``field`` (``<field>_lo`` / ``_hi``) as error bars (None where a row
    has none)."""
    lo = [float(r.get(f"{field}_lo", math.nan)) for r in rows]
    hi = [float(r.get(f"{field}_hi", math.nan)) for r in rows]
    if any(math.isnan(v) for v in lo + hi):
        return None
    # Clipped at 0: a percentile interval can miss a point that is not the resamples' mean by a hair.
    return [[max(0.0, y - a) for y, a in zip(ys, lo, strict=True)],
            [max(0.0, b - y) for y, b in zip(ys, hi, strict=True)]]


def plot_scaling(rows: Sequence[TableRow], path: Path, title: str) -> None:
    """Accuracy vs mean sleep output tokens per context, one line per (sleep mode, budget), a point per sleep
    setting (samples x rounds), with bootstrap 95% intervals: does more sleep-time compute buy accuracy?"""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    series: dict[str, list[TableRow]] = {}
    for r in rows:
        if r.get("mode") in ("sleep", "sleep+verified") and not math.isnan(float(r["mean_sleep_output_tokens"])):
            series.setdefault(f"{r['mode']}, budget {r['budget']}", []).append(r)
    for label, pts in sorted(series.items()):
        pts = sorted(pts, key=lambda r: float(r["mean_sleep_output_tokens"]))
        xs = [float(r["mean_sleep_output_tokens"]) for r in pts]
        ys = [float(r["accuracy"]) for r in pts]
        ax.errorbar(xs, ys, yerr=_yerr(pts, ys), marker="o", capsize=3, label=label)
        for r, x, y in zip(pts, xs, ys, strict=True):
            ax.annotate(str(r["setting"]), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    _finish(plt, fig, ax, path, title, "avg. sleep-time output tokens / context", "accuracy")


def plot_amortization(rows: Sequence[TableRow], path: Path, title: str) -> None:
    """Avg cost per query vs queries per context, one line per (mode, budget)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    series: dict[str, list[TableRow]] = {}
    for r in rows:
        label = f"{_series_label(r)}, budget {r.get('budget')}"
        series.setdefault(label, []).append(r)
    for label, pts in series.items():
        pts = sorted(pts, key=lambda r: int(r["queries_per_context"]))
        ax.plot([int(r["queries_per_context"]) for r in pts], [float(r["cost_per_query"]) for r in pts],
                "--" if label.startswith("test-time") else "-", marker="o", label=label)
    from matplotlib.ticker import MaxNLocator  # matplotlib is imported lazily (pyplot)

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Costs fall as questions share a sleep, so the upper right is where the lines are not.
    _finish(plt, fig, ax, path, title, "questions per context", "avg. cost / query (tokens, test-time weighted)",
            legend_size=6, legend_loc="upper right")


def plot_bins(rows: Sequence[TableRow], path: Path, title: str) -> None:
    """One bar per predictability bin: sleep-time accuracy gain over test-time only, with its bootstrap 95%
    interval (examples resampled) as error bars."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    xs = [f"{r['bin']}\n(n={r['n']})" for r in rows]
    ys = [float(r["gain"]) for r in rows]
    ax.bar(xs, ys, yerr=_yerr(rows, ys, "gain"), capsize=3, color="tab:blue")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("log p(question | context) per token, quantile bin (1 = least predictable)")
    ax.set_ylabel("accuracy gain, sleep-time minus test-time")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_notes(quality: Sequence[TableRow], accuracy: Sequence[TableRow], path: Path, title: str) -> None:
    """Two bar panels from the note-quality tables: accuracy per (set, arm, budget) with bootstrap 95% intervals,
    and note recall / precision per (set, prompt, sleep model)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    labels = [f"{r['set']} {r['arm']}" + (f" ({r['sleep_model']})" if r["sleep_model"] != "-" else "")
              + f" b{r['budget']}\nn={r['n']}" for r in accuracy]
    ys = [float(r["accuracy"]) for r in accuracy]
    left.bar(range(len(ys)), ys, yerr=_yerr(accuracy, ys), capsize=3, color="tab:blue")
    left.set_xticks(range(len(ys)), labels, rotation=60, ha="right", fontsize=6)
    left.set_ylabel("accuracy (bootstrap 95% interval)")
    left.set_title("answers per arm", fontsize=9)
    xs = range(len(quality))
    right.bar([x - 0.2 for x in xs], [float(r["recall"] or 0) for r in quality], width=0.4, label="recall")
    right.bar([x + 0.2 for x in xs], [float(r["precision"] or 0) for r in quality], width=0.4, label="precision")
    right.set_xticks(list(xs), [f"{r['set']} {r['prompt']}\n{r['sleep_model']}" for r in quality], rotation=60,
                     ha="right", fontsize=6)
    right.set_title("note quality per prompt (precision 0: nothing stated)", fontsize=9)
    if quality:
        right.legend(fontsize=7, loc="upper right")
    for ax in (left, right):
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _title(run: Mapping[str, Any], records: Sequence[TableRow]) -> str:
    o = run.get("options", {})
    n = len({r.get("example_id") for r in records if r.get("mode") in ("test-time", "sleep", "sample")})
    sleeper = o.get("sleep_model")
    models = f"{o.get('model')}" + (f" (sleep: {sleeper})" if sleeper and sleeper != o.get("model") else "")
    return f"{run.get('experiment')}: {o.get('dataset')}, {models}, n={n}"


def _at_run_budgets(records: Sequence[TableRow], budgets: Any) -> tuple[list[TableRow], int]:
    """The records at the budget levels of the run's latest command (all of them if it names none), and how many
    answer records were at other levels: a run resumed with other --budgets keeps the earlier records, but the
    tables compare one set of levels on the same examples."""
    if not budgets:
        return list(records), 0
    keep = {int(b) for b in budgets}
    out = [r for r in records if r.get("budget") is None or int(r["budget"]) in keep]
    return out, len(records) - len(out)


@dataclass(frozen=True)
class LoadedRun:
    """A run dir's run.json and the records its tables use, with what was left out and why."""

    run: dict[str, Any]
    records: list[TableRow]
    other_budgets: int
    """Answer records at budget levels the latest command did not ask for."""
    dropped: int
    """Examples left out because not every mode/budget was measured yet."""

    @property
    def experiment(self) -> str:
        return str(self.run.get("experiment"))


def load_run(run_dir: str | Path) -> LoadedRun:
    """The records of a run dir as its tables use them: the latest command's budget levels, and (but for
    amortization, which counts contexts) only examples measured in every cell."""
    out = Path(run_dir)
    run = read_run_file(out)
    records, other_budgets = _at_run_budgets(read_records(out / RECORDS_FILE), run.get("options", {}).get("budgets"))
    dropped = 0
    if run.get("experiment") != "amortization":
        records, dropped = complete_only(records)
    return LoadedRun(run, list(records), other_budgets, dropped)


def render_run(run_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Write summary.md, summary*.csv and the figures of a run dir from its records; return the tables."""
    out = Path(run_dir)
    loaded = load_run(out)
    run, records, other_budgets, dropped = loaded.run, loaded.records, loaded.other_budgets, loaded.dropped
    name = loaded.experiment
    weight = float(run.get("options", {}).get("weight", 10.0))
    title = _title(run, records)
    tables: dict[str, list[dict[str, Any]]] = {}
    figures: list[str] = []
    budget_rows = budget_table(records)
    if name != "amortization":
        tables["summary"] = budget_rows
        line_rows = [r for r in budget_rows if r["mode"] in LINE_MODES]
        points = [r for r in budget_rows if r["mode"] == "context-only"]
        if name == "passk":
            tables["passk"] = passk_table(records)
            line_rows = line_rows + [r for r in tables["passk"] if r["mode"].startswith(("pass@", "majority@"))]
        plot_budget_lines(line_rows, out / "accuracy_vs_tokens.png", title, points)
        figures.append("accuracy_vs_tokens.png")
        tables["paired"] = paired_table(records)
        tables["equal_accuracy"] = equal_accuracy_table(records)
        tables["amortization_projected"] = projected_amortization(records, weight)
        tables["amortization_equal_accuracy"] = equal_accuracy_amortization(records, weight)
    if name == "amortization":
        tables["summary"] = budget_rows
        tables["amortization"] = amortization_table(records, weight)
        tables["multi_query"] = multiquery_table(records)  # contexts used and skipped, questions kept and dropped
        plot_budget_lines([r for r in budget_rows if r["mode"] in LINE_MODES],
                          out / "accuracy_vs_tokens.png", title)
        plot_amortization(tables["amortization"], out / "cost_per_query.png", f"{title}, t={weight:g}")
        figures += ["accuracy_vs_tokens.png", "cost_per_query.png"]
    elif tables.get("amortization_projected"):
        plot_amortization(tables["amortization_projected"], out / "cost_per_query_projected.png",
                          f"{title}, t={weight:g} (projected)")
        figures.append("cost_per_query_projected.png")
    if name == "scaling":
        plot_scaling(budget_rows, out / "accuracy_vs_sleep_tokens.png", title)
        figures.append("accuracy_vs_sleep_tokens.png")
        tables["acceptance"] = acceptance_table(records)
    if name == "predictability":
        bins = int(run.get("options", {}).get("bins", 5))
        tables["predictability"] = predictability_table(records, bins)
        if tables["predictability"]:
            plot_bins(tables["predictability"], out / "gain_by_predictability.png", title)
            figures.append("gain_by_predictability.png")
    for tname, rows in tables.items():
        write_csv(out / ("summary.csv" if tname == "summary" else f"summary_{tname}.csv"), rows)
    md = [f"# {title}", ""]
    inv = run.get("invocations", [])
    if inv:
        md += ["Commands (first run, then resumes):", ""]
        md += [f"- `{i['command']}` at {i['at']} on {i['machine'].get('cpu_count')} CPUs, "
               f"load {i['machine'].get('load_at_start')}" + (f", commit {i['commit']}" if i.get("commit") else "")
               for i in inv]
        md.append("")
    hashes = sorted({str(r["settings_hash"]) for r in records if r.get("settings_hash")})
    if len(hashes) > 1:
        md += [f"**Mixed settings:** the records used come from {len(hashes)} settings ({', '.join(hashes)}); "
               "a resume with other options wrote into this run.", ""]
    errors = sum(1 for r in records if r.get("error"))
    md += [f"Records used: {len(records)} ({errors} with errors, graded wrong, tokens not counted). Examples "
           f"left out because not every mode/budget was measured yet (run still in progress): {dropped}.", ""]
    if other_budgets:
        md += [f"Left out too: {other_budgets} records at budget levels the latest command did not ask for "
               "(an earlier command's; still in the records file).", ""]
    md += ["Test-time tokens = output tokens of the wake phase from the model's own usage reports; input tokens "
           "beside them. Sleep tokens = output tokens of the sleep phase per context.", ""]
    if name != "amortization":
        md += [f"Cost per query ({PROJECTED}: N queries per context, each costed as the one measured question of its "
               "context, the sleep tokens shared by the N; not measured Multi-Query amortization, which is "
               "`python -m evals amortization`): `amortization_projected` sets each arm at its own budget level, "
               "`amortization_equal_accuracy` sets each sleep point against test-time only interpolated to the same "
               f"accuracy, test-time tokens priced {weight:g}x, with a bootstrap 95% interval of the cost ratio.", ""]
    if name != "amortization":
        lines = headline(records, weight)
        if lines:
            md += ["## Ratios (computed from the records)", ""] + [f"- {s}" for s in lines] + [""]
        if (line := predicted_path(records, SleepTimeConfig().match_threshold)) is not None:
            md += [line, ""]
        if name == "scaling":
            md += ["## Acceptance (issue 28): does accuracy grow with sleep compute along each axis?", ""]
            md += [f"- {s}" for s in acceptance_lines(tables["acceptance"])] + [""]
        if tables.get("paired"):
            md += [f"{HOLM_FAMILY}: {tables['paired'][0]['holm_family']} p values. A raw p below 0.05 whose "
                   "`p_holm` is not is no finding once the run's other comparisons are counted.", ""]
    for tname, rows in tables.items():
        md += [f"## {tname}", "", markdown_table(rows)]
    md += ["## Figures", ""] + [f"![{f}]({f})" for f in figures] + [""]
    (out / "summary.md").write_text("\n".join(md), encoding="utf-8")
    return tables
