"""The demo: one context, slept on once, three questions answered test-time-only and with sleep-time compute."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sleeptime.facade import Answer, SleepTime

CONTEXT_ID = "bakery-demo"

# Written for this project (not from any dataset).
CONTEXT = (
    "Rosa runs a small bakery. Every morning she bakes 6 trays of muffins, and each tray holds 12 muffins. "
    "She sells muffins for $3 each. On Monday she sold 50 muffins in the morning and 14 in the afternoon. "
    "Every muffin that is not sold by closing time is given to a shelter. "
    "Flour for one tray costs her $4, and the other ingredients for one tray cost $5."
)


@dataclass(frozen=True)
class DemoQuestion:
    question: str
    gold: str


QUESTIONS = [
    DemoQuestion("How many muffins does Rosa bake every morning?", "72"),
    DemoQuestion("How many muffins were given to the shelter on Monday?", "8"),
    DemoQuestion("How much money did Rosa make from muffin sales on Monday, in dollars?", "192"),
]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> str | None:
    """The last number in a reply, without $ and thousands separators (the paper's GSM rule)."""
    numbers = _NUMBER.findall(text.replace("$", ""))
    return numbers[-1].replace(",", "").rstrip(".") if numbers else None


def is_correct(answer: str, gold: str) -> bool:
    found = final_number(answer)
    return found is not None and float(found) == float(gold)


def _row(q: DemoQuestion, baseline: Answer, slept: Answer) -> str:
    def cell(a: Answer) -> str:
        mark = "yes" if is_correct(a.answer, q.gold) else "no "
        return f"{final_number(a.answer) or '-':>6} {mark} {a.wake_usage.output_tokens:>5}"

    return f"| {q.question[:58]:<58} | {q.gold:>5} | {cell(baseline)} | {cell(slept)} |"


def run_demo(app: SleepTime, *, budget: int = 1, echo: bool = True) -> list[tuple[DemoQuestion, Answer, Answer]]:
    """Ingest, sleep, answer each question both ways; print a comparison table."""
    say = print if echo else (lambda *a, **k: None)
    say(f"Context ({len(CONTEXT)} chars):\n{CONTEXT}\n")
    app.ingest(CONTEXT_ID, CONTEXT)
    started = time.monotonic()
    slept = app.sleep(CONTEXT_ID, progress=echo)
    say(
        f"\nSlept in {time.monotonic() - started:.0f}s: version {slept.version}, "
        f"{slept.usage.calls} model calls, {slept.usage.output_tokens} sleep-time output tokens, "
        f"{len(slept.questions)} predicted questions.\nLearned context:\n{slept.learned[0]}\n"
    )
    rows = []
    for q in QUESTIONS:
        baseline = app.ask(q.question, CONTEXT_ID, mode="test-time", budget=budget)
        with_sleep = app.ask(q.question, CONTEXT_ID, mode="sleep", budget=budget)
        rows.append((q, baseline, with_sleep))
    header = f"| {'question':<58} | {'gold':>5} | {'test-time only':^16} | {'with sleep-time':^16} |"
    say(header)
    say(f"|{'-' * 60}|{'-' * 7}|{'-' * 18}|{'-' * 18}|")
    say(f"| {'':<58} | {'':>5} | {'answer ok? toks':>16} | {'answer ok? toks':>16} |")
    for q, b, s in rows:
        say(_row(q, b, s))
    base_ok = sum(is_correct(b.answer, q.gold) for q, b, _ in rows)
    sleep_ok = sum(is_correct(s.answer, q.gold) for q, _, s in rows)
    base_tokens = sum(b.wake_usage.output_tokens for _, b, _ in rows)
    sleep_tokens = sum(s.wake_usage.output_tokens for _, _, s in rows)
    say(
        f"\nBudget level {budget}. Correct: test-time only {base_ok}/{len(rows)}, "
        f"with sleep-time {sleep_ok}/{len(rows)}. "
        f"Test-time output tokens: {base_tokens} vs {sleep_tokens}; "
        f"sleep-time output tokens (shared by all questions): {slept.usage.output_tokens}."
    )
    return rows
