"""pass@k: k samples of test-time only at temperature > 0 (unbiased pass@k and majority vote) against sleep-time
(greedy) at the same budget levels."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evals.examples import Example
from evals.grading import parse_number
from evals.options import PassKOptions, RunOptions, expect
from evals.pareto import ask_records, sleep_and_ask
from evals.runner import Emit, Env, RunnerSpec, fresh_context_id, make_key
from evals.tables import mean


def passk_task(env: Env, ex: Example, done: set[str], emit: Emit) -> None:
    """k test-time-only samples at temperature > 0 per budget; sleep-time (greedy) at the same budgets."""
    o = expect(env.opts, PassKOptions)
    app = env.app()
    cid = fresh_context_id(ex.id)
    app.ingest(cid, ex.context)
    for i in range(o.k):
        ask_records(env, app, ex, cid, mode="sample", budgets=o.budgets, done=done, emit=emit, sample=i,
                    temperature=o.temperature)
    sleep_and_ask(env, app, ex, cid, o.sleep_settings()[0], done, emit, o.budgets)


def passk_keys(opts: RunOptions, ex: Example) -> list[str]:
    opts = expect(opts, PassKOptions)
    s = opts.sleep_settings()[0]
    keys = [make_key(ex.id, "sample", b, i) for i in range(opts.k) for b in opts.budgets]
    keys.append(make_key(ex.id, "sleep-run", s.label))
    return keys + [make_key(ex.id, "sleep", b, s.label) for b in opts.budgets]


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
                             "accuracy": sum(accs) / len(accs), "mean_output_tokens": mean(toks),
                             "mean_input_tokens": mean(itoks)})
    return rows


SPEC = RunnerSpec(PassKOptions, passk_task, passk_keys, desc="passk")
