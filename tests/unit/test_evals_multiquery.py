"""Multi-Query with checked gold: a generated question is kept only when its answer expression, computed with the
instance's values, equals the number the generator stated. Templates and problems are written here."""

from __future__ import annotations

import csv
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from evals.amortization import amortization_keys
from evals.datasets import load_gsm_generated
from evals.examples import Example
from evals.experiments import run_experiment
from evals.mqcheck import check_item, instance_values, worked_expression
from evals.mqsteps import check_step_question, step_messages, worked_steps
from evals.multiquery import UncheckableGoldError, cache_path, generate_for, generate_from_steps, load_multi_query
from evals.options import AmortizationOptions
from evals.runner import Env
from sleeptime.errors import InvalidInputError
from sleeptime.testing import HashEmbeddings, ScriptedChatModel
from tests.scripts import staged_model

_TEMPLATE = {
    "question": "unused",
    "answer": "unused",
    "question_annotated": (
        "{name,Ana} has {n,12} plums. She buys {k,3} more. How many plums does she have now?\n\n"
        "#init:\n- name = sample(names_female)\n- $n = range(10, 40)\n- $k = range(1, 9)\n\n"
        "#conditions:\n- n > k\n\n#answer: n + k"
    ),
    "answer_annotated": "She has {n}+{k}=<<{n}+{k}={n+k}>>{n+k} plums.\n#### {n+k}",
}
_ORIGINAL = "How many plums does she have now?"


def _data_dir(root: Path) -> Path:
    folder = root / "data" / "gsm-symbolic" / "templates" / "symbolic"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0000.json").write_text(json.dumps(_TEMPLATE))
    gen = root / "data" / "gsm-symbolic" / "generated_data"
    gen.mkdir(parents=True, exist_ok=True)
    row = {"id": 0, "instance": 0, "question": "Bo has 4 figs. He eats 1. How many are left?", "answer": "#### 3"}
    (gen / "GSM_p2.jsonl").write_text(json.dumps(row) + "\n")
    return root / "data"


def _values(messages: list[BaseMessage]) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"^- (\w+) = (-?\d+)$", messages[-1].text, re.MULTILINE)}


def _item(question: str, stated: object, expression: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"question": question, "answer": f"She works it out. #### {stated}"}
    if expression is not None:
        item["expression"] = expression
    return item


def _reply(messages: list[BaseMessage]) -> str:
    """Two right items, one of each way to be wrong; the numbers come from the prompt's variables block."""
    v = _values(messages)
    n, k = v["n"], v["k"]
    return json.dumps({"questions": [
        _item("How many plums did she have before buying?", n, "n"),
        _item("How many more plums would make 100?", 100 - n - k, "100 - (n + k)"),
        _item("How many plums would she have if she doubled them?", 2 * (n + k) + 1, "2 * (n + k)"),
        _item("What does the evil one ask?", 0, "__import__('os').system('touch PWNED')"),
        _item("How many plums has she without an expression?", n),
        _item("What is two times three?", 6, "2 * 3"),
        _item(_ORIGINAL, n + k, "n + k"),
        _item("How many plums are left after she eats none?", "lots", "n + k"),
    ]})


# ------------------------------------------------------------------ checking one item


def test_instance_values_are_exact_and_words_are_numbers() -> None:
    values = instance_values({"n": "12", "p": "0.25", "frac": "half", "m": "twice", "name": "Ana", "cur": "$"})
    assert values == {"n": 12, "p": Fraction(1, 4), "frac": Fraction(1, 2), "m": 2}


def test_each_item_is_kept_or_dropped_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = {"n": Fraction(7), "frac": Fraction(1, 2)}
    seen = {"how many in all?"}

    def reason(item: object) -> str | None:
        return check_item(item, values, seen).reason

    assert reason(_item("Half of them?", "3.5", "n * frac")) is None  # exact: 7/2 == 3.5
    assert reason(_item("Half of them, rounded?", 3, "n * frac")) == "value differs"
    assert reason(_item("Twice?", 14, "n * 2")) is None
    assert reason(_item("Twice?", 14, "n * 2")) == "duplicate"  # a kept question is seen
    assert reason(_item("How many in ALL?", 14, "n * 2")) == "duplicate"  # the original's too
    assert reason(_item("No expression?", 7)) == "no expression"
    assert reason(_item("Unknown name?", 7, "m + 1")) == "does not evaluate"
    assert reason(_item("Constants?", 6, "2 * 3")) == "uses no variable"
    assert reason(_item("No number?", "many", "n")) == "no stated answer"
    assert reason("not an object") == "malformed item"
    for unsafe in ("__import__('os').system('touch PWNED')", "open('PWNED', 'w')", "n.__class__", "[n] * 10**9",
                   "(lambda: 1)()", "n ** 99"):
        assert reason(_item(f"Unsafe {unsafe}?", 1, unsafe)) == "does not evaluate"
    assert not (tmp_path / "PWNED").exists()  # nothing was executed
    kept = check_item(_item("Kept?", "$1,000", "n * 1000 / 7"), values, seen)
    assert kept.kept and kept.gold == "1000"


