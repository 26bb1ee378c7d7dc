"""Splitting, the template mini-language (on templates written here), loaders, the tiny set, the cache."""

from __future__ import annotations

import builtins
import json
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from evals.datasets import (
    append_multi_query,
    group_by_context,
    load_dataset,
    read_multi_query,
)
from evals.errors import DatasetError, TemplateError
from evals.examples import Example, MultiQueryExample
from evals.grading import grade_gsm, parse_number
from evals.splitting import split_context_question, split_sentences
from evals.templates import check_template, generate_instances, instantiate, parse_template
from evals.tiny import tiny_examples, tiny_multi_query

# ------------------------------------------------------------------ splitting


def test_sentence_rule_keeps_decimals_and_abbreviations() -> None:
    text = "Mr. Lee pays $0.75 for 2.5 kg of rice. Dr. Ng pays twice as much. How much does Dr. Ng pay?"
    s = split_context_question(text)
    assert s.context == "Mr. Lee pays $0.75 for 2.5 kg of rice. Dr. Ng pays twice as much."
    assert s.question == "How much does Dr. Ng pay?"


def test_paper_rule_is_the_naive_split() -> None:
    text = "Mr. Lee pays $0.75 for rice. How much does he pay?"
    s = split_context_question(text, rule="paper")
    assert s.question == "How much does he pay?"
    assert s.context == "Mr. Lee pays $0. 75 for rice."  # the paper's rule breaks the decimal
    s2 = split_context_question("A cup costs $3. It holds Ms. Pym's tea.", rule="paper")
    assert s2.question == "Pym's tea"


def test_sentence_rule_initials_lowercase_and_quotes() -> None:
    assert split_sentences("J. R. Okafor walks 3 mi. at noon. He rests.") == [
        "J. R. Okafor walks 3 mi. at noon.",
        "He rests.",
    ]
    assert split_sentences('She said "stop." Then what?') == ['She said "stop."', "Then what?"]
    assert split_sentences("It ends at 5 p.m. and restarts. Done!") == ["It ends at 5 p.m. and restarts.", "Done!"]


def test_question_keeps_a_trailing_instruction() -> None:
    s = split_context_question("A pen costs $2. How much do 3 pens cost? Answer in dollars.")
    assert s.context == "A pen costs $2."
    assert s.question == "How much do 3 pens cost? Answer in dollars."


def test_question_first_falls_back_to_last_sentence() -> None:
    s = split_context_question("What is left? Tom had 5 apples. He ate 2.")
    assert s.context == "What is left? Tom had 5 apples."
    assert s.question == "He ate 2."


def test_single_sentence_and_unknown_rule() -> None:
    assert split_context_question("How much is 2 + 2?") == split_context_question("  How much is 2 + 2?  ")
    assert split_context_question("How much is 2 + 2?").context == ""
    with pytest.raises(ValueError, match="unknown split rule"):
        split_context_question("x.", rule="words")  # type: ignore[arg-type]


# ------------------------------------------------------------------ template mini-language

_TEMPLATE: dict[str, Any] = {
    "question": "unused",
    "answer": "unused",
    "question_annotated": (
        "{name,Ana} has {n,12} {item,plums}. She gives {frac,half} of them to {friend,Bo} and buys "
        "{k,3} more at {cur,$}{price,0.5} each. How many {item,plums} does she have now?\n\n"
        "#init:\n"
        "- name, friend = sample(names_female, 2)\n"
        '- item = sample(["plums", "figs"])\n'
        "- $n = range(10, 40, 2)\n"
        "- $frac = sample(fraction_alph)\n"
        "- $k = range(1, 9)\n"
        "- cur = sample(currencies_sym)\n"
        "- $price = np.arange(0.25, 2, 0.25)\n\n"
        "#conditions:\n"
        "- is_int(n * frac)\n"
        "- divides(n, 2)\n\n"
        "#answer: n - n * frac + k"
    ),
    "answer_annotated": "She gives {n}*{frac}={int(n*frac)} away.\n#### {n - int(n*frac) + k}",
}


