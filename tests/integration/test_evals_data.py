"""The real evaluation data under ../shared/data (read at run time, never committed).

Skipped with a reason when the folder is missing. Set SLEEPTIME_DATA_DIR to point elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.datasets import load_dataset, resolve_data_dir
from evals.grading import grade_gsm, parse_number
from evals.templates import check_templates

DATA = resolve_data_dir()
pytestmark = pytest.mark.skipif(
    not (DATA / "gsm-symbolic").is_dir(),
    reason=f"evaluation data not found at {DATA} (expected ../shared/data from the project root)",
)

# Templates whose '#answer' contradicts their own worked solution where the conditions hold.
# PAPER.md names p1/0074, p1/0089, p2/0026 and symbolic/0062. p1/0006 is found here too: its '#answer'
# lacks the solution's int(), and its conditions do not force a whole number for every fraction in the
# word list this project uses (Apple's own lists are unreleased), so it disagrees on some draws.
KNOWN_BAD = {"p1/0074", "p1/0089", "p2/0026", "symbolic/0062"}
ALSO_FOUND = {"p1/0006", "p2/0008"}


def test_p2_loads_2500_split_examples() -> None:
    examples = load_dataset("gsm-p2")
    assert len(examples) == 2500
    assert len({e.id for e in examples}) == 2500
    for e in examples:
        assert e.context.strip(), e.id
        assert e.question.strip(), e.id
        assert parse_number(e.answer) is not None, e.id
    # The sentence rule never truncates a question at an abbreviation or a decimal.
    assert not [e.id for e in examples if e.question.split()[0][0].islower()]


def test_p2_paper_rule_differs_only_where_expected() -> None:
    sentence = load_dataset("gsm-p2")
    paper = load_dataset("gsm-p2", split_rule="paper")

    def norm(s: str) -> str:
        return " ".join(s.split()).rstrip(".?")

    q_diff = {s.meta["template"] for s, p in zip(sentence, paper, strict=True) if norm(s.question) != norm(p.question)}
    assert q_diff == {32, 34}  # "Mrs. Smith", "Dr. Miller" cut the question under the paper's rule


@pytest.mark.parametrize("folder", ["p1", "p2", "symbolic"])
def test_templates_agree_with_their_own_example(folder: str) -> None:
    checks = check_templates(DATA / "gsm-symbolic" / "templates" / folder, samples=5)
    assert len(checks) == {"p1": 100, "p2": 50, "symbolic": 100}[folder]
    # Only an example with a variable that has no example value (so it is drawn) may fail to evaluate.
    unreadable = [(c.template_id, c.note) for c in checks if c.agrees is None and "were sampled" not in c.note]
    assert not unreadable
    # At the template's own example values, where they satisfy the conditions, '#answer' and the
    # worked solution agree, except for the known-bad templates.
    at_example = {c.template_id for c in checks if c.example_meets_conditions and c.agrees is False}
    assert at_example <= KNOWN_BAD
    found = {c.template_id for c in checks if c.answer_disagrees}
    assert found <= KNOWN_BAD | ALSO_FOUND
    assert {t for t in KNOWN_BAD if t.startswith(folder + "/")} <= found
    if folder == "symbolic":  # here the template's question is its own example: compare released answers
        compared = [c for c in checks if c.matches_original is not None]
        assert len(compared) >= 45
        mismatched = {c.template_id for c in compared if not c.matches_original}
        assert mismatched <= {"symbolic/0009", "symbolic/0022"}


def test_p1_generation_is_deterministic_and_well_formed() -> None:
    first = load_dataset("gsm-p1", limit=150, seed=0)
    assert len(first) == 150  # p1/0078 never meets its conditions: skipped and reported
    assert first[:30] == load_dataset("gsm-p1", limit=30, seed=0)
    assert first[:30] != load_dataset("gsm-p1", limit=30, seed=1)
    assert len({e.meta["template"] for e in first}) >= 95  # instance-major: many templates in a prefix
    single_sentence = {e.id for e in first if not e.context}
    assert {i.split("-")[1] for i in single_sentence} <= {"0099"}  # a one-sentence template: no context
    for e in first:
        assert e.question.strip(), e.id
        assert "{" not in e.meta["full_question"], e.id
        assert parse_number(e.answer) is not None, e.id


def test_base_generation_is_deterministic_and_its_solutions_grade_right() -> None:
    first = load_dataset("gsm-base", limit=200, seed=0)
    assert len(first) == 200 and first[:30] == load_dataset("gsm-base", limit=30, seed=0)
    assert first[:30] != load_dataset("gsm-base", limit=30, seed=1)
    assert len({e.meta["template"] for e in first}) >= 95
    rendered = [e for e in first if e.meta["solution"]]
    assert len(rendered) >= 190  # a solution that does not render leaves "" (the oracle arm then has no notes)
    assert all(grade_gsm(e.meta["solution"], e.answer) for e in rendered)
    assert sum("<<" in e.meta["solution"] for e in rendered) >= 180


def test_aime_loads_30() -> None:
    examples = load_dataset("aime")
    assert len(examples) == 30
    assert all(e.question.strip() and 0 <= int(e.answer) <= 999 for e in examples)
    assert sum(1 for e in examples if e.context.strip()) >= 28
    assert {e.id for e in examples if e.meta["override"]} == {"aime24-77", "aime24-81", "aime24-83", "aime24-88"}


def test_data_dir_override(tmp_path: Path) -> None:
    assert len(load_dataset("aime", data_dir=DATA, limit=2)) == 2
