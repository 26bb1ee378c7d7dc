"""Test-time only against sleep-time at each budget level (``pareto``; ``scaling`` with several sleep settings),
and the sleep-then-answer steps the other experiments reuse.

Per example: ingest the context; answer test-time only at each budget; then per sleep setting sleep once and
answer with the learned context at each budget.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from evals.capped import capped_ask
from evals.examples import Example
from evals.options import RunOptions, ScalingOptions, SleepSetting
from evals.oracle import intermediate_notes, oracle_notes
from evals.replay import first_samples, replay_sleep, samples_to_remerge
from evals.runner import (
    MATCH_FIELDS,
    Emit,
    Env,
    RunnerSpec,
    answer_record,
    base_record,
    error_record,
    fresh_context_id,
    make_key,
    timed,
)
from sleeptime.experimental import experiment_from_names


def ask_records(
    env: Env,
    app: Any,
    ex: Example,
    context_id: str,
    *,
    mode: str,
    budgets: Sequence[int],
    done: set[str],
    emit: Emit,
    setting: str = "",
    key_mode: str | None = None,
    sample: int | None = None,
    question: str | None = None,
    mirror: str | None = None,
    spent: dict[str, Any] | None = None,
    **overrides: Any,
) -> None:
    """Ask at each budget not done yet and emit one record each.

    ``mirror`` names a mode whose call would be the very same one whenever this answer did not come from a
    predicted question (the "sleep" mode for "sleep+verified": same prompt, greedy decoding); such an
    answer is recorded for it too, marked ``same_call_as``, instead of generating it a second time.
    """
    api_mode = "test-time" if mode in ("test-time", "sample") else "learned"
    for b in budgets:
        parts: list[object] = [key_mode or mode, b]
        if setting:
            parts.append(setting)
        if sample is not None:
            parts.append(sample)
        key = make_key(ex.id, *parts)
        if key in done:
            continue
        extra: dict[str, Any] = {"setting": setting or None}
        if sample is not None:
            extra["sample"] = sample
        try:
            if env.opts.budget_mode == "cap":
                capped, lat = timed(functools.partial(capped_ask, env, app, question or ex.question, context_id,
                                                      mode=api_mode, cap=b, **overrides))
                ans = capped.answer
                extra |= {"budget_mode": "cap", "forced": capped.forced,
                          "capped_output_tokens": capped.capped_output_tokens}
            else:
                ans, lat = timed(
                    functools.partial(app.ask, question or ex.question, context_id, mode=api_mode, budget=b,
                                      **overrides)
                )
            rec = answer_record(ex, env.opts, key=key, mode=mode, budget=b, answer=ans, latency=lat, **extra)
            if spent and ans.route == "test-time":  # the sleep published nothing: what it spent is still its cost
                rec.update(spent)
            emit(rec)
            if mirror and ans.route != "predicted":
                mirror_key = make_key(ex.id, mirror, *parts[1:])
                if mirror_key not in done:
                    # The same call, graded once: only its key and mode differ, and the mirrored mode does not match.
                    emit({k: v for k, v in rec.items() if k not in MATCH_FIELDS}
                         | {"key": mirror_key, "mode": mirror, "same_call_as": key})
                    done.add(mirror_key)
        except Exception as exc:  # one failed call is a wrong answer with no tokens, not a dead run
            emit(error_record(ex, env.opts, key=key, exc=exc, mode=mode, budget=b, **extra))


def sleep_and_ask(
    env: Env,
    app: Any,
    ex: Example,
    context_id: str,
    setting: SleepSetting,
    done: set[str],
    emit: Emit,
    budgets: Sequence[int],
    larger: tuple[str, Any] | None = None,
) -> Any:
    """Sleep once with `setting` (or replay a recorded sleep; or, given `larger` (label, result), a sleep of more
    samples of the same example, take its first ones) and answer at each budget; the sleep's result, None where
    none ran."""
    keys = [make_key(ex.id, mode, b, setting.label) for mode in sleep_modes(env.opts) for b in budgets]
    run_key = make_key(ex.id, "sleep-run", setting.label)
    if all(k in done for k in keys) and run_key in done:
        return None
    notes_from = getattr(env.opts, "notes_from", None)
    try:
        if larger is not None:  # views sampling: sample i is the same whatever k, so k = 2 is k = 4's first two
            res = first_samples(larger[1], setting.samples, app, context_id, env.opts.sample_merge)
            lat = res.latency_s
        elif notes_from:  # another run's sleep, replayed: its notes, its sleep tokens (evals.replay)
            res = replay_sleep(notes_from, app, ex.id, context_id, setting.label, merge=env.opts.sample_merge)
            if res is None:
                return None  # that run has not slept on this example yet: a later resume picks it up
            lat = res.latency_s
        else:
            res, lat = timed(lambda: app.sleep(context_id, samples=setting.samples, max_rounds=setting.rounds,
                                               **question_work(env.opts, setting)))
    except Exception as exc:
        emit(error_record(ex, env.opts, key=run_key, exc=exc, mode="sleep-run", setting=setting.label))
        for mode in sleep_modes(env.opts):
            for b in budgets:
                k = make_key(ex.id, mode, b, setting.label)
                if k not in done:
                    emit(error_record(ex, env.opts, key=k, exc=exc, mode=mode, budget=b, setting=setting.label))
        return None
    if run_key not in done:
        emit(
            base_record(
                ex,
                env.opts,
                key=run_key,
                mode="sleep-run",
                setting=setting.label,
                samples=setting.samples,
                rounds=setting.rounds,
                questions=setting.questions,
                published=res.published,
                status=res.status,
                learned=res.learned,
                sample_notes=res.samples,
                predicted=[dict(q) for q in res.questions],
                sleep_calls=res.usage.calls,
                sleep_input_tokens=res.usage.input_tokens,
                sleep_output_tokens=res.usage.output_tokens,
                sleep_reasoning_tokens=res.usage.reasoning_tokens,
                sample_output_tokens=[u.output_tokens for u in res.sample_usage],
                latency_s=None if lat is None else round(lat, 3),
                **({"first_samples_of": larger[0]} if larger is not None else {}),
            )
        )
    # A sleep that published nothing (no note survived checking) leaves the context unslept, so its answers
    # fall back to test-time; the tokens it spent are still this setting's sleep cost, so they go on them.
    spent = {} if res.published else {"sleep_input_tokens": res.usage.input_tokens,
                                      "sleep_output_tokens": res.usage.output_tokens,
                                      "sleep_reasoning_tokens": res.usage.reasoning_tokens, "sleep_published": False}
    if env.opts.verified:  # first: where no predicted answer is served, it is also the "sleep" answer
        ask_records(env, app, ex, context_id, mode="sleep+verified", budgets=budgets, done=done, emit=emit,
                    setting=setting.label, mirror="sleep", serve_predicted=True, spent=spent)
    ask_records(env, app, ex, context_id, mode="sleep", budgets=budgets, done=done, emit=emit,
                setting=setting.label, spent=spent)
    return res


def question_work(opts: RunOptions, setting: SleepSetting) -> dict[str, Any]:
    """The sleep options of a setting that works its predicted questions (``-qN``): N questions, LEVEL4."""
    if not setting.questions:
        return {}
    return {"n_questions": setting.questions,
            "experiment": experiment_from_names(sample_merge=opts.sample_merge, rethink=opts.rethink,
                                                question_work="level4", sampling=opts.sampling)}


def sleep_modes(opts: RunOptions) -> list[str]:
    """The answer modes that follow one sleep run."""
    return ["sleep", "sleep+verified"] if opts.verified else ["sleep"]


def oracle_and_ask(env: Env, app: Any, ex: Example, done: set[str], emit: Emit, budgets: Sequence[int],
                   mode: str = "oracle") -> None:
    """An oracle arm: gold values (``oracle``: all of them, final answer included; ``oracle-intermediate``: the
    final answer left out) published as the learned context of a context of their own (no sleep run, no sleep
    tokens), then answered from at each budget like the sleep mode."""
    keys = [make_key(ex.id, mode, b) for b in budgets]
    if all(k in done for k in keys):
        return
    try:
        notes = intermediate_notes(ex) if mode == "oracle-intermediate" else oracle_notes(ex)
        cid = fresh_context_id(f"{ex.id}-{mode}")
        revision = app.ingest(cid, ex.context).revision
        app.learned_store().publish(cid, samples=[notes], questions=[], source_revision=revision)
    except Exception as exc:  # no oracle notes (or no store): the oracle answers are failures, counted wrong
        for b, k in zip(budgets, keys, strict=True):
            if k not in done:
                emit(error_record(ex, env.opts, key=k, exc=exc, mode=mode, budget=b, setting=None))
        return
    ask_records(env, app, ex, cid, mode=mode, budgets=budgets, done=done, emit=emit)


def budget_task(env: Env, ex: Example, done: set[str], emit: Emit) -> None:
    """Test-time only at each budget, then for each sleep setting: sleep once and answer at each budget; then
    (``--oracle``) answer from the gold intermediate values."""
    o = env.opts
    notes_from = getattr(o, "notes_from", None)
    if notes_from and not samples_to_remerge(notes_from, ex.id, o.sleep_settings(), o.sample_merge):
        return  # another merge of samples this example's sleeps did not keep: nothing new to measure here
    app = env.app()
    cid = fresh_context_id(ex.id)
    app.ingest(cid, ex.context)
    ask_records(env, app, ex, cid, mode="test-time", budgets=o.budgets, done=done, emit=emit)
    larger: dict[tuple[int, int], tuple[str, Any]] = {}  # (rounds, questions) -> (label, sleep) of the most samples
    for setting in o.sleep_settings():  # a context each: a setting whose sleep publishes nothing reads no other's
        setting_cid = fresh_context_id(f"{ex.id}-{setting.label}")
        app.ingest(setting_cid, ex.context)
        nested = nested_samples(o)
        biggest = larger.get((setting.rounds, setting.questions)) if nested else None
        source = biggest if biggest is not None and len(biggest[1].samples) > setting.samples else None
        res = sleep_and_ask(env, app, ex, setting_cid, setting, done, emit, o.answer_budgets, larger=source)
        if nested and source is None and res is not None:  # slept for real, at least as many samples as before
            larger[(setting.rounds, setting.questions)] = (setting.label, res)
    if o.oracle:
        oracle_and_ask(env, app, ex, done, emit, o.answer_budgets)
    if o.oracle_intermediate:
        oracle_and_ask(env, app, ex, done, emit, o.answer_budgets, mode="oracle-intermediate")


def nested_samples(opts: RunOptions) -> bool:
    """Whether a sleep of k samples can be read off a sleep of more samples of the same example: under views
    sampling every sample is greedy with a focus fixed by its index, a setting's level-4 question work (``-qN``)
    lists and works each sample's questions from that sample's notes, and without the run's short predict call
    (``--n-questions 0``) nothing else after the merge calls the model. List the largest k first
    (``k4-r1,k2-r1,k1-r1``) to sleep once."""
    return opts.sampling == "views" and not opts.n_questions and not getattr(opts, "notes_from", None)


def budget_keys(opts: RunOptions, ex: Example) -> list[str]:
    keys = [make_key(ex.id, "test-time", b) for b in opts.budgets]
    for s in opts.sleep_settings():
        keys.append(make_key(ex.id, "sleep-run", s.label))
        keys += [make_key(ex.id, m, b, s.label) for m in sleep_modes(opts) for b in opts.answer_budgets]
    if opts.oracle:
        keys += [make_key(ex.id, "oracle", b) for b in opts.answer_budgets]
    if opts.oracle_intermediate:
        keys += [make_key(ex.id, "oracle-intermediate", b) for b in opts.answer_budgets]
    return keys


PARETO = RunnerSpec(RunOptions, budget_task, budget_keys, desc="pareto")
SCALING = RunnerSpec(ScalingOptions, budget_task, budget_keys, desc="scaling")
