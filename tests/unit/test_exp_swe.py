"""The SWE-Features experiment: scoring, and the whole pipeline on a tiny made-up codebase (scripted model)."""

from __future__ import annotations

import json
from pathlib import Path

from evals import exp_swe


def test_predicted_files_map_names_onto_the_snapshot() -> None:
    known = ["click/core.py", "click/types.py", "click/_termui_impl.py"]
    answer = "Change click/core.py and types.py.\nAlso ./click/_termui_impl.py; not missing.py"
    assert exp_swe.predicted_files(answer, known) == ["click/core.py", "click/types.py", "click/_termui_impl.py"]


def test_f1_and_bootstrap() -> None:
    assert exp_swe.f1(["a.py", "b.py"], ["a.py"]) == 2 * 0.5 * 1 / 1.5
    assert exp_swe.f1([], ["a.py"]) == 0.0
    mean, lo, hi = exp_swe.bootstrap([0.0, 1.0, 1.0, 0.0])
    assert mean == 0.5 and 0.0 <= lo < mean < hi <= 1.0
    assert exp_swe.bootstrap([0.7] * 5) == (0.7, 0.7, 0.7)


def _dataset(root: Path) -> Path:
    src = root / "snapshots" / "click-1.0" / "click"
    src.mkdir(parents=True)
    for name, topic in [("core", "command context invoke"), ("termui", "pager echo prompt"),
                        ("exceptions", "usage error")]:
        body = "\n\n".join(f"def {name}_{i}():\n    '''{topic} helper {i}.'''\n    return {i}" for i in range(60))
        (src / f"{name}.py").write_text(body)
    tasks = [
        {"id": "t1", "snapshot": "click-1.0", "title": "pager fix", "changelog": ["Fix the pager echo."],
         "gold_files": ["click/termui.py"]},
        {"id": "t2", "snapshot": "click-1.0", "title": "invoke context", "changelog": [],
         "gold_files": ["click/core.py"]},
    ]
    (root / "tasks.jsonl").write_text("\n".join(json.dumps(t) for t in tasks) + "\n")
    return root


def test_pipeline_runs_resumes_and_summarizes(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    argv = ["--model", "scripted", "--data", str(data), "--out", str(out), "--store", str(tmp_path / "store"),
            "--budgets", "300,900"]
    exp_swe.main(argv)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {(r["id"], r["arm"]) for r in records} == {
        (t, a) for t in ("t1", "t2") for a in ("rag@300", "rag@900", "sleep@300", "sleep@900")
    }
    assert all(r["wake_in"] <= 900 + 400 for r in records)
    sleeps = [json.loads(line) for line in (out / "sleeps.jsonl").read_text().splitlines()]
    assert sleeps[-1]["resleep_in"] < sleeps[-1]["sleep_in"] / 2  # one changed file: one part re-reflected
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["arms"]) == {"rag@300", "rag@900", "sleep@300", "sleep@900"}
    assert "texts.jsonl" in {p.name for p in out.iterdir()}
    exp_swe.main(argv)  # resumes: nothing new recorded
    assert len((out / "records.jsonl").read_text().splitlines()) == len(records)
