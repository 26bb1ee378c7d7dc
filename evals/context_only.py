"""Context-only ablation: the model guesses the question from the context alone and answers it while idle; that
answer is graded against the real question's gold, beside test-time only and sleep-time at each budget."""

from __future__ import annotations

import functools

from langchain_core.messages import HumanMessage, SystemMessage

from evals.examples import Example
from evals.options import ContextOnlyOptions, RunOptions, expect
from evals.pareto import budget_keys, budget_task
from evals.runner import Emit, Env, RunnerSpec, base_record, error_record, grade, make_key, timed
from sleeptime.experimental import record_usage

CONTEXT_ONLY_SYSTEM = (
    "You are given the first part of a math word problem: the situation, without its question. "
    "Guess the single question most likely to be asked about it, then answer that question. "
    "Reply in this form:\nQuestion: <your guessed question>\nReasoning: <short reasoning>\n#### <number>"
)


def context_only_task(env: Env, ex: Example, done: set[str], emit: Emit) -> None:
    """Guess the question from the context alone (while idle), answer it, grade against the real gold;
    plus test-time only and sleep-time at each budget for comparison."""
    o = expect(env.opts, ContextOnlyOptions)
    model = env.chat_model("sleep", temperature=0.0 if o.guesses == 1 else o.temperature,
                           max_tokens=o.max_tokens_sleep)
    for g in range(o.guesses):
        key = make_key(ex.id, "context-only", g)
        if key in done:
            continue
        msgs = [SystemMessage(CONTEXT_ONLY_SYSTEM), HumanMessage(f"Situation:\n{ex.context}")]
        try:
            reply, lat = timed(functools.partial(model.invoke, msgs))
        except Exception as exc:
            emit(error_record(ex, o, key=key, exc=exc, mode="context-only", guess=g))
            continue
        text = reply.text if hasattr(reply, "text") else str(reply.content)
        usage = record_usage(reply, phase="sleep", node="context-only")
        correct, extracted = grade(text, ex.answer, ex.source)
        emit(
            base_record(
                ex, o, key=key, mode="context-only", budget=None, guess=g, setting=None,
                answer=text, extracted=extracted, correct=correct,
                # Nothing is spent at test time: the guessed answer is served as is.
                input_tokens=0, output_tokens=0, reasoning_tokens=0,
                sleep_input_tokens=usage["input_tokens"], sleep_output_tokens=usage["output_tokens"],
                sleep_reasoning_tokens=usage["reasoning_tokens"], latency_s=round(lat, 3),
            )
        )
    budget_task(env, ex, done, emit)


def context_only_keys(opts: RunOptions, ex: Example) -> list[str]:
    opts = expect(opts, ContextOnlyOptions)
    return [make_key(ex.id, "context-only", g) for g in range(opts.guesses)] + budget_keys(opts, ex)


SPEC = RunnerSpec(ContextOnlyOptions, context_only_task, context_only_keys, desc="context-only")
