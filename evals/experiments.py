"""The paper's experiments, one function each, plus the aggregation that turns records into tables.

Experiments (``python -m evals <name>``):

* ``pareto``: test-time only vs sleep-time at each budget level (accuracy vs mean test-time output tokens).
* ``passk``: k samples of test-time only at temperature > 0 (pass@k, unbiased estimator, and majority vote)
  against sleep-time at the same test-time tokens.
* ``scaling``: sleep-time compute scaled by k parallel learned contexts and rethink rounds.
* ``amortization``: cost per query vs queries per context on Multi-Query GSM-Symbolic, test-time tokens
  weighted ``t`` (default 10) against sleep-time tokens.
* ``predictability``: log p(question | context) under a local model, quantile bins, sleep-time gain per bin.
* ``context-only``: the model guesses the question from the context alone and answers it while idle; that
  answer is graded against the real question's gold.

Token counts are the models' own usage reports. "Test-time tokens" are the wake phase's output tokens, as
the paper counted them; input tokens are kept beside them in every record and table.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.datasets import Example, MultiQueryExample, load_dataset
from evals.grading import summarize
from evals.runner import (
    MATCH_FIELDS,
    RECORDS_FILE,
    Env,
    Record,
    RunOptions,
    answer_record,
    base_record,
    error_record,
    fresh_context_id,
    grade,
    make_key,
    read_records,
    run_items,
    timed,
    write_run_file,
)

EXPERIMENTS: tuple[str, ...] = ("pareto", "passk", "scaling", "amortization", "predictability", "context-only")


# ============================================================================ sleep settings


@dataclass(frozen=True)
class SleepSetting:
    """How much sleep-time compute: k parallel learned contexts, each up to `rounds` rethink rounds."""

    samples: int
    rounds: int

    @property
    def label(self) -> str:
        return f"k{self.samples}-r{self.rounds}"


def settings_for(opts: RunOptions) -> list[SleepSetting]:
    if opts.experiment == "scaling":
        return [SleepSetting(k, r) for r in opts.scale_rounds for k in opts.scale_samples]
    return [SleepSetting(opts.samples, opts.max_rounds)]


# ============================================================================ tasks


def _ask_records(
    env: Env,
    app: Any,
    ex: Example,
    context_id: str,
    *,
    mode: str,
    budgets: Sequence[int],
    done: set[str],
    emit: Callable[[Record], None],
    setting: str = "",
    key_mode: str | None = None,
    sample: int | None = None,
    question: str | None = None,
    mirror: str | None = None,
    **overrides: Any,
) -> None:
    """Ask at each budget not done yet and emit one record each.

    ``mirror`` names a mode whose call would be the very same one whenever this answer did not come from a
    predicted question (the "sleep" mode for "sleep+verified": same prompt, greedy decoding); such an
    answer is recorded for it too, marked ``same_call_as``, instead of generating it a second time.
    """
    api_mode = "test-time" if mode in ("test-time", "sample") else "sleep"
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
            ans, lat = timed(
                functools.partial(app.ask, question or ex.question, context_id, mode=api_mode, budget=b,
                                  **overrides)
            )
            rec = answer_record(ex, env.opts, key=key, mode=mode, budget=b, answer=ans, latency=lat, **extra)
            emit(rec)
            if mirror and ans.path != "predicted":
                mirror_key = make_key(ex.id, mirror, *parts[1:])
                if mirror_key not in done:
                    # The same call, graded once: only its key and mode differ, and the mirrored mode does not match.
                    emit({k: v for k, v in rec.items() if k not in MATCH_FIELDS}
                         | {"key": mirror_key, "mode": mirror, "same_call_as": key})
                    done.add(mirror_key)
        except Exception as exc:  # one failed call is a wrong answer with no tokens, not a dead run
            emit(error_record(ex, env.opts, key=key, exc=exc, mode=mode, budget=b, **extra))


def _sleep_and_ask(
    env: Env,
    app: Any,
    ex: Example,
    context_id: str,
    setting: SleepSetting,
    done: set[str],
    emit: Callable[[Record], None],
    budgets: Sequence[int],
) -> None:
    keys = [make_key(ex.id, mode, b, setting.label) for mode in sleep_modes(env.opts) for b in budgets]
    run_key = make_key(ex.id, "sleep-run", setting.label)
    if all(k in done for k in keys) and run_key in done:
        return
    try:
        res, lat = timed(lambda: app.sleep(context_id, samples=setting.samples, max_rounds=setting.rounds))
    except Exception as exc:
        emit(error_record(ex, env.opts, key=run_key, exc=exc, mode="sleep-run", setting=setting.label))
        for mode in sleep_modes(env.opts):
            for b in budgets:
                k = make_key(ex.id, mode, b, setting.label)
                if k not in done:
                    emit(error_record(ex, env.opts, key=k, exc=exc, mode=mode, budget=b, setting=setting.label))
        return
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
                published=res.published,
                status=res.status,
                learned=res.learned,
                predicted=[dict(q) for q in res.questions],
                sleep_calls=res.usage.calls,
                sleep_input_tokens=res.usage.input_tokens,
                sleep_output_tokens=res.usage.output_tokens,
                sleep_reasoning_tokens=res.usage.reasoning_tokens,
                latency_s=round(lat, 3),
            )
        )
    if env.opts.verified:  # first: where no predicted answer is served, it is also the "sleep" answer
        _ask_records(env, app, ex, context_id, mode="sleep+verified", budgets=budgets, done=done, emit=emit,
                     setting=setting.label, mirror="sleep", serve_predicted=True)
    _ask_records(env, app, ex, context_id, mode="sleep", budgets=budgets, done=done, emit=emit,
                  setting=setting.label)


def sleep_modes(opts: RunOptions) -> list[str]:
    """The answer modes that follow one sleep run."""
    return ["sleep", "sleep+verified"] if opts.verified else ["sleep"]


def budget_task(env: Env, ex: Example, done: set[str], emit: Callable[[Record], None]) -> None:
    """Test-time only at each budget, then for each sleep setting: sleep once and answer at each budget."""
    o = env.opts
    app = env.app()
    cid = fresh_context_id(ex.id)
    app.ingest(cid, ex.context)
    _ask_records(env, app, ex, cid, mode="test-time", budgets=o.budgets, done=done, emit=emit)
    for setting in settings_for(o):
        _sleep_and_ask(env, app, ex, cid, setting, done, emit, o.budgets)


def budget_keys(opts: RunOptions, ex: Example) -> list[str]:
    keys = [make_key(ex.id, "test-time", b) for b in opts.budgets]
    for s in settings_for(opts):
        keys.append(make_key(ex.id, "sleep-run", s.label))
        keys += [make_key(ex.id, m, b, s.label) for m in sleep_modes(opts) for b in opts.budgets]
    return keys


def passk_task(env: Env, ex: Example, done: set[str], emit: Callable[[Record], None]) -> None:
    """k test-time-only samples at temperature > 0 per budget; sleep-time (greedy) at the same budgets."""
    o = env.opts
    app = env.app()
    cid = fresh_context_id(ex.id)
    app.ingest(cid, ex.context)
    for i in range(o.k):
        _ask_records(env, app, ex, cid, mode="sample", budgets=o.budgets, done=done, emit=emit, sample=i,
                     temperature=o.temperature)
    _sleep_and_ask(env, app, ex, cid, settings_for(o)[0], done, emit, o.budgets)


def passk_keys(opts: RunOptions, ex: Example) -> list[str]:
    s = settings_for(opts)[0]
    keys = [make_key(ex.id, "sample", b, i) for i in range(opts.k) for b in opts.budgets]
    keys.append(make_key(ex.id, "sleep-run", s.label))
    return keys + [make_key(ex.id, "sleep", b, s.label) for b in opts.budgets]


CONTEXT_ONLY_SYSTEM = (
    "You are given the first part of a math word problem: the situation, without its question. "
    "Guess the single question most likely to be asked about it, then answer that question. "
    "Reply in this form:\nQuestion: <your guessed question>\nReasoning: <short reasoning>\n#### <number>"
)


def context_only_task(env: Env, ex: Example, done: set[str], emit: Callable[[Record], None]) -> None:
    """Guess the question from the context alone (while idle), answer it, grade against the real gold;
    plus test-time only and sleep-time at each budget for comparison."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from sleeptime.usage import record_usage

    o = env.opts
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
    return [make_key(ex.id, "context-only", g) for g in range(opts.guesses)] + budget_keys(opts, ex)


