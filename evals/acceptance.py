"""Issue 28's acceptance check for a scaling run: does accuracy grow as sleep compute grows along each axis?

The axes (``evals.tables.scaling_axes``): k samples (``k1-r1``, ``k2-r1``, ``k4-r1``), rethink rounds (``k1-r1``,
``k1-r2``) and predicted questions worked at level 4 (``k1-r1`` = q0, ``k1-r1-q2``), each from the least sleep
compute, ``k1-r1`` (a run without it: its own least setting, such as ``k1-r1-q2`` for k samples that each work
their questions). Per axis and sleep level: each setting's accuracy on the same examples, its discordant pairs
against ``k1-r1`` with the exact McNemar p (and the Holm-Bonferroni p over the run's family of comparisons), and
whether accuracy ever falls from one setting to the next. The verdict states the issue's two criteria: accuracy
falls along no axis, and at least one axis at its largest setting beats ``k1-r1`` by 5 points or more with
p < 0.05 (or says plainly that none does). ``python -m evals plot`` writes it into a scaling run's summary.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evals.tables import (
    BASE_SETTING,
    answer_cells,
    base_setting,
    context_of_records,
    holm_family,
    mean,
    pair_cells,
    scaling_axes,
)

#: The gain over the base the largest setting of an axis must reach (issue 28), with p below ALPHA.
MIN_GAIN = 0.05
ALPHA = 0.05

Row = Mapping[str, Any]


def acceptance_table(records: Iterable[Mapping[str, Any]], base: str | None = None) -> list[dict[str, Any]]:
    """One row per (axis, sleep level, setting along it, growing): n (the examples every setting of the axis
    answered at that level), accuracy and right answers, mean sleep output tokens per context, against the base:
    the accuracy difference, right only with the setting / only with the base, the exact McNemar p and ``p_holm``;
    ``falls``: accuracy below the previous setting's on the axis. The base (``base``) is the run's least setting
    (``evals.tables.base_setting``) unless given."""
    records = list(records)
    cells = answer_cells(records)
    base = base or base_setting(s for (m, s, _) in cells if m == "sleep")
    context_of = context_of_records(records)
    holm = holm_family(records)
    axes = scaling_axes({s for (m, s, _) in cells if m == "sleep"}, base)
    rows: list[dict[str, Any]] = []
    for axis, settings in axes.items():
        for b in sorted({b for (m, s, b) in cells if m == "sleep" and s == base}):
            at = [s for s in settings if ("sleep", s, b) in cells]
            if len(at) < 2:
                continue
            ids = set.intersection(*(set(cells[("sleep", s, b)]) for s in at))
            base_cell = {e: r for e, r in cells[("sleep", base, b)].items() if e in ids}
            previous: int | None = None
            for s in at:
                cell = {e: r for e, r in cells[("sleep", s, b)].items() if e in ids}
                pair = pair_cells(base_cell, cell, context_of)
                right = int(sum(pair.arm))
                p, test = pair.p() if s != base else (float("nan"), "")
                rows.append({
                    "axis": axis, "budget": b, "setting": s, "base": base, "n": len(ids), "right": right,
                    "accuracy": mean(pair.arm), "mean_sleep_output_tokens":
                        mean(r.get("sleep_output_tokens") for r in cell.values()),
                    "diff_vs_base": mean(pair.arm) - mean(pair.base) if ids else float("nan"),
                    "right_only_setting": pair.wins, "right_only_base": pair.losses, "p": p, "p_test": test,
                    "p_holm": holm.get((base, "sleep", s, str(b)), float("nan")),
                    "falls": previous is not None and right < previous,
                })
                previous = right
    return rows


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def by_axis(rows: Sequence[Row]) -> dict[tuple[str, int], list[Row]]:
    """The acceptance rows grouped by (axis, level), each group growing: its last row is the axis's largest
    setting at that level."""
    groups: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        groups.setdefault((str(r["axis"]), int(r["budget"])), []).append(r)
    return groups


def beats_base(row: Row) -> bool:
    """The issue's second criterion for one setting: at least MIN_GAIN over the base with p below ALPHA."""
    return bool(row["diff_vs_base"] >= MIN_GAIN and row["p"] < ALPHA)


def acceptance_lines(rows: Sequence[Row]) -> list[str]:
    """Plain lines: per axis and level the settings' counts, each against the base, and where accuracy falls;
    then the verdict on the issue's two criteria."""
    base = str(rows[0]["base"]) if rows else BASE_SETTING
    lines: list[str] = []
    groups = by_axis(rows)
    falls: list[str] = []
    wins: list[str] = []
    best: list[tuple[float, str]] = []
    for (axis, b), at in groups.items():
        parts = []
        for r in at:
            text = f"{r['setting']} {r['right']}/{r['n']} ({r['mean_sleep_output_tokens']:.0f} sleep tokens)"
            if r["setting"] != base:
                text += (f" [{r['right_only_setting']} vs {r['right_only_base']} right only with it / only with "
                         f"{base}, {_p(r['p'])}, Holm {r['p_holm']:.3f}]")
            parts.append(text)
        fell = [f"{prev['setting']} {prev['right']} -> {r['setting']} {r['right']}"
                for prev, r in itertools.pairwise(at) if r["falls"]]
        where = f"{axis}, level {b}"
        lines.append(f"{where}: " + "; ".join(parts) + (f". Falls: {', '.join(fell)}" if fell else ". Never falls"))
        if fell:
            falls.append(where)
        top = at[-1]
        gain = float(top["diff_vs_base"])
        summary = f"{top['setting']} at level {b} ({gain * 100:+.1f} points, {_p(top['p'])}, Holm {top['p_holm']:.3f})"
        best.append((gain, summary))
        if beats_base(top):
            wins.append(summary)
    if not groups:
        return [f"no scaling axis: the run has no sleep setting beside {base} along samples, rounds or question work"]
    lines.append("Accuracy falls as sleep compute grows: " + ("; ".join(falls) if falls else "along no axis")
                 + " (criterion 1: " + ("not met" if falls else "met") + ")")
    if wins:
        lines.append(f"Largest setting beats {base} by >= {MIN_GAIN * 100:.0f} points with p < {ALPHA}: "
                     + "; ".join(wins) + " (criterion 2: met; the Holm p says whether it survives the run's "
                     "other comparisons)")
    else:
        top_gain = max(best)[1]
        lines.append(f"No axis at its largest setting beats {base} by >= {MIN_GAIN * 100:.0f} points with "
                     f"p < {ALPHA} (criterion 2: not met; closest: {top_gain})")
    return lines