def test_template_parses_and_its_example_agrees() -> None:
    t = parse_template(_TEMPLATE, "mine/0")
    assert t.defaults["frac"] == "half"
    check = check_template(t, samples=5)
    assert check.answer_expr_value == check.solution_value == "9"
    assert check.agrees and check.example_meets_conditions
    assert check.sampled == 5 and check.sampled_disagreements == 0
    assert not check.answer_disagrees


def test_instances_are_deterministic_and_valid() -> None:
    t = parse_template(_TEMPLATE, "mine/0")
    a = instantiate(t, random.Random("s:1"))
    b = instantiate(t, random.Random("s:1"))
    assert a == b
    n = int(a.variables["n"])
    assert n % 2 == 0 and 10 <= n < 40
    assert "{" not in a.question and a.question.endswith("now?")
    assert a.answer_expr_value == a.answer
    pairs, failures = generate_instances([t], per_template=6, seed=3)
    again, _ = generate_instances([t], per_template=6, seed=3)
    other, _ = generate_instances([t], per_template=6, seed=4)
    assert not failures and pairs == again and pairs != other
    prefix, _ = generate_instances([t], per_template=6, seed=3, limit=2)
    assert prefix == pairs[:2]


def test_solution_line_wins_over_a_wrong_answer_expression() -> None:
    bad = dict(_TEMPLATE)
    bad["question_annotated"] = _TEMPLATE["question_annotated"].replace("#answer: n - n * frac + k", "#answer: n + k")
    t = parse_template(bad, "mine/bad")
    inst = instantiate(t, random.Random(0))
    n, k = int(inst.variables["n"]), int(inst.variables["k"])
    assert inst.answer != inst.answer_expr_value
    assert inst.answer_expr_value == str(n + k)  # recorded, but the gold answer is the solution line
    check = check_template(t, samples=3)
    assert check.agrees is False and check.answer_disagrees


def test_exact_fractions_and_named_values() -> None:
    t = parse_template(
        {
            "question_annotated": "A {box,crate} weighs {w,1.5} kg. Find {m,twice} its weight in thirds?\n"
            "#init:\n- box = sample(['crate'])\n- $w = [0.1, 0.2]\n- $m = sample(multi_times)\n"
            "#conditions:\n- w < 1\n#answer: w * m / 3",
            "answer_annotated": "#### {w * m / 3}",
        },
        "mine/1",
    )
    inst = instantiate(t, random.Random(1))
    assert inst.variables["w"] in ("0.1", "0.2")
    m = {"twice": 2, "three times": 3, "four times": 4, "five times": 5}[inst.variables["m"]]
    w = Fraction(inst.variables["w"])
    assert parse_number(inst.answer) == w * m / 3  # exact: 0.1 * 2 / 3 is 1/15, never 0.0666...
    assert any(word in inst.question for word in ("twice", "three times", "four times", "five times"))


def test_unsatisfiable_template_is_reported_not_looped() -> None:
    t = parse_template(
        {
            "question_annotated": "Tom has {n,3} pens. How many?\n#init:\n- $n = range(1, 5)\n"
            "#conditions:\n- n > 10\n#answer: n",
            "answer_annotated": "#### {n}",
        },
        "mine/2",
    )
    with pytest.raises(TemplateError, match="no valid instance in 50 attempts"):
        instantiate(t, random.Random(0), max_attempts=50)
    pairs, failures = generate_instances([t], per_template=3, max_attempts=50)
    assert pairs == [] and [f.template_id for f in failures] == ["mine/2"]


