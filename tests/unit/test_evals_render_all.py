"""`python -m evals plot` with no path: every results folder regenerated from synthetic records, byte for byte."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main
from evals.notes_tables import accuracy_table, head_to_head_table, quality_table, read_notes_records
from evals.render_all import index_results, render_notes
from evals.stats import mcnemar_exact
from sleeptime.errors import InvalidInputError
from tests.eval_runs import write_run


def _answers(settings: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(8):
        e = f"e{i}"
        for b, toks in ((0, 6), (1, 40)):
            out.append({"key": f"{e}|test-time|{b}", "example_id": e, "mode": "test-time", "budget": b,
                        "setting": None, "correct": i < 2 + b, "output_tokens": toks, "input_tokens": 90})
            for k, s in enumerate(settings):
                out.append({"key": f"{e}|sleep|{b}|{s}", "example_id": e, "mode": "sleep", "budget": b, "setting": s,
                            "correct": i < 3 + k, "output_tokens": toks // 2, "input_tokens": 300,
                            "sleep_output_tokens": 200 * (k + 1)})
    return out


def _notes_records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(10):
        base = {"id": f"symbolic-{i}", "set": "symbolic"}
        out.append(base | {"kind": "notes", "key": "new/m", "gold": 2, "recalled": 1, "stated": 2, "right": i % 2,
                           "output_tokens": 100, "truncated": i == 0})
        out.append(base | {"kind": "notes", "key": "old/m", "gold": 2, "recalled": 2, "stated": 0, "right": 0,
                           "output_tokens": 300, "truncated": False})
        out.append(base | {"kind": "answer", "key": "none/-/b1", "correct": i < 2, "output_tokens": 40})
        out.append(base | {"kind": "answer", "key": "new/m/b1", "correct": i < 8, "output_tokens": 20})
        out.append(base | {"kind": "answer", "key": "oracle/-/b1", "correct": i != 0, "output_tokens": 10})
    return out


def _results(root: Path) -> None:
    write_run(root / "p1", "pareto", _answers(("k1-r1",)), budgets=[0, 1])
    write_run(root / "scale", "scaling", _answers(("k1-r1", "k2-r1")), budgets=[0, 1])
    (root / "notes").mkdir()
    lines = [json.dumps(r) for r in _notes_records()]
    (root / "notes" / "run.jsonl").write_text("\n".join(lines) + '\n{"id": "symbolic-10", "se')  # still writing
    (root / "verified").mkdir()
    (root / "verified" / "summary.json").write_text(json.dumps({"verified": {"all": {
        "n": 50, "served": 20, "wrong_served": 0}}}))


def _outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.suffix in (".md", ".csv")}


def test_plot_all_regenerates_every_folder_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _results(tmp_path / "results")
    stale = "# x\n\n<!-- headline:start -->\nSTALE\n<!-- headline:end -->\n\nrest\n"
    package_readme = tmp_path / "README.md"
    package_readme.write_text(stale)
    readme = tmp_path / "results" / "README.md"  # where the block goes with no --readme
    readme.write_text(stale)
    assert main(["plot", "--results", "results"]) == 0
    out = capsys.readouterr().out
    assert "results/p1: run dir" in out and "results/notes/run.jsonl: notes records" in out
    assert "results/verified: left as it is" in out and "wrote headline block in results/README.md" in out
    assert package_readme.read_text() == stale  # the package README holds no generated block
    root = tmp_path / "results"
    assert (root / "scale" / "accuracy_vs_sleep_tokens.png").read_bytes()[:4] == b"\x89PNG"
    assert (root / "p1" / "accuracy_vs_tokens.png").exists() and (root / "notes" / "run.png").exists()
    first = _outputs(root)
    assert {"p1/summary.md", "scale/summary_paired.csv", "notes/run.summary.md", "notes/run_accuracy.csv",
            "notes/run_quality.csv"} <= set(first)
    text = readme.read_text()
    assert main(["plot", "--all", "--results", "results"]) == 0
    assert "unchanged: headline block" in capsys.readouterr().out
    assert _outputs(root) == first and readme.read_text() == text
    assert text.endswith("<!-- headline:end -->\n\nrest\n") and "STALE" not in text
    assert main(["headline", "--results", "results"]) == 0
    assert "unchanged: headline block in results/README.md" in capsys.readouterr().out
    assert package_readme.read_text() == stale


def test_notes_tables_pair_each_arm_with_the_files_none_arm(tmp_path: Path) -> None:
    recs = _notes_records()
    quality = {r["prompt"]: r for r in quality_table(recs)}
    assert quality["new"]["recall"] == 0.5 and quality["new"]["precision"] == 5 / 20
    assert quality["old"]["precision"] is None and quality["new"]["truncated"] == 1
    rows = {r["arm"]: r for r in accuracy_table(recs)}
    assert rows["none"]["mcnemar_p"] is None and rows["none"]["accuracy"] == 0.2
    new = rows["new"]
    assert (new["right_only_arm"], new["right_only_none"], new["n_paired"]) == (6, 0, 10)
    assert new["mcnemar_p"] == mcnemar_exact(6, 0) and new["token_ratio"] == 2.0
    assert new["accuracy_lo"] < 0.8 < new["accuracy_hi"]
    oracle = rows["oracle"]
    assert (oracle["right_only_arm"], oracle["right_only_none"]) == (8, 1)
    # A file without a none arm: the pairing columns are empty, the accuracy is still there.
    alone = accuracy_table([r for r in recs if r["key"] != "none/-/b1"])
    assert all(r["n_paired"] is None for r in alone) and {r["arm"] for r in alone} == {"new", "oracle"}


def test_notes_records_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n{"id": 2}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: corrupt"):
        read_notes_records(bad)
    other = tmp_path / "other.jsonl"
    other.write_text('{"snapshot": "click"}\n')
    with pytest.raises(InvalidInputError, match="no note-quality records"):
        render_notes(other)
    assert index_results(tmp_path).notes_files == []
    with pytest.raises(InvalidInputError, match="not found"):
        index_results(tmp_path / "missing")


def test_notes_files_of_a_folder_pool_by_example_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _notes_records()))
    # notes slept on a bigger model, answered on the same wake model: no none arm of its own
    big = [{"id": f"symbolic-{i}", "set": "symbolic", "kind": "answer", "key": "new/big/b1", "correct": i < 5,
            "output_tokens": 30} for i in range(12)]
    (root / "notes" / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in big))
    assert main(["plot", "--results", str(root), "--readme", str(tmp_path / "none.md")]) == 0
    assert "2 notes files pooled" in capsys.readouterr().out
    rows = list(csv.DictReader((root / "notes" / "pooled_accuracy.csv").read_text().splitlines()))
    pooled = next(r for r in rows if r["sleep_model"] == "big")
    # paired on the 10 ids the none arm answered: right only with big notes on ids 2-4
    assert (pooled["n"], pooled["n_paired"], pooled["right_only_arm"], pooled["right_only_none"]) == (
        "12", "10", "3", "0")
    alone = list(csv.DictReader((root / "notes" / "b_accuracy.csv").read_text().splitlines()))
    assert [r["n_paired"] for r in alone] == [""]  # on its own, b.jsonl has nothing to pair with
    # two files grading the same answer differently are not pooled
    clash = [r | {"correct": not r["correct"]} for r in _notes_records() if r["key"] == "none/-/b1"]
    (root / "notes" / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clash))
    (root / "notes" / "pooled_accuracy.csv").unlink()
    assert main(["plot", "--results", str(root), "--readme", str(tmp_path / "none.md")]) == 0
    assert "not pooled, 10 answers graded differently" in capsys.readouterr().out
    assert not (root / "notes" / "pooled_accuracy.csv").exists()


def test_slept_arms_of_one_sleep_model_meet_head_to_head() -> None:
    recs = _notes_records()
    for i in range(9):  # one id fewer: pairs only on the ids both answered
        recs.append({"id": f"symbolic-{i}", "set": "symbolic", "kind": "answer", "key": "old/m/b1",
                     "correct": i in (0, 8), "output_tokens": 30})
    recs.append({"id": "symbolic-0", "set": "symbolic", "kind": "answer", "key": "new/other/b1", "correct": True,
                 "output_tokens": 30})  # another sleep model: never paired with m's arms
    (row,) = head_to_head_table(recs)
    assert (row["arm"], row["other"], row["sleep_model"], row["budget"]) == ("new", "old", "m", 1)
    assert (row["n_paired"], row["correct_arm"], row["correct_other"]) == (9, 8, 2)
    assert (row["right_only_arm"], row["right_only_other"]) == (7, 1)
    assert row["mcnemar_p"] == mcnemar_exact(7, 1)


def test_plot_writes_the_package_readme_two_folders_above_the_results_only(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from evals.payoff import END, START

    repo = tmp_path / "repo"
    (repo / "evals" / "results").mkdir(parents=True)
    readme = repo / "README.md"
    readme.write_text(f"# x\n\n{START}\nold\n{END}\n", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "README.md").write_text(f"{START}\nkeep\n{END}\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)  # the working folder's README is not the package README
    assert main(["plot", "--results", str(repo / "evals" / "results")]) == 0
    assert "Not measured yet" in readme.read_text(encoding="utf-8")
    assert (elsewhere / "README.md").read_text(encoding="utf-8") == f"{START}\nkeep\n{END}\n"
