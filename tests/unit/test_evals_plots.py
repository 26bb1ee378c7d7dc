"""Figures and tables regenerate from a JSONL fixture written here, without any model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main
from evals.plots import markdown_table, render_run
from tests.eval_runs import write_run


def _budget_records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(6):
        eid = f"e{i}"
        out.append({"key": f"{eid}|logprob", "example_id": eid, "mode": "logprob", "logprob": -float(i),
                    "question_tokens": 5})
        out.append({"key": f"{eid}|sleep-run|k1-r1", "example_id": eid, "mode": "sleep-run", "setting": "k1-r1",
                    "sleep_output_tokens": 300})
        for b, toks in ((0, 5), (4, 120)):
            out.append({"key": f"{eid}|test-time|{b}", "example_id": eid, "mode": "test-time", "budget": b,
                        "setting": None, "correct": b == 4 or i < 2, "output_tokens": toks, "input_tokens": 90,
                        "sleep_output_tokens": 0})
            out.append({"key": f"{eid}|sleep|{b}|k1-r1", "example_id": eid, "mode": "sleep", "budget": b,
                        "setting": "k1-r1", "correct": i < 4, "output_tokens": toks // 2, "input_tokens": 300,
                        "sleep_output_tokens": 300})
    return out


def test_pareto_figure_and_tables_from_jsonl(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_run(run, "pareto", _budget_records(), torn=True)
    tables = render_run(run)
    assert (run / "accuracy_vs_tokens.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "cost_per_query_projected.png").exists()
    rows = {(r["mode"], r["budget"]): r for r in tables["summary"]}
    assert rows[("test-time", 4)]["accuracy"] == 1.0 and rows[("sleep", 4)]["mean_output_tokens"] == 60
    md = (run / "summary.md").read_text()
    assert "python -m evals pareto" in md and "## Ratios" in md and "| mode | setting | budget |" in md
    assert "Holm-Bonferroni adjusted p values (`p_holm`) treat every paired comparison of this run as one family" in md
    assert "Cost per query (projected from single-question records" in md and "## amortization_equal_accuracy" in md
    assert {r["basis"] for r in tables["amortization_equal_accuracy"]} == {"projected from single-question records"}
    assert {r["queries_per_context"] for r in tables["amortization_equal_accuracy"]} == {1, 5, 10}
    paired_head = (run / "summary_paired.csv").read_text().splitlines()[0].split(",")
    assert paired_head.index("p_holm") == paired_head.index("mcnemar_p") + 2  # beside the raw p (after its test)
    csv_head = (run / "summary.csv").read_text().splitlines()[0]
    assert csv_head.startswith("mode,setting,budget,n,accuracy,mean_output_tokens")


def test_predictability_bars_and_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "pred"
    write_run(run, "predictability", _budget_records(), bins=3, torn=True)
    assert main(["plot", str(run)]) == 0
    assert "wrote summary" in capsys.readouterr().out
    assert (run / "gain_by_predictability.png").exists()
    lines = (run / "summary_predictability.csv").read_text().splitlines()
    assert len(lines) == 1 + 3


def test_amortization_and_passk_figures(tmp_path: Path) -> None:
    amort = tmp_path / "amort"
    recs: list[dict[str, Any]] = [{"key": "c|sleep-run|k1-r1", "mode": "sleep-run", "context_id": "c",
                                   "example_id": "c", "sleep_output_tokens": 200}]
    for i in range(3):
        for mode, toks in (("test-time", 40), ("sleep", 10)):
            recs.append({"key": f"c|q{i}|{mode}|1", "example_id": f"c|q{i}", "context_id": "c", "query_index": i,
                         "mode": mode, "budget": 1, "correct": True, "output_tokens": toks, "input_tokens": 1})
    write_run(amort, "amortization", recs, torn=True)
    tables = render_run(amort)
    assert (amort / "cost_per_query.png").exists()
    sleep = {r["queries_per_context"]: r["cost_per_query"] for r in tables["amortization"] if r["mode"] == "sleep"}
    assert sleep == {1: 300.0, 2: 200.0, 3: pytest.approx(200 / 3 + 100)}
    assert {r["basis"] for r in tables["amortization"]} == {"measured (Multi-Query)"}

    passk = tmp_path / "passk"
    recs = [{"key": f"e|sample|0|{s}", "example_id": "e", "mode": "sample", "budget": 0, "sample": s,
             "correct": s == 1, "extracted": str(s), "output_tokens": 5, "input_tokens": 1} for s in range(3)]
    write_run(passk, "passk", recs, torn=True)
    tables = render_run(passk)
    assert {r["mode"] for r in tables["passk"]} >= {"pass@1", "pass@3", "majority@3"}
    assert (passk / "accuracy_vs_tokens.png").exists()


def test_markdown_table_formats() -> None:
    text = markdown_table([{"a": 1, "b": 0.5}, {"a": None, "b": float("nan"), "c": 123.456}])
    assert text.splitlines()[0] == "| a | b | c |"
    assert "| 1 | 0.500 |  |" in text and "|  | nan | 123.5 |" in text
    assert markdown_table([]) == "(no rows)\n"


def test_tables_use_the_latest_commands_budgets(tmp_path: Path) -> None:
    # A run resumed with --budgets 0 after an earlier command measured budget 4 on the first examples only.
    records = [r for r in _budget_records() if r.get("budget") != 4 or r["example_id"] in ("e0", "e1")]
    run = tmp_path / "run"
    write_run(run, "pareto", records, budgets=[0], torn=True)
    tables = render_run(run)
    rows = {(r["mode"], r["budget"]): r for r in tables["summary"]}
    assert set(rows) == {("test-time", 0), ("sleep", 0)} and rows[("sleep", 0)]["n"] == 6  # no example dropped
    assert "4 records at budget levels the latest command did not ask for" in (run / "summary.md").read_text()