def test_equality_conditions_are_solved() -> None:
    t = parse_template(
        {
            "question_annotated": "A has {a,3}, B has {b,4}. Total {total,7}?\n#init:\n"
            "- $a = range(1, 1000)\n- $b = range(1, 1000)\n- $total = range(2, 3000)\n"
            "#conditions:\n- total == a + b\n#answer: total",
            "answer_annotated": "#### {a + b}",
        },
        "mine/3",
    )
    inst = instantiate(t, random.Random(0), max_attempts=3)  # rejection alone would need ~3000 draws
    assert int(inst.answer) == int(inst.variables["a"]) + int(inst.variables["b"])


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "(1).__class__",
        "open('/etc/passwd')",
        "[x for x in range(3)]",
        "lambda: 1",
        "2 ** 1000000",
        "n.real",
    ],
)
def test_template_expressions_are_sandboxed(expr: str) -> None:
    t = {
        "question_annotated": f"Q {{n,1}}?\n#init:\n- $n = range(1, 3)\n#conditions:\n- n > 0\n#answer: {expr}",
        "answer_annotated": f"#### {{{expr}}}",
    }
    with pytest.raises(TemplateError):
        instantiate(parse_template(t, "mine/evil"), random.Random(0), max_attempts=3)


# ------------------------------------------------------------------ loaders, tiny set, cache


def test_tiny_set_is_self_consistent() -> None:
    examples = tiny_examples()
    assert len(examples) == 8
    assert len({e.id for e in examples}) == 8
    for e in examples:
        assert e.context and e.question.endswith("?")
        assert grade_gsm(f"The answer is {e.answer}.", e.answer)
    multi = tiny_multi_query()
    assert len(multi) == 2 and all(len(m.questions) == 3 for m in multi)
    assert load_dataset("tiny", limit=3) == examples[:3]


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("gsm-p9")
    with pytest.raises(DatasetError, match="--data-dir"):
        load_dataset("gsm-p2", data_dir=tmp_path)
    with pytest.raises(ValueError, match="limit"):
        load_dataset("tiny", limit=-1)


def test_hub_without_datasets_package_says_use_local(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DatasetError, match="local folder"):
        load_dataset("gsm-p2", source="hub")