# ---------------------------------------------------------------------------- amortization (multi-query)


def _mq_examples(item: MultiQueryExample, n: int) -> list[Example]:
    return [
        Example(f"{item.context_id}-q{i}", item.context, q, a, item.source or "multi-query", {})
        for i, (q, a) in enumerate(item.questions[:n])
    ]


def amortization_task(env: Env, item: MultiQueryExample, done: set[str], emit: Callable[[Record], None]) -> None:
    """One context, slept on once, then each of its questions answered with and without the learned context."""
    o = env.opts
    app = env.app()
    cid = fresh_context_id(item.context_id)
    app.ingest(cid, item.context)
    setting = settings_for(o)[0]
    exs = _mq_examples(item, o.queries)
    group = Example(item.context_id, item.context, "", "", item.source or "multi-query", {})
    run_key = make_key(item.context_id, "sleep-run", setting.label)
    for i, ex in enumerate(exs):
        tag = {"context_id": item.context_id, "query_index": i}
        _ask_records(env, app, _prefixed(ex, item.context_id), cid, mode="test-time", budgets=o.budgets,
                     done=done, emit=_tagged(emit, tag))
    need_sleep = run_key not in done or any(
        make_key(item.context_id, f"q{i}", "sleep", b, setting.label) not in done
        for i in range(len(exs)) for b in o.budgets
    )
    if not need_sleep:
        return
    try:
        res, lat = timed(lambda: app.sleep(cid, samples=setting.samples, max_rounds=setting.rounds))
    except Exception as exc:
        emit(error_record(group, o, key=run_key, exc=exc, mode="sleep-run", setting=setting.label,
                          context_id=item.context_id))
        return
    if run_key not in done:
        emit(base_record(group, o, key=run_key, mode="sleep-run", setting=setting.label,
                         context_id=item.context_id, learned=res.learned, sleep_calls=res.usage.calls,
                         sleep_input_tokens=res.usage.input_tokens, sleep_output_tokens=res.usage.output_tokens,
                         sleep_reasoning_tokens=res.usage.reasoning_tokens, latency_s=round(lat, 3)))
    for i, ex in enumerate(exs):
        tag = {"context_id": item.context_id, "query_index": i}
        _ask_records(env, app, _prefixed(ex, item.context_id), cid, mode="sleep", budgets=o.budgets, done=done,
                     emit=_tagged(emit, tag), setting=setting.label)


