"""Note quality (issue 12): are the learned notes right, and does that help the wake model?

Run: ``python -m evals notes --data-dir DIR --out evals/results/notes/RUN.jsonl`` (see ``--help``).

Per example (GSM-Symbolic base templates ``templates/symbolic`` and P1 ``templates/p1``, instances drawn with
a seed as for P1, split into context and question by the sentence rule):

- **sleep**: one reflect call per prompt, ``old`` (the reflect prompt before issue 12, free-text notes),
  ``new`` (``name = expression`` lines, cleaned and checked by ``sleeptime.notes.hygiene``) and ``worked``
  (the ``WORKED`` notes style: the old prompt's worked items with placeholders for its example, arithmetic
  recomputed where it can be read, the rest kept unchecked);
- **note recall**: share of the gold intermediate values (the ``<<expr=value>>`` results of the instance's
  annotated solution) that the notes state with that value;
- **note precision**: share of the notes' stated derived quantities whose value is a gold intermediate or a
  number of the problem text. Quantities on another valid path to the answer count as wrong, so this is a
  lower bound. Stated quantities: ``new``, every checked quantity whose expression has an operator; ``old``,
  and ``worked``, the last number of every line with an ``=`` in it (the result written, for ``worked`` the
  one the evaluator computed where it could);
- **answer** arms at each budget: ``none`` (test-time only, raw context), ``old``/``new``/``worked`` (notes beside the
  raw context, as the wake graph's answer step sends them) and ``oracle`` (the gold intermediate values as
  notes: the upper bound a perfect sleep gives this wake model).

Records (one JSON line per example and measurement) hold ids and numbers only; model text goes to the
git-ignored ``texts.jsonl`` beside the records. Reruns skip what a record already holds (resumable).
Pin the run: ``taskset -c 1`` makes the embedded model use one thread.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from evals.errors import TemplateError
from evals.grading import grade_gsm, parse_number
from evals.options import parse_shard
from evals.records import read_jsonl
from evals.splitting import split_context_question
from evals.templates import (
    _WORD_VALUES,
    Named,
    Template,
    generate_instances,
    load_templates,
    render_text,
)
from sleeptime import resolve_chat_model
from sleeptime.experimental import (
    EXPRESSIONS,
    WORKED,
    QuantityError,
    WakeState,
    build_answer_messages,
    clean_reply,
    evaluate,
    is_cut_off,
    reflect_prompt,
)

# The reflect instructions before issue 12, kept verbatim as the baseline ("today's reflect").
OLD_REFLECT_USER = """Situation:
{context}

Your notes so far:
{notes}

Rewrite the notes. Work out the quantities, inferences and calculations that questions about
this situation are likely to need; double-check every number in the notes so far and fix mistakes;
drop what is useless but keep everything useful, because your reply replaces the notes.
Write the notes as a numbered list of at most 12 items, each one fact or one worked quantity
with its calculation, for example "1. total apples = 4 boxes x 6 apples = 24 apples".
Do not repeat the situation. Keep the notes under {max_chars} characters.
After the list, write STATUS: DONE if the notes are complete and checked,
or STATUS: CONTINUE if another pass would improve them."""

MAX_CHARS = 5000
_ANNOTATION = re.compile(r"<<(.*?)>>", re.DOTALL)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


@dataclass(frozen=True)
class Item:
    id: str
    set: str
    context: str
    question: str
    answer: str
    gold: tuple[Fraction, ...]
    """Gold intermediate values, in solution order, without repeats."""
    steps: tuple[str, ...]
    """The rendered ``<<...>>`` annotations ("6*2=12"): the oracle arm's notes."""
    problem_numbers: frozenset[Fraction]


def _env_of(variables: dict[str, str]) -> dict[str, Any]:
    """The instance's variables as the template computed with them; a word value ("half") as a Named."""
    env: dict[str, Any] = {}
    for name, text in variables.items():
        value = parse_number(text)
        if value is None:
            word = _WORD_VALUES.get(text.lower())
            env[name] = text if word is None else Named(text, word)
        else:
            env[name] = int(value) if value.denominator == 1 else value
    return env


def gold_intermediates(template: Template, variables: dict[str, str]) -> tuple[tuple[Fraction, ...], tuple[str, ...]]:
    """The ``<<expr=value>>`` results of the solution and their texts, each rendered on its own (one that
    cannot be rendered from the instance's variables is skipped)."""
    env = _env_of(variables)
    values: list[Fraction] = []
    steps: list[str] = []
    for segment in _ANNOTATION.findall(template.solution):
        try:
            text = render_text(segment, env, random.Random(0))
        except (TemplateError, ArithmeticError, TypeError, ValueError):
            continue
        value = parse_number(text.rsplit("=", 1)[1]) if "=" in text else None
        if value is None:
            try:
                value = evaluate(text.replace("x", "*"), {})
            except QuantityError:
                continue
        if value not in values:
            values.append(value)
            steps.append(text.strip())
    return tuple(values), tuple(steps)