# ------------------------------------------------------------------ generating for one context


def _example() -> Example:
    return Example("base-0000-0", "Ana has 12 plums. She buys 3 more.", _ORIGINAL, "15", "gsm-base",
                   {"variables": {"name": "Ana", "n": "12", "k": "3"}, "solution": "12+3=15\n#### 15"})


def test_a_malformed_reply_is_asked_again_and_counted() -> None:
    model = ScriptedChatModel(replies=["Sure! Here are some questions: 1. ...", _reply])
    gen = generate_for(model, _example(), 2, spare=1, max_calls=3)
    assert gen.calls == 2 and gen.malformed_replies == 1
    assert [v.question for v in gen.kept] == ["How many plums did she have before buying?",
                                              "How many more plums would make 100?"]
    assert [v.gold for v in gen.kept] == ["12", "85"]
    meta = gen.meta("scripted", "checked", 2)
    assert meta["generated"] == 8 and meta["kept"] == 2 and meta["expressions"] == ["n", "100 - (n + k)"]
    assert meta["dropped"] == {"malformed reply": 1, "value differs": 1, "does not evaluate": 1, "no expression": 1,
                               "uses no variable": 1, "duplicate": 1, "no stated answer": 1}
    evil = next(d for d in meta["drops"] if d["expression"].startswith("__import__"))
    assert evil["reason"] == "does not evaluate" and evil["detail"]
    prompt = model.calls[1][-1].text
    assert "- n = 12" in prompt and "- k = 3" in prompt and "Ana" not in prompt.split("Variables")[1]


def test_generation_stops_at_max_calls_when_too_few_are_kept() -> None:
    model = ScriptedChatModel(replies=["not json"], cycle=True)
    gen = generate_for(model, _example(), 4, max_calls=3)
    assert gen.calls == 3 and gen.kept == [] and gen.meta("m", "checked", 4)["dropped"] == {"malformed reply": 3}


def test_a_later_call_lists_every_question_already_written_dropped_ones_too() -> None:
    one = json.dumps({"questions": [_item("How many before?", 12, "n"), _item("Nine times eight?", 72, "9 * 8")]})
    model = ScriptedChatModel(replies=[one, _reply])
    gen = generate_for(model, _example(), 3, spare=0)
    assert gen.calls == 2 and len(gen.kept) == 3
    assert "Questions already written" not in model.calls[0][-1].text
    later = model.calls[1][-1].text.split("Questions already written")[1]
    assert "- How many before?" in later and "- Nine times eight?" in later


def test_the_prompt_shows_the_original_questions_expression_in_the_instances_names() -> None:
    ex = _example()
    ex.meta["expressions"] = ["int(n + k)", "n + k"]
    model = ScriptedChatModel(replies=[_reply])
    generate_for(model, ex, 2, max_calls=1)
    assert "Answer: 12+3=15\n#### 15\nExpression: n + k\n" in model.calls[0][-1].text


def test_the_worked_expression_is_one_that_computes_the_gold_exactly() -> None:
    values = {"n": Fraction(12), "k": Fraction(3), "h": Fraction(1, 2)}
    assert worked_expression(["int(n * h)", "n * h"], values, "6") == "n * h"  # the outer int() is dropped
    assert worked_expression(["n // k", "n / k"], values, "4") == "n // k"  # the first that computes it
    assert worked_expression(["int(n / 5)"], values, "2") is None  # 12/5 is not 2: int() truncated it
    assert worked_expression(["n - k", "k - n"], values, "15") is None  # neither computes the gold
    assert worked_expression(["5 * 3"], values, "15") is None  # names no variable
    assert worked_expression(["n +", "import os"], values, "15") is None  # does not parse or is not allowed
    assert worked_expression(["n + k"], values, "many") is None
    model = ScriptedChatModel(replies=[_reply])
    assert len(generate_for(model, _example(), 2, max_calls=1).kept) == 2  # no template expressions: no example
    assert "Expression:" not in model.calls[0][-1].text


def test_generated_examples_carry_their_templates_answer_expressions(tmp_path: Path) -> None:
    ex = load_gsm_generated("gsm-base", _data_dir(tmp_path), limit=1)[0]
    assert ex.meta["expressions"] == ["n + k", "n + k"]  # '#### {n+k}' and '#answer: n + k'
    values = instance_values(ex.meta["variables"])
    assert worked_expression(ex.meta["expressions"], values, ex.answer) == "n + k"


