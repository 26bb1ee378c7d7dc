"""Amortization: cost per query against queries per context on Multi-Query GSM-Symbolic. Each context is slept on
once, then each of its questions is answered with and without the learned context; test-time tokens are weighted
``t`` (``--weight``, default 10) against sleep-time tokens.

Every context first gets a ``multi-query`` record: how many questions were generated, kept (gold checked, see
:mod:`evals.multiquery`) and dropped per reason. A context with fewer than ``--queries`` questions is skipped there
(``skipped: true``) and counted in ``summary_multi_query.csv``; every answer record carries ``mq_gold``
(``checked``, ``unchecked``, ``worked-step`` or ``hand-written``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evals.examples import Example, MultiQueryExample
from evals.mqcheck import DROP_REASONS, MALFORMED_REPLY
from evals.mqsteps import STEP_DROP_REASONS
from evals.multiquery import UNCHECKED, load_multi_query, usable
from evals.options import AmortizationOptions, RunOptions, expect
from evals.pareto import ask_records
from evals.records import Record
from evals.runner import Emit, Env, RunnerSpec, base_record, error_record, fresh_context_id, make_key, timed
from evals.tables import MEASURED, mean


def _mq_examples(item: MultiQueryExample, n: int) -> list[Example]:
    return [
        Example(f"{item.context_id}-q{i}", item.context, q, a, item.source or "multi-query", {})
        for i, (q, a) in enumerate(item.questions[:n])
    ]


def amortization_task(env: Env, item: MultiQueryExample, done: set[str], emit: Emit) -> None:
    """One context, slept on once, then each of its questions answered with and without the learned context."""
    o = expect(env.opts, AmortizationOptions)
    group = Example(item.context_id, item.context, "", "", item.source or "multi-query", {})
    mq_key = make_key(item.context_id, "multi-query")
    if mq_key not in done:
        emit(multiquery_record(group, o, item, mq_key))
    if not usable(item, o.queries):
        return
    app = env.app()
    cid = fresh_context_id(item.context_id)
    app.ingest(cid, item.context)
    setting = o.sleep_settings()[0]
    exs = _mq_examples(item, o.queries)
    run_key = make_key(item.context_id, "sleep-run", setting.label)
    gold = str(item.meta.get("gold", UNCHECKED))
    for i, ex in enumerate(exs):
        tag = {"context_id": item.context_id, "query_index": i, "mq_gold": gold}
        ask_records(env, app, _prefixed(ex, item.context_id), cid, mode="test-time", budgets=o.budgets,
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
                         context_id=item.context_id, learned=res.learned, sample_notes=res.samples,
                         sleep_calls=res.usage.calls, sleep_input_tokens=res.usage.input_tokens,
                         sleep_output_tokens=res.usage.output_tokens,
                         sleep_reasoning_tokens=res.usage.reasoning_tokens, latency_s=round(lat, 3)))
    for i, ex in enumerate(exs):
        tag = {"context_id": item.context_id, "query_index": i, "mq_gold": gold}
        ask_records(env, app, _prefixed(ex, item.context_id), cid, mode="sleep", budgets=o.budgets, done=done,
                     emit=_tagged(emit, tag), setting=setting.label)


def multiquery_record(group: Example, opts: AmortizationOptions, item: MultiQueryExample, key: str) -> Record:
    """What generating the context's questions gave: counts and drop reasons only (no question text)."""
    meta = item.meta
    return base_record(group, opts, key=key, mode="multi-query", context_id=item.context_id,
                       mq_gold=str(meta.get("gold", UNCHECKED)), questions=len(item.questions), queries=opts.queries,
                       skipped=not usable(item, opts.queries), mq_generated=meta.get("generated"),
                       mq_kept=meta.get("kept"), mq_dropped=dict(meta.get("dropped") or {}),
                       mq_calls=meta.get("calls"), mq_input_tokens=meta.get("input_tokens"),
                       mq_output_tokens=meta.get("output_tokens"))


ALL_REASONS = (MALFORMED_REPLY, *DROP_REASONS, *STEP_DROP_REASONS)


def multiquery_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per kind of gold: contexts, those used and skipped (too few questions), generated and kept
    questions, and dropped ones per reason."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("mode") != "multi-query":
            continue
        row = rows.setdefault(str(r.get("mq_gold")), {"mq_gold": str(r.get("mq_gold")), "contexts": 0, "used": 0,
                                                       "skipped": 0, "generated": 0, "kept": 0,
                                                       **{f"dropped: {k}": 0 for k in ALL_REASONS}})
        row["contexts"] += 1
        row["skipped" if r.get("skipped") else "used"] += 1
        row["generated"] += int(r.get("mq_generated") or 0)
        row["kept"] += int(r.get("mq_kept") or 0)
        for reason, n in sorted(dict(r.get("mq_dropped") or {}).items()):
            row[f"dropped: {reason}"] = row.get(f"dropped: {reason}", 0) + int(n)
    return [rows[k] for k in sorted(rows)]


def _prefixed(ex: Example, context_id: str) -> Example:
    """Keys of a multi-query record start with the context id (so resume can find them): cid|q<i>|..."""
    index = ex.id.rsplit("-q", 1)[1]
    return Example(f"{context_id}|q{index}", ex.context, ex.question, ex.answer, ex.source, ex.meta)


def _tagged(emit: Emit, tag: Mapping[str, Any]) -> Emit:
    def inner(rec: Record) -> None:
        emit({**rec, **tag})

    return inner


def amortization_keys(opts: RunOptions, item: MultiQueryExample) -> list[str]:
    opts = expect(opts, AmortizationOptions)
    s = opts.sleep_settings()[0]
    keys = [make_key(item.context_id, "multi-query")]
    if not usable(item, opts.queries):
        return keys
    keys.append(make_key(item.context_id, "sleep-run", s.label))
    for i in range(min(opts.queries, len(item.questions))):
        for b in opts.budgets:
            keys.append(make_key(item.context_id, f"q{i}", "test-time", b))
            keys.append(make_key(item.context_id, f"q{i}", "sleep", b, s.label))
    return keys


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
                                 "weight": weight, "cost_per_query": mean(costs), "accuracy": mean(accs),
                                 "basis": MEASURED})
    return rows


def _items(opts: RunOptions, env: Env) -> list[MultiQueryExample]:
    return load_multi_query(expect(opts, AmortizationOptions), env)


SPEC = RunnerSpec(AmortizationOptions, amortization_task, amortization_keys, items=_items,
                  item_id=lambda it: str(it.context_id), desc="contexts")