def _numbers(text: str) -> set[Fraction]:
    return {v for v in (parse_number(m) for m in _NUMBER.findall(text.replace("$", ""))) if v is not None}


def load_items(data_dir: Path, folder: str, n: int, seed: int) -> list[Item]:
    templates = {t.id: t for t in load_templates(data_dir / "gsm-symbolic" / "templates" / folder)}
    pairs, _ = generate_instances(list(templates.values()), seed=seed, limit=n * 2)
    items: list[Item] = []
    for i, inst in pairs:
        split = split_context_question(inst.question)
        if not split.context.strip():
            continue  # a one-sentence problem: nothing to sleep on
        items.append(
            Item(
                f"{folder}-{inst.template_id.split('/')[-1]}-{i}",
                folder,
                split.context,
                split.question,
                inst.answer,
                *gold_intermediates(templates[inst.template_id], inst.variables),
                frozenset(_numbers(inst.question)),
            )
        )
    return items[:n]


def stated_quantities(prompt: str, notes: str) -> tuple[set[Fraction], list[Fraction]]:
    """(every value the notes state, the derived values judged for precision)."""
    if prompt == "new":
        checked = clean_reply(notes, "").notes
        values = [q.value for q in checked.quantities]
        derived = [q.value for q in checked.quantities if re.search(r"[-+*/%]", q.expression.lstrip("-"))]
        return set(values), derived
    derived = []
    for line in notes.splitlines():
        if "=" in line:
            found = _NUMBER.findall(line.rsplit("=", 1)[1].replace("$", ""))
            value = parse_number(found[0]) if found else None
            if value is not None:
                derived.append(value)
    return _numbers(notes), derived


def _output_tokens(reply: Any) -> int:
    meta = reply.usage_metadata if isinstance(reply, AIMessage) else None
    return int(meta["output_tokens"]) if meta else 0


SLEPT = ("old", "new", "worked")
"""Prompts (and the answer arms that use their notes)."""


def sleep(model: Any, prompt: str, item: Item, max_tokens: int) -> tuple[str, str, dict[str, Any]]:
    """(published notes, the raw reply, numbers) for one reflect call with ``prompt``."""
    style = WORKED if prompt == "worked" else EXPRESSIONS
    user = (
        OLD_REFLECT_USER.format(context=item.context, notes=reflect_prompt.EMPTY_NOTES, max_chars=MAX_CHARS)
        if prompt == "old"
        else reflect_prompt.format_user(item.context, "", MAX_CHARS, style.user_prompt)
    )
    start = time.perf_counter()
    reply = model.invoke([SystemMessage(reflect_prompt.SYSTEM), HumanMessage(user)])
    seconds = time.perf_counter() - start
    notes, _ = reflect_prompt.parse_reflection(str(reply.text), MAX_CHARS)
    truncated = is_cut_off(reply, max_tokens)
    raw = notes
    unchecked = 0
    if prompt != "old":
        clean = clean_reply(notes, item.context, truncated=truncated, keep_unchecked=style.keep_unchecked)
        notes, unchecked = clean.render(), len(clean.unchecked)
    info = {"output_tokens": _output_tokens(reply), "truncated": truncated, "seconds": round(seconds, 1)}
    return notes, raw, {**info, "unchecked": unchecked} if prompt == "worked" else info


def note_scores(prompt: str, notes: str, item: Item) -> dict[str, Any]:
    stated, derived = stated_quantities(prompt, notes)
    right = [v for v in derived if v in item.gold or v in item.problem_numbers]
    return {
        "gold": len(item.gold),
        "recalled": sum(1 for g in item.gold if g in stated),
        "stated": len(derived),
        "right": len(right),
    }


def oracle_notes(item: Item) -> str:
    return "\n".join(f"- {step}" for step in item.steps)


