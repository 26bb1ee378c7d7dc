"""Every experiment end to end through the CLI at --limit 3 on the embedded SmolLM2-135M and the tiny set.

Budgets and token caps are kept small, and --n-questions 0 skips the JSON predict step SmolLM2 cannot do, so
the module runs in a few minutes on two shared cores; the point is the plumbing (real usage reports, resume,
tables, figures), not SmolLM2's accuracy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from evals.__main__ import main
from evals.capped import FORCE_TOKENS
from evals.records import RECORDS_FILE, read_records

MODEL = "embedded:smollm2-135m"
COMMON = ["--dataset", "tiny", "--limit", "3", "--model", MODEL, "--budgets", "0", "--max-rounds", "1",
          "--n-questions", "0", "--max-tokens-sleep", "48", "--max-tokens-wake", "24", "--no-progress"]
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, experiment: str, *extra: str) -> tuple[Path, list[dict[str, object]]]:
    out = tmp_path / experiment
    assert main([experiment, "--out", str(out), *COMMON, *extra]) == 0
    records = read_records(out / RECORDS_FILE)
    assert (out / "summary.md").exists() and (out / "summary.csv").exists()
    assert (out / "accuracy_vs_tokens.png").stat().st_size > 1000
    return out, records


def _answers(records: list[dict[str, object]], mode: str) -> list[dict[str, object]]:
    return [r for r in records if r.get("mode") == mode]


def test_pareto_end_to_end_and_resume(tmp_path: Path) -> None:
    out, records = _run(tmp_path, "pareto")
    tt, sl = _answers(records, "test-time"), _answers(records, "sleep")
    assert len(tt) == 3 and len(sl) == 3
    ok = [r for r in tt + sl if not r.get("error")]
    assert ok, records
    assert all(isinstance(r["output_tokens"], int) and int(str(r["output_tokens"])) > 0 for r in ok)
    assert all(int(str(r["input_tokens"])) > 0 for r in ok)
    assert all(int(str(r["sleep_output_tokens"])) > 0 for r in sl if not r.get("error"))
    before = (out / RECORDS_FILE).read_text()
    assert main(["pareto", "--out", str(out), *COMMON]) == 0  # resume: nothing to do
    assert (out / RECORDS_FILE).read_text() == before
    # Figures regenerate from the JSONL alone, in a fresh process.
    (out / "accuracy_vs_tokens.png").unlink()
    subprocess.run([sys.executable, "-m", "evals", "plot", str(out)], cwd=ROOT, check=True, capture_output=True)
    assert (out / "accuracy_vs_tokens.png").exists()


def test_cap_mode_holds_the_cap_on_a_real_model(tmp_path: Path) -> None:
    _, records = _run(tmp_path, "pareto", "--budget-mode", "cap", "--budgets", "16,48")
    ok = [r for r in _answers(records, "test-time") + _answers(records, "sleep") if not r.get("error")]
    assert ok and {r["budget"] for r in ok} == {16, 48}
    for r in ok:  # the model's own usage reports: the cap holds, and forcing adds at most FORCE_TOKENS
        capped, total = int(str(r["capped_output_tokens"])), int(str(r["output_tokens"]))
        assert capped <= int(str(r["budget"])), r
        assert total - capped <= (FORCE_TOKENS if r["forced"] else 0), r


def test_passk_end_to_end(tmp_path: Path) -> None:
    _, records = _run(tmp_path, "passk", "--k", "2")
    assert len(_answers(records, "sample")) == 3 * 2
    assert len(_answers(records, "sleep")) == 3


def test_scaling_end_to_end(tmp_path: Path) -> None:
    _, records = _run(tmp_path, "scaling", "--scale-samples", "1,2", "--scale-rounds", "1")
    runs = _answers(records, "sleep-run")
    assert sorted(str(r["setting"]) for r in runs) == ["k1-r1"] * 3 + ["k2-r1"] * 3


def test_amortization_end_to_end(tmp_path: Path) -> None:
    out, records = _run(tmp_path, "amortization", "--queries", "3")
    assert len(_answers(records, "sleep-run")) == 2  # the tiny set has two multi-query contexts
    assert len(_answers(records, "test-time")) == 6 and len(_answers(records, "sleep")) == 6
    assert (out / "cost_per_query.png").exists()
    assert "cost_per_query" in (out / "summary_amortization.csv").read_text()


def test_predictability_end_to_end(tmp_path: Path) -> None:
    out, records = _run(tmp_path, "predictability", "--lp-n-ctx", "512", "--bins", "3")
    lps = _answers(records, "logprob")
    assert len(lps) == 3 and all(float(str(r["logprob"])) < 0 for r in lps), lps
    assert (out / "gain_by_predictability.png").exists()


def test_context_only_end_to_end(tmp_path: Path) -> None:
    _, records = _run(tmp_path, "context-only")
    guesses = _answers(records, "context-only")
    assert len(guesses) == 3
    assert all(r["output_tokens"] == 0 and int(str(r["sleep_output_tokens"])) > 0 for r in guesses)


def test_budget_by_predictability_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "budget"
    args = ["sleep-budget", "--dataset", "tiny", "--limit", "2", "--model", MODEL, "--out", str(out),
            "--units-per-context", "2", "--tokens-per-unit", "32", "--max-rounds", "2", "--max-samples", "1",
            "--n-questions", "0", "--probe-tokens", "32", "--max-tokens-wake", "24"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    uniform, weighted = summary["arms"]["uniform"], summary["arms"]["weighted"]
    assert uniform["n"] == weighted["n"] == 2 and uniform["units"] == [2, 2]
    assert weighted["probe_output_tokens"] > 0  # the model's own usage reports
    assert uniform["sleep_output_tokens"] > 0 and uniform["test_time_output_tokens"] > 0
    assert (out / "budget.png").stat().st_size > 1000
    before = (out / "records.jsonl").read_text()
    assert main(args) == 0  # resume: nothing to do
    assert (out / "records.jsonl").read_text() == before