# ------------------------------------------------------------------ the amortization run


def _opts(tmp_path: Path, **kw: Any) -> AmortizationOptions:
    base: dict[str, Any] = {"experiment": "amortization", "out": str(tmp_path / "run"), "dataset": "gsm-base",
                            "data_dir": str(_data_dir(tmp_path)), "limit": 2, "budgets": [1], "queries": 3,
                            "cache_dir": str(tmp_path / "cache"), "progress": False}
    return AmortizationOptions(**{**base, **kw})


def test_contexts_with_too_few_checked_questions_are_skipped_and_counted(tmp_path: Path) -> None:
    # The first context's generator gives good items; the second's never replies with JSON.
    model = staged_model(outside=[_reply, "no", "no", "no"])
    opts = _opts(tmp_path)
    env = Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings())
    records = run_experiment(opts, env)
    mq = {str(r["context_id"]): r for r in records if r["mode"] == "multi-query"}
    assert len(mq) == 2
    used, skipped = sorted(mq.values(), key=lambda r: bool(r["skipped"]))
    assert not used["skipped"] and used["questions"] == 3 and used["mq_kept"] == 2 and used["mq_gold"] == "checked"
    assert skipped["skipped"] and skipped["questions"] == 1 and skipped["mq_dropped"] == {"malformed reply": 3}
    answers = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert {r["context_id"] for r in answers} == {used["context_id"]}  # the short context is not answered
    assert len(answers) == 3 * 2 and all(r["mq_gold"] == "checked" for r in answers)
    with (Path(opts.out) / "summary_multi_query.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert (row["contexts"], row["used"], row["skipped"], row["kept"]) == ("2", "1", "1", "2")
    assert row["dropped: value differs"] == "1" and row["dropped: malformed reply"] == "3"
    assert all("question" not in r for r in records if r["mode"] == "multi-query")  # counts only, no text
    assert cache_path(opts, opts.sleep_spec).is_file()  # under the cache dir, never the run dir
    calls = len(model.calls)
    assert run_experiment(opts, env) and len(model.calls) == calls  # resumed: nothing generated or asked again
    short = next(it for it in load_multi_query(opts, env) if len(it.questions) == 1)
    assert amortization_keys(opts, short) == [f"{short.context_id}|multi-query"]


def test_datasets_without_instance_variables_need_the_unchecked_mode(tmp_path: Path) -> None:
    model = staged_model(outside=json.dumps({"questions": [_item("How many did he eat?", 1)]}))
    for dataset in ("gsm-p2", "aime"):
        opts = _opts(tmp_path, dataset=dataset)
        with pytest.raises(UncheckableGoldError, match=f"--dataset {dataset} has no template instance variables"):
            load_multi_query(opts, Env(opts, sleep_model=model))
    assert issubclass(UncheckableGoldError, InvalidInputError)
    opts = _opts(tmp_path, dataset="gsm-p2", mq_unchecked=True, queries=2)
    items = load_multi_query(opts, Env(opts, sleep_model=model))
    assert [q for q, _ in items[0].questions] == ["How many are left?", "How many did he eat?"]
    assert items[0].meta["gold"] == "unchecked" and cache_path(opts, "x").name.endswith("-unchecked.jsonl")


def test_queries_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--queries"):
        _opts(tmp_path, queries=0).validate()


# ------------------------------------------------------------------ worked-step questions

_SOLUTION = ("She buys 3 * 4 = <<3*4=12>>12 plums.\nShe eats <<12/6>>2 of them, then 1 more: 2+1=<<2+1=3>>3.\n"
             "Wrong: 5+5=<<5+5=11>>11. Again: 4*3=<<4*3=12>>12.\nShe has 12 - 3 = <<12-3=9>>9 left.\n#### 9")


def _steps_example(solution: str = _SOLUTION) -> Example:
    return Example("base-0001-0", "Ana buys 3 bags of 4 plums.", "How many plums are left?", "9", "gsm-base",
                   {"solution": solution, "variables": {"n": "3"}})


def test_worked_steps_are_the_checked_intermediate_results_once_each() -> None:
    steps = worked_steps(_SOLUTION, "9")
    # '<<12/6>>2' (value after the brackets) counts; 5+5 is not 11; 12 twice once; 9 is the final answer.
    assert [(s.expression, s.value) for s in steps] == [("3*4", 12), ("12/6", 2), ("2+1", 3)]
    assert steps[0].text == "She buys 3 * 4 = 12 plums." and "<<" not in steps[1].text


_STEP_QUESTIONS = {12: "How many plums does Ana buy in all?", 2: "How many does she eat first?",
                   3: "What is the total number of plums eaten?"}


def _step_reply(messages: list[BaseMessage]) -> str:
    """The question for the step whose result the prompt shows, labelled and quoted as small models do."""
    result = int(re.search(r"^Result: (\d+)$", messages[-1].text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    question = _STEP_QUESTIONS.get(result, "How many plums does she have before doubling them?")
    return f'Question: "{question}"\nThe answer is {result}.'


def test_worked_step_questions_take_their_gold_from_the_step() -> None:
    model = ScriptedChatModel(replies=[_step_reply], cycle=True)
    gen = generate_from_steps(model, _steps_example(), 2)
    assert gen.calls == 2  # one call per step, until two are kept
    assert [(v.question, v.gold) for v in gen.kept] == [("How many plums does Ana buy in all?", "12"),
                                                         ("How many does she eat first?", "2")]
    prompt = model.calls[1][-1].text
    assert "Calculation: She eats 2 of them, then 1 more: 2+1=3.\nResult: 2\n" in prompt


def test_a_dropped_step_costs_its_call_and_the_next_step_is_asked() -> None:
    replies = ["How many plums are left now?", "How many does she eat first?", "What is the total eaten?"]
    model = ScriptedChatModel(replies=replies)
    gen = generate_from_steps(model, _steps_example(), 2)
    assert gen.calls == 3 and [v.reason for v in gen.verdicts] == ["repeats the original", None, None]
    assert [v.gold for v in gen.kept] == ["2", "3"]
    assert "Result: 12" in model.calls[0][-1].text and "Result: 3" in model.calls[2][-1].text


def test_a_worked_step_question_is_dropped_when_it_repeats_or_states_a_result() -> None:
    replies = ["How many plums does she have now in all?",  # close to the original: asks it again
               "Sure, here you go.",  # no question at all
               "If she bought 12 plums, how many did she eat?",  # 12 is computed, not stated in the situation
               "How many bags of 4 plums does Ana buy?",  # 4 and 3 are in the situation: fine
               "How many bag of 4 plums does Ana buy?",  # a kept question but for a plural 's': asked again
               "How many plums of 4 bags does Ana buy?"]  # the same words in another order ask another step
    model = ScriptedChatModel(replies=replies)
    ex = _steps_example()
    ex = Example(ex.id, ex.context, "How many plums does she have now?", ex.answer, ex.source, ex.meta)
    steps = worked_steps(_SOLUTION, "9")
    results = [s.value for s in steps] + [Fraction(9)]
    seen: set[str] = set()
    verdicts = [check_step_question(model.invoke(step_messages(ex, steps[0])).text, steps[0], ex, results, seen)
                for _ in replies]
    assert [v.reason for v in verdicts] == ["repeats the original", "no question", "states a result", None,
                                            "duplicate", None]
    assert verdicts[2].detail == "12" and verdicts[3].gold == "12"


def test_a_context_with_too_few_steps_costs_no_call() -> None:
    model = ScriptedChatModel(replies=[_step_reply], cycle=True)
    gen = generate_from_steps(model, _steps_example("She has <<12-3=9>>9.\n#### 9"), 1)
    assert gen.calls == 0 and model.calls == [] and gen.kept == []


def test_an_amortization_run_with_worked_step_gold(tmp_path: Path) -> None:
    two_steps = {**_TEMPLATE, "answer_annotated": ("She had {n} and bought {k}: {n}+{k}=<<{n}+{k}={n+k}>>{n+k}. "
                                                   "Twice that is <<2*({n}+{k})={2*(n+k)}>>{2*(n+k)}.\n"
                                                   "#### {2*(n+k)}")}
    model = staged_model(outside=_step_reply)
    opts = _opts(tmp_path, limit=1, queries=2, mq_steps=True)
    data = _data_dir(tmp_path) / "gsm-symbolic" / "templates" / "symbolic" / "0000.json"
    data.write_text(json.dumps(two_steps))
    records = run_experiment(opts, Env(opts, wake_model=model, sleep_model=model, embeddings=HashEmbeddings()))
    mq = next(r for r in records if r["mode"] == "multi-query")
    assert mq["mq_gold"] == "worked-step" and mq["questions"] == 2 and not mq["skipped"]
    answers = [r for r in records if r["mode"] in ("test-time", "sleep")]
    assert len(answers) == 2 * 2 and {r["mq_gold"] for r in answers} == {"worked-step"}
    assert cache_path(opts, "x").name.endswith("-worked-step.jsonl")
    with pytest.raises(InvalidInputError, match="--mq-steps and --mq-unchecked"):
        _opts(tmp_path, mq_steps=True, mq_unchecked=True).validate()