def _prefixed(ex: Example, context_id: str) -> Example:
    """Keys of a multi-query record start with the context id (so resume can find them): cid|q<i>|..."""
    index = ex.id.rsplit("-q", 1)[1]
    return Example(f"{context_id}|q{index}", ex.context, ex.question, ex.answer, ex.source, ex.meta)


def _tagged(emit: Callable[[Record], None], tag: Mapping[str, Any]) -> Callable[[Record], None]:
    def inner(rec: Record) -> None:
        emit({**rec, **tag})

    return inner


def amortization_keys(opts: RunOptions, item: MultiQueryExample) -> list[str]:
    s = settings_for(opts)[0]
    keys = [make_key(item.context_id, "sleep-run", s.label)]
    for i in range(min(opts.queries, len(item.questions))):
        for b in opts.budgets:
            keys.append(make_key(item.context_id, f"q{i}", "test-time", b))
            keys.append(make_key(item.context_id, f"q{i}", "sleep", b, s.label))
    return keys


# ============================================================================ aggregation


def answer_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("mode") in ("test-time", "sleep", "sleep+verified", "sample", "context-only")]


def complete_only(records: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """Records of the examples that have every measured cell (mode, setting, budget, sample) of the run, so
    modes are compared on the same examples; and how many examples were left out (still in progress)."""
    recs = list(records)
    cell_of: dict[str, set[tuple[Any, ...]]] = {}
    for r in answer_records(recs):
        cell = (r.get("mode"), r.get("setting"), r.get("budget"), r.get("sample"), r.get("guess"))
        cell_of.setdefault(str(r.get("example_id")), set()).add(cell)
    every = set().union(*cell_of.values()) if cell_of else set()
    keep = {e for e, cells in cell_of.items() if cells == every}
    return [r for r in recs if str(r.get("example_id")) in keep], len(cell_of) - len(keep)


def _mean(values: Iterable[float | int | None]) -> float:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else math.nan


def budget_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, setting, budget): n, accuracy, mean test-time output/input tokens, mean sleep tokens."""
    recs = [r for r in answer_records(records) if r.get("mode") != "sample"]
    rows = summarize(recs, by=("mode", "setting", "budget"))
    for row in rows:
        members = [r for r in recs if (r.get("mode"), r.get("setting"), r.get("budget"))
                   == (row["mode"], row["setting"], row["budget"])]
        row["mean_reasoning_tokens"] = _mean(r.get("reasoning_tokens") for r in members)
        row["mean_sleep_output_tokens"] = _mean(r.get("sleep_output_tokens") for r in members)
        row["errors"] = sum(1 for r in members if r.get("error"))
    return rows


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} > n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most common extracted answer (None ignored); ties go to the one seen first."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def _same_number(a: str | None, gold: str) -> bool:
    """Equal as exact numbers. Records hold no gold answers, so majority vote compares the voted answer with
    the extracted answer of a sample graded correct (none correct: the vote is wrong)."""
    from evals.grading import parse_number

    if a is None:
        return False
    x, y = parse_number(a), parse_number(gold)
    return x is not None and y is not None and x == y


def passk_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pass@j and majority@j for j = 1..k at each budget; test-time tokens are those of all j samples."""
    samples: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("mode") == "sample":
            samples.setdefault((int(r["budget"]), str(r["example_id"])), []).append(r)
    rows: list[dict[str, Any]] = []
    for b in sorted({b for b, _ in samples}):
        per_ex = {eid: sorted(v, key=lambda r: int(r.get("sample", 0))) for (bb, eid), v in samples.items() if bb == b}
        k = min(len(v) for v in per_ex.values())
        for j in range(1, k + 1):
            pk, mv, toks, itoks = [], [], [], []
            for v in per_ex.values():
                c = sum(1 for r in v[:k] if r.get("correct"))
                pk.append(pass_at_k(k, c, j))
                first = v[:j]
                voted = majority_vote([r.get("extracted") for r in first])
                right = [str(r["extracted"]) for r in v if r.get("correct") and r.get("extracted") is not None]
                mv.append(1.0 if any(_same_number(voted, g) for g in right) else 0.0)
                out = [r.get("output_tokens") for r in first]
                toks.append(sum(int(t) for t in out if t is not None) if any(t is not None for t in out) else None)
                inp = [r.get("input_tokens") for r in first]
                itoks.append(sum(int(t) for t in inp if t is not None) if any(t is not None for t in inp) else None)
            for mode, accs in ((f"pass@{j}", pk), (f"majority@{j}", mv)):
                rows.append({"mode": mode, "setting": None, "budget": b, "n": len(per_ex),
                             "accuracy": sum(accs) / len(accs), "mean_output_tokens": _mean(toks),
                             "mean_input_tokens": _mean(itoks)})
    return rows


