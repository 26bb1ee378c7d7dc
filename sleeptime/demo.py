"""The demos, in one place.

- `run_demo` (``sleeptime demo``): one context, slept on once, three questions answered
  test-time-only and with sleep-time compute.
- `run_timeline` (``sleeptime timeline``): the idle scheduler at work on a simulated clock:
  change -> idle -> sleep start/end -> question answered from version N.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from langgraph.store.memory import InMemoryStore

from sleeptime.facade import Answer, SleepTime
from sleeptime.scheduler import FakeClock, IdleScheduler, SchedulerEvent
from sleeptime.testing import HashEmbeddings, scripted_model

__all__ = ["CONTEXT", "QUESTIONS", "DemoQuestion", "run_demo", "run_timeline"]

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
        with_sleep = app.ask(q.question, CONTEXT_ID, mode="learned", budget=budget)
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


async def _timeline(app: SleepTime, idle_after: float, out: Callable[[str], None]) -> None:
    clock = FakeClock()

    def show(event: SchedulerEvent) -> None:
        out(event.describe())

    context = "shop"
    async with IdleScheduler(app, idle_after=idle_after, clock=clock, on_event=show) as sched:
        out(f"-- change: the shop's price list arrives (idle_after={idle_after:g}s, simulated clock)")
        await sched.anotify_change(context, text="A shop sells pens at $2 each and notebooks at $4 each.")
        clock.advance(idle_after / 2)
        out("-- more activity before the context went idle: the pending run is pushed back")
        sched.touch(context)
        out(f"-- no activity for {idle_after:g}s: the context is idle, its sleep run starts")
        clock.advance(idle_after)
        await sched.ajoin(context)
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version}: {answer.answer.strip()[:160]}")
        out("-- change: prices go up; a question meanwhile is answered from the published version")
        await sched.anotify_change(context, text="A shop sells pens at $3 each and notebooks at $5 each.")
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version} while the new context waits for idle")
        clock.advance(idle_after)
        await sched.ajoin(context)
        answer = await sched.aask("How much does a pen cost?", context)
        out(f"-- answered from version {answer.version}: {answer.answer.strip()[:160]}")


def run_timeline(*, scripted: bool = False, path: str | Path | None = None, idle_after: float = 30.0,
                 out: Callable[[str], None] = print) -> None:
    """Print a timeline: change -> idle -> sleep start/end -> question answered from version N.

    `scripted=True` uses an in-memory store and a scripted model (instant); otherwise the embedded
    model and an on-disk Chroma store at `path` (a temporary folder when None).
    """
    if scripted:
        model = scripted_model()
        store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
        app = SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=1, n_questions=1)
        asyncio.run(_timeline(app, idle_after, out))
        return
    with tempfile.TemporaryDirectory(prefix="sleeptime-demo-") as tmp:
        app = SleepTime(path=path or tmp, max_rounds=1, n_questions=1, max_tokens_sleep=192,
                        max_tokens_wake=96, max_escalations=0)
        asyncio.run(_timeline(app, idle_after, out))
