"""`python -m evals pair`: one setting of a run against one of another run, paired by example id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.__main__ import main
from evals.pair import Arm, pair_arms, pair_lines
from sleeptime.errors import InvalidInputError


def _run(folder: Path, setting: str, grades: dict[str, bool], level: int = 0) -> Path:
    folder.mkdir()
    mode = "test-time" if setting == "test-time" else "sleep"
    rows = [{"example_id": e, "mode": mode, "setting": None if mode == "test-time" else setting, "budget": level,
             "correct": right, "key": f"{e}|{mode}|{level}|{setting}"} for e, right in grades.items()]
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_pairs_on_the_examples_both_answered(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", "k1-r1-q2", {"e1": True, "e2": False, "e3": False, "e4": True})
    b = _run(tmp_path / "b", "k1-r1-q4", {"e2": True, "e3": True, "e4": False, "e5": True})
    paired = pair_arms(Arm(str(a), "k1-r1-q2"), Arm(str(b), "k1-r1-q4"), 0)
    assert paired.ids == ["e2", "e3", "e4"]  # e1 and e5 were answered by one run only
    assert (paired.wins, paired.losses) == (2, 1)
    (line,) = pair_lines(Arm(str(a), "k1-r1-q2"), Arm(str(b), "k1-r1-q4"), [0])
    assert "n = 3" in line and "b:k1-r1-q4 2/3 vs a:k1-r1-q2 1/3" in line and "p = 1.000" in line


def test_test_time_arm_and_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a", "test-time", {f"e{i}": False for i in range(8)})
    b = _run(tmp_path / "b", "k1-r1", {f"e{i}": True for i in range(8)})
    assert main(["pair", f"{a}:test-time", f"{b}:k1-r1"]) == 0
    assert "8 vs 0 right only with one, exact McNemar p = 0.008" in capsys.readouterr().out


def test_bad_arms_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a", "k1-r1", {"e1": True})
    with pytest.raises(InvalidInputError, match="RUN_DIR:SETTING"):
        Arm.parse("k1-r1")
    with pytest.raises(InvalidInputError, match=r"no answers at level 1 \(the run holds k1-r1@0\)"):
        pair_arms(Arm(str(a), "k1-r1"), Arm(str(a), "k1-r1"), 1)
    assert main(["pair", f"{tmp_path / 'missing'}:k1-r1", f"{a}:k1-r1"]) == 2
    assert "no records.jsonl" in capsys.readouterr().err