def amortized_cost(sleep_tokens: float, test_tokens: Sequence[float], weight: float) -> float:
    """Cost per query when one sleep serves len(test_tokens) queries: sleep/N + weight * mean(test)."""
    if not test_tokens:
        raise ValueError("no queries")
    return sleep_tokens / len(test_tokens) + weight * sum(test_tokens) / len(test_tokens)


def amortization_table(records: Iterable[Mapping[str, Any]], weight: float) -> list[dict[str, Any]]:
    """Per budget and N = 1..max queries per context: mean cost per query and accuracy, both modes.

    A context counts at N when it has N answered questions; its cost uses its first N questions.
    """
    recs = list(records)
    sleep_runs = {str(r["context_id"]): r for r in recs if r.get("mode") == "sleep-run" and "context_id" in r}
    per: dict[tuple[str, int, str], list[Mapping[str, Any]]] = {}
    for r in recs:
        if r.get("mode") in ("test-time", "sleep") and "context_id" in r:
            per.setdefault((str(r["mode"]), int(r["budget"]), str(r["context_id"])), []).append(r)
    rows: list[dict[str, Any]] = []
    budgets = sorted({b for _, b, _ in per})
    for b in budgets:
        max_n = max((len(v) for (m, bb, _), v in per.items() if bb == b), default=0)
        for n in range(1, max_n + 1):
            for mode in ("test-time", "sleep"):
                costs: list[float] = []
                accs: list[float] = []
                for (m, bb, cid), v in per.items():
                    if m != mode or bb != b or len(v) < n:
                        continue
                    first = sorted(v, key=lambda r: int(r.get("query_index", 0)))[:n]
                    toks = [float(r["output_tokens"]) for r in first if r.get("output_tokens") is not None]
                    if not toks:
                        continue
                    sleep_tok = 0.0
                    if mode == "sleep":
                        run = sleep_runs.get(cid)
                        if run is None or run.get("sleep_output_tokens") is None:
                            continue
                        sleep_tok = float(run["sleep_output_tokens"])
                    costs.append(amortized_cost(sleep_tok, toks, weight))
                    accs.extend(1.0 if r.get("correct") else 0.0 for r in first)
                if costs:
                    rows.append({"mode": mode, "budget": b, "queries_per_context": n, "contexts": len(costs),
                                 "weight": weight, "cost_per_query": _mean(costs), "accuracy": _mean(accs)})
    return rows