def answer(model: Any, item: Item, notes: str, budget: int) -> tuple[str, dict[str, Any]]:
    state: WakeState = {
        "question": item.question,
        "raw_context": item.context,
        "with_raw_context": True,
        "learned": notes,
        "current_budget": budget,
        "usage": [],
    }
    reply = model.invoke(build_answer_messages(state))
    tokens = _output_tokens(reply)
    return str(reply.text), {"correct": grade_gsm(str(reply.text), item.answer), "output_tokens": tokens}


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def run(args: argparse.Namespace) -> None:
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    texts = out.parent / "texts.jsonl"
    done = {(r["id"], r["kind"], r["key"]) for r in read_jsonl(out)}
    notes_of = {(t["id"], t["key"]): t["text"] for t in read_jsonl(texts) if t.get("kind") == "notes"}
    sleep_model = resolve_chat_model(args.sleep_model, max_tokens=args.max_tokens_sleep)
    wake_model = resolve_chat_model(args.wake_model, max_tokens=args.max_tokens_wake)
    sleep_name = args.sleep_model.split(":")[-1]
    items = load_items(args.data_dir, "symbolic", args.n_base, args.seed) + load_items(
        args.data_dir, "p1", args.n_p1, args.seed
    )
    index, count = args.shard
    items = items[index - 1 :: count]  # shards append to the same --out: each example has one writer

    def write(item: Item, kind: str, key: str, record: dict[str, Any], text: str | None) -> None:
        _append(out, {"id": item.id, "set": item.set, "kind": kind, "key": key, **record})
        if text is not None:
            _append(texts, {"id": item.id, "kind": kind, "key": key, "text": text})
        done.add((item.id, kind, key))

    for item in items:
        for prompt in args.prompts:
            key = f"{prompt}/{sleep_name}"
            if (item.id, "notes", key) not in done:
                notes, raw, info = sleep(sleep_model, prompt, item, args.max_tokens_sleep)
                notes_of[(item.id, key)] = notes
                write(item, "notes", key, {**note_scores(prompt, notes, item), **info}, notes)
                if raw != notes:
                    _append(texts, {"id": item.id, "kind": "reply", "key": key, "text": raw})
        for arm in args.arms:
            for budget in args.budgets:
                key = f"{arm}/{sleep_name if arm in SLEPT else '-'}/b{budget}"
                if (item.id, "answer", key) in done:
                    continue
                if arm in SLEPT:
                    slept = notes_of.get((item.id, f"{arm}/{sleep_name}"))
                    if slept is None:
                        continue  # its notes were not made in this run (prompt not asked for)
                else:
                    slept = oracle_notes(item) if arm == "oracle" else ""
                text, record = answer(wake_model, item, slept, budget)
                write(item, "answer", key, record, text)
        print(f"{item.id} done", file=sys.stderr, flush=True)


def summarize(path: Path) -> str:
    """A table of the records: note recall/precision per prompt, accuracy and tokens per answer arm."""
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in read_jsonl(path):
        rows.setdefault((r["set"], r["kind"], r["key"]), []).append(r)
    lines = ["set        kind    key                          n   recall  precision  acc    out_tokens"]
    for (set_, kind, key), recs in sorted(rows.items()):
        n = len(recs)
        if kind == "notes":
            gold = sum(r["gold"] for r in recs)
            stated = sum(r["stated"] for r in recs)
            recall = sum(r["recalled"] for r in recs) / gold if gold else 0.0
            # No stated quantity: precision is undefined, not 0.
            precision = f"{sum(r['right'] for r in recs) / stated:9.1%}" if stated else f"{'n/a':>9}"
            tokens = sum(r["output_tokens"] for r in recs) / n
            lines.append(
                f"{set_:10} notes   {key:28} {n:3}   {recall:6.1%}  {precision}  {'':6} {tokens:6.1f}  stated={stated}"
            )
        else:
            acc = sum(bool(r["correct"]) for r in recs) / n
            tokens = sum(r["output_tokens"] for r in recs) / n
            lines.append(f"{set_:10} answer  {key:28} {n:3}   {'':6}  {'':9}  {acc:5.1%}  {tokens:6.1f}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("evals/results/notes/records.jsonl"))
    parser.add_argument("--n-base", type=int, default=100)
    parser.add_argument("--n-p1", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sleep-model", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--wake-model", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--prompts", nargs="*", default=["old", "new"], choices=list(SLEPT))
    parser.add_argument("--arms", nargs="*", default=["none", "old", "new", "oracle"],
                        choices=["none", *SLEPT, "oracle"])
    parser.add_argument("--budgets", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--max-tokens-sleep", type=int, default=768)
    parser.add_argument("--max-tokens-wake", type=int, default=384)
    parser.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="I/N",
                        help="every N-th example from the I-th, so N processes (one per core) share a run")
    parser.add_argument("--summary", action="store_true", help="print the table of --out and exit")


def run_cli(args: argparse.Namespace, argv: Sequence[str] = ()) -> str:
    """``python -m evals notes ...``: run (or resume) into --out, print the table; where the records are."""
    if not args.summary:
        run(args)
    print(summarize(args.out))
    return str(args.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals notes", description=__doc__.split("\n")[0])
    add_arguments(parser)
    run_cli(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