def _fake_data_dir(root: Path) -> Path:
    """A data folder laid out like ../shared/data, with problems written here."""
    gen = root / "gsm-symbolic" / "generated_data"
    gen.mkdir(parents=True)
    rows = []
    for tid in range(2):
        for inst in range(3):
            q = f"Kim has {tid + inst + 2}.5 kg of clay. Mr. Park adds {inst + 1} kg. How much clay is there?"
            rows.append({"id": tid, "instance": inst, "question": q, "answer": f"so\n#### {tid + 2 * inst + 3}.5"})
    (gen / "GSM_p2.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    p1 = root / "gsm-symbolic" / "templates" / "p1"
    p1.mkdir(parents=True)
    (p1 / "0000.json").write_text(json.dumps(_TEMPLATE))
    base = root / "gsm-symbolic" / "templates" / "symbolic"
    base.mkdir(parents=True)
    annotated = {**_TEMPLATE, "answer_annotated": "She gives {n}*{frac}=<<{n}*{frac}={int(n*frac)}>>{int(n*frac)} "
                 "away.\n#### {n - int(n*frac) + k}"}
    (base / "0000.json").write_text(json.dumps(annotated))
    aime = root / "aime-2024"
    aime.mkdir()
    (aime / "aime24_test.jsonl").write_text(
        json.dumps({"id": 1, "problem": "Let $x=2$. Find $x+3$.", "answer": "005"}) + "\n"
    )
    return root


def test_local_loaders_on_own_files(tmp_path: Path) -> None:
    data = _fake_data_dir(tmp_path)
    p2 = load_dataset("gsm-p2", data_dir=data)
    assert len(p2) == 6
    assert [e.id for e in p2[:2]] == ["p2-0000-0", "p2-0001-0"]  # instance-major order
    assert p2[0].context == "Kim has 2.5 kg of clay. Mr. Park adds 1 kg."
    assert p2[0].question == "How much clay is there?"
    assert p2[0].answer == "3.5"
    paper = load_dataset("gsm-p2", data_dir=data, split_rule="paper")[0]
    assert paper.context == "Kim has 2. 5 kg of clay. Mr. Park adds 1 kg."  # the paper's rule, kept as is
    assert len(load_dataset("gsm-p2", data_dir=data, limit=4)) == 4
    fresh = [e.id for e in load_dataset("gsm-p2", data_dir=data, seed=1)]  # instance 1 first, then wrapping round
    assert fresh[0].endswith("-1") and fresh[-1].endswith("-0") and sorted(fresh) == sorted(e.id for e in p2)
    p1 = load_dataset("gsm-p1", data_dir=data, seed=7, limit=5)
    assert len(p1) == 5 and all(e.meta["answer_expr_agrees"] for e in p1)
    assert p1 == load_dataset("gsm-p1", data_dir=data, seed=7, limit=5)
    assert all(e.context and e.question.endswith("now?") for e in p1)
    base = load_dataset("gsm-base", data_dir=data, seed=7, limit=5)
    assert [e.id for e in base] == [f"base-0000-{i}" for i in range(5)]
    assert {e.source for e in base} == {"gsm-base"}
    assert base == load_dataset("gsm-base", data_dir=data, seed=7, limit=5)  # a seed gives the same instances
    assert base != load_dataset("gsm-base", data_dir=data, seed=8, limit=5)
    for e in base:  # the worked solution carries the instance's own values and agrees with its gold
        n, k = int(e.meta["variables"]["n"]), int(e.meta["variables"]["k"])
        given = n + k - int(e.answer)  # the answer is n - given + k
        assert f"<<{n}*" in e.meta["solution"] and f"={given}>>{given} away" in e.meta["solution"]
        assert grade_gsm(e.meta["solution"], e.answer)
    aime = load_dataset("aime", data_dir=data)
    assert aime == [
        Example("aime24-1", "Let $x=2$.", "Find $x+3$.", "5", "aime-2024", aime[0].meta),
    ]


def test_multi_query_cache_roundtrip(tmp_path: Path) -> None:
    items = [*tiny_multi_query(), MultiQueryExample("c9", "Ctx.", [("Q?", "1")], "own", {"model": "m"})]
    path = tmp_path / "cache" / "mq.jsonl"
    for item in items:
        append_multi_query(path, item)
    assert read_multi_query(path) == items
    assert read_multi_query(tmp_path / "missing.jsonl") == []
    with path.open("a") as fh:
        fh.write('{"context_id": "torn"')  # an interrupted append
    assert read_multi_query(path) == items


def test_group_by_context() -> None:
    a = Example("a", "C.", "Q1?", "1", "s")
    b = Example("b", "C.", "Q2?", "2", "s")
    c = Example("c", "D.", "Q3?", "3", "s")
    groups = group_by_context([a, b, c])
    assert [(g.context_id, g.questions) for g in groups] == [("a", [("Q1?", "1"), ("Q2?", "2")]), ("c", [("Q3?", "3")])]


def test_problems_without_a_context_are_left_out_and_the_limit_still_met(tmp_path: Path) -> None:
    data = _fake_data_dir(tmp_path)
    gen = data / "gsm-symbolic" / "generated_data" / "GSM_p2.jsonl"
    one = {"id": 0, "instance": 0, "question": "If Kim eats 2 eggs a day, how many eggs does she eat in 3 days?",
           "answer": "#### 6"}
    rows = [json.loads(x) for x in gen.read_text().splitlines()]
    gen.write_text("\n".join(json.dumps(r) for r in [one if r["id"] == r["instance"] == 0 else r for r in rows]))
    p2 = load_dataset("gsm-p2", data_dir=data, limit=3)
    assert [e.id for e in p2] == ["p2-0001-0", "p2-0000-1", "p2-0001-1"] and all(e.context for e in p2)
    # P1: a one-sentence template gives no stateful instance; the other template fills the limit.
    one_sentence = dict(_TEMPLATE, question_annotated=_TEMPLATE["question_annotated"].replace(
        "{name,Ana} has {n,12} {item,plums}. She gives", "If {name,Ana} has {n,12} {item,plums} and gives").replace(
        " each. How many", " each, how many"))
    (data / "gsm-symbolic" / "templates" / "p1" / "0001.json").write_text(json.dumps(one_sentence))
    p1 = load_dataset("gsm-p1", data_dir=data, seed=7, limit=4)
    assert len(p1) == 4 and all(e.id.startswith("p1-0000-") and e.context for e in p1)