def projected_amortization(records: Iterable[Mapping[str, Any]], weight: float,
                           queries: Sequence[int] = (1, 2, 5, 10)) -> list[dict[str, Any]]:
    """From single-question records: cost per query if N queries shared each context, each costing what the
    measured question did (a projection, labelled as such, not a Multi-Query measurement)."""
    rows: list[dict[str, Any]] = []
    recs = list(records)
    for row in budget_table(recs):
        if row["mode"] not in ("test-time", "sleep"):
            continue
        test = row["mean_output_tokens"]
        sleep = row["mean_sleep_output_tokens"] if row["mode"] == "sleep" else 0.0
        if math.isnan(test) or (row["mode"] == "sleep" and math.isnan(sleep)):
            continue
        for n in queries:
            rows.append({"mode": row["mode"], "setting": row["setting"], "budget": row["budget"],
                         "queries_per_context": n, "weight": weight,
                         "cost_per_query": sleep / n + weight * test, "accuracy": row["accuracy"]})
    return rows


def quantile_bins(values: Sequence[float], bins: int) -> list[int]:
    """The bin (0..bins-1, low to high) of each value by rank, as equal-count as possible."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0] * len(values)
    for rank, i in enumerate(order):
        out[i] = min(bins - 1, rank * bins // max(1, len(values)))
    return out


def predictability_table(records: Iterable[Mapping[str, Any]], bins: int = 5) -> list[dict[str, Any]]:
    """Examples binned by log p(question | context); per bin the accuracy of both modes and the gain
    (sleep minus test-time, averaged over the budgets both modes were measured at)."""
    recs = list(records)
    lp = {str(r["example_id"]): float(r["logprob"]) for r in recs if r.get("mode") == "logprob"
          and r.get("logprob") is not None}
    by_ex: dict[str, dict[tuple[str, int], list[bool]]] = {}
    for r in recs:
        if r.get("mode") in ("test-time", "sleep") and r.get("budget") is not None:
            by_ex.setdefault(str(r["example_id"]), {}).setdefault((str(r["mode"]), int(r["budget"])), []).append(
                bool(r.get("correct")))
    ids = [e for e in lp if e in by_ex]
    if not ids:
        return []
    which = quantile_bins([lp[e] for e in ids], min(bins, len(ids)))
    rows: list[dict[str, Any]] = []
    for b in range(min(bins, len(ids))):
        members = [e for e, w in zip(ids, which, strict=True) if w == b]
        tt, sl = [], []
        for e in members:
            cells = by_ex[e]
            for (mode, budget), vals in cells.items():
                if mode == "sleep" and ("test-time", budget) in cells:
                    sl.append(_mean(1.0 if v else 0.0 for v in vals))
                    tt.append(_mean(1.0 if v else 0.0 for v in cells[("test-time", budget)]))
        rows.append({"bin": b + 1, "n": len(members), "logprob_min": min(lp[e] for e in members),
                     "logprob_max": max(lp[e] for e in members), "accuracy_test_time": _mean(tt),
                     "accuracy_sleep": _mean(sl), "gain": _mean(sl) - _mean(tt)})
    return rows


def paired_counts(records: Iterable[Mapping[str, Any]], mode: str, setting: str, budget: int) -> tuple[int, int]:
    """(examples the sleep mode got right and test-time only wrong, the reverse) at one budget level."""
    cells: dict[str, dict[str, bool]] = {}
    for r in answer_records(records):
        if r.get("budget") != budget:
            continue
        if r.get("mode") == "test-time":
            cells.setdefault(str(r["example_id"]), {})["tt"] = bool(r.get("correct"))
        elif r.get("mode") == mode and str(r.get("setting")) == setting:
            cells.setdefault(str(r["example_id"]), {})["sl"] = bool(r.get("correct"))
    both = [c for c in cells.values() if len(c) == 2]
    return sum(c["sl"] and not c["tt"] for c in both), sum(c["tt"] and not c["sl"] for c in both)


def headline(records: Iterable[Mapping[str, Any]], weight: float = 10.0) -> list[str]:
    """Plain-sentence ratios from the budget table, for each sleep mode ("sleep", "sleep+verified"): accuracy at
    equal budget level (with the paired wins and losses behind the difference), tokens at equal accuracy, and
    projected cost per query at 10 queries per context. Computed, never typed in."""
    records = list(records)
    rows = budget_table(records)
    tt = {r["budget"]: r for r in rows if r["mode"] == "test-time"}
    lines: list[str] = []
    for mode in ("sleep", "sleep+verified"):
        settings = sorted({str(r["setting"]) for r in rows if r["mode"] == mode})
        for s in settings:
            lines += _headline_lines(records, rows, tt, mode, s, weight)
    return lines


def _headline_lines(records: list[Mapping[str, Any]], rows: list[dict[str, Any]], tt: Mapping[Any, dict[str, Any]],
                    mode: str, s: str, weight: float) -> list[str]:
    lines: list[str] = []
    sl = {r["budget"]: r for r in rows if r["mode"] == mode and str(r["setting"]) == s}
    for b in sorted(set(tt) & set(sl)):
        a, c = tt[b], sl[b]
        ratio = a["mean_output_tokens"] / c["mean_output_tokens"] if c["mean_output_tokens"] else math.nan
        wins, losses = paired_counts(records, mode, s, b)
        lines.append(
            f"{mode}, budget {b} ({s}): accuracy test-time {a['accuracy']:.3f} vs {mode} {c['accuracy']:.3f} "
            f"({c['accuracy'] - a['accuracy']:+.3f}; right only with {mode}: {wins}, only test-time: {losses}); "
            f"test-time output tokens {a['mean_output_tokens']:.1f} vs {c['mean_output_tokens']:.1f} "
            f"({ratio:.2f}x); sleep output tokens per context {c['mean_sleep_output_tokens']:.1f}; "
            f"cost/query at 10 queries/context, t={weight:g}: test-time {weight * a['mean_output_tokens']:.0f} vs "
            f"{mode} {c['mean_sleep_output_tokens'] / 10 + weight * c['mean_output_tokens']:.0f}"
        )
    # tokens at equal accuracy: for each sleep point, the cheapest test-time budget at least as accurate
    for b in sorted(sl):
        c = sl[b]
        better = [r for r in tt.values() if r["accuracy"] >= c["accuracy"]]
        if not better:
            lines.append(f"{mode} budget {b} ({s}, accuracy {c['accuracy']:.3f}): no test-time budget "
                         "reaches this accuracy")
            continue
        cheapest = min(better, key=lambda r: r["mean_output_tokens"])
        lines.append(
            f"equal accuracy: {mode} budget {b} ({s}) reaches {c['accuracy']:.3f} with "
            f"{c['mean_output_tokens']:.1f} test-time tokens; test-time only needs budget {cheapest['budget']} "
            f"({cheapest['accuracy']:.3f}) with {cheapest['mean_output_tokens']:.1f} "
            f"({cheapest['mean_output_tokens'] / c['mean_output_tokens']:.2f}x)"
            if c["mean_output_tokens"] else f"{mode} budget {b}: no test-time tokens"
        )
    return lines


# ============================================================================ running


def load_examples(opts: RunOptions) -> list[Example]:
    return load_dataset(opts.dataset, data_dir=opts.data_dir, limit=opts.limit, seed=opts.seed,
                        split_rule=opts.split_rule)  # type: ignore[arg-type]


def run_experiment(opts: RunOptions, env: Env | None = None, argv: Sequence[str] | None = None) -> list[Record]:
    """Run (or resume) one experiment into ``opts.out``; then write its summary and plots."""
    env = env or Env(opts)
    write_run_file(opts, argv)
    path = Path(opts.out) / RECORDS_FILE
    name = opts.experiment
    if name == "amortization":
        from evals.multiquery import load_multi_query

        items = load_multi_query(opts, env)
        records = run_items(items, item_id=lambda it: it.context_id,
                            expected_keys=lambda it: amortization_keys(opts, it),
                            task=lambda it, d, e: amortization_task(env, it, d, e), records_path=path,
                            concurrency=opts.concurrency, progress=opts.progress, desc="contexts")
    else:
        examples = load_examples(opts)
        task: Callable[[Env, Example, set[str], Callable[[Record], None]], None]
        keys: Callable[[RunOptions, Example], list[str]]
        if name in ("pareto", "scaling"):
            task, keys = budget_task, budget_keys
        elif name == "passk":
            task, keys = passk_task, passk_keys
        elif name == "context-only":
            task, keys = context_only_task, context_only_keys
        elif name == "predictability":
            from evals.predictability import predictability_keys, predictability_task

            task, keys = predictability_task, predictability_keys
        else:
            raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
        records = run_items(examples, item_id=lambda ex: ex.id, expected_keys=lambda ex: keys(opts, ex),
                            task=lambda ex, d, e: task(env, ex, d, e), records_path=path,
                            concurrency=opts.concurrency, progress=opts.progress, desc=name)
    from evals.plots import render_run

    render_run(opts.out)
    return records


def load_run_records(run_dir: str | Path) -> list[Record]:
    return read_records(Path(run_dir) / RECORDS_FILE)
