"""One arm of a run against one arm of another, on the examples both answered (``python -m evals pair``).

A run's own tables pair its settings with each other; a setting added later in its own run (same instances,
same models) is paired here with the earlier run's settings, by example id, with the same exact McNemar test.
An arm is ``RUN_DIR:SETTING``; ``test-time`` names the run's answers without sleep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.records import RECORDS_FILE, read_jsonl
from evals.tables import Paired, answer_cells, pair_cells
from sleeptime.errors import InvalidInputError

__all__ = ["Arm", "pair_arms", "pair_lines"]

TEST_TIME = "test-time"


@dataclass(frozen=True)
class Arm:
    """A run folder and one of its settings (``test-time``: no sleep)."""

    run_dir: str
    setting: str

    @classmethod
    def parse(cls, text: str) -> Arm:
        run_dir, sep, setting = text.rpartition(":")
        if not sep or not run_dir or not setting:
            raise InvalidInputError(f"an arm is RUN_DIR:SETTING (e.g. evals/results/decisive-base-2802:k1-r1-q2 "
                                    f"or RUN_DIR:test-time); got {text!r}")
        return cls(run_dir, setting)

    @property
    def label(self) -> str:
        return f"{Path(self.run_dir).name}:{self.setting}"


Cells = dict[tuple[str, str, int], dict[str, Mapping[str, Any]]]


def _cells(arm: Arm) -> Cells:
    """Every answer cell of the arm's run, read once for all the levels asked."""
    path = Path(arm.run_dir) / RECORDS_FILE
    if not path.is_file():
        raise InvalidInputError(f"{arm.label}: no {RECORDS_FILE} in {arm.run_dir}")
    return answer_cells(read_jsonl(path))


def _at(arm: Arm, cells: Cells, level: int) -> dict[str, Mapping[str, Any]]:
    key = ("test-time", "None", level) if arm.setting == TEST_TIME else ("sleep", arm.setting, level)
    if key not in cells:
        held = sorted({f"{s if m == 'sleep' else TEST_TIME}@{b}" for m, s, b in cells if m in ("sleep", "test-time")})
        raise InvalidInputError(f"{arm.label}: no answers at level {level} (the run holds {', '.join(held)})")
    return cells[key]


def pair_arms(base: Arm, arm: Arm, level: int) -> Paired:
    """`arm` against `base` at wake level `level`, on the examples both answered."""
    return pair_cells(_at(base, _cells(base), level), _at(arm, _cells(arm), level), {})


def pair_lines(base: Arm, arm: Arm, levels: Sequence[int]) -> list[str]:
    """A line a level: n, each arm's right answers, the discordant pairs and the exact McNemar p."""
    base_cells, arm_cells = _cells(base), _cells(arm)
    lines: list[str] = []
    for level in levels:
        paired = pair_cells(_at(base, base_cells, level), _at(arm, arm_cells, level), {})
        if not paired.ids:
            lines.append(f"level {level}: {arm.label} and {base.label} share no answered example")
            continue
        p, test = paired.p()
        n = len(paired.ids)
        lines.append(f"level {level}, n = {n}: {arm.label} {int(sum(paired.arm))}/{n} vs {base.label} "
                     f"{int(sum(paired.base))}/{n} ({paired.wins} vs {paired.losses} right only with one, "
                     f"{test} p = {p:.3f})")
    return lines
